use occ_core::Versioned;

#[derive(Versioned)]
#[occ(etag = "prof-{id}")]
struct Profile {
    id: u64,
    #[version]
    version: u64,
}

fn main() {}
