use occ_core::Versioned;

#[derive(Versioned)]
#[occ(etag = "{name}-{id}-v{version}")]
struct Profile {
    id: u64,
    #[version]
    version: u64,
    name: String,
}

fn main() {}
