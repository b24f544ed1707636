use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    #[occ(id)]
    key: u64,
    #[occ(id)]
    uid: u64,
    #[version]
    version: u64,
}

fn main() {}
