//! A tag is never reused for an id (design decision 15): a resource
//! deleted and created again continues after its last version, so a tag
//! from before the delete gets 412 and never names the new state. On
//! every backend: memory (tombstones under the repository's lock), SQLite,
//! PostgreSQL and MariaDB/MySQL (the model's tombstone table,
//! `#[occ(tombstones = "…")]`), through the profiles app's routes and at
//! the repository, with a race of concurrent deletes and creates.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use occ_tests::{Db, DropOnExit};
use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use http::{Method, StatusCode};
use occ_core::repository::sql::{MySqlRepository, PgRepository, SqlRepository, SqliteRepository};
use occ_core::repository::{MemoryRepository, Repository, RepositoryError, WriteCondition};
use occ_core::Versioned;
use occ_examples::{Profile, Profiles, SCHEMA, TOMBSTONES_SCHEMA};
use occ_tests::send;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------
// One backend: the profiles table and its tombstone table, private to the
// test, with profile 42 (Ava, Paris) at version 7.

struct Fixture {
    name: &'static str,
    repo: Arc<Profiles>,
    /// Drops the test's file, schema or database, even on a panic.
    _cleanup: Option<DropOnExit>,
}

impl Fixture {
    /// Backend `db` for the test `test`; `None` when its URL is unset.
    async fn open(db: Db, test: &str) -> Option<Self> {
        match db {
            Db::Memory => Some(Self::memory().await),
            Db::Sqlite => Some(Self::sqlite(test).await),
            Db::Postgres => Self::postgres(test).await,
            Db::MariaDb => Self::mysql(test).await,
        }
    }

    async fn memory() -> Self {
        Self::seeded("memory", Arc::new(MemoryRepository::<Profile>::new()), None).await
    }

    async fn sqlite(test: &str) -> Self {
        let (pool, url) = occ_tests::sqlite_file_pool(test).await;
        for ddl in [SCHEMA, TOMBSTONES_SCHEMA] {
            sqlx::query(ddl).execute(&pool).await.expect("schema");
        }
        let repo: SqliteRepository<Profile> = SqlRepository::new(pool);
        repo.verify().await.expect("the tables fit");
        Self::seeded(
            "sqlite",
            Arc::new(repo),
            Some(DropOnExit::sqlite_file(&url)),
        )
        .await
    }

    async fn postgres(test: &str) -> Option<Self> {
        let (pool, cleanup) = occ_tests::postgres_schema(test, "occ_tombstones", 8).await?;
        for ddl in [SCHEMA, TOMBSTONES_SCHEMA] {
            sqlx::query(ddl).execute(&pool).await.expect("schema");
        }
        let repo: PgRepository<Profile> = SqlRepository::new(pool);
        repo.verify().await.expect("the tables fit");
        Some(Self::seeded("postgres", Arc::new(repo), Some(cleanup)).await)
    }

    async fn mysql(test: &str) -> Option<Self> {
        Self::mysql_with(test, false).await
    }

    /// MariaDB; taken for MySQL (`as_mysql`), whose delete cannot return
    /// the row and locks it with a read first.
    async fn mysql_with(test: &str, as_mysql: bool) -> Option<Self> {
        let (pool, cleanup) = occ_tests::mariadb_database(test, "occ_tombstones", 8).await?;
        for ddl in [SCHEMA, TOMBSTONES_SCHEMA] {
            sqlx::query(ddl).execute(&pool).await.expect("schema");
        }
        let mut repo: MySqlRepository<Profile> = SqlRepository::new(pool);
        if as_mysql {
            repo = repo.assume_mysql_server();
        }
        repo.verify().await.expect("the tables fit");
        Some(Self::seeded("mysql", Arc::new(repo), Some(cleanup)).await)
    }

    async fn seeded(name: &'static str, repo: Arc<Profiles>, cleanup: Option<DropOnExit>) -> Self {
        repo.create(ava(7)).await.expect("seed profile 42");
        Self {
            name,
            repo,
            _cleanup: cleanup,
        }
    }

    fn app(&self) -> Router {
        occ_examples::app(self.repo.clone())
    }
}

/// Removes a file made by `occ_tests::sqlite_file_pool`, with its journal.
fn remove_sqlite_file(url: &str) {
    let path = url.trim_start_matches("sqlite://");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
}

fn ava(version: i64) -> Profile {
    Profile {
        id: 42,
        version,
        name: "Ava".into(),
        city: "Paris".into(),
    }
}

