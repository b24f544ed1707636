use occ_core::Versioned;

#[derive(Versioned)]
#[occ(etag = "a-{id}-{version}")]
#[occ(etag = "b-{id}-{version}")]
struct Profile {
    id: u64,
    #[version]
    version: u64,
}

fn main() {}
