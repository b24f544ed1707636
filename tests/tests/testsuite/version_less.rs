//! Tables that had no version column (design decision 26): the migration
//! occ writes adds one (and the merge companions), and its triggers keep
//! them right for writers that know nothing of them (a plain SQL `UPDATE`
//! from a batch job, an admin console, another service). On SQLite,
//! PostgreSQL and MariaDB, a write outside occ between a client's read and
//! its write makes the client's tag stale: 412, never a lost update; a
//! merge keeps the outside change of another member and refuses a stale
//! one of the same member.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::Arc;

use axum::Router;
use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use occ_axum::routes::ConditionalRoutes;
use occ_core::repository::sql::{add_version_column, version_triggers, SqlRepository};
use occ_core::Versioned;
use occ_tests::{send, Db, DropOnExit, Reply};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "vl_notes", etag = "note-{id}-v{version}", merge)]
struct Note {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    title: String,
    body: String,
    #[occ(last_modified)]
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
}

/// The table as the service had it, before occ.
fn legacy(time: &str) -> String {
    format!(
        "CREATE TABLE vl_notes (id BIGINT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, updated_at {time})"
    )
}

const SEED: &str = "INSERT INTO vl_notes (id, title, body) VALUES (1, 'Plans', 'first draft')";

/// A writer outside occ: it knows nothing of versions.
const OUTSIDE_BODY: &str = "UPDATE vl_notes SET body = 'changed outside' WHERE id = 1";
const OUTSIDE_TITLE: &str = "UPDATE vl_notes SET title = 'Retitled outside' WHERE id = 1";
/// One that bumps the version, but not the member's companion.
const OUTSIDE_BUMPING: &str =
    "UPDATE vl_notes SET title = 'Bumped outside', version = version + 1 WHERE id = 1";

struct Backend {
    name: &'static str,
    app: Router,
    outside: Box<dyn Fn(&'static str) -> Outside + Send + Sync>,
    _cleanup: Option<DropOnExit>,
}

/// A statement run by the writer outside occ.
type Outside = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Migrates the legacy table of `pool` with occ's statements, checks it,
/// and gives the routes and the outside writer.
macro_rules! migrate {
    ($db:ty, $pool:expr, $time:expr) => {{
        let pool = $pool;
        for statement in [legacy($time), SEED.to_owned()]
            .into_iter()
            .chain(add_version_column::<$db, Note>())
            .chain(version_triggers::<$db, Note>())
        {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone()))
                .execute(&pool)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        let repo = SqlRepository::<$db, Note>::new(pool.clone());
        repo.verify().await.expect("the migrated table fits");
        let app = Router::new().nest(
            "/notes",
            ConditionalRoutes::<Note, _>::new(Arc::new(repo))
                .merging(true)
                .into_router(),
        );
        let outside = Box::new(move |statement: &'static str| {
            let pool = pool.clone();
            Box::pin(async move {
                sqlx::query(statement)
                    .execute(&pool)
                    .await
                    .expect("the outside write");
            }) as Outside
        });
        (app, outside)
    }};
}

impl Backend {
    /// Backend `db` for the test `test`; `None` when its URL is unset.
    async fn open(db: Db, test: &str) -> Option<Self> {
        match db {
            Db::Memory => unreachable!("SQL backends only"),
            Db::Sqlite => Some(Self::sqlite(test).await),
            Db::Postgres => Self::postgres(test).await,
            Db::MariaDb => Self::mariadb(test).await,
        }
    }

    async fn sqlite(test: &str) -> Self {
        let (pool, _) = occ_tests::sqlite_file_pool(test).await;
        let (app, outside) = migrate!(sqlx::Sqlite, pool, "TEXT");
        Self {
            name: "sqlite",
            app,
            outside,
            _cleanup: None,
        }
    }

    async fn postgres(test: &str) -> Option<Self> {
        let (pool, cleanup) = occ_tests::postgres_schema(test, "occ_vl", 4).await?;
        let (app, outside) = migrate!(sqlx::Postgres, pool, "TIMESTAMPTZ");
        Some(Self {
            name: "postgres",
            app,
            outside,
            _cleanup: Some(cleanup),
        })
    }

    async fn mariadb(test: &str) -> Option<Self> {
        let (pool, cleanup) = occ_tests::mariadb_database(test, "occ_vl", 4).await?;
        let (app, outside) = migrate!(sqlx::MySql, pool, "DATETIME(6)");
        Some(Self {
            name: "mariadb",
            app,
            outside,
            _cleanup: Some(cleanup),
        })
    }

    async fn send(&self, method: Method, headers: &[(&str, &str)], body: &str) -> Reply {
        send(&self.app, method, "/notes/1", headers, body).await
    }

    async fn tag(&self) -> String {
        let r = self.send(Method::GET, &[], "").await;
        assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", self.name);
        r.header("etag").unwrap().to_owned()
    }
}

