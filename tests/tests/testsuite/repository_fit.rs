//! The repository contract for real tables, on every backend (memory, a
//! SQLite file, PostgreSQL, MariaDB/MySQL): ids the store assigns
//! (`#[occ(generated)]`, `create_with_new_id`), columns named otherwise
//! than their fields (`#[sqlx(rename)]`, `#[sqlx(rename_all)]`,
//! `#[occ(column)]`, fields that are not stored), and modification times
//! kept by the store (`#[occ(last_modified)]` as `chrono::DateTime<Utc>`,
//! `time::OffsetDateTime` and `SystemTime`, set from the database's clock
//! and compared with `UnmodifiedSince` inside the write).
//!
//! Each test makes its own table in its own SQLite file, PostgreSQL schema
//! or MariaDB database, so tests run in parallel; what a SQL backend wrote
//! is checked on the raw row, read with plain sqlx.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use occ_tests::{Db, DropOnExit};
use std::fmt::Debug;
use std::time::{Duration, SystemTime};

use occ_core::repository::sql::{SqlModel, SqlRepository};
use occ_core::repository::{
    Fetched, KnownVersions, MemoryRepository, Repository, RepositoryError, WriteCondition,
};
use occ_core::{IdSource, Versioned};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{AssertSqlSafe, MySql, MySqlPool, PgPool, Postgres, Row, Sqlite, SqlitePool};

// ---------------------------------------------------------------------------
// Backends.

enum Store {
    Memory,
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

/// One backend for one test: an empty store of its own.
struct Backend {
    kind: Db,
    store: Store,
    /// Drops the test's file, schema or database, even on a panic.
    _cleanup: Option<DropOnExit>,
}

impl Backend {
    /// `None` when the database's URL is not set (the test says so).
    async fn open(kind: Db, test: &str) -> Option<Self> {
        let (store, cleanup) = match kind {
            Db::Memory => (Store::Memory, None),
            Db::Sqlite => {
                let (pool, url) = occ_tests::sqlite_file_pool("occ_fit").await;
                (Store::Sqlite(pool), Some(DropOnExit::sqlite_file(&url)))
            }
            Db::Postgres => {
                let (pool, cleanup) = occ_tests::postgres_schema(test, "occ_fit", 2).await?;
                (Store::Postgres(pool), Some(cleanup))
            }
            Db::MariaDb => {
                let (pool, cleanup) = occ_tests::mariadb_database(test, "occ_fit", 2).await?;
                (Store::MySql(pool), Some(cleanup))
            }
        };
        Some(Self {
            kind,
            store,
            _cleanup: cleanup,
        })
    }

    fn is_sql(&self) -> bool {
        self.kind != Db::Memory
    }

    /// Runs a statement written for all three databases, with `$TEXT`
    /// (a text column), `$TIME` (a modification time: TEXT in SQLite,
    /// TIMESTAMPTZ in PostgreSQL, DATETIME(6) in MariaDB), `$AUTO` (an
    /// integer key the database assigns), `$SERIAL` (one it never assigns
    /// twice: SQLite's `INTEGER PRIMARY KEY` reuses the largest after it
    /// is deleted, unless `AUTOINCREMENT`) and `$UUID` (a UUID column) for
    /// what differs, and `"quoted"` identifiers (backquoted on MariaDB).
    /// Nothing on memory.
    async fn exec(&self, sql: &str) {
        let serial = match self.kind {
            Db::Sqlite => "$AUTO AUTOINCREMENT",
            _ => "$AUTO",
        };
        let sql = sql.replace("$SERIAL", serial);
        let (text, time, auto, uuid) = match self.kind {
            Db::Memory => return,
            Db::Sqlite => ("TEXT", "TEXT", "INTEGER PRIMARY KEY", "BLOB"),
            Db::Postgres => (
                "TEXT",
                "TIMESTAMPTZ",
                "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                "UUID",
            ),
            Db::MariaDb => (
                "TEXT",
                "DATETIME(6)",
                "BIGINT AUTO_INCREMENT PRIMARY KEY",
                "BINARY(16)",
            ),
        };
        let mut sql = sql
            .replace("$TEXT", text)
            .replace("$TIME", time)
            .replace("$AUTO", auto)
            .replace("$UUID", uuid);
        if self.kind == Db::MariaDb {
            sql = sql.replace('"', "`");
        }
        let sql = AssertSqlSafe(sql);
        match &self.store {
            Store::Memory => {}
            Store::Sqlite(pool) => drop(sqlx::query(sql).execute(pool).await.unwrap()),
            Store::Postgres(pool) => drop(sqlx::query(sql).execute(pool).await.unwrap()),
            Store::MySql(pool) => drop(sqlx::query(sql).execute(pool).await.unwrap()),
        }
    }

