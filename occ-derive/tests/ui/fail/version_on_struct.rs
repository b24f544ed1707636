use occ_core::Versioned;

#[derive(Versioned)]
#[version]
struct Profile {
    id: u64,
    version: u64,
}

fn main() {}
