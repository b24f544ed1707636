use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    #[occ(generated = true)]
    id: i64,
    #[version]
    version: i64,
}

fn main() {}
