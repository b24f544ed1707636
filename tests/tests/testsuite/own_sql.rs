//! The `own_sql` example (a service with its own SQL over `sqlx::Any`, its
//! own error type and hand-written handlers) on SQLite, PostgreSQL and
//! MariaDB: the conformance basics, and contention through its own
//! `UPDATE` with occ's condition in it: writers with the tag they read
//! lose nothing, and writers with `If-Match: *` are never refused for a
//! race they did not lose. The same for its table without a version
//! column, validated by a content hash.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::Router;
use http::{Method, StatusCode};
use occ_examples::contacts::{self, Contacts};
use occ_examples::users::{self, Users};
use occ_tests::{send, Db, DropOnExit};

struct Backend {
    name: &'static str,
    app: Router,
    /// The database, for writers outside the service.
    pool: sqlx::AnyPool,
    _cleanup: DropOnExit,
}

impl Backend {
    /// Backend `db` for the test `test`; `None` when its URL is unset.
    async fn open(db: Db, test: &str) -> Option<Self> {
        let (url, cleanup) = occ_tests::example_database(db, test).await?;
        // sqlx's `Any` driver opens an existing SQLite file only, unless told.
        let url = match db {
            Db::Sqlite => format!("{url}?mode=rwc"),
            _ => url,
        };
        let users = Users::connect(&url).await.expect("connect");
        users.insert(1, "Ava").await.expect("seed");
        let pool = users.pool().clone();
        let contacts = Contacts::new(pool.clone(), users.dialect())
            .await
            .expect("contacts");
        contacts.insert(1, "Ava").await.expect("seed");
        contacts.insert(2, "Ava").await.expect("seed");
        Some(Self {
            name: db.name(),
            app: users::app(Arc::new(users)).merge(contacts::app(Arc::new(contacts))),
            pool,
            _cleanup: cleanup,
        })
    }
}

occ_tests::on_every_sql_backend!(Backend =>
    the_conformance_basics_hold_with_its_own_sql,
    writers_with_the_tag_they_read_lose_nothing,
    writers_with_if_match_star_are_never_refused_for_a_race,
    content_hash_tags_hold_the_conformance_basics,
    content_hash_writers_with_the_tag_they_read_lose_nothing,
    content_hash_writers_with_if_match_star_are_never_refused_for_a_race,
    a_writer_outside_the_service_is_caught_by_the_content_hash,
);

/// A resource with a counter: where it is read, the action that counts
/// one, and the member that holds the count.
struct Counter {
    item: &'static str,
    action: &'static str,
    count: &'static str,
}

const VISITS: Counter = Counter {
    item: "/users/1",
    action: "/users/1/visit",
    count: "visits",
};

const CALLS: Counter = Counter {
    item: "/contacts/1",
    action: "/contacts/1/call",
    count: "calls",
};

const JSON: (&str, &str) = ("content-type", "application/json");

