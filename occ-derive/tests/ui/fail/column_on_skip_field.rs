use occ_core::Versioned;

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "profiles")]
struct Profile {
    id: i64,
    #[version]
    version: i64,
    name: String,
    #[occ(column = "cache")]
    #[sqlx(skip)]
    cache: String,
}

fn main() {}
