// `#[occ(table = "…")]` maps the struct to a table for the SQL repositories.
use occ_core::repository::sql::SqlModel;
use occ_core::Versioned;

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "profiles", etag = "prof-{id}-v{version}")]
struct Profile {
    id: i64,
    #[version]
    version: i64,
    name: String,
    city: String,
}

fn columns<M: SqlModel<sqlx::Sqlite>>() -> (&'static str, &'static [&'static str]) {
    (M::TABLE, M::DATA_COLUMNS)
}

fn main() {
    assert_eq!(columns::<Profile>(), ("profiles", &["name", "city"][..]));
    let p = Profile { id: 1, version: 1, name: String::new(), city: String::new() };
    let _ = (p.name, p.city);
}
