use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    id: u64,
    #[version]
    version: u64,
    #[version]
    revision: u64,
}

fn main() {}
