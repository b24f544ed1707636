use occ_core::Versioned;

#[derive(Versioned)]
#[occ(etag = 42)]
struct Profile {
    id: u64,
    #[version]
    version: u64,
}

fn main() {}
