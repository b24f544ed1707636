use occ_core::Versioned;

#[derive(sqlx::FromRow)]
struct Address {
    city: String,
}

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "profiles")]
struct Profile {
    id: i64,
    #[version]
    version: i64,
    #[sqlx(flatten)]
    address: Address,
}

fn main() {}