/// The version a `"prof-42-v<n>"` tag names.
fn version_of(tag: &str) -> i64 {
    tag.trim_matches('"')
        .rsplit_once("-v")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("not a profile tag: {tag}"))
}

const JSON: (&str, &str) = ("content-type", "application/json");
const WHOLE: &str = r#"{"id":42,"name":"Ava","city":"Rome"}"#;

// ---------------------------------------------------------------------------
// Through the profiles app.

/// GET, PUT, DELETE, then POST the id again: the new resource's tag is
/// none of those it had before the delete, its version is after the
/// deleted one, and a PUT with an old tag is 412.
async fn recreated_by_post_refuses_the_old_tags(f: &Fixture) {
    let app = f.app();
    let got = send(&app, Method::GET, "/profiles/42", &[], "").await;
    assert_eq!(got.status, StatusCode::OK, "{}: {got:?}", f.name);
    let v7 = got.header("etag").unwrap().to_owned();
    assert_eq!(v7, "\"prof-42-v7\"");
    let put = send(
        &app,
        Method::PUT,
        "/profiles/42",
        &[JSON, ("if-match", &v7)],
        r#"{"city":"Lyon"}"#,
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}: {put:?}", f.name);
    let v8 = put.header("etag").unwrap().to_owned();
    assert_eq!(v8, "\"prof-42-v8\"");
    let deleted = send(
        &app,
        Method::DELETE,
        "/profiles/42",
        &[("if-match", &v8)],
        "",
    )
    .await;
    assert_eq!(
        deleted.status,
        StatusCode::NO_CONTENT,
        "{}: {deleted:?}",
        f.name
    );

    let created = send(&app, Method::POST, "/profiles", &[JSON], WHOLE).await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{}: {created:?}",
        f.name
    );
    let new = created.header("etag").unwrap().to_owned();
    assert_ne!(new, v7, "{}", f.name);
    assert_ne!(new, v8, "{}", f.name);
    assert!(version_of(&new) > 8, "{}: {new} does not follow v8", f.name);
    assert_eq!(new, "\"prof-42-v9\"", "{}", f.name);

    for old in [&v7, &v8] {
        let stale = send(
            &app,
            Method::PUT,
            "/profiles/42",
            &[JSON, ("if-match", old)],
            r#"{"city":"Oslo"}"#,
        )
        .await;
        assert_eq!(
            stale.status,
            StatusCode::PRECONDITION_FAILED,
            "{}: the tag {old} from before the delete matched: {stale:?}",
            f.name
        );
        assert_eq!(stale.header("etag"), Some(new.as_str()), "{}", f.name);
    }
    let now = send(&app, Method::GET, "/profiles/42", &[], "").await;
    assert_eq!(now.header("etag"), Some(new.as_str()), "{}", f.name);
    assert_eq!(
        now.text(),
        WHOLE,
        "{}: nothing was written by a stale tag",
        f.name
    );
}

/// DELETE, then a creating PUT (`If-None-Match: *`): the new resource
/// continues after the deleted version, and the old tag is refused.
async fn recreated_by_creating_put_refuses_the_old_tag(f: &Fixture) {
    let app = f.app();
    let v7 = "\"prof-42-v7\"";
    let deleted = send(
        &app,
        Method::DELETE,
        "/profiles/42",
        &[("if-match", v7)],
        "",
    )
    .await;
    assert_eq!(
        deleted.status,
        StatusCode::NO_CONTENT,
        "{}: {deleted:?}",
        f.name
    );
    let created = send(
        &app,
        Method::PUT,
        "/profiles/42",
        &[JSON, ("if-none-match", "*")],
        WHOLE,
    )
    .await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{}: {created:?}",
        f.name
    );
    assert_eq!(created.header("etag"), Some("\"prof-42-v8\""), "{}", f.name);
    let stale = send(
        &app,
        Method::PUT,
        "/profiles/42",
        &[JSON, ("if-match", v7)],
        r#"{"city":"Oslo"}"#,
    )
    .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}: {stale:?}",
        f.name
    );
    let gone = send(
        &app,
        Method::DELETE,
        "/profiles/42",
        &[("if-match", v7)],
        "",
    )
    .await;
    assert_eq!(
        gone.status,
        StatusCode::PRECONDITION_FAILED,
        "{}: {gone:?}",
        f.name
    );
}

