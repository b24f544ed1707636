use occ_core::Versioned;

#[derive(Versioned)]
struct Note {
    id: i64,
    #[version]
    #[occ(scope)]
    version: i64,
}

fn main() {}
