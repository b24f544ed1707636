use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    id: i64,
    #[version]
    version: i64,
    #[occ(generated)]
    code: i64,
}

fn main() {}