/// Deleting and creating again, three times over: every tag the resource
/// ever had is new, and its versions only grow.
async fn delete_and_recreate_again_keeps_growing(f: &Fixture) {
    let app = f.app();
    let mut current = "\"prof-42-v7\"".to_owned();
    let mut seen = vec![current.clone()];
    for _ in 0..3 {
        let deleted = send(
            &app,
            Method::DELETE,
            "/profiles/42",
            &[("if-match", &current)],
            "",
        )
        .await;
        assert_eq!(
            deleted.status,
            StatusCode::NO_CONTENT,
            "{}: {deleted:?}",
            f.name
        );
        let created = send(&app, Method::POST, "/profiles", &[JSON], WHOLE).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {created:?}",
            f.name
        );
        let tag = created.header("etag").unwrap().to_owned();
        let last = seen.last().map(|t| version_of(t)).unwrap();
        assert!(version_of(&tag) > last, "{}: {tag} after {seen:?}", f.name);
        assert!(!seen.contains(&tag), "{}: {tag} reused: {seen:?}", f.name);
        seen.push(tag.clone());
        current = tag;
    }
    assert_eq!(
        seen,
        [
            "\"prof-42-v7\"",
            "\"prof-42-v8\"",
            "\"prof-42-v9\"",
            "\"prof-42-v10\""
        ],
        "{}",
        f.name
    );
}

// ---------------------------------------------------------------------------
// At the repository.

/// A create of a deleted id takes the larger of the version given and the
/// deleted version plus one; an id never deleted keeps the version given.
async fn create_after_delete_continues_after_the_deleted_version(f: &Fixture) {
    let repo = &f.repo;
    let v8 = repo
        .update(ava(7), &WriteCondition::VersionIn(vec![7]))
        .await
        .unwrap();
    assert_eq!(v8.version, 8, "{}", f.name);
    let deleted = repo.delete(&42, &WriteCondition::Exists).await.unwrap();
    assert_eq!(deleted.version, 8, "{}", f.name);
    assert!(
        matches!(repo.get(&42).await, Err(RepositoryError::NotFound)),
        "{}",
        f.name
    );

    // Given 1: continues at 9.
    let again = repo.create(ava(1)).await.unwrap();
    assert_eq!(again.version, 9, "{}", f.name);
    assert_eq!(repo.get(&42).await.unwrap().version, 9, "{}", f.name);

    // Given more than the tombstone's next: kept.
    repo.delete(&42, &WriteCondition::VersionIn(vec![9]))
        .await
        .unwrap();
    let ahead = repo.create(ava(20)).await.unwrap();
    assert_eq!(ahead.version, 20, "{}", f.name);

    // Deleted at 20, given 5: 21, not after the older tombstone.
    repo.delete(&42, &WriteCondition::Exists).await.unwrap();
    assert_eq!(repo.create(ava(5)).await.unwrap().version, 21, "{}", f.name);

    // A failed create of an existing id changes nothing.
    assert!(
        matches!(
            repo.create(ava(1)).await,
            Err(RepositoryError::AlreadyExists { .. })
        ),
        "{}",
        f.name
    );
    assert_eq!(repo.get(&42).await.unwrap().version, 21, "{}", f.name);

    // Another id, never deleted: the version given.
    let other = Profile { id: 43, ..ava(1) };
    assert_eq!(repo.create(other).await.unwrap().version, 1, "{}", f.name);
}

/// A delete refused by its condition leaves no tombstone behind: the
/// resource is still there, and its versions go on as before.
async fn a_refused_delete_records_nothing(f: &Fixture) {
    let repo = &f.repo;
    let refused = repo.delete(&42, &WriteCondition::VersionIn(vec![6])).await;
    assert!(
        matches!(refused, Err(RepositoryError::PreconditionFailed { .. })),
        "{}: {refused:?}",
        f.name
    );
    assert_eq!(repo.get(&42).await.unwrap().version, 7, "{}", f.name);
    let missing = repo.delete(&99, &WriteCondition::Exists).await;
    assert!(
        matches!(missing, Err(RepositoryError::NotFound)),
        "{}",
        f.name
    );
    let fresh = Profile { id: 99, ..ava(1) };
    assert_eq!(repo.create(fresh).await.unwrap().version, 1, "{}", f.name);
}

