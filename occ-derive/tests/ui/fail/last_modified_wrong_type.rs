use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    id: u64,
    #[version]
    version: u64,
    #[occ(last_modified)]
    updated: String,
}

fn main() {}
