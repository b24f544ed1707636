use occ_core::Versioned;

#[derive(Versioned)]
#[occ(weak = true)]
struct Profile {
    id: u64,
    #[version]
    version: u64,
}

fn main() {}