    /// The repository of `M` on this backend.
    fn repo<M>(&self) -> Box<dyn Repository<M>>
    where
        M: SqlModel<Sqlite> + SqlModel<Postgres> + SqlModel<MySql> + Clone,
        <M as Versioned>::Id: Ord + Clone,
    {
        match &self.store {
            Store::Memory => Box::new(MemoryRepository::<M>::new()),
            Store::Sqlite(pool) => Box::new(SqlRepository::<Sqlite, M>::new(pool.clone())),
            Store::Postgres(pool) => Box::new(SqlRepository::<Postgres, M>::new(pool.clone())),
            Store::MySql(pool) => Box::new(SqlRepository::<MySql, M>::new(pool.clone())),
        }
    }

    /// The row of `table` whose `key` column is `id`, its `columns` read
    /// as text (`None` for NULL), with plain sqlx; `None` when there is no
    /// such row. Only for SQL backends.
    async fn raw(
        &self,
        table: &str,
        columns: &[&str],
        key: &str,
        id: i64,
    ) -> Option<Vec<Option<String>>> {
        let (quote, text) = match self.kind {
            Db::Memory => panic!("memory has no rows to read"),
            Db::Sqlite | Db::Postgres => ('"', "TEXT"),
            Db::MariaDb => ('`', "CHAR"),
        };
        let list: Vec<String> = columns
            .iter()
            .map(|c| format!("CAST({quote}{c}{quote} AS {text})"))
            .collect();
        let sql = AssertSqlSafe(format!(
            "SELECT {} FROM {quote}{table}{quote} WHERE {quote}{key}{quote} = {id}",
            list.join(", ")
        ));
        let n = columns.len();
        match &self.store {
            Store::Memory => None,
            Store::Sqlite(pool) => sqlx::query(sql)
                .fetch_optional(pool)
                .await
                .unwrap()
                .map(|row| (0..n).map(|i| row.get(i)).collect()),
            Store::Postgres(pool) => sqlx::query(sql)
                .fetch_optional(pool)
                .await
                .unwrap()
                .map(|row| (0..n).map(|i| row.get(i)).collect()),
            Store::MySql(pool) => sqlx::query(sql)
                .fetch_optional(pool)
                .await
                .unwrap()
                .map(|row| (0..n).map(|i| row.get(i)).collect()),
        }
    }
}

/// Expected raw values.
fn texts(values: &[&str]) -> Option<Vec<Option<String>>> {
    Some(values.iter().map(|v| Some((*v).to_owned())).collect())
}

fn versions(v: &[i64]) -> WriteCondition<i64> {
    WriteCondition::VersionIn(v.to_vec())
}

/// The current state a 412 carries, or a panic naming what came instead.
fn current_of<M: Debug, T: Debug>(result: Result<T, RepositoryError<M>>) -> M {
    match result {
        Err(RepositoryError::PreconditionFailed { current }) => *current,
        other => panic!("expected PreconditionFailed, got {other:?}"),
    }
}

fn is_invalid<M, T>(result: &Result<T, RepositoryError<M>>) -> bool {
    matches!(result, Err(RepositoryError::Invalid(_)))
}

fn is_not_found<M, T>(result: &Result<T, RepositoryError<M>>) -> bool {
    matches!(result, Err(RepositoryError::NotFound))
}

// ---------------------------------------------------------------------------
// (a) Integer ids the store assigns.

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "fit_tickets")]
struct Ticket {
    #[occ(generated)]
    id: i64,
    #[version]
    version: i64,
    title: String,
}

