use occ_core::Versioned;

#[derive(Versioned)]
#[occ(scope)]
struct Note {
    id: i64,
    #[version]
    version: i64,
    tenant_id: String,
}

fn main() {}
