use occ_core::Versioned;

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "profiles")]
struct Profile {
    id: i64,
    #[version]
    version: i64,
    #[occ(column)]
    name: String,
}

fn main() {}
