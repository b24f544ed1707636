use occ_core::Versioned;

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "profiles")]
struct Profile {
    id: i64,
    #[version]
    #[sqlx(skip)]
    version: i64,
    name: String,
}

fn main() {}
