use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    #[occ(key)]
    id: u64,
    #[version]
    version: u64,
}

fn main() {}
