use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    #[occ(id = true)]
    key: u64,
    #[version]
    version: u64,
}

fn main() {}
