use occ_core::Versioned;

#[derive(Versioned)]
#[occ(etga = "prof-{id}-v{version}")]
struct Profile {
    id: u64,
    #[version]
    version: u64,
}

fn main() {}
