use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    id: u64,
    #[occ(version)]
    version: u64,
}

fn main() {}
