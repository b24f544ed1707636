use occ_core::Versioned;

#[derive(Versioned)]
struct Note {
    id: i64,
    #[version]
    version: i64,
    #[occ(scope)]
    tenant_id: String,
    #[occ(scope)]
    owner_id: String,
}

fn main() {}
