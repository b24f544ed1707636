//! How many statements one request sends to the database (design decision
//! 14; docs/design.md, "The write path"): every request kind, through the
//! generated routes, on each SQL backend (a SQLite file, PostgreSQL,
//! MariaDB/MySQL).
//!
//! sqlx logs each statement it executes as one `tracing` event with the
//! target `sqlx::query` (sqlx-core's `QueryLogger`, at DEBUG, WARN when
//! slow). This binary installs a global subscriber that files those events
//! under the request they belong to: each request runs inside a `counted`
//! span naming its log, and an event goes to the innermost such span it
//! happens in. SQLite executes on a worker thread that enters the caller's
//! span, so its statements are filed too; a thread-local subscriber would
//! miss them (and races tracing's per-callsite interest cache). Tests run in
//! parallel without mixing their logs.
//!
//! Each pool holds one connection, opened (and used for the table and its
//! first row) before anything is counted, so statements that set up a
//! connection are never counted.
//!
//! MariaDB and MySQL have no `UPDATE … RETURNING`: a write there is one
//! transaction, its `BEGIN` and `COMMIT` told apart from the statements
//! that touch data.
//!
//! The same counts for a model with a modification time, at the
//! repository: `If-Unmodified-Since` goes into the write's `WHERE` clause,
//! so a date-conditioned write is one statement too.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use occ_tests::{Db, DropOnExit};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};

use axum::body::Body;
use axum::Router;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use occ_axum::routes::{ConditionalRoutes, PutMode};
use occ_core::idempotency::KeyPolicy;
use occ_core::repository::sql::{
    idempotency_table, Dialect, MySqlRepository, PgRepository, SqliteRepository,
};
use occ_core::repository::{Fetched, KnownVersions, Repository, RepositoryError, WriteCondition};
use occ_core::Versioned;
use occ_examples::{Profile, SCHEMA, TOMBSTONES_SCHEMA};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use tower::ServiceExt;
use tracing::field::{Field, Visit};
use tracing::{Instrument, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

// ---------------------------------------------------------------------------
// Counting sqlx's statements per request.

/// The statements logged under each `counted` span, by the span's `log`.
static LOGS: Mutex<Option<HashMap<u64, Vec<String>>>> = Mutex::new(None);

/// The `log` of a `counted` span, kept in its extensions.
struct LogKey(u64);

/// Files every `sqlx::query` event under the `counted` span it happens in.
struct FileStatements;

impl<S> Layer<S> for FileStatements
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        if attrs.metadata().name() != "counted" {
            return;
        }
        let mut key = KeyField(None);
        attrs.record(&mut key);
        if let (Some(key), Some(span)) = (key.0, ctx.span(id)) {
            span.extensions_mut().insert(LogKey(key));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        for span in scope {
            if let Some(LogKey(key)) = span.extensions().get::<LogKey>() {
                let mut sql = SqlFields::default();
                event.record(&mut sql);
                let mut logs = LOGS.lock().unwrap();
                logs.get_or_insert_with(HashMap::new)
                    .entry(*key)
                    .or_default()
                    .push(sql.text());
                return;
            }
        }
    }
}

struct KeyField(Option<u64>);

impl Visit for KeyField {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "log" {
            self.0 = Some(value);
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// sqlx's fields: `summary` (the first words) and `db.statement` (the
/// whole text, when it is longer than the summary).
#[derive(Default)]
struct SqlFields {
    summary: String,
    statement: String,
}

impl SqlFields {
    fn text(self) -> String {
        let statement = self.statement.trim();
        if statement.is_empty() {
            self.summary
        } else {
            statement.to_owned()
        }
    }
}

impl Visit for SqlFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.statement = value.to_owned(),
            _ => {}
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// Runs `future` inside a `counted` span, and returns its output and the
/// statements it sent, in order.
async fn counted<T>(future: impl std::future::Future<Output = T>) -> (T, Vec<String>) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    install();
    let key = NEXT.fetch_add(1, Ordering::Relaxed);
    let output = future
        .instrument(tracing::info_span!("counted", log = key))
        .await;
    let log = LOGS
        .lock()
        .unwrap()
        .as_mut()
        .and_then(|logs| logs.remove(&key))
        .unwrap_or_default();
    (output, log)
}

/// Installs the global subscriber, once for the whole binary.
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(FileStatements);
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
    });
}