async fn assigned_integer_ids_are_distinct_increasing_and_readable(b: &Backend) {
    assert_eq!(
        Ticket::ID_SOURCE,
        IdSource::Generated {
            client_may_choose: false
        }
    );
    assert_eq!(Ticket::generate_id(), None, "integers come from the store");
    assert_eq!(Ticket::id_from_assigned(7), Some(7));
    b.exec("CREATE TABLE fit_tickets (id $AUTO, version BIGINT NOT NULL, title $TEXT NOT NULL)")
        .await;
    let repo = b.repo::<Ticket>();
    // The id in the model is ignored: both ask for 1000.
    let first = repo
        .create_with_new_id(Ticket {
            id: 1000,
            version: 1,
            title: "first".into(),
        })
        .await
        .unwrap();
    let second = repo
        .create_with_new_id(Ticket {
            id: 1000,
            version: 1,
            title: "second".into(),
        })
        .await
        .unwrap();
    assert!(
        first.id > 0 && first.id != 1000 && second.id > first.id,
        "{first:?} then {second:?}"
    );
    assert_eq!((first.version, first.title.as_str()), (1, "first"));
    assert_eq!((second.version, second.title.as_str()), (1, "second"));
    assert_eq!(repo.get(&first.id).await.unwrap(), first);
    assert_eq!(repo.get(&second.id).await.unwrap(), second);
    if b.is_sql() {
        let row = b
            .raw("fit_tickets", &["id", "version", "title"], "id", second.id)
            .await;
        assert_eq!(row, texts(&[&second.id.to_string(), "1", "second"]));
    }
    // They are resources like any other.
    let renamed = Ticket {
        title: "first, renamed".into(),
        ..first.clone()
    };
    let updated = repo.update(renamed, &versions(&[1])).await.unwrap();
    assert_eq!((updated.id, updated.version), (first.id, 2));
    let deleted = repo.delete(&second.id, &versions(&[1])).await.unwrap();
    assert_eq!(deleted, second);
    assert!(is_not_found(&repo.get(&second.id).await));
}

/// With a key the database never assigns twice (SQLite: `AUTOINCREMENT`),
/// the id of a deleted resource is not given to a new one, whose tag would
/// be the deleted one's (`ticket` 2 at version 1 again).
async fn assigned_ids_are_not_reused_after_delete(b: &Backend) {
    b.exec("CREATE TABLE fit_tickets (id $SERIAL, version BIGINT NOT NULL, title $TEXT NOT NULL)")
        .await;
    let repo = b.repo::<Ticket>();
    let ticket = |title: &str| Ticket {
        id: 0,
        version: 1,
        title: title.into(),
    };
    let first = repo.create_with_new_id(ticket("first")).await.unwrap();
    let second = repo.create_with_new_id(ticket("second")).await.unwrap();
    repo.delete(&second.id, &versions(&[1])).await.unwrap();
    let third = repo.create_with_new_id(ticket("third")).await.unwrap();
    assert!(
        first.id < second.id && second.id < third.id,
        "{first:?}, {second:?}, then {third:?}"
    );
    assert_eq!(repo.get(&third.id).await.unwrap(), third);
}

// (a') UUIDs the server generates.

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "fit_tags")]
struct Tag {
    #[occ(generated(client_may_choose))]
    id: uuid::Uuid,
    #[version]
    version: i64,
    label: String,
}

