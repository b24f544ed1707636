use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    id: i64,
    #[version]
    version: i64,
    #[occ(column = "full_name")]
    name: String,
}

fn main() {}