async fn the_conformance_basics_hold_with_its_own_sql(b: Backend) {
    let app = &b.app;
    let r = send(app, Method::GET, "/users/1", &[], "").await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
    assert_eq!(r.header("etag"), Some("\"user-1-v1\""));
    assert_eq!(r.json()["visits"], 0);
    let r = send(
        app,
        Method::GET,
        "/users/1",
        &[("if-none-match", "\"user-1-v1\"")],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED, "{}", b.name);
    let body = r#"{"name":"Ava Smith","visits":5}"#;
    let r = send(app, Method::PUT, "/users/1", &[JSON], body).await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_REQUIRED,
        "{}: {r:?}",
        b.name
    );
    let r = send(
        app,
        Method::PUT,
        "/users/1",
        &[JSON, ("if-match", "\"user-1-v1\"")],
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
    assert_eq!(r.header("etag"), Some("\"user-1-v2\""));
    assert_eq!(r.json()["name"], "Ava Smith");
    // The stale tag: 412 with the current state.
    let r = send(
        app,
        Method::PUT,
        "/users/1",
        &[JSON, ("if-match", "\"user-1-v1\"")],
        body,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_FAILED,
        "{}: {r:?}",
        b.name
    );
    assert_eq!(r.json()["current"]["visits"], 5);
    assert_eq!(r.header("etag"), Some("\"user-1-v2\""));
    let r = send(
        app,
        Method::POST,
        "/users/2/visit",
        &[("if-match", "*")],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: {r:?}", b.name);
    let r = send(
        app,
        Method::POST,
        "/users/1/visit",
        &[("if-match", "\"user-1-v2\"")],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
    assert_eq!(r.json()["visits"], 6);
}

async fn writers_with_the_tag_they_read_lose_nothing(b: Backend) {
    tagged_writers_lose_nothing(b, &VISITS).await;
}

async fn content_hash_writers_with_the_tag_they_read_lose_nothing(b: Backend) {
    tagged_writers_lose_nothing(b, &CALLS).await;
}

async fn writers_with_if_match_star_are_never_refused_for_a_race(b: Backend) {
    star_writers_are_never_refused(b, &VISITS).await;
}

async fn content_hash_writers_with_if_match_star_are_never_refused_for_a_race(b: Backend) {
    star_writers_are_never_refused(b, &CALLS).await;
}

/// 8 writers × 25 counts, each with the tag it read, reading again on 412:
/// the count ends at the counts acknowledged.
async fn tagged_writers_lose_nothing(b: Backend, counter: &'static Counter) {
    const WRITERS: usize = 8;
    const VISITS: usize = 25;
    let (acked, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let (app, acked, refused) = (b.app.clone(), acked.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while done < VISITS {
                let read = send(&app, Method::GET, counter.item, &[], "").await;
                let tag = read.header("etag").unwrap().to_owned();
                let w = send(
                    &app,
                    Method::POST,
                    counter.action,
                    &[("if-match", &tag)],
                    "",
                )
                .await;
                match w.status {
                    StatusCode::OK => {
                        acked.fetch_add(1, Ordering::Relaxed);
                        done += 1;
                    }
                    StatusCode::PRECONDITION_FAILED => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    other => panic!("{other}: {w:?}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let end = send(&b.app, Method::GET, counter.item, &[], "")
        .await
        .json();
    let acked = acked.load(Ordering::Relaxed);
    println!(
        "{}: {WRITERS} writers x {VISITS} counts on {} with the tag read: {acked} acknowledged, {} refused with 412, count {}",
        b.name,
        counter.item,
        refused.load(Ordering::Relaxed),
        end[counter.count]
    );
    assert_eq!(acked, (WRITERS * VISITS) as u64);
    assert_eq!(
        end[counter.count].as_u64().unwrap(),
        acked,
        "{}: lost updates",
        b.name
    );
}

/// 8 writers × 25 counts with `If-Match: *`: each is a write on whatever
/// is current, so every one succeeds (a race lost inside is read again,
/// never a 412) and the count ends at 200.
async fn star_writers_are_never_refused(b: Backend, counter: &'static Counter) {
    const WRITERS: usize = 8;
    const VISITS: usize = 25;
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let app = b.app.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..VISITS {
                let w = send(&app, Method::POST, counter.action, &[("if-match", "*")], "").await;
                assert_eq!(w.status, StatusCode::OK, "{w:?}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let end = send(&b.app, Method::GET, counter.item, &[], "")
        .await
        .json();
    println!(
        "{}: {WRITERS} writers x {VISITS} counts on {} with If-Match: *: count {}",
        b.name, counter.item, end[counter.count]
    );
    assert_eq!(
        end[counter.count].as_u64().unwrap(),
        (WRITERS * VISITS) as u64,
        "{}",
        b.name
    );
}

/// A table without a version column, validated by a content hash: a
/// strong tag per state, 304, 428, 200 with the new tag, 412 with the
/// current state for a stale one, and a tag that names one resource only.
async fn content_hash_tags_hold_the_conformance_basics(b: Backend) {
    let app = &b.app;
    let r = send(app, Method::GET, "/contacts/1", &[], "").await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
    let first = r.header("etag").unwrap().to_owned();
    assert!(first.starts_with("\"contact-1-h"), "{first}");
    assert_eq!(r.json()["calls"], 0);
    // GET again: the same state, the same strong tag (G-4).
    let r = send(app, Method::GET, "/contacts/1", &[], "").await;
    assert_eq!(r.header("etag"), Some(first.as_str()));
    let r = send(
        app,
        Method::GET,
        "/contacts/1",
        &[("if-none-match", &first)],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED, "{}", b.name);
    assert_eq!(r.header("etag"), Some(first.as_str()));
    // Contact 2 holds the same name and count: its tag is its own.
    let r = send(app, Method::GET, "/contacts/2", &[], "").await;
    let second = r.header("etag").unwrap().to_owned();
    assert_ne!(second, first, "{}: one tag for two resources", b.name);
    let body = r#"{"name":"Ava Smith","calls":5}"#;
    let r = send(app, Method::PUT, "/contacts/1", &[JSON], body).await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_REQUIRED,
        "{}: {r:?}",
        b.name
    );
    // Another resource's tag is not this one's.
    let r = send(
        app,
        Method::PUT,
        "/contacts/1",
        &[JSON, ("if-match", &second)],
        body,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_FAILED,
        "{}: {r:?}",
        b.name
    );
    let r = send(
        app,
        Method::PUT,
        "/contacts/1",
        &[JSON, ("if-match", &first)],
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
    let written = r.header("etag").unwrap().to_owned();
    assert_ne!(written, first);
    assert_eq!(r.json()["name"], "Ava Smith");
    let r = send(app, Method::GET, "/contacts/1", &[], "").await;
    assert_eq!(
        r.header("etag"),
        Some(written.as_str()),
        "{}: the read disagrees with the write",
        b.name
    );
    // The stale tag: 412 with the current state and its tag.
    let r = send(
        app,
        Method::PUT,
        "/contacts/1",
        &[JSON, ("if-match", &first)],
        body,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_FAILED,
        "{}: {r:?}",
        b.name
    );
    assert_eq!(r.json()["current"]["calls"], 5);
    assert_eq!(r.header("etag"), Some(written.as_str()));
    // A write of the same state keeps the tag: the representation is the same.
    let r = send(
        app,
        Method::PUT,
        "/contacts/1",
        &[JSON, ("if-match", &written)],
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
    assert_eq!(r.header("etag"), Some(written.as_str()));
    let r = send(
        app,
        Method::POST,
        "/contacts/9/call",
        &[("if-match", "*")],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: {r:?}", b.name);
}

/// A plain `UPDATE` from outside the service between a client's read and
/// its write changes the hash: the write is refused with the state the
/// outside writer left.
async fn a_writer_outside_the_service_is_caught_by_the_content_hash(b: Backend) {
    let app = &b.app;
    let r = send(app, Method::GET, "/contacts/1", &[], "").await;
    let tag = r.header("etag").unwrap().to_owned();
    sqlx::query("UPDATE contacts SET name = 'Ava (by the batch job)' WHERE id = 1")
        .execute(&b.pool)
        .await
        .unwrap();
    let r = send(
        app,
        Method::POST,
        "/contacts/1/call",
        &[("if-match", &tag)],
        "",
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_FAILED,
        "{}: {r:?}",
        b.name
    );
    assert_eq!(r.json()["current"]["name"], "Ava (by the batch job)");
    let current = r.header("etag").unwrap().to_owned();
    assert_ne!(current, tag);
    let r = send(
        app,
        Method::POST,
        "/contacts/1/call",
        &[("if-match", &current)],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
    assert_eq!(r.json()["calls"], 1);
}

/// An `Idempotency-Key` with statements of the application's own: claim,
/// its `UPDATE` in the claimed transaction, the answer recorded in it, and
/// a retry replayed; an abandoned attempt leaves nothing and frees the
/// key; the key used for another request is a mismatch.
macro_rules! keys_in_own_transaction {
    ($name:literal, $db:ty, $pool:expr, $dialect:expr) => {{
        use occ_core::idempotency::{
            Fingerprint, Finished, IdempotencyKey, KeyPolicy, StoredResponse,
        };
        use occ_core::repository::sql::{idempotency_table, OwnClaim, SqlRepository};
        let pool = $pool;
        sqlx::query(occ_examples::users::SCHEMA)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO users (id, version, name, visits) VALUES (1, 1, 'Ava', 0)")
            .execute(&pool)
            .await
            .unwrap();
        for ddl in idempotency_table($dialect, "own_keys") {
            sqlx::query(sqlx::AssertSqlSafe(ddl))
                .execute(&pool)
                .await
                .unwrap();
        }
        let keys = SqlRepository::<$db, occ_examples::Profile>::new(pool.clone())
            .with_idempotency_keys("own_keys", KeyPolicy::default());
        let visits = || async {
            sqlx::query_scalar::<_, i64>("SELECT visits FROM users WHERE id = 1")
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        let visit = "UPDATE users SET visits = visits + 1, version = version + 1 WHERE id = 1";
        let print = Fingerprint::builder().part(b"POST /users/1/visit").finish();
        let answer = StoredResponse {
            status: 200,
            headers: Vec::new(),
            body: b"ok".to_vec(),
        };
        let k1 = IdempotencyKey::new("k1").unwrap();
        let OwnClaim::Claimed(mut write) =
            keys.claim_for_own_sql(&k1, "alice", &print).await.unwrap()
        else {
            panic!("{}: claimed", $name);
        };
        sqlx::query(visit)
            .execute(&mut **write.transaction())
            .await
            .unwrap();
        assert_eq!(write.finish(&answer).await.unwrap(), Finished::Recorded);
        assert_eq!(visits().await, 1, "{}", $name);
        // The retry: the recorded answer, nothing run again.
        match keys.claim_for_own_sql(&k1, "alice", &print).await.unwrap() {
            OwnClaim::Replay(stored) => {
                assert_eq!((stored.status, stored.body), (200, b"ok".to_vec()))
            }
            other => panic!("{}: {other:?}", $name),
        }
        // Another caller's key of the same name is another key.
        assert!(matches!(
            keys.claim_for_own_sql(&k1, "bob", &print).await.unwrap(),
            OwnClaim::Claimed(_)
        ));
        // Another request under k1: a mismatch.
        let other = Fingerprint::builder().part(b"PUT /users/1").finish();
        assert!(matches!(
            keys.claim_for_own_sql(&k1, "alice", &other).await.unwrap(),
            OwnClaim::Mismatch
        ));
        // Abandoned: rolled back, and the key free again.
        let k2 = IdempotencyKey::new("k2").unwrap();
        let OwnClaim::Claimed(mut write) =
            keys.claim_for_own_sql(&k2, "alice", &print).await.unwrap()
        else {
            panic!("{}: claimed", $name);
        };
        sqlx::query(visit)
            .execute(&mut **write.transaction())
            .await
            .unwrap();
        write.abandon().await;
        assert_eq!(visits().await, 1, "{}: an abandoned write landed", $name);
        assert!(matches!(
            keys.claim_for_own_sql(&k2, "alice", &print).await.unwrap(),
            OwnClaim::Claimed(_)
        ));
    }};
}

#[tokio::test]
async fn keys_in_an_own_transaction_sqlite() {
    let (pool, _) = occ_tests::sqlite_file_pool("own_keys").await;
    keys_in_own_transaction!(
        "sqlite",
        sqlx::Sqlite,
        pool,
        occ_core::repository::sql::Dialect::Sqlite
    );
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn keys_in_an_own_transaction_postgres() {
    let Some((pool, _cleanup)) = occ_tests::postgres_schema("own_keys", "occ_ownk", 4).await else {
        return;
    };
    keys_in_own_transaction!(
        "postgres",
        sqlx::Postgres,
        pool,
        occ_core::repository::sql::Dialect::Postgres
    );
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn keys_in_an_own_transaction_mariadb() {
    let Some((pool, _cleanup)) = occ_tests::mariadb_database("own_keys", "occ_ownk", 4).await
    else {
        return;
    };
    keys_in_own_transaction!(
        "mariadb",
        sqlx::MySql,
        pool,
        occ_core::repository::sql::Dialect::MySql
    );
}