async fn generated_uuid_ids_are_new_v7_and_stored(b: &Backend) {
    assert_eq!(
        Tag::ID_SOURCE,
        IdSource::Generated {
            client_may_choose: true
        }
    );
    assert_eq!(Tag::id_from_assigned(1), None, "a UUID is not a number");
    b.exec("CREATE TABLE fit_tags (id $UUID PRIMARY KEY, version BIGINT NOT NULL, label $TEXT NOT NULL)")
        .await;
    let repo = b.repo::<Tag>();
    let (one, two) = (Tag::generate_id().unwrap(), Tag::generate_id().unwrap());
    assert_ne!(one, two);
    assert_eq!((one.get_version_num(), two.get_version_num()), (7, 7));
    for (id, label) in [(one, "one"), (two, "two")] {
        let tag = Tag {
            id,
            version: 1,
            label: label.into(),
        };
        assert_eq!(repo.create(tag.clone()).await.unwrap(), tag);
    }
    assert_eq!(repo.get(&two).await.unwrap().label, "two");
    let updated = repo
        .update(
            Tag {
                id: one,
                version: 1,
                label: "uno".into(),
            },
            &versions(&[1]),
        )
        .await
        .unwrap();
    assert_eq!((updated.id, updated.version), (one, 2));
    assert_eq!(repo.get(&one).await.unwrap(), updated);
}

// ---------------------------------------------------------------------------
// (b) Columns named otherwise than their fields.

/// The version in `rev`, fields in columns of other names, one field
/// `FromRow` defaults and one it skips: neither is ever written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "fit_notes")]
struct Note {
    id: i64,
    #[version]
    #[sqlx(rename = "rev")]
    revision: i64,
    #[occ(column = "body_text")]
    #[sqlx(rename = "body_text")]
    body: String,
    #[sqlx(rename = "note_title")]
    title: String,
    /// The table has this column, with a default the repository never
    /// overwrites.
    #[sqlx(default)]
    #[serde(default)]
    cached: i64,
    /// The table has no such column.
    #[sqlx(skip)]
    #[serde(default)]
    scratch: String,
}

impl Note {
    fn new(id: i64, body: &str, title: &str) -> Self {
        Self {
            id,
            revision: 1,
            body: body.into(),
            title: title.into(),
            cached: 99,
            scratch: "not stored".into(),
        }
    }

    /// What the repository keeps of a note: all but `cached` and `scratch`.
    fn stored(&self) -> (i64, i64, &str, &str) {
        (self.id, self.revision, &self.body, &self.title)
    }
}

const NOTES: [&str; 5] = ["id", "rev", "body_text", "note_title", "cached"];

/// The raw row of note `id` on SQL backends: values of `NOTES`, `cached`
/// always the column's default (7).
async fn assert_note_row(b: &Backend, id: i64, rev: i64, body: &str, title: &str) {
    if b.is_sql() {
        let row = b.raw("fit_notes", &NOTES, "id", id).await;
        let (id, rev) = (id.to_string(), rev.to_string());
        assert_eq!(row, texts(&[&id, &rev, body, title, "7"]), "{:?}", b.kind);
    }
}