// ---------------------------------------------------------------------------
// One backend, one table, profile 42 (Ava, Paris) at version 7.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

struct Fixture {
    backend: Backend,
    test: String,
    app: Router,
    /// Drops the test's file, schema or database, even on a panic.
    _cleanup: DropOnExit,
}

/// Replacing PUT at `/profiles`, merging PUT at `/merging`, same table.
fn routes<R: Repository<Profile> + 'static>(repo: Arc<R>) -> Router {
    Router::new()
        .nest(
            "/profiles",
            ConditionalRoutes::<Profile, R>::new(repo.clone()).into_router(),
        )
        .nest(
            "/merging",
            ConditionalRoutes::<Profile, R>::new(repo)
                .put_mode(PutMode::Merge)
                .into_router(),
        )
}

async fn seeded<R: Repository<Profile> + 'static>(repo: Arc<R>) -> Router {
    let ava = Profile {
        id: 42,
        version: 7,
        name: "Ava".into(),
        city: "Paris".into(),
    };
    repo.create(ava).await.unwrap();
    routes(repo)
}

impl Fixture {
    /// Backend `db` for the test `test`; `None` when its URL is unset.
    async fn open(db: Db, test: &str) -> Option<Self> {
        match db {
            Db::Memory => unreachable!("SQL backends only"),
            Db::Sqlite => Some(Self::sqlite(&format!("{test}::sqlite")).await),
            Db::Postgres => Self::postgres(&format!("{test}::postgres")).await,
            Db::MariaDb => Self::mysql(&format!("{test}::mysql")).await,
        }
    }

    async fn sqlite(test: &str) -> Self {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
        let path =
            std::env::temp_dir().join(format!("{}.db", occ_tests::unique_name("occ_statements")));
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        for ddl in [SCHEMA, TOMBSTONES_SCHEMA] {
            sqlx::query(ddl).execute(&pool).await.unwrap();
        }
        for ddl in idempotency_table(Dialect::Sqlite, KEYS) {
            sqlx::query(AssertSqlSafe(ddl))
                .execute(&pool)
                .await
                .unwrap();
        }
        let repo = SqliteRepository::<Profile>::new(pool)
            .with_idempotency_keys(KEYS, KeyPolicy::default());
        // As an application does at startup; on MariaDB/MySQL this also
        // reads which server it is, which the first delete would otherwise
        // read (and this test count).
        repo.verify().await.unwrap();
        let app = seeded(Arc::new(repo)).await;
        Self {
            backend: Backend::Sqlite,
            test: test.to_owned(),
            app,
            _cleanup: DropOnExit::File { path },
        }
    }

    async fn postgres(test: &str) -> Option<Self> {
        let (pool, cleanup) = occ_tests::postgres_schema(test, "occ_statements", 1).await?;
        for ddl in [SCHEMA, TOMBSTONES_SCHEMA] {
            sqlx::query(ddl).execute(&pool).await.unwrap();
        }
        for ddl in idempotency_table(Dialect::Postgres, KEYS) {
            sqlx::query(AssertSqlSafe(ddl))
                .execute(&pool)
                .await
                .unwrap();
        }
        let repo =
            PgRepository::<Profile>::new(pool).with_idempotency_keys(KEYS, KeyPolicy::default());
        // As an application does at startup; on MariaDB/MySQL this also
        // reads which server it is, which the first delete would otherwise
        // read (and this test count).
        repo.verify().await.unwrap();
        let app = seeded(Arc::new(repo)).await;
        Some(Self {
            backend: Backend::Postgres,
            test: test.to_owned(),
            app,
            _cleanup: cleanup,
        })
    }

    async fn mysql(test: &str) -> Option<Self> {
        let (pool, cleanup) = occ_tests::mariadb_database(test, "occ_statements", 1).await?;
        for ddl in [SCHEMA, TOMBSTONES_SCHEMA] {
            sqlx::query(ddl).execute(&pool).await.unwrap();
        }
        for ddl in idempotency_table(Dialect::MySql, KEYS) {
            sqlx::query(AssertSqlSafe(ddl))
                .execute(&pool)
                .await
                .unwrap();
        }
        let repo =
            MySqlRepository::<Profile>::new(pool).with_idempotency_keys(KEYS, KeyPolicy::default());
        // As an application does at startup; on MariaDB/MySQL this also
        // reads which server it is, which the first delete would otherwise
        // read (and this test count).
        repo.verify().await.unwrap();
        let app = seeded(Arc::new(repo)).await;
        Some(Self {
            backend: Backend::MySql,
            test: test.to_owned(),
            app,
            _cleanup: cleanup,
        })
    }

