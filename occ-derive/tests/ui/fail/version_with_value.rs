use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    id: u64,
    #[version = "1"]
    version: u64,
}

fn main() {}