async fn renamed_columns_are_read_and_written(b: &Backend) {
    b.exec(
        "CREATE TABLE fit_notes (id BIGINT PRIMARY KEY, rev BIGINT NOT NULL, \
         body_text $TEXT NOT NULL, note_title $TEXT NOT NULL, cached BIGINT NOT NULL DEFAULT 7)",
    )
    .await;
    let repo = b.repo::<Note>();

    // create / get
    let created = repo.create(Note::new(1, "b1", "t1")).await.unwrap();
    assert_eq!(created.stored(), (1, 1, "b1", "t1"));
    assert_eq!(repo.get(&1).await.unwrap(), created);
    assert_note_row(b, 1, 1, "b1", "t1").await;
    if b.is_sql() {
        // Read back without the fields the table does not give.
        assert_eq!((created.cached, created.scratch.as_str()), (0, ""));
    }

    // update: the version in `rev`, the model's own ignored.
    let mut next = Note::new(1, "b2", "t2");
    next.revision = 42;
    next.cached = 50;
    let updated = repo.update(next, &versions(&[1])).await.unwrap();
    assert_eq!(updated.stored(), (1, 2, "b2", "t2"));
    assert_note_row(b, 1, 2, "b2", "t2").await;
    let stale = current_of(
        repo.update(Note::new(1, "lost", "lost"), &versions(&[1]))
            .await,
    );
    assert_eq!(stale.stored(), (1, 2, "b2", "t2"));
    assert_note_row(b, 1, 2, "b2", "t2").await;

    // merge patch: serde's member names, the table's columns.
    let patch = json!({"body": "b3", "title": "t3"});
    let patched = repo.merge_patch(&1, &patch, &versions(&[2])).await.unwrap();
    assert_eq!(patched.stored(), (1, 3, "b3", "t3"));
    assert_note_row(b, 1, 3, "b3", "t3").await;
    let stale = current_of(
        repo.merge_patch(&1, &json!({"body": "x"}), &versions(&[2]))
            .await,
    );
    assert_eq!(stale.stored(), (1, 3, "b3", "t3"));
    assert!(is_invalid(
        &repo
            .merge_patch(&1, &json!({"revision": 9}), &versions(&[3]))
            .await
    ));
    if b.is_sql() {
        // A field the table does not store cannot be patched there.
        for member in ["cached", "scratch"] {
            let patch = json!({ member: 1 });
            assert!(
                is_invalid(&repo.merge_patch(&1, &patch, &versions(&[3])).await),
                "patching `{member}`"
            );
        }
    }
    assert_note_row(b, 1, 3, "b3", "t3").await;

    // A version-only read reads `rev`.
    match repo
        .read(&1, &KnownVersions::Listed(vec![3]))
        .await
        .map(|read| read.fetched)
    {
        Ok(Fetched::Unchanged {
            version: 3,
            last_modified: None,
        }) => {}
        other => panic!("expected Unchanged at 3, got {other:?}"),
    }
    match repo
        .read(&1, &KnownVersions::Any)
        .await
        .map(|read| read.fetched)
    {
        Ok(Fetched::Unchanged { version: 3, .. }) => {}
        other => panic!("expected Unchanged at 3, got {other:?}"),
    }
    match repo
        .read(&1, &KnownVersions::Listed(vec![2]))
        .await
        .map(|read| read.fetched)
    {
        Ok(Fetched::Changed(note)) => assert_eq!(note.stored(), (1, 3, "b3", "t3")),
        other => panic!("expected Changed, got {other:?}"),
    }

    // list
    repo.create(Note::new(2, "two", "second")).await.unwrap();
    let page = repo.list(None, 10).await.unwrap();
    let listed: Vec<_> = page.items.iter().map(Note::stored).collect();
    assert_eq!(listed, [(1, 3, "b3", "t3"), (2, 1, "two", "second")]);

    // delete
    let stale = current_of(repo.delete(&1, &versions(&[2])).await);
    assert_eq!(stale.revision, 3);
    let deleted = repo.delete(&1, &versions(&[3])).await.unwrap();
    assert_eq!(deleted.stored(), (1, 3, "b3", "t3"));
    assert!(is_not_found(&repo.get(&1).await));
    if b.is_sql() {
        assert_eq!(b.raw("fit_notes", &NOTES, "id", 1).await, None);
    }
}

/// Every column named by `#[sqlx(rename_all = "camelCase")]`, one by its
/// own `#[sqlx(rename)]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "fit_cards")]
#[sqlx(rename_all = "camelCase")]
struct Card {
    id: i64,
    #[version]
    version_number: i64,
    display_name: String,
    #[sqlx(rename = "shelf")]
    shelf_code: String,
}

impl Card {
    fn new(id: i64, name: &str, shelf: &str) -> Self {
        Self {
            id,
            version_number: 1,
            display_name: name.into(),
            shelf_code: shelf.into(),
        }
    }
}