    /// Sends one request and returns its response and the statements it
    /// sent, in order.
    async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (Answer, Vec<String>) {
        let mut request = Request::builder().method(method.clone()).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::from(body.to_owned())).unwrap();
        let (response, log) = counted(async {
            let response = self.app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let etag = response
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, etag, body)
        })
        .await;
        let (status, etag, body) = response;
        eprintln!(
            "{}: {:?} {method} {uri} -> {status}: {} statement(s): {log:#?}",
            self.test,
            self.backend,
            log.len()
        );
        let answer = Answer {
            status,
            etag,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        (answer, log)
    }

    fn assert_one_statement(&self, log: &[String], verb: &str) {
        assert_one_statement(self.backend, log, verb);
    }

    fn assert_one_write(&self, log: &[String], verb: &str, in_transaction: &[&str]) {
        assert_one_write(self.backend, log, verb, in_transaction);
    }
}

/// Exactly one statement, starting with `verb`, on every backend.
fn assert_one_statement(backend: Backend, log: &[String], verb: &str) {
    assert!(
        log.len() == 1 && first_word(&log[0]) == verb,
        "{backend:?}: expected one {verb}, got {log:#?}"
    );
}

/// One statement that writes (`verb`) on a backend with `RETURNING`; on
/// MariaDB/MySQL one transaction holding exactly the data statements
/// `in_transaction`.
fn assert_one_write(backend: Backend, log: &[String], verb: &str, in_transaction: &[&str]) {
    if backend != Backend::MySql {
        return assert_one_statement(backend, log, verb);
    }
    let words: Vec<&str> = log.iter().map(|s| first_word(s)).collect();
    let mut expected = vec!["BEGIN"];
    expected.extend_from_slice(in_transaction);
    expected.push("COMMIT");
    assert_eq!(
        words, expected,
        "MySql: expected one transaction of {in_transaction:?}, got {log:#?}"
    );
}

fn first_word(sql: &str) -> &str {
    sql.split_whitespace().next().unwrap_or("")
}

/// What transaction control (an isolation level set for a transaction
/// included) leaves: the statements that touch data.
fn data_statements(log: &[String]) -> Vec<&String> {
    log.iter()
        .filter(|s| {
            !matches!(
                first_word(s),
                "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE"
            ) && !s.starts_with("SET TRANSACTION")
        })
        .collect()
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    etag: Option<String>,
    body: String,
}

const JSON: (&str, &str) = ("content-type", "application/json");
const MERGE_PATCH: (&str, &str) = ("content-type", "application/merge-patch+json");
const CURRENT: (&str, &str) = ("if-match", "\"prof-42-v7\"");

// ---------------------------------------------------------------------------
// The request kinds. Each starts from profile 42 at version 7.

async fn get_200_is_one_statement(f: &Fixture) {
    let (answer, log) = f.send(Method::GET, "/profiles/42", &[], "").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, r#"{"id":42,"name":"Ava","city":"Paris"}"#);
    f.assert_one_statement(&log, "SELECT");
}

async fn get_304_with_matching_if_none_match_is_one_statement(f: &Fixture) {
    let headers = [("if-none-match", "\"prof-42-v7\"")];
    let (answer, log) = f.send(Method::GET, "/profiles/42", &headers, "").await;
    assert_eq!(answer.status, StatusCode::NOT_MODIFIED, "{answer:?}");
    assert_eq!(answer.etag.as_deref(), Some("\"prof-42-v7\""));
    f.assert_one_statement(&log, "SELECT");
}

async fn put_replace_200_with_matching_if_match_is_one_statement(f: &Fixture) {
    let body = r#"{"id":42,"name":"Ava","city":"Lyon"}"#;
    let (answer, log) = f
        .send(Method::PUT, "/profiles/42", &[JSON, CURRENT], body)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.etag.as_deref(), Some("\"prof-42-v8\""));
    assert_eq!(answer.body, body);
    f.assert_one_write(&log, "UPDATE", &["UPDATE", "SELECT"]);
}

