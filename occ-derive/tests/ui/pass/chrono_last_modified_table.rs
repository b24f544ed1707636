// A `chrono::DateTime<Utc>` modification time in a table-mapped struct:
// its column is set by the database on every write, never bound.
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use occ_core::repository::sql::SqlModel;
use occ_core::Versioned;

#[derive(Versioned, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
#[occ(table = "posts")]
#[serde(rename_all = "camelCase")]
struct Post {
    id: i64,
    #[version]
    version: i64,
    title: String,
    #[occ(last_modified)]
    updated_at: DateTime<Utc>,
}

fn mapping<M: SqlModel<sqlx::Sqlite>>() -> (&'static [&'static str], Option<&'static str>) {
    (M::DATA_COLUMNS, M::LAST_MODIFIED_COLUMN)
}

fn main() {
    assert_eq!(mapping::<Post>(), (&["title"][..], Some("updated_at")));
    assert!(Post::HAS_LAST_MODIFIED);
    assert_eq!(Post::MEMBERS.last_modified, Some("updatedAt"));
    let mut post = Post { id: 1, version: 1, title: String::new(), updated_at: DateTime::UNIX_EPOCH };
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
    post.set_last_modified(at);
    assert_eq!(post.last_modified(), Some(at));
    let _ = post.title;
}