async fn assert_card_row(b: &Backend, id: i64, version: i64, name: &str, shelf: &str) {
    if b.is_sql() {
        let columns = ["id", "versionNumber", "displayName", "shelf"];
        let row = b.raw("fit_cards", &columns, "id", id).await;
        let (id, version) = (id.to_string(), version.to_string());
        assert_eq!(row, texts(&[&id, &version, name, shelf]), "{:?}", b.kind);
    }
}

async fn rename_all_columns_are_read_and_written(b: &Backend) {
    b.exec(
        "CREATE TABLE fit_cards (id BIGINT PRIMARY KEY, \"versionNumber\" BIGINT NOT NULL, \
         \"displayName\" $TEXT NOT NULL, \"shelf\" $TEXT NOT NULL)",
    )
    .await;
    let repo = b.repo::<Card>();
    let created = repo.create(Card::new(5, "Ada", "A1")).await.unwrap();
    assert_eq!(created, Card::new(5, "Ada", "A1"));
    assert_eq!(repo.get(&5).await.unwrap(), created);
    assert_card_row(b, 5, 1, "Ada", "A1").await;

    let updated = repo
        .update(Card::new(5, "Ada L.", "B2"), &versions(&[1]))
        .await
        .unwrap();
    assert_eq!(
        (updated.version_number, updated.display_name.as_str()),
        (2, "Ada L.")
    );
    assert_card_row(b, 5, 2, "Ada L.", "B2").await;

    let patched = repo
        .merge_patch(&5, &json!({"shelf_code": "C3"}), &versions(&[2]))
        .await
        .unwrap();
    assert_eq!(
        (patched.version_number, patched.shelf_code.as_str()),
        (3, "C3")
    );
    assert_card_row(b, 5, 3, "Ada L.", "C3").await;
    let stale = current_of(
        repo.merge_patch(&5, &json!({"display_name": "x"}), &versions(&[2]))
            .await,
    );
    assert_eq!(stale, patched);

    match repo
        .read(&5, &KnownVersions::Listed(vec![3]))
        .await
        .map(|read| read.fetched)
    {
        Ok(Fetched::Unchanged { version: 3, .. }) => {}
        other => panic!("expected Unchanged at 3, got {other:?}"),
    }

    let stale = current_of(repo.delete(&5, &versions(&[2])).await);
    assert_eq!(stale, patched);
    assert_eq!(repo.delete(&5, &versions(&[3])).await.unwrap(), patched);
    assert!(is_not_found(&repo.get(&5).await));
}

// ---------------------------------------------------------------------------
// (c, d, e) Modification times kept by the store.

/// A post with a modification time, whatever its type.
trait Dated:
    Versioned<Id = i64, Version = i64>
    + SqlModel<Sqlite>
    + SqlModel<Postgres>
    + SqlModel<MySql>
    + Clone
    + PartialEq
    + Debug
    + Serialize
    + DeserializeOwned
{
    fn new(id: i64, body: &str, modified: SystemTime) -> Self;
    fn body(&self) -> &str;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "fit_posts")]
struct ChronoPost {
    id: i64,
    #[version]
    version: i64,
    body: String,
    #[occ(last_modified)]
    modified: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "fit_posts")]
struct TimePost {
    id: i64,
    #[version]
    version: i64,
    body: String,
    #[occ(last_modified)]
    #[serde(with = "time::serde::rfc3339")]
    modified: time::OffsetDateTime,
}

/// `SystemTime` has no sqlx type: it is read as a chrono time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "fit_posts")]
struct SystemTimePost {
    id: i64,
    #[version]
    version: i64,
    body: String,
    #[occ(last_modified)]
    #[sqlx(try_from = "chrono::DateTime<chrono::Utc>")]
    modified: SystemTime,
}

macro_rules! dated {
    ($($model:ident),*) => {$(
        impl Dated for $model {
            fn new(id: i64, body: &str, modified: SystemTime) -> Self {
                Self {
                    id,
                    version: 1,
                    body: body.into(),
                    modified: modified.into(),
                }
            }

            fn body(&self) -> &str {
                &self.body
            }
        }
    )*};
}

dated!(ChronoPost, TimePost, SystemTimePost);

