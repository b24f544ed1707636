use occ_core::Versioned;

#[derive(Versioned)]
#[occ(tombstones = "profile_tombstones")]
struct Profile {
    id: i64,
    #[version]
    version: i64,
}

fn main() {}