/// Four tasks delete and create one id again, fifty times each, at once:
/// every state a successful write returned has its own tag, so no two
/// states of the id were ever told apart by nothing but time.
async fn concurrent_delete_and_recreate_never_repeat_a_tag(f: &Fixture) {
    let mut tasks = Vec::new();
    for task in 0..4 {
        let repo = f.repo.clone();
        let name = f.name;
        tasks.push(tokio::spawn(async move {
            let mut tags = Vec::new();
            let mut refused = 0_u32;
            for i in 0..50 {
                let mut profile = ava(1);
                profile.city = format!("task {task} round {i}");
                match repo.create(profile).await {
                    Ok(created) => tags.push(created.entity_tag().to_string()),
                    Err(RepositoryError::AlreadyExists { .. }) => {}
                    Err(RepositoryError::Unavailable(_)) => refused += 1,
                    Err(e) => panic!("{name}: create: {e:?}"),
                }
                match repo.delete(&42, &WriteCondition::Exists).await {
                    // The state it deleted was returned by a write already.
                    // Lost to another task: gone, or deleted and created
                    // again between the delete and the read explaining it.
                    Ok(_)
                    | Err(RepositoryError::NotFound)
                    | Err(RepositoryError::PreconditionFailed { .. }) => {}
                    Err(RepositoryError::Unavailable(_)) => refused += 1,
                    Err(e) => panic!("{name}: delete: {e:?}"),
                }
            }
            (tags, refused)
        }));
    }
    let mut all = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let (tags, r) = task.await.unwrap();
        all.extend(tags);
        refused += r;
    }
    let distinct: HashSet<&String> = all.iter().collect();
    eprintln!(
        "{}: {} creates succeeded, {} distinct tags, {refused} transient refusals",
        f.name,
        all.len(),
        distinct.len()
    );
    assert!(
        all.len() >= 50,
        "{}: only {} creates succeeded",
        f.name,
        all.len()
    );
    assert_eq!(
        distinct.len(),
        all.len(),
        "{}: a tag was reused: {all:?}",
        f.name
    );
}

// ---------------------------------------------------------------------------
// Each case on each backend: `<case>::memory`, `::sqlite`, `::postgres`,
// `::mysql`; the database ones are skipped (and say so) where their URL is
// unset.

occ_tests::on_every_backend! {[memory, sqlite, postgres, mysql] &Fixture =>
    recreated_by_post_refuses_the_old_tags,
    recreated_by_creating_put_refuses_the_old_tag,
    delete_and_recreate_again_keeps_growing,
    create_after_delete_continues_after_the_deleted_version,
    a_refused_delete_records_nothing,
    concurrent_delete_and_recreate_never_repeat_a_tag,
}

/// MySQL's delete, which cannot return the deleted row (a locking read of
/// the row, then its `DELETE`, then its tombstone, in one transaction), run
/// on MariaDB taken for MySQL: each case on a table of its own.
#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn mysql_delete_without_returning_keeps_tombstones() {
    macro_rules! on_mysql_path {
        ($($case:ident),*) => {$(
            let test = concat!("mysql_path_", stringify!($case));
            let Some(f) = Fixture::mysql_with(test, true).await else {
                return;
            };
            $case(&f).await;
        )*};
    }
    on_mysql_path!(
        recreated_by_post_refuses_the_old_tags,
        delete_and_recreate_again_keeps_growing,
        a_refused_delete_records_nothing,
        concurrent_delete_and_recreate_never_repeat_a_tag
    );
}

// ---------------------------------------------------------------------------
// The memory repository's scoped views share the tombstones.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Versioned)]
struct Owned {
    id: i64,
    #[version]
    version: i64,
    owner: i64,
}

#[tokio::test]
async fn memory_scoped_views_continue_after_a_delete() {
    use occ_core::repository::Scope;
    let repo = MemoryRepository::<Owned>::new();
    let mine = repo.scoped(&Scope::new("owner", 1_i64)).unwrap();
    let written = mine
        .create(Owned {
            id: 1,
            version: 3,
            owner: 1,
        })
        .await
        .unwrap();
    assert_eq!(written.version, 3);
    mine.delete(&1, &WriteCondition::Exists).await.unwrap();
    let again = mine
        .create(Owned {
            id: 1,
            version: 1,
            owner: 1,
        })
        .await
        .unwrap();
    assert_eq!(again.version, 4);
    // Through the unscoped repository as well: one set of tombstones.
    repo.delete(&1, &WriteCondition::Exists).await.unwrap();
    let theirs = repo.scoped(&Scope::new("owner", 2_i64)).unwrap();
    let moved = theirs
        .create(Owned {
            id: 1,
            version: 1,
            owner: 2,
        })
        .await
        .unwrap();
    assert_eq!(moved.version, 5);
}