async fn put_merge_200_with_matching_if_match_is_one_statement(f: &Fixture) {
    let (answer, log) = f
        .send(
            Method::PUT,
            "/merging/42",
            &[JSON, CURRENT],
            r#"{"city":"Lyon"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.etag.as_deref(), Some("\"prof-42-v8\""));
    assert_eq!(answer.body, r#"{"id":42,"name":"Ava","city":"Lyon"}"#);
    f.assert_one_write(&log, "UPDATE", &["UPDATE", "SELECT"]);
}

async fn patch_merge_patch_200_with_matching_if_match_is_one_statement(f: &Fixture) {
    let (answer, log) = f
        .send(
            Method::PATCH,
            "/profiles/42",
            &[MERGE_PATCH, CURRENT],
            r#"{"name":"Ava Smith"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.etag.as_deref(), Some("\"prof-42-v8\""));
    assert_eq!(
        answer.body,
        r#"{"id":42,"name":"Ava Smith","city":"Paris"}"#
    );
    f.assert_one_write(&log, "UPDATE", &["UPDATE", "SELECT"]);
}

/// `Profile` keeps tombstones (design decision 15): PostgreSQL deletes and
/// records the tombstone in one statement (a writable CTE); SQLite in one
/// transaction of the `DELETE … RETURNING` and the tombstone's upsert;
/// MariaDB in one transaction of the tombstone's row locked, the `DELETE …
/// RETURNING` and the tombstone's upsert. (MySQL, which cannot return a
/// deleted row, locks the row with a read first.)
async fn delete_204_with_matching_if_match_is_one_statement(f: &Fixture) {
    let (answer, log) = f.send(Method::DELETE, "/profiles/42", &[CURRENT], "").await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
    assert_delete_with_tombstone(f.backend, &log);
}

fn assert_delete_with_tombstone(backend: Backend, log: &[String]) {
    let words: Vec<&str> = log.iter().map(|s| first_word(s)).collect();
    let expected: &[&str] = match backend {
        Backend::Postgres => &["WITH"],
        // sqlx's SQLite driver begins and commits on its worker without
        // logging either: the two data statements are all the log shows.
        Backend::Sqlite => &["DELETE", "INSERT"],
        // The tombstone's row locked first, then the delete and the
        // tombstone's upsert.
        Backend::MySql => &["BEGIN", "SELECT", "DELETE", "INSERT", "COMMIT"],
    };
    assert_eq!(words, expected, "{backend:?}: {log:#?}");
    if backend == Backend::Postgres {
        let sql = &log[0];
        assert!(
            sql.contains("DELETE FROM") && sql.contains("profile_tombstones"),
            "{sql}"
        );
    }
}

/// After a delete, creating the id again takes its version from the
/// tombstone in the insert itself: one statement on PostgreSQL (the
/// tombstone claimed in a CTE) and SQLite, the usual transaction of the
/// insert and its read on MariaDB/MySQL. The version continues after the
/// deleted one.
async fn create_after_delete_is_one_statement(f: &Fixture) {
    let (answer, _) = f.send(Method::DELETE, "/profiles/42", &[CURRENT], "").await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
    let body = r#"{"id":42,"name":"Ava","city":"Rome"}"#;
    let (answer, log) = f.send(Method::POST, "/profiles", &[JSON], body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert_eq!(answer.etag.as_deref(), Some("\"prof-42-v8\""));
    let words: Vec<&str> = log.iter().map(|s| first_word(s)).collect();
    let expected: &[&str] = match f.backend {
        Backend::Postgres => &["WITH"],
        Backend::Sqlite => &["INSERT"],
        Backend::MySql => &["BEGIN", "INSERT", "SELECT", "COMMIT"],
    };
    assert_eq!(words, expected, "{:?}: {log:#?}", f.backend);
    assert!(
        log.iter().any(|s| s.contains("profile_tombstones")),
        "{log:#?}"
    );
}

async fn put_412_on_a_stale_if_match_is_at_most_two_statements(f: &Fixture) {
    let headers = [JSON, ("if-match", "\"prof-42-v6\"")];
    let body = r#"{"id":42,"name":"Ava","city":"Lyon"}"#;
    let (answer, log) = f.send(Method::PUT, "/profiles/42", &headers, body).await;
    assert_eq!(answer.status, StatusCode::PRECONDITION_FAILED, "{answer:?}");
    assert_eq!(answer.etag.as_deref(), Some("\"prof-42-v7\""));
    // The conditional write that touches nothing, then the read that
    // explains the miss, on the write's connection: on MariaDB/MySQL in
    // the write's transaction, which ends without a commit.
    let words: Vec<&str> = log.iter().map(|s| first_word(s)).collect();
    let expected: &[&str] = match f.backend {
        Backend::MySql => &["BEGIN", "UPDATE", "SELECT", "ROLLBACK"],
        _ => &["UPDATE", "SELECT"],
    };
    assert_eq!(words, expected, "{:?}: {log:#?}", f.backend);
}

async fn delete_412_on_a_stale_if_match_is_the_delete_and_its_explanation(f: &Fixture) {
    let headers = [("if-match", "\"prof-42-v6\"")];
    let (answer, log) = f.send(Method::DELETE, "/profiles/42", &headers, "").await;
    assert_eq!(answer.status, StatusCode::PRECONDITION_FAILED, "{answer:?}");
    assert_eq!(answer.etag.as_deref(), Some("\"prof-42-v7\""));
    // The delete that touches nothing, then the read that explains it, in
    // the delete's transaction where it has one.
    let words: Vec<&str> = log.iter().map(|s| first_word(s)).collect();
    let expected: &[&str] = match f.backend {
        Backend::Postgres => &["WITH", "SELECT"],
        Backend::Sqlite => &["DELETE", "SELECT"],
        Backend::MySql => &["BEGIN", "SELECT", "DELETE", "SELECT", "ROLLBACK"],
    };
    assert_eq!(words, expected, "{:?}: {log:#?}", f.backend);
}

async fn put_428_without_precondition_is_one_read(f: &Fixture) {
    let body = r#"{"id":42,"name":"Ava","city":"Lyon"}"#;
    let (answer, log) = f.send(Method::PUT, "/profiles/42", &[JSON], body).await;
    assert_eq!(
        answer.status,
        StatusCode::PRECONDITION_REQUIRED,
        "{answer:?}"
    );
    // 404 comes before 428 (EV-2): one read tells which.
    f.assert_one_statement(&log, "SELECT");
}

async fn list_200_is_one_statement(f: &Fixture) {
    let (answer, log) = f.send(Method::GET, "/profiles", &[], "").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    // Design decision 18: the item's tag in the page, the page's own tag.
    assert!(
        answer.body.contains(r#""etag":"\"prof-42-v7\"""#),
        "{answer:?}"
    );
    assert!(answer.etag.as_deref().is_some_and(|t| t.starts_with("W/")));
    f.assert_one_statement(&log, "SELECT");
}

async fn list_304_with_the_page_etag_is_one_statement(f: &Fixture) {
    let (page, _) = f.send(Method::GET, "/profiles", &[], "").await;
    let tag = page.etag.unwrap();
    let headers = [("if-none-match", tag.as_str())];
    let (answer, log) = f.send(Method::GET, "/profiles", &headers, "").await;
    assert_eq!(answer.status, StatusCode::NOT_MODIFIED, "{answer:?}");
    assert_eq!(answer.etag.as_deref(), Some(tag.as_str()));
    f.assert_one_statement(&log, "SELECT");
}

/// The idempotency key table of the fixtures.
const KEYS: &str = "profile_idempotency_keys";

async fn keyed_put_is_a_claim_and_one_transaction(f: &Fixture) {
    let headers = [JSON, CURRENT, ("idempotency-key", "\"statements-1\"")];
    let body = r#"{"id":42,"name":"Ava","city":"Lyon"}"#;
    let (answer, log) = f.send(Method::PUT, "/profiles/42", &headers, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.etag.as_deref(), Some("\"prof-42-v8\""));
    // The claim, then one transaction: the write and the record of its
    // response (MariaDB reads the claimed key back, and the written row).
    // sqlx logs transaction control unevenly across drivers: only the
    // statements that touch data are compared.
    let data: Vec<&str> = data_statements(&log)
        .iter()
        .map(|s| first_word(s))
        .collect();
    let expected: &[&str] = match f.backend {
        Backend::MySql => &["INSERT", "SELECT", "UPDATE", "SELECT", "UPDATE"],
        _ => &["INSERT", "UPDATE", "UPDATE"],
    };
    assert_eq!(data, expected, "{:?}: {log:#?}", f.backend);
    assert!(log[0].contains(KEYS), "{log:#?}");
    assert_no_savepoint(f.backend, &log);
    // The retry is the claim alone, which finds the recorded response.
    let (replay, log) = f.send(Method::PUT, "/profiles/42", &headers, body).await;
    assert_eq!(replay.status, StatusCode::OK, "{replay:?}");
    assert_eq!(replay.etag.as_deref(), Some("\"prof-42-v8\""));
    assert_eq!(replay.body, answer.body);
    let words: Vec<&str> = log.iter().map(|s| first_word(s)).collect();
    let expected: &[&str] = match f.backend {
        Backend::MySql => &["INSERT", "SELECT"],
        _ => &["INSERT"],
    };
    assert_eq!(words, expected, "{:?}: {log:#?}", f.backend);
}

/// A keyed delete runs its statements in the held transaction itself: no
/// savepoint around the tombstone's lock, the delete and the tombstone.
async fn keyed_delete_is_a_claim_and_one_transaction(f: &Fixture) {
    let headers = [CURRENT, ("idempotency-key", "\"statements-2\"")];
    let (answer, log) = f.send(Method::DELETE, "/profiles/42", &headers, "").await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{answer:?}");
    let data: Vec<&str> = data_statements(&log)
        .iter()
        .map(|s| first_word(s))
        .collect();
    let expected: &[&str] = match f.backend {
        Backend::Postgres => &["INSERT", "WITH", "UPDATE"],
        Backend::Sqlite => &["INSERT", "DELETE", "INSERT", "UPDATE"],
        Backend::MySql => &["INSERT", "SELECT", "SELECT", "DELETE", "INSERT", "UPDATE"],
    };
    assert_eq!(data, expected, "{:?}: {log:#?}", f.backend);
    assert_no_savepoint(f.backend, &log);
}

/// No savepoint, nor its release, in `log`.
fn assert_no_savepoint(backend: Backend, log: &[String]) {
    assert!(
        !log.iter()
            .any(|s| matches!(first_word(s), "SAVEPOINT" | "RELEASE") || s.contains("SAVEPOINT")),
        "{backend:?}: {log:#?}"
    );
}

async fn unkeyed_put_pays_nothing_for_keys(f: &Fixture) {
    let (answer, log) = f
        .send(
            Method::PUT,
            "/profiles/42",
            &[JSON, CURRENT],
            r#"{"id":42,"name":"Ava","city":"Lyon"}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert!(!log.iter().any(|s| s.contains(KEYS)), "{log:#?}");
}

// ---------------------------------------------------------------------------
// Each kind on each backend: `<kind>::sqlite`, `<kind>::postgres`,
// `<kind>::mysql`. The database ones are skipped (and say so) only where
// their URL is unset; `.ci/run` requires both.

occ_tests::on_every_backend! {[sqlite, postgres, mysql] &Fixture =>
    get_200_is_one_statement,
    get_304_with_matching_if_none_match_is_one_statement,
    put_replace_200_with_matching_if_match_is_one_statement,
    put_merge_200_with_matching_if_match_is_one_statement,
    patch_merge_patch_200_with_matching_if_match_is_one_statement,
    delete_204_with_matching_if_match_is_one_statement,
    create_after_delete_is_one_statement,
    put_412_on_a_stale_if_match_is_at_most_two_statements,
    put_428_without_precondition_is_one_read,
    list_200_is_one_statement,
    list_304_with_the_page_etag_is_one_statement,
    delete_412_on_a_stale_if_match_is_the_delete_and_its_explanation,
    keyed_put_is_a_claim_and_one_transaction,
    keyed_delete_is_a_claim_and_one_transaction,
    unkeyed_put_pays_nothing_for_keys,
}

// ---------------------------------------------------------------------------
// A model with a modification time, at the repository: writes conditioned
// on `If-Unmodified-Since` are one statement (MariaDB: one transaction),
// and so is a 304 that reports the time.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "stamped")]
struct Stamped {
    id: i64,
    #[version]
    version: i64,
    note: String,
    #[occ(last_modified)]
    modified: chrono::DateTime<chrono::Utc>,
}

fn stamped(note: &str) -> Stamped {
    Stamped {
        id: 1,
        version: 1,
        note: note.into(),
        modified: chrono::DateTime::UNIX_EPOCH,
    }
}

/// The `stamped` table, its modification time in the type each database
/// keeps it in.
fn stamped_ddl(backend: Backend) -> String {
    let time = match backend {
        Backend::Sqlite => "TEXT",
        Backend::Postgres => "TIMESTAMPTZ",
        Backend::MySql => "DATETIME(6)",
    };
    format!(
        "CREATE TABLE stamped (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, \
         note TEXT NOT NULL, modified {time} NOT NULL)"
    )
}

async fn if_unmodified_since_is_one_statement(backend: Backend, repo: &dyn Repository<Stamped>) {
    let since = |m: &Stamped| WriteCondition::UnmodifiedSince(m.last_modified().unwrap());
    let first = repo.create(stamped("first")).await.unwrap();

    let (updated, log) = counted(repo.update(stamped("second"), &since(&first))).await;
    let updated = updated.unwrap();
    assert_eq!((updated.version, updated.note.as_str()), (2, "second"));
    assert!(updated.modified > first.modified);
    assert_one_write(backend, &log, "UPDATE", &["UPDATE", "SELECT"]);

    let patch = serde_json::json!({"note": "third"});
    let (patched, log) = counted(repo.merge_patch(&1, &patch, &since(&updated))).await;
    let patched = patched.unwrap();
    assert_eq!((patched.version, patched.note.as_str()), (3, "third"));
    assert_one_write(backend, &log, "UPDATE", &["UPDATE", "SELECT"]);

    // A stale date: the write that touches nothing, then the read that
    // explains the miss.
    let (stale, log) = counted(repo.update(stamped("lost"), &since(&updated))).await;
    match stale {
        Err(RepositoryError::PreconditionFailed { current }) => assert_eq!(*current, patched),
        other => panic!("expected PreconditionFailed, got {other:?}"),
    }
    assert!(data_statements(&log).len() <= 2, "{backend:?}: {log:#?}");

    let known = KnownVersions::Listed(vec![3]);
    let (read, log) = counted(repo.read(&1, &known)).await;
    match read.unwrap().fetched {
        Fetched::Unchanged {
            version: 3,
            last_modified: Some(t),
        } => assert_eq!(t, patched.last_modified().unwrap()),
        other => panic!("expected Unchanged with the time, got {other:?}"),
    }
    assert_one_statement(backend, &log, "SELECT");

    let (deleted, log) = counted(repo.delete(&1, &since(&patched))).await;
    assert_eq!(deleted.unwrap(), patched);
    // MariaDB returns the deleted row (MySQL locks it with a read first,
    // in one transaction).
    assert_one_statement(backend, &log, "DELETE");
}

mod if_unmodified_since_is_one_statement {
    use super::{Backend, Stamped};
    use occ_core::repository::sql::{MySqlRepository, PgRepository, SqliteRepository};

    #[tokio::test]
    async fn sqlite() {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
        let path = std::env::temp_dir().join(format!(
            "{}.db",
            occ_tests::unique_name("occ_statements_dated")
        ));
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        let ddl = super::stamped_ddl(Backend::Sqlite);
        sqlx::query(sqlx::AssertSqlSafe(ddl))
            .execute(&pool)
            .await
            .unwrap();
        let repo = SqliteRepository::<Stamped>::new(pool.clone());
        super::if_unmodified_since_is_one_statement(Backend::Sqlite, &repo).await;
        pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }

    #[tokio::test]
    #[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
    async fn postgres() {
        let test = "if_unmodified_since_is_one_statement::postgres";
        let Some((pool, _drop)) = occ_tests::postgres_schema(test, "occ_statements_dated", 1).await
        else {
            return;
        };
        let ddl = super::stamped_ddl(Backend::Postgres);
        sqlx::query(sqlx::AssertSqlSafe(ddl))
            .execute(&pool)
            .await
            .unwrap();
        let repo = PgRepository::<Stamped>::new(pool.clone());
        super::if_unmodified_since_is_one_statement(Backend::Postgres, &repo).await;
        pool.close().await;
    }

    #[tokio::test]
    #[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
    async fn mysql() {
        let test = "if_unmodified_since_is_one_statement::mysql";
        let Some((pool, _drop)) =
            occ_tests::mariadb_database(test, "occ_statements_dated", 1).await
        else {
            return;
        };
        let ddl = super::stamped_ddl(Backend::MySql);
        sqlx::query(sqlx::AssertSqlSafe(ddl))
            .execute(&pool)
            .await
            .unwrap();
        let repo = MySqlRepository::<Stamped>::new(pool.clone());
        // Which server it is, read at startup rather than by the delete.
        repo.verify().await.unwrap();
        super::if_unmodified_since_is_one_statement(Backend::MySql, &repo).await;
        pool.close().await;
    }
}

// ---------------------------------------------------------------------------
// Merging (design decision 16): a PATCH from an older version that sets
// members unchanged since is still one statement, its check on the
// members' companion version columns in the `UPDATE`'s `WHERE` clause.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "merged", merge, etag = "m-{id}-v{version}")]
struct Merged {
    id: i64,
    #[version]
    version: i64,
    a: String,
    b: String,
}

const MERGED_DDL: &str = "CREATE TABLE merged (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, \
     a TEXT NOT NULL, a_version BIGINT NOT NULL DEFAULT 0, \
     b TEXT NOT NULL, b_version BIGINT NOT NULL DEFAULT 0)";

async fn merging_patch_is_one_statement<R: Repository<Merged> + 'static>(
    backend: Backend,
    repo: Arc<R>,
) {
    let first = Merged {
        id: 1,
        version: 1,
        a: "a".into(),
        b: "b".into(),
    };
    repo.create(first).await.unwrap();
    let app = ConditionalRoutes::new(repo).merging(true).into_router();
    let patch = |body: &'static str| {
        Request::builder()
            .method(Method::PATCH)
            .uri("/1")
            .header("if-match", "\"m-1-v1\"")
            .header("content-type", "application/merge-patch+json")
            .body(Body::from(body))
            .unwrap()
    };
    let send = |request: Request<Body>| {
        let app = app.clone();
        counted(async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            )
        })
    };
    // Current tag.
    let ((status, body), log) = send(patch(r#"{"a":"x"}"#)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_one_write(backend, &log, "UPDATE", &["UPDATE", "SELECT"]);
    // The same, now stale, tag on another member: merged, one statement.
    let ((status, body), log) = send(patch(r#"{"b":"y"}"#)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["a"].as_str(), body["b"].as_str()),
        (Some("x"), Some("y"))
    );
    assert_eq!(body["version"], 3);
    assert_one_write(backend, &log, "UPDATE", &["UPDATE", "SELECT"]);
    // On a member changed since: the write that touches nothing, then the
    // read that explains it.
    let ((status, body), log) = send(patch(r#"{"a":"z"}"#)).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(body["conflicts"], serde_json::json!(["a"]));
    assert!(data_statements(&log).len() <= 2, "{backend:?}: {log:#?}");
}

mod merging_patch_is_one_statement {
    use std::sync::Arc;

    use super::{Backend, Merged, MERGED_DDL};
    use occ_core::repository::sql::{MySqlRepository, PgRepository, SqliteRepository};

    #[tokio::test]
    async fn sqlite() {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
        let path = std::env::temp_dir().join(format!(
            "{}.db",
            occ_tests::unique_name("occ_statements_merged")
        ));
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::query(MERGED_DDL).execute(&pool).await.unwrap();
        let repo = Arc::new(SqliteRepository::<Merged>::new(pool.clone()));
        super::merging_patch_is_one_statement(Backend::Sqlite, repo).await;
        pool.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }

    #[tokio::test]
    #[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
    async fn postgres() {
        let test = "merging_patch_is_one_statement::postgres";
        let Some((pool, _drop)) =
            occ_tests::postgres_schema(test, "occ_statements_merged", 1).await
        else {
            return;
        };
        sqlx::query(MERGED_DDL).execute(&pool).await.unwrap();
        let repo = Arc::new(PgRepository::<Merged>::new(pool.clone()));
        super::merging_patch_is_one_statement(Backend::Postgres, repo).await;
        pool.close().await;
    }

    #[tokio::test]
    #[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
    async fn mysql() {
        let test = "merging_patch_is_one_statement::mysql";
        let Some((pool, _drop)) =
            occ_tests::mariadb_database(test, "occ_statements_merged", 1).await
        else {
            return;
        };
        sqlx::query(MERGED_DDL).execute(&pool).await.unwrap();
        let repo = Arc::new(MySqlRepository::<Merged>::new(pool.clone()));
        super::merging_patch_is_one_statement(Backend::MySql, repo).await;
        pool.close().await;
    }
}