const POSTS: &str = "CREATE TABLE fit_posts (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, \
                     body $TEXT NOT NULL, modified $TIME NOT NULL)";

/// 2001-01-01T00:00:00Z: what a client (or a stale model) says.
fn y2001() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(978_307_200)
}

/// A time the store set: within a few seconds of this machine's clock.
fn assert_recent(t: SystemTime, what: &str) {
    let now = SystemTime::now();
    let apart = now.duration_since(t).unwrap_or_else(|e| e.duration());
    assert!(
        apart < Duration::from_secs(5),
        "{what}: {t:?} is not now ({now:?})"
    );
}

fn time_of<M: Versioned>(model: &M) -> SystemTime {
    model.last_modified().expect("a modification time")
}

async fn modification_times_are_the_stores<M: Dated>(b: &Backend) {
    b.exec(POSTS).await;
    let repo = b.repo::<M>();
    let since = WriteCondition::UnmodifiedSince;

    // create: the model's time is ignored.
    let created = repo.create(M::new(1, "one", y2001())).await.unwrap();
    let t1 = time_of(&created);
    assert_recent(t1, "create");
    assert_eq!(repo.get(&1).await.unwrap(), created);
    if b.is_sql() {
        let row = b.raw("fit_posts", &["modified"], "id", 1).await.unwrap();
        let stored = row[0].clone().unwrap();
        assert!(!stored.starts_with("2001"), "{:?} stored {stored}", b.kind);
    }

    // update: the model's time is ignored, and the time grows strictly,
    // however quick the writes.
    let updated = repo
        .update(M::new(1, "two", y2001()), &versions(&[1]))
        .await
        .unwrap();
    let mut last = time_of(&updated);
    assert_recent(last, "update");
    assert!(last > t1, "{last:?} after {t1:?}");
    for i in 0..10 {
        let next = repo
            .update(
                M::new(1, &format!("quick {i}"), y2001()),
                &WriteCondition::Exists,
            )
            .await
            .unwrap();
        assert!(time_of(&next) > last, "write {i}: {next:?} after {last:?}");
        last = time_of(&next);
    }
    assert_eq!(repo.get(&1).await.unwrap().version(), 12);

    // UnmodifiedSince: the stored time itself passes, and so does later.
    let dated = repo
        .update(M::new(1, "dated", y2001()), &since(last))
        .await
        .unwrap();
    assert_eq!(dated.version(), 13);
    let t3 = time_of(&dated);
    let later = repo
        .update(
            M::new(1, "later", y2001()),
            &since(t3 + Duration::from_secs(60)),
        )
        .await
        .unwrap();
    let t4 = time_of(&later);
    assert!(t4 > t3);
    // Any earlier date fails, even by a microsecond, with the current
    // state; nothing is written.
    for stale in [t3, t4 - Duration::from_micros(1), y2001()] {
        let current = current_of(repo.update(M::new(1, "lost", y2001()), &since(stale)).await);
        assert_eq!(current, later, "at {stale:?}");
    }
    assert_eq!(repo.get(&1).await.unwrap(), later);

    // merge patch: the same, and the client's time is ignored.
    let client_time = serde_json::to_value(M::new(1, "", y2001())).unwrap()["modified"].clone();
    let patch = json!({"body": "patched", "modified": client_time});
    let current = current_of(repo.merge_patch(&1, &patch, &since(t3)).await);
    assert_eq!(current, later);
    let patched = repo.merge_patch(&1, &patch, &since(t4)).await.unwrap();
    let t5 = time_of(&patched);
    assert_eq!((patched.body(), patched.version()), ("patched", 15));
    assert!(t5 > t4);
    assert_recent(t5, "merge patch");
    assert_eq!(repo.get(&1).await.unwrap(), patched);

    // A version-only read gives the time, exactly as the model has it.
    for known in [KnownVersions::Listed(vec![15]), KnownVersions::Any] {
        match repo.read(&1, &known).await.map(|read| read.fetched) {
            Ok(Fetched::Unchanged {
                version: 15,
                last_modified: Some(t),
            }) => assert_eq!(t, t5, "{known:?}"),
            other => panic!("expected Unchanged with a time, got {other:?}"),
        }
    }
    match repo
        .read(&1, &KnownVersions::Listed(vec![14]))
        .await
        .map(|read| read.fetched)
    {
        Ok(Fetched::Changed(post)) => assert_eq!(post, patched),
        other => panic!("expected Changed, got {other:?}"),
    }

    // delete: the same.
    let current = current_of(repo.delete(&1, &since(t4)).await);
    assert_eq!(current, patched);
    assert_eq!(repo.get(&1).await.unwrap(), patched);
    assert_eq!(repo.delete(&1, &since(t5)).await.unwrap(), patched);
    assert!(is_not_found(&repo.get(&1).await));
    assert!(is_not_found(&repo.delete(&1, &since(t5)).await));
}

