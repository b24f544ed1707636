use occ_core::Versioned;

#[derive(Versioned)]
#[occ(etag)]
struct Profile {
    id: u64,
    #[version]
    version: u64,
}

fn main() {}
