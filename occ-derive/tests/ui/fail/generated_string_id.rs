use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    #[occ(generated)]
    id: String,
    #[version]
    version: i64,
}

fn main() {}
