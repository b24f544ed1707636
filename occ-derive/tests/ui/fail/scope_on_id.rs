use occ_core::Versioned;

#[derive(Versioned)]
struct Note {
    #[occ(scope)]
    id: String,
    #[version]
    version: i64,
}

fn main() {}
