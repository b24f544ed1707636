use occ_core::Versioned;

#[derive(Versioned)]
struct Profile {
    #[occ(generated(by_client))]
    id: i64,
    #[version]
    version: i64,
}

fn main() {}
