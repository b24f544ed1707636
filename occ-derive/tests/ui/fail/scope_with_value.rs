use occ_core::Versioned;

#[derive(Versioned)]
struct Note {
    id: i64,
    #[version]
    version: i64,
    #[occ(scope = "tenant")]
    tenant_id: String,
}

fn main() {}