// ---------------------------------------------------------------------------
// Without a tombstone table, and a missing one.

/// A model without `tombstones`: behaviour unchanged, versions restart
/// after a delete (documented on `SqlRepository` and `#[occ(table)]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "untombed")]
struct Untombed {
    id: i64,
    #[version]
    version: i64,
    text: String,
}

#[tokio::test]
async fn without_a_tombstone_table_versions_restart_after_a_delete() {
    let pool = occ_core::repository::sql::sqlite_pool("sqlite::memory:")
        .await
        .unwrap();
    sqlx::query("CREATE TABLE untombed (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, text TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let repo: SqliteRepository<Untombed> = SqlRepository::new(pool);
    repo.verify().await.unwrap();
    let note = |version| Untombed {
        id: 1,
        version,
        text: "x".into(),
    };
    repo.create(note(1)).await.unwrap();
    repo.update(note(1), &WriteCondition::VersionIn(vec![1]))
        .await
        .unwrap();
    repo.delete(&1, &WriteCondition::Exists).await.unwrap();
    assert_eq!(repo.create(note(1)).await.unwrap().version, 1);
}

/// `verify` checks the tombstone table too, and names it.
#[tokio::test]
async fn verify_names_a_missing_tombstone_table() {
    let pool = occ_core::repository::sql::sqlite_pool("sqlite::memory:")
        .await
        .unwrap();
    sqlx::query(SCHEMA).execute(&pool).await.unwrap();
    let repo: SqliteRepository<Profile> = SqlRepository::new(pool.clone());
    let error = repo.verify().await.unwrap_err();
    assert!(error.to_string().contains("profile_tombstones"), "{error}");
    sqlx::query("CREATE TABLE profile_tombstones (id BIGINT PRIMARY KEY, last BIGINT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let error = repo.verify().await.unwrap_err();
    assert!(error.to_string().contains("profile_tombstones"), "{error}");
    assert_eq!(error.column(), Some("version"), "{error}");
}

// ---------------------------------------------------------------------------
// A scoped SQL view: the delete's key carries the scope, the tombstone is
// the id's.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "owned_notes", tombstones = "owned_note_tombstones")]
struct OwnedNote {
    id: i64,
    #[version]
    version: i64,
    owner: i64,
}

const OWNED: &str = "CREATE TABLE owned_notes (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, owner BIGINT NOT NULL)";
const OWNED_TOMBSTONES: &str =
    "CREATE TABLE owned_note_tombstones (id BIGINT PRIMARY KEY, version BIGINT NOT NULL)";

async fn scoped_view_continues_after_a_delete(name: &str, repo: &dyn Repository<OwnedNote>) {
    use occ_core::repository::Scope;
    let note = |version, owner| OwnedNote {
        id: 1,
        version,
        owner,
    };
    let mine = repo.scoped(&Scope::new("owner", 1_i64)).unwrap();
    assert_eq!(mine.create(note(3, 1)).await.unwrap().version, 3, "{name}");
    // Another owner's view cannot delete it, and records nothing.
    let theirs = repo.scoped(&Scope::new("owner", 2_i64)).unwrap();
    let hidden = theirs.delete(&1, &WriteCondition::Exists).await;
    assert!(
        matches!(hidden, Err(RepositoryError::NotFound)),
        "{name}: {hidden:?}"
    );
    mine.delete(&1, &WriteCondition::VersionIn(vec![3]))
        .await
        .unwrap();
    assert_eq!(mine.create(note(1, 1)).await.unwrap().version, 4, "{name}");
    mine.delete(&1, &WriteCondition::Exists).await.unwrap();
    // The tombstone is the id's, whoever creates it next.
    assert_eq!(
        theirs.create(note(1, 2)).await.unwrap().version,
        5,
        "{name}"
    );
}

#[tokio::test]
async fn scoped_sql_views_continue_after_a_delete_sqlite() {
    let (pool, url) = occ_tests::sqlite_file_pool("scoped_tombstones").await;
    for ddl in [OWNED, OWNED_TOMBSTONES] {
        sqlx::query(ddl).execute(&pool).await.unwrap();
    }
    let repo: SqliteRepository<OwnedNote> = SqlRepository::new(pool);
    repo.verify().await.unwrap();
    scoped_view_continues_after_a_delete("sqlite", &repo).await;
    remove_sqlite_file(&url);
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn scoped_sql_views_continue_after_a_delete_postgres() {
    let Some((pool, _drop)) = occ_tests::postgres_schema(
        "scoped_sql_views_continue_after_a_delete_postgres",
        "occ_tombstones",
        2,
    )
    .await
    else {
        return;
    };
    for ddl in [OWNED, OWNED_TOMBSTONES] {
        sqlx::query(ddl).execute(&pool).await.unwrap();
    }
    let repo: PgRepository<OwnedNote> = SqlRepository::new(pool);
    repo.verify().await.unwrap();
    scoped_view_continues_after_a_delete("postgres", &repo).await;
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn scoped_sql_views_continue_after_a_delete_mysql() {
    let Some((pool, _drop)) = occ_tests::mariadb_database(
        "scoped_sql_views_continue_after_a_delete_mysql",
        "occ_tombstones",
        2,
    )
    .await
    else {
        return;
    };
    for ddl in [OWNED, OWNED_TOMBSTONES] {
        sqlx::query(ddl).execute(&pool).await.unwrap();
    }
    let repo: MySqlRepository<OwnedNote> = SqlRepository::new(pool);
    repo.verify().await.unwrap();
    scoped_view_continues_after_a_delete("mysql", &repo).await;
}

// ---------------------------------------------------------------------------
// The documents example: UUID ids (a `UUID`, `BINARY(16)` or `BLOB` key in
// the tombstone table) and an `INTEGER` revision column.

async fn documents_continue_after_a_delete(name: &str, repo: &occ_examples::document::Documents) {
    use occ_examples::document::Document;
    let id = uuid::Uuid::now_v7();
    let doc = |revision| Document {
        id,
        revision,
        title: "Notes".into(),
        body: "text".into(),
        tags: None,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    };
    assert_eq!(repo.create(doc(1)).await.unwrap().revision, 1, "{name}");
    let second = repo
        .update(doc(1), &WriteCondition::VersionIn(vec![1]))
        .await
        .unwrap();
    assert_eq!(second.revision, 2, "{name}");
    repo.delete(&id, &WriteCondition::VersionIn(vec![2]))
        .await
        .unwrap();
    let again = repo.create(doc(1)).await.unwrap();
    assert_eq!(
        again.revision, 3,
        "{name}: continues after the deleted revision"
    );
    let stale = repo
        .update(doc(1), &WriteCondition::VersionIn(vec![2]))
        .await;
    assert!(
        matches!(stale, Err(RepositoryError::PreconditionFailed { .. })),
        "{name}: {stale:?}"
    );
}

#[tokio::test]
async fn documents_continue_after_a_delete_sqlite() {
    let (pool, url) = occ_tests::sqlite_file_pool("document_tombstones").await;
    let documents = occ_examples::document::connect(&url).await.unwrap();
    documents_continue_after_a_delete("sqlite", &*documents).await;
    pool.close().await;
    remove_sqlite_file(&url);
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn documents_continue_after_a_delete_postgres() {
    use occ_examples::document::{POSTGRES_SCHEMA, POSTGRES_TOMBSTONES};
    let Some((pool, _drop)) = occ_tests::postgres_schema(
        "documents_continue_after_a_delete_postgres",
        "occ_tombstones",
        2,
    )
    .await
    else {
        return;
    };
    for ddl in [POSTGRES_SCHEMA, POSTGRES_TOMBSTONES] {
        sqlx::query(ddl).execute(&pool).await.unwrap();
    }
    let repo: PgRepository<occ_examples::document::Document> = SqlRepository::new(pool);
    repo.verify().await.unwrap();
    documents_continue_after_a_delete("postgres", &repo).await;
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn documents_continue_after_a_delete_mysql() {
    use occ_examples::document::{MYSQL_SCHEMA, MYSQL_TOMBSTONES};
    let Some((pool, _drop)) = occ_tests::mariadb_database(
        "documents_continue_after_a_delete_mysql",
        "occ_tombstones",
        2,
    )
    .await
    else {
        return;
    };
    for ddl in [MYSQL_SCHEMA, MYSQL_TOMBSTONES] {
        sqlx::query(ddl).execute(&pool).await.unwrap();
    }
    let repo: MySqlRepository<occ_examples::document::Document> = SqlRepository::new(pool);
    repo.verify().await.unwrap();
    documents_continue_after_a_delete("mysql", &repo).await;
}