async fn chrono_modification_times_are_the_stores(b: &Backend) {
    modification_times_are_the_stores::<ChronoPost>(b).await;
}

async fn time_modification_times_are_the_stores(b: &Backend) {
    modification_times_are_the_stores::<TimePost>(b).await;
}

async fn system_time_modification_times_are_the_stores(b: &Backend) {
    modification_times_are_the_stores::<SystemTimePost>(b).await;
}

/// A time the table may not have: rows written before the column was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "fit_posts")]
struct LegacyPost {
    id: i64,
    #[version]
    version: i64,
    body: String,
    #[occ(last_modified)]
    modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// A row without a time (written by another program) has no modification
/// date: `UnmodifiedSince` is ignored for it (RFC 9110 §13.1.4), as in
/// memory, and its first write gives it a time. SQL backends only: the
/// memory repository sets a time on every create.
async fn a_row_without_a_time_passes_unmodified_since(b: &Backend) {
    b.exec(
        "CREATE TABLE fit_posts (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, \
         body $TEXT NOT NULL, modified $TIME NULL)",
    )
    .await;
    b.exec("INSERT INTO fit_posts (id, version, body) VALUES (1, 1, 'old')")
        .await;
    let repo = b.repo::<LegacyPost>();
    let old = repo.get(&1).await.unwrap();
    assert_eq!((old.version, old.modified), (1, None));
    match repo
        .read(&1, &KnownVersions::Any)
        .await
        .map(|read| read.fetched)
    {
        Ok(Fetched::Unchanged {
            version: 1,
            last_modified: None,
        }) => {}
        other => panic!("expected Unchanged without a time, got {other:?}"),
    }
    let new = LegacyPost {
        body: "new".into(),
        ..old
    };
    let written = repo
        .update(new, &WriteCondition::UnmodifiedSince(y2001()))
        .await
        .unwrap();
    assert_eq!((written.version, written.body.as_str()), (2, "new"));
    assert_recent(time_of(&written), "first write");
    // Now it has one, and an older date fails.
    let current = current_of(
        repo.delete(&1, &WriteCondition::UnmodifiedSince(y2001()))
            .await,
    );
    assert_eq!(current, written);
}

// ---------------------------------------------------------------------------
// Each case on each backend: `<case>::memory`, `<case>::sqlite`,
// `<case>::postgres`, `<case>::mysql`. The database ones are skipped (and
// say so) only where their URL is unset.

occ_tests::on_every_backend! {[memory, sqlite, postgres, mysql] &Backend =>
    assigned_integer_ids_are_distinct_increasing_and_readable,
    assigned_ids_are_not_reused_after_delete,
    generated_uuid_ids_are_new_v7_and_stored,
    renamed_columns_are_read_and_written,
    rename_all_columns_are_read_and_written,
    chrono_modification_times_are_the_stores,
    time_modification_times_are_the_stores,
    system_time_modification_times_are_the_stores,
}

occ_tests::on_every_backend! {[sqlite, postgres, mysql] &Backend =>
    a_row_without_a_time_passes_unmodified_since,
}
