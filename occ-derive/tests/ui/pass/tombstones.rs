// `tombstones` names the table that keeps deleted ids' last versions;
// without it, a table-mapped model has none.
use occ_core::repository::sql::SqlModel;
use occ_core::Versioned;

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "profiles", tombstones = "profile_tombstones")]
struct Profile {
    id: i64,
    #[version]
    version: i64,
    name: String,
}

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "notes")]
struct Note {
    id: i64,
    #[version]
    version: i64,
}

fn tombstones<M: SqlModel<sqlx::Sqlite>>() -> Option<&'static str> {
    M::TOMBSTONE_TABLE
}

fn main() {
    assert_eq!(tombstones::<Profile>(), Some("profile_tombstones"));
    assert_eq!(tombstones::<Note>(), None);
    let _ = Profile { id: 1, version: 1, name: String::new() };
    let _ = Note { id: 1, version: 1 };
}
