use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    id: u64,
    #[version]
    version: String,
}

fn main() {}
