use occ_core::Versioned;

#[derive(Versioned)]
#[occ(table = "")]
struct Profile {
    id: i64,
    #[version]
    version: i64,
}

fn main() {}