occ_tests::on_every_sql_backend!(Backend =>
    occs_own_writes_bump_once,
    an_outside_writer_that_bumps_the_version_still_stamps_the_time,
    a_write_outside_occ_makes_the_tag_stale,
    merges_keep_outside_changes_of_other_members,
    an_outside_writer_that_bumps_the_version_still_marks_its_member,
);

const JSON: (&str, &str) = ("content-type", "application/json");
const MERGE_PATCH: (&str, &str) = ("content-type", "application/merge-patch+json");

async fn a_write_outside_occ_makes_the_tag_stale(b: Backend) {
    let tag = b.tag().await;
    assert_eq!(tag, "\"note-1-v1\"", "{}: every row starts at 1", b.name);
    (b.outside)(OUTSIDE_BODY).await;
    let body = r#"{"id":1,"title":"Plans","body":"mine"}"#;
    let r = b.send(Method::PUT, &[JSON, ("if-match", &tag)], body).await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_FAILED,
        "{}: {r:?}",
        b.name
    );
    assert_eq!(r.json()["current"]["body"], "changed outside", "{}", b.name);
    assert_eq!(r.header("etag"), Some("\"note-1-v2\""), "{}", b.name);
    // The outside write got a modification time too.
    let read = b.send(Method::GET, &[], "").await;
    assert!(read.header("last-modified").is_some(), "{}", b.name);
}

async fn merges_keep_outside_changes_of_other_members(b: Backend) {
    let tag = b.tag().await;
    (b.outside)(OUTSIDE_TITLE).await;
    // The body did not change since the client's version: it merges, and
    // the outside title stays.
    let r = b
        .send(
            Method::PATCH,
            &[MERGE_PATCH, ("if-match", &tag)],
            r#"{"body":"mine"}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
    assert_eq!(r.json()["title"], "Retitled outside", "{}", b.name);
    assert_eq!(r.json()["body"], "mine", "{}", b.name);
    // The title did: the same tag cannot set it.
    let r = b
        .send(
            Method::PATCH,
            &[MERGE_PATCH, ("if-match", &tag)],
            r#"{"title":"mine"}"#,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_FAILED,
        "{}: {r:?}",
        b.name
    );
    assert_eq!(
        r.json()["conflicts"],
        serde_json::json!(["title"]),
        "{}",
        b.name
    );
}

async fn an_outside_writer_that_bumps_the_version_still_marks_its_member(b: Backend) {
    let tag = b.tag().await;
    (b.outside)(OUTSIDE_BUMPING).await;
    let r = b
        .send(
            Method::PATCH,
            &[MERGE_PATCH, ("if-match", &tag)],
            r#"{"title":"mine"}"#,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_FAILED,
        "{}: {r:?}",
        b.name
    );
    assert_eq!(r.json()["current"]["title"], "Bumped outside", "{}", b.name);
}

/// The triggers leave occ's own writes alone: each PUT and PATCH with the
/// tag the last one returned succeeds, one version at a time.
async fn occs_own_writes_bump_once(b: Backend) {
    let mut tag = b.tag().await;
    for n in 0..3 {
        let body = format!(r#"{{"id":1,"title":"Plans","body":"draft {n}"}}"#);
        let r = b
            .send(Method::PUT, &[JSON, ("if-match", &tag)], &body)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
        tag = r.header("etag").unwrap().to_owned();
        let patch = format!(r#"{{"title":"Plans {n}"}}"#);
        let r = b
            .send(Method::PATCH, &[MERGE_PATCH, ("if-match", &tag)], &patch)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
        tag = r.header("etag").unwrap().to_owned();
    }
    assert_eq!(tag, "\"note-1-v7\"", "{}", b.name);
    assert_eq!(
        b.tag().await,
        tag,
        "{}: the table moved past what was answered",
        b.name
    );
}

/// A writer that bumps the version but leaves the time gets the time
/// stamped all the same: a date sent before it passes no later state.
async fn an_outside_writer_that_bumps_the_version_still_stamps_the_time(b: Backend) {
    // A row the legacy service wrote has no time yet: occ writes it first.
    let tag = b.tag().await;
    let body = r#"{"id":1,"title":"Plans","body":"dated"}"#;
    let r = b.send(Method::PUT, &[JSON, ("if-match", &tag)], body).await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
    tokio::time::sleep(std::time::Duration::from_millis(2_300)).await;
    let before = b.send(Method::GET, &[], "").await;
    let since = before.header("last-modified").unwrap().to_owned();
    // Past the second of the last stamp, and the margin.
    tokio::time::sleep(std::time::Duration::from_millis(2_300)).await;
    (b.outside)(OUTSIDE_BUMPING).await;
    let body = r#"{"id":1,"title":"Plans","body":"mine"}"#;
    let r = b
        .send(Method::PUT, &[JSON, ("if-unmodified-since", &since)], body)
        .await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_FAILED,
        "{}: {r:?}",
        b.name
    );
}
