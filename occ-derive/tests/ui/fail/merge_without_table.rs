use occ_core::Versioned;

#[derive(Versioned)]
#[occ(merge)]
struct Profile {
    id: i64,
    #[version]
    version: i64,
    name: String,
}

fn main() {}
