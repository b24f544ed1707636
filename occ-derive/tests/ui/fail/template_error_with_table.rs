use occ_core::repository::sql::SqlModel;
use occ_core::Versioned;

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "profiles", etag = "prof-{uid}-v{version}")]
struct Profile {
    id: i64,
    #[version]
    version: i64,
}

fn needs_a_table<M: SqlModel<sqlx::Sqlite>>() {}

fn main() {
    // One mistake, one error: the template's, not a missing table mapping.
    needs_a_table::<Profile>();
}
