use occ_core::Versioned;

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "profiles")]
#[sqlx(rename_all = "Title Case")]
struct Profile {
    id: i64,
    #[version]
    version: i64,
    display_name: String,
}

fn main() {}
