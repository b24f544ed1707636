use occ_core::Versioned;

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "notes")]
struct Note {
    id: i64,
    #[version]
    version: i64,
    #[occ(scope)]
    #[sqlx(skip)]
    tenant_id: String,
}

fn main() {}
