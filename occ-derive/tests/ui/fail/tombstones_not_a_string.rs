use occ_core::Versioned;

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "profiles", tombstones = profile_tombstones)]
struct Profile {
    id: i64,
    #[version]
    version: i64,
}

fn main() {}
