//! Design decision 17, `Idempotency-Key`, against the profiles routes on
//! every backend (memory, SQLite, PostgreSQL, MariaDB): a retried write is
//! applied once and gets its first answer, before any precondition is
//! evaluated; another request with the key is 422; a key whose attempt is
//! running (or died, until its lease ends) is 409; a bad key is 400.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use http::Method;
use occ_axum::idempotency::{fingerprint, namespace_of};
use occ_axum::routes::{ConditionalRoutes, PutMode};
use occ_core::idempotency::{Finished, IdempotencyKey, KeyPolicy, Principal, StoredResponse};
use occ_core::repository::sql::{
    idempotency_table, Dialect, MySqlRepository, PgRepository, SqlRepository, SqliteRepository,
};
use occ_core::repository::Claim;
use occ_core::repository::{MemoryRepository, RepositoryError, WriteCondition};
use occ_examples::{Profile, Profiles};
use occ_tests::{send, Db, Reply};

const KEYS: &str = "profile_idempotency_keys";
const JSON: (&str, &str) = ("content-type", "application/json");

/// A backend with the profiles table, its key table, and profile 42 (Ava,
/// Paris) at version 7.
struct Backend {
    name: &'static str,
    repo: Arc<Profiles>,
    _cleanup: Option<Cleanup>,
}

use occ_tests::DropOnExit as Cleanup;

/// The profiles tables and the key table, on `$pool`.
macro_rules! schema {
    ($pool:expr, $dialect:expr) => {
        for ddl in [occ_examples::SCHEMA, occ_examples::TOMBSTONES_SCHEMA] {
            sqlx::query(ddl).execute($pool).await.expect("schema");
        }
        for ddl in idempotency_table($dialect, KEYS) {
            sqlx::query(sqlx::AssertSqlSafe(ddl))
                .execute($pool)
                .await
                .expect("key table");
        }
    };
}

/// Runs `ddl` on `pool`, in order.
async fn run<DB: sqlx::Database>(pool: &sqlx::Pool<DB>, ddl: &[&str])
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    for ddl in ddl {
        sqlx::query(sqlx::AssertSqlSafe(*ddl))
            .execute(pool)
            .await
            .expect("extra DDL");
    }
}

impl Backend {
    /// Backend `db` for the test `test`, keys kept under `policy`; `None`
    /// when its URL is unset.
    async fn open(db: Db, test: &str, policy: KeyPolicy) -> Option<Self> {
        match db {
            Db::Memory => Some(Self::memory(test, policy).await),
            Db::Sqlite => Some(Self::sqlite(test, policy).await),
            Db::Postgres => Self::postgres(test, policy).await,
            Db::MariaDb => Self::mariadb(test, policy).await,
        }
    }

    async fn memory(_: &str, policy: KeyPolicy) -> Self {
        let repo = MemoryRepository::<Profile>::new().with_key_policy(policy);
        Self::seeded("memory", Arc::new(repo), None).await
    }

    async fn sqlite(test: &str, policy: KeyPolicy) -> Self {
        Self::sqlite_with(test, policy, &[]).await
    }

    /// SQLite, with `extra` statements run after the seed.
    async fn sqlite_with(test: &str, policy: KeyPolicy, extra: &[&str]) -> Self {
        let (pool, _) = occ_tests::sqlite_file_pool(test).await;
        schema!(&pool, Dialect::Sqlite);
        let repo: SqliteRepository<Profile> =
            SqlRepository::new(pool.clone()).with_idempotency_keys(KEYS, policy);
        repo.verify().await.expect("the table fits");
        let seeded = Self::seeded("sqlite", Arc::new(repo), None).await;
        run(&pool, extra).await;
        seeded
    }

    async fn postgres(test: &str, policy: KeyPolicy) -> Option<Self> {
        Self::postgres_with(test, policy, &[]).await
    }

    /// PostgreSQL, with `extra` statements run after the seed.
    async fn postgres_with(test: &str, policy: KeyPolicy, extra: &[&str]) -> Option<Self> {
        let (pool, cleanup) =
            occ_tests::postgres_schema(test, &test[..test.len().min(24)], 16).await?;
        schema!(&pool, Dialect::Postgres);
        let repo: PgRepository<Profile> =
            SqlRepository::new(pool.clone()).with_idempotency_keys(KEYS, policy);
        let seeded = Self::seeded("postgres", Arc::new(repo), Some(cleanup)).await;
        run(&pool, extra).await;
        Some(seeded)
    }

    async fn mariadb(test: &str, policy: KeyPolicy) -> Option<Self> {
        Self::mariadb_with(test, policy, &[]).await
    }

    /// MariaDB, with `extra` statements run after the seed.
    async fn mariadb_with(test: &str, policy: KeyPolicy, extra: &[&str]) -> Option<Self> {
        let (pool, cleanup) =
            occ_tests::mariadb_database(test, &test[..test.len().min(24)], 16).await?;
        schema!(&pool, Dialect::MySql);
        let repo: MySqlRepository<Profile> =
            SqlRepository::new(pool.clone()).with_idempotency_keys(KEYS, policy);
        let seeded = Self::seeded("mariadb", Arc::new(repo), Some(cleanup)).await;
        run(&pool, extra).await;
        Some(seeded)
    }

    async fn seeded(name: &'static str, repo: Arc<Profiles>, cleanup: Option<Cleanup>) -> Self {
        assert!(repo.keeps_idempotency_keys(), "{name} keeps keys");
        occ_examples::seed(&*repo).await.expect("seed");
        Self {
            name,
            repo,
            _cleanup: cleanup,
        }
    }

    fn app(&self) -> Router {
        Self::routes(self.repo.clone())
    }

    /// The profiles routes of the example, over `repo`.
    fn routes(repo: Arc<Profiles>) -> Router {
        Router::new().nest(
            "/profiles",
            ConditionalRoutes::<Profile, Profiles>::new(repo)
                .put_mode(PutMode::Merge)
                .creating_put(true)
                .into_router(),
        )
    }

    async fn version(&self, id: i64) -> Option<i64> {
        match self.repo.get(&id).await {
            Ok(profile) => Some(profile.version),
            Err(RepositoryError::NotFound) => None,
            Err(e) => panic!("{}: read {id}: {e}", self.name),
        }
    }
}

const DEFAULT: KeyPolicy = KeyPolicy {
    time_to_live: Duration::from_secs(24 * 60 * 60),
    lease: Duration::from_secs(10),
};
const SHORT_LEASE: KeyPolicy = KeyPolicy {
    time_to_live: Duration::from_secs(24 * 60 * 60),
    lease: Duration::from_millis(400),
};
const SHORT_LIFE: KeyPolicy = KeyPolicy {
    time_to_live: Duration::from_millis(400),
    lease: Duration::from_millis(400),
};

occ_tests::on_every_backend!(Backend =>
    decision_17_a_retried_put_gets_its_200_and_is_applied_once(DEFAULT),
    decision_17_the_replay_comes_before_the_preconditions(DEFAULT),
    decision_17_post_patch_and_delete_are_applied_once(DEFAULT),
    decision_17_the_same_key_on_another_request_is_422(DEFAULT),
    decision_17_refusals_are_replayed_too(DEFAULT),
    decision_17_bad_keys_are_400_and_write_nothing(DEFAULT),
    decision_17_a_key_whose_attempt_died_is_409_until_its_lease_ends(SHORT_LEASE),
    decision_17_an_attempt_that_outlived_its_lease_is_rolled_back(SHORT_LEASE),
    decision_17_concurrent_retries_apply_once(DEFAULT),
    decision_17_keys_expire(SHORT_LIFE),
    decision_17_reads_in_a_keyed_write_see_the_latest_commit(DEFAULT),
    decision_17_a_memory_claim_is_never_taken_over_while_its_attempt_runs(SHORT_LEASE),
    decision_17_keys_of_two_callers_never_meet(DEFAULT),
    decision_15_keyed_creates_racing_deletes_never_repeat_a_tag(DEFAULT),
    decision_15_a_keyed_create_racing_an_ids_first_delete_continues_after_it(DEFAULT),
);

async fn decision_17_reads_in_a_keyed_write_see_the_latest_commit(b: Backend) {
    if b.name == "sqlite" {
        // One writer: the write below would wait for the keyed attempt.
        return;
    }
    let app = b.app();
    let request = put("reader", "\"prof-42-v7\"", r#"{"city":"Lyon"}"#);
    let Claim::Claimed(attempt) =
        claim_as_the_route_would(&*b.repo, "/profiles/42", "reader", &request).await
    else {
        panic!("{}: claimed", b.name);
    };
    let read = attempt
        .repository()
        .get(&42)
        .await
        .expect("read in the attempt");
    assert_eq!(read.version, 7);
    // Another client writes after that read.
    let other = put("other", "\"prof-42-v7\"", r#"{"city":"Rome"}"#);
    assert_eq!(
        exchange(&app, Method::PUT, "/profiles/42", &other)
            .await
            .status,
        200
    );
    // The attempt's swap misses, and what it reports is the latest state,
    // not a snapshot from before (MariaDB's REPEATABLE READ would give v7).
    let stale = Profile {
        city: "Lyon".into(),
        ..read
    };
    match attempt
        .repository()
        .update(stale, &WriteCondition::VersionIn(vec![7]))
        .await
    {
        Err(RepositoryError::PreconditionFailed { current }) => {
            assert_eq!(current.version, 8, "{}", b.name);
            assert_eq!(current.city, "Rome", "{}", b.name);
        }
        other => panic!("{}: {other:?}", b.name),
    }
    attempt.abandon().await;
}

async fn decision_17_a_memory_claim_is_never_taken_over_while_its_attempt_runs(b: Backend) {
    if b.name != "memory" {
        // The SQL stores fence an attempt past its lease instead
        // (`decision_17_an_attempt_that_outlived_its_lease_is_rolled_back`).
        return;
    }
    let app = b.app();
    let request = put("long", "\"prof-42-v7\"", r#"{"city":"Lyon"}"#);
    let Claim::Claimed(attempt) =
        claim_as_the_route_would(&*b.repo, "/profiles/42", "long", &request).await
    else {
        panic!("claimed");
    };
    tokio::time::sleep(SHORT_LEASE.lease + Duration::from_millis(100)).await;
    // Its write cannot be rolled back: past the lease, still 409.
    let busy = exchange(&app, Method::PUT, "/profiles/42", &request).await;
    assert_problem(&busy, 409);
    let written = attempt
        .repository()
        .update(
            Profile {
                id: 42,
                version: 7,
                name: "Ava".into(),
                city: "Lyon".into(),
            },
            &WriteCondition::VersionIn(vec![7]),
        )
        .await
        .expect("the attempt writes");
    assert_eq!(written.version, 8);
    let response = StoredResponse {
        status: 200,
        headers: vec![("etag".into(), "\"prof-42-v8\"".into())],
        body: b"{}".to_vec(),
    };
    assert_eq!(attempt.finish(&response).await.unwrap(), Finished::Recorded);
    let replay = exchange(&app, Method::PUT, "/profiles/42", &request).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(b.version(42).await, Some(8), "applied once");
}

#[test]
fn decision_17_the_fingerprint_takes_the_path_and_query_not_the_authority() {
    let parts = |uri: &str| {
        let request = http::Request::builder()
            .method(Method::PUT)
            .uri(uri)
            .header("if-match", "\"prof-42-v7\"")
            .body(())
            .unwrap();
        request.into_parts().0
    };
    let http1 = fingerprint(&parts("/profiles/42?x=1"), b"{}");
    let http2 = fingerprint(&parts("https://api.example/profiles/42?x=1"), b"{}");
    assert_eq!(http1, http2);
    assert_ne!(http1, fingerprint(&parts("/profiles/42?x=2"), b"{}"));
    assert_ne!(http1, fingerprint(&parts("/profiles/42?x=1"), b"{ }"));
}

fn put(key: &str, if_match: &str, body: &str) -> (Vec<(String, String)>, String) {
    (
        vec![
            ("idempotency-key".into(), format!("\"{key}\"")),
            ("if-match".into(), if_match.into()),
            (JSON.0.into(), JSON.1.into()),
        ],
        body.into(),
    )
}

async fn exchange(
    app: &Router,
    method: Method,
    uri: &str,
    (headers, body): &(Vec<(String, String)>, String),
) -> Reply {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    send(app, method, uri, &headers, body).await
}

fn assert_problem(reply: &Reply, status: u16) {
    assert_eq!(reply.status.as_u16(), status, "{reply:?}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{reply:?}"
    );
    assert_eq!(reply.json()["status"], status, "{reply:?}");
}

async fn decision_17_a_retried_put_gets_its_200_and_is_applied_once(b: Backend) {
    let app = b.app();
    let request = put("put-1", "\"prof-42-v7\"", r#"{"city":"Lyon"}"#);
    let first = exchange(&app, Method::PUT, "/profiles/42", &request).await;
    assert_eq!(first.status, 200, "{}: {first:?}", b.name);
    assert_eq!(first.header("etag"), Some("\"prof-42-v8\""));
    assert_eq!(first.header("idempotent-replayed"), None);
    for _ in 0..3 {
        let retry = exchange(&app, Method::PUT, "/profiles/42", &request).await;
        assert_eq!(retry.status, 200, "{}: {retry:?}", b.name);
        assert_eq!(retry.header("etag"), Some("\"prof-42-v8\""));
        assert_eq!(retry.header("content-type"), first.header("content-type"));
        assert_eq!(retry.header("idempotent-replayed"), Some("true"));
        assert_eq!(retry.body, first.body);
    }
    assert_eq!(b.version(42).await, Some(8), "{}: applied once", b.name);
}

async fn decision_17_the_replay_comes_before_the_preconditions(b: Backend) {
    let app = b.app();
    let mine = put("mine", "\"prof-42-v7\"", r#"{"city":"Lyon"}"#);
    assert_eq!(
        exchange(&app, Method::PUT, "/profiles/42", &mine)
            .await
            .status,
        200
    );
    // Someone else writes after it: v9.
    let theirs = exchange(
        &app,
        Method::PUT,
        "/profiles/42",
        &(
            vec![
                ("if-match".into(), "\"prof-42-v8\"".into()),
                (JSON.0.into(), JSON.1.into()),
            ],
            r#"{"city":"Rome"}"#.into(),
        ),
    )
    .await;
    assert_eq!(theirs.status, 200);
    // My retry (its If-Match is stale now) still gets my 200, not 412.
    let retry = exchange(&app, Method::PUT, "/profiles/42", &mine).await;
    assert_eq!(retry.status, 200, "{}: {retry:?}", b.name);
    assert_eq!(retry.header("etag"), Some("\"prof-42-v8\""));
    assert_eq!(retry.json()["city"], "Lyon");
    assert_eq!(b.version(42).await, Some(9));
    // Without the key, the same request is the stale write it is.
    let (mut headers, body) = mine;
    headers.retain(|(n, _)| n != "idempotency-key");
    let stale = exchange(&app, Method::PUT, "/profiles/42", &(headers, body)).await;
    assert_problem(&stale, 412);
}

async fn decision_17_post_patch_and_delete_are_applied_once(b: Backend) {
    let app = b.app();
    let post = (
        vec![
            ("idempotency-key".into(), "\"post-1\"".into()),
            (JSON.0.into(), JSON.1.into()),
        ],
        r#"{"id":50,"name":"Bo","city":"Oslo"}"#.to_owned(),
    );
    let created = exchange(&app, Method::POST, "/profiles", &post).await;
    assert_eq!(created.status, 201, "{}: {created:?}", b.name);
    let again = exchange(&app, Method::POST, "/profiles", &post).await;
    assert_eq!(
        again.status, 201,
        "{}: a replay, not 409: {again:?}",
        b.name
    );
    assert_eq!(again.header("location"), created.header("location"));
    assert_eq!(again.header("etag"), created.header("etag"));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));

    let patch = (
        vec![
            ("idempotency-key".into(), "\"patch-1\"".into()),
            ("if-match".into(), "\"prof-50-v1\"".into()),
            ("content-type".into(), "application/merge-patch+json".into()),
        ],
        r#"{"city":"Bergen"}"#.to_owned(),
    );
    for _ in 0..2 {
        let patched = exchange(&app, Method::PATCH, "/profiles/50", &patch).await;
        assert_eq!(patched.status, 200, "{}: {patched:?}", b.name);
        assert_eq!(patched.header("etag"), Some("\"prof-50-v2\""));
    }
    assert_eq!(
        b.version(50).await,
        Some(2),
        "{}: PATCH applied once",
        b.name
    );

    let delete = (
        vec![
            ("idempotency-key".into(), "\"delete-1\"".into()),
            ("if-match".into(), "\"prof-50-v2\"".into()),
        ],
        String::new(),
    );
    for _ in 0..2 {
        let deleted = exchange(&app, Method::DELETE, "/profiles/50", &delete).await;
        assert_eq!(
            deleted.status, 204,
            "{}: a replay, not 404: {deleted:?}",
            b.name
        );
    }
    assert_eq!(b.version(50).await, None);
}

async fn decision_17_the_same_key_on_another_request_is_422(b: Backend) {
    let app = b.app();
    let first = put("k", "\"prof-42-v7\"", r#"{"city":"Lyon"}"#);
    assert_eq!(
        exchange(&app, Method::PUT, "/profiles/42", &first)
            .await
            .status,
        200
    );
    let other_body = put("k", "\"prof-42-v7\"", r#"{"city":"Rome"}"#);
    let other_tag = put("k", "\"prof-42-v8\"", r#"{"city":"Lyon"}"#);
    for (uri, request) in [
        ("/profiles/42", &other_body),
        ("/profiles/42", &other_tag),
        ("/profiles/43", &first),
    ] {
        let reply = exchange(&app, Method::PUT, uri, request).await;
        assert_problem(&reply, 422);
        assert!(reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"));
    }
    // Keys are per route (method and route template): on DELETE the key
    // is another key, and the request is judged on its own (its tag is
    // stale: 412), never replayed nor refused as a reuse.
    let deleted = exchange(&app, Method::DELETE, "/profiles/42", &first).await;
    assert_problem(&deleted, 412);
    assert_eq!(b.version(42).await, Some(8), "{}", b.name);
    assert_eq!(b.version(43).await, None);
}

async fn decision_17_refusals_are_replayed_too(b: Backend) {
    let app = b.app();
    let stale = put("stale", "\"prof-42-v3\"", r#"{"city":"Lyon"}"#);
    let first = exchange(&app, Method::PUT, "/profiles/42", &stale).await;
    assert_problem(&first, 412);
    assert_eq!(first.header("etag"), Some("\"prof-42-v7\""));
    // The resource changes; the retry still gets the answer its request got.
    let change = put("change", "\"prof-42-v7\"", r#"{"city":"Rome"}"#);
    assert_eq!(
        exchange(&app, Method::PUT, "/profiles/42", &change)
            .await
            .status,
        200
    );
    let retry = exchange(&app, Method::PUT, "/profiles/42", &stale).await;
    assert_problem(&retry, 412);
    assert_eq!(retry.header("etag"), Some("\"prof-42-v7\""));
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
}

async fn decision_17_bad_keys_are_400_and_write_nothing(b: Backend) {
    let app = b.app();
    let long = format!("\"{}\"", "k".repeat(256));
    for key in [
        "unquoted",
        "\"\"",
        "\"a\"b\"",
        "\"tab\there\"",
        "\"k\";p=1",
        &long,
    ] {
        let request = (
            vec![
                ("idempotency-key".to_owned(), key.to_owned()),
                ("if-match".into(), "\"prof-42-v7\"".into()),
                (JSON.0.into(), JSON.1.into()),
            ],
            r#"{"city":"Lyon"}"#.to_owned(),
        );
        let reply = exchange(&app, Method::PUT, "/profiles/42", &request).await;
        assert_problem(&reply, 400);
    }
    let twice = send(
        &app,
        Method::PUT,
        "/profiles/42",
        &[
            ("idempotency-key", "\"a\""),
            ("idempotency-key", "\"b\""),
            ("if-match", "\"prof-42-v7\""),
            JSON,
        ],
        r#"{"city":"Lyon"}"#,
    )
    .await;
    assert_problem(&twice, 400);
    assert_eq!(b.version(42).await, Some(7), "{}: nothing written", b.name);
    // Reads take no key: it is ignored there.
    let read = send(
        &app,
        Method::GET,
        "/profiles/42",
        &[("idempotency-key", "bad")],
        "",
    )
    .await;
    assert_eq!(read.status, 200);
}

/// Claims `key` for the PUT that `request` describes, as the routes would.
async fn claim_as_the_route_would<'a>(
    repo: &'a Profiles,
    uri: &str,
    key: &str,
    (headers, body): &(Vec<(String, String)>, String),
) -> Claim<'a, Profile> {
    let mut builder = http::Request::builder().method(Method::PUT).uri(uri);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let (parts, ()) = builder.body(()).unwrap().into_parts();
    let fingerprint = fingerprint(&parts, body.as_bytes());
    repo.claim_key(
        &IdempotencyKey::new(key).unwrap(),
        &route_namespace(uri).await,
        &fingerprint,
    )
    .await
    .expect("claim")
}

/// The key namespace the routes give a PUT of `uri`: `namespace_of` as a
/// handler on the same route template sees the request.
async fn route_namespace(uri: &str) -> String {
    use axum::extract::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let router: Router = Router::new().nest(
        "/profiles",
        Router::new().route(
            "/{id}",
            axum::routing::put(
                |request: Request| async move { namespace_of(&request.into_parts().0) },
            ),
        ),
    );
    let request = http::Request::builder()
        .method(Method::PUT)
        .uri(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn decision_17_a_key_whose_attempt_died_is_409_until_its_lease_ends(b: Backend) {
    let app = b.app();
    let request = put("dies", "\"prof-42-v7\"", r#"{"city":"Lyon"}"#);
    let claim = claim_as_the_route_would(&*b.repo, "/profiles/42", "dies", &request).await;
    let Claim::Claimed(attempt) = claim else {
        panic!("{}: a new key is claimed: {claim:?}", b.name);
    };
    // The attempt's server dies: no response, no release.
    drop(attempt);
    if b.name == "memory" {
        // A memory store dies with its server; an attempt dropped in a
        // living one releases its claim, and a retry runs at once.
        assert_eq!(b.version(42).await, Some(7));
    } else {
        let busy = exchange(&app, Method::PUT, "/profiles/42", &request).await;
        assert_problem(&busy, 409);
        assert_eq!(busy.header("retry-after"), Some("1"));
        assert_eq!(b.version(42).await, Some(7));
        tokio::time::sleep(SHORT_LEASE.lease + Duration::from_millis(100)).await;
    }
    let retry = exchange(&app, Method::PUT, "/profiles/42", &request).await;
    assert_eq!(retry.status, 200, "{}: taken over: {retry:?}", b.name);
    assert_eq!(retry.header("idempotent-replayed"), None);
    assert_eq!(b.version(42).await, Some(8));
    // An abandoned claim is released at once.
    let next = put("abandoned", "\"prof-42-v8\"", r#"{"city":"Rome"}"#);
    let Claim::Claimed(attempt) =
        claim_as_the_route_would(&*b.repo, "/profiles/42", "abandoned", &next).await
    else {
        panic!("{}: claimed", b.name);
    };
    attempt.abandon().await;
    let reply = exchange(&app, Method::PUT, "/profiles/42", &next).await;
    assert_eq!(reply.status, 200, "{}: {reply:?}", b.name);
}

async fn decision_17_an_attempt_that_outlived_its_lease_is_rolled_back(b: Backend) {
    if b.name == "memory" || b.name == "sqlite" {
        // Memory applies writes at once; SQLite's one writer would make
        // the takeover below wait for the slow attempt's transaction.
        eprintln!("{}: no concurrent transaction to roll back", b.name);
        return;
    }
    let app = b.app();
    let request = put("slow", "\"prof-42-v7\"", r#"{"city":"Lyon"}"#);
    let Claim::Claimed(slow) =
        claim_as_the_route_would(&*b.repo, "/profiles/42", "slow", &request).await
    else {
        panic!("{}: claimed", b.name);
    };
    // The slow attempt writes (another row, so that nothing waits on it)…
    let ghost = Profile {
        id: 77,
        version: 1,
        name: "Ghost".into(),
        city: "Nowhere".into(),
    };
    slow.repository()
        .create(ghost)
        .await
        .expect("write in the attempt");
    // …outlives its lease, and a retry takes the key over and answers.
    tokio::time::sleep(SHORT_LEASE.lease + Duration::from_millis(100)).await;
    let retry = exchange(&app, Method::PUT, "/profiles/42", &request).await;
    assert_eq!(retry.status, 200, "{}: {retry:?}", b.name);
    let response = StoredResponse {
        status: 201,
        headers: vec![],
        body: vec![],
    };
    assert_eq!(
        slow.finish(&response).await.expect("finish"),
        Finished::Superseded,
        "{}",
        b.name
    );
    assert_eq!(
        b.version(77).await,
        None,
        "{}: the slow write rolled back",
        b.name
    );
    assert_eq!(b.version(42).await, Some(8), "{}: applied once", b.name);
    let replay = exchange(&app, Method::PUT, "/profiles/42", &request).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.header("etag"), Some("\"prof-42-v8\""));
}

async fn decision_17_concurrent_retries_apply_once(b: Backend) {
    let app = b.app();
    const ATTEMPTS: usize = 12;
    let request = Arc::new(put("burst", "\"prof-42-v7\"", r#"{"city":"Lyon"}"#));
    let tasks: Vec<_> = (0..ATTEMPTS)
        .map(|_| {
            let (app, request) = (app.clone(), request.clone());
            tokio::spawn(async move { exchange(&app, Method::PUT, "/profiles/42", &request).await })
        })
        .collect();
    let (mut ok, mut busy) = (0, 0);
    for task in tasks {
        let reply = task.await.expect("task");
        match reply.status.as_u16() {
            200 => {
                assert_eq!(reply.header("etag"), Some("\"prof-42-v8\""), "{reply:?}");
                ok += 1;
            }
            409 => {
                assert_problem(&reply, 409);
                busy += 1;
            }
            _ => panic!("{}: {reply:?}", b.name),
        }
    }
    assert_eq!(ok + busy, ATTEMPTS);
    assert!(ok >= 1, "{}: one attempt answers", b.name);
    assert_eq!(b.version(42).await, Some(8), "{}: applied once", b.name);
    eprintln!("{}: {ok} answered 200, {busy} were told 409", b.name);
}

async fn decision_17_keys_expire(b: Backend) {
    let app = b.app();
    let first = put("reused", "\"prof-42-v7\"", r#"{"city":"Lyon"}"#);
    assert_eq!(
        exchange(&app, Method::PUT, "/profiles/42", &first)
            .await
            .status,
        200
    );
    tokio::time::sleep(SHORT_LIFE.time_to_live + Duration::from_millis(100)).await;
    // Past its time to live the key is free: another request may use it.
    let later = put("reused", "\"prof-42-v8\"", r#"{"city":"Rome"}"#);
    let reply = exchange(&app, Method::PUT, "/profiles/42", &later).await;
    assert_eq!(reply.status, 200, "{}: {reply:?}", b.name);
    assert_eq!(reply.header("idempotent-replayed"), None);
    assert_eq!(b.version(42).await, Some(9));
}

#[test]
fn decision_17_policy_defaults_are_a_day_and_ten_seconds() {
    assert_eq!(KeyPolicy::default(), DEFAULT);
}

/// Expired keys are deleted in the background by the first claim of a
/// repository (and then at most once a minute): the table does not grow
/// without bound, and the claim that triggers the sweep does not wait for
/// it.
macro_rules! expired_keys_are_deleted {
    ($pool:expr, $repo:ident, $dialect:expr) => {{
        let pool = $pool;
        schema!(&pool, $dialect);
        let first: Arc<Profiles> =
            Arc::new($repo::<Profile>::new(pool.clone()).with_idempotency_keys(KEYS, SHORT_LIFE));
        occ_examples::seed(&*first).await.unwrap();
        let old = put("old", "\"prof-42-v7\"", r#"{"city":"Lyon"}"#);
        let app = Backend::routes(first);
        assert_eq!(
            exchange(&app, Method::PUT, "/profiles/42", &old)
                .await
                .status,
            200
        );
        tokio::time::sleep(SHORT_LIFE.time_to_live + Duration::from_millis(100)).await;
        // A new server process: its first claim sweeps.
        let second: Arc<Profiles> =
            Arc::new($repo::<Profile>::new(pool.clone()).with_idempotency_keys(KEYS, SHORT_LIFE));
        let app = Backend::routes(second);
        let new = put("new", "\"prof-42-v8\"", r#"{"city":"Rome"}"#);
        assert_eq!(
            exchange(&app, Method::PUT, "/profiles/42", &new)
                .await
                .status,
            200
        );
        let count = format!("SELECT COUNT(*) FROM {KEYS}");
        let mut left = -1;
        for _ in 0..50 {
            left = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count.clone()))
                .fetch_one(&pool)
                .await
                .unwrap();
            if left == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(left, 1, "only the live key is left");
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_17_expired_keys_are_deleted_on_sqlite() {
    let (pool, _) = occ_tests::sqlite_file_pool("idem_sweep").await;
    expired_keys_are_deleted!(pool, SqliteRepository, Dialect::Sqlite);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn decision_17_expired_keys_are_deleted_on_postgres() {
    let Some((pool, _cleanup)) =
        occ_tests::postgres_schema("decision_17_expired_keys", "idem_sweep", 4).await
    else {
        return;
    };
    expired_keys_are_deleted!(pool, PgRepository, Dialect::Postgres);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn decision_17_expired_keys_are_deleted_on_mariadb() {
    let Some((pool, _cleanup)) =
        occ_tests::mariadb_database("decision_17_expired_keys", "idem_sweep", 4).await
    else {
        return;
    };
    expired_keys_are_deleted!(pool, MySqlRepository, Dialect::MySql);
}

/// The profiles routes behind a layer that names the caller: the
/// `x-user` header becomes the request's `Principal`.
fn app_with_callers(repo: Arc<Profiles>) -> Router {
    async fn caller(
        mut request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        if let Some(user) = request
            .headers()
            .get("x-user")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        {
            request.extensions_mut().insert(Principal::new(user));
        }
        next.run(request).await
    }
    Backend::routes(repo).layer(axum::middleware::from_fn(caller))
}

async fn decision_17_keys_of_two_callers_never_meet(b: Backend) {
    let app = app_with_callers(b.repo.clone());
    let (mut headers, body) = put("shared", "\"prof-42-v7\"", r#"{"city":"Lyon"}"#);
    headers.push(("x-user".into(), "ann".into()));
    let ann = exchange(
        &app,
        Method::PUT,
        "/profiles/42",
        &(headers.clone(), body.clone()),
    )
    .await;
    assert_eq!(ann.status, 200, "{}: {ann:?}", b.name);
    // Bob sends the same key and the same request: not Ann's answer
    // replayed, but his own request, whose tag is stale now.
    headers.retain(|(n, _)| n != "x-user");
    headers.push(("x-user".into(), "bob".into()));
    let bob = exchange(
        &app,
        Method::PUT,
        "/profiles/42",
        &(headers.clone(), body.clone()),
    )
    .await;
    assert_problem(&bob, 412);
    assert_eq!(bob.header("idempotent-replayed"), None, "{}", b.name);
    // Ann's retry is still hers.
    headers.retain(|(n, _)| n != "x-user");
    headers.push(("x-user".into(), "ann".into()));
    let again = exchange(&app, Method::PUT, "/profiles/42", &(headers, body)).await;
    assert_eq!(again.status, 200, "{}: {again:?}", b.name);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(b.version(42).await, Some(8), "{}", b.name);
}

/// A key sent where the repository keeps none is refused (400), rather
/// than ignored: the client asked for exactly-once, which this route
/// cannot give. Nothing is written.
#[tokio::test]
async fn decision_17_a_key_where_no_keys_are_kept_is_400() {
    let (pool, _) = occ_tests::sqlite_file_pool("keyless").await;
    for ddl in [occ_examples::SCHEMA, occ_examples::TOMBSTONES_SCHEMA] {
        sqlx::query(ddl).execute(&pool).await.expect("schema");
    }
    let repo: Arc<Profiles> = Arc::new(SqliteRepository::<Profile>::new(pool));
    assert!(!repo.keeps_idempotency_keys());
    occ_examples::seed(&*repo).await.expect("seed");
    let app = Backend::routes(repo.clone());
    for (method, uri) in [
        (Method::PUT, "/profiles/42"),
        (Method::PATCH, "/profiles/42"),
        (Method::DELETE, "/profiles/42"),
        (Method::POST, "/profiles"),
    ] {
        let mut request = put(
            "k",
            "\"prof-42-v7\"",
            r#"{"id":43,"name":"Bo","city":"Oslo"}"#,
        );
        if method == Method::PATCH {
            request.0.retain(|(n, _)| n != "content-type");
            request
                .0
                .push(("content-type".into(), "application/merge-patch+json".into()));
        }
        let reply = exchange(&app, method.clone(), uri, &request).await;
        assert_problem(&reply, 400);
        assert!(
            reply.json()["detail"]
                .as_str()
                .is_some_and(|d| d.contains("keeps no Idempotency-Key")),
            "{method}: {reply:?}"
        );
    }
    assert_eq!(repo.get(&42).await.expect("profile 42").version, 7);
    assert!(matches!(
        repo.get(&43).await,
        Err(RepositoryError::NotFound)
    ));
}

/// The memory store cannot roll a write back: an attempt that wrote and
/// then failed (a 5xx) or was dropped keeps its key, and a retry gets a
/// 409 that says the write was applied, never the write a second time.
#[tokio::test]
async fn decision_17_a_memory_write_is_never_applied_twice() {
    use axum::response::IntoResponse;
    use occ_axum::idempotency::{begin, finish, Keyed};
    use occ_core::repository::Repository;
    let repo = Arc::new(MemoryRepository::<Profile>::new());
    occ_examples::seed(&*repo).await.expect("seed");
    let request = |key: &str| {
        http::Request::builder()
            .method(Method::PUT)
            .uri("/profiles/42")
            .header("idempotency-key", format!("\"{key}\""))
            .header("if-match", "\"prof-42-v7\"")
            .body(axum::body::Body::from(r#"{"city":"Lyon"}"#))
            .unwrap()
    };
    // A 5xx after the write.
    let Keyed::Claimed(claim, _) = begin(&*repo, request("fails"), 1024).await else {
        panic!("claimed");
    };
    let written = write_lyon(claim.repository()).await;
    assert_eq!(written.version, 8);
    let failed = finish(
        claim,
        http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    )
    .await;
    assert_eq!(failed.status(), 500);
    let Keyed::Replayed(retry) = begin(&*repo, request("fails"), 1024).await else {
        panic!("the retry is answered, not run again");
    };
    assert_eq!(retry.status(), 409);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(
        repo.get(&42).await.expect("read").version,
        8,
        "applied once"
    );

    // An attempt dropped after its write.
    let repo = Arc::new(MemoryRepository::<Profile>::new());
    occ_examples::seed(&*repo).await.expect("seed");
    let Keyed::Claimed(claim, _) = begin(&*repo, request("dropped"), 1024).await else {
        panic!("claimed");
    };
    write_lyon(claim.repository()).await;
    drop(claim);
    let Keyed::Replayed(retry) = begin(&*repo, request("dropped"), 1024).await else {
        panic!("the retry is answered, not run again");
    };
    assert_eq!(retry.status(), 409);
    assert_eq!(
        repo.get(&42).await.expect("read").version,
        8,
        "applied once"
    );

    // An attempt that fails before writing releases its key: the retry runs.
    let Keyed::Claimed(claim, _) = begin(&*repo, request("early"), 1024).await else {
        panic!("claimed");
    };
    let failed = finish(claim, http::StatusCode::SERVICE_UNAVAILABLE.into_response()).await;
    assert_eq!(failed.status(), 503);
    assert!(matches!(
        begin(&*repo, request("early"), 1024).await,
        Keyed::Claimed(..)
    ));
}

/// Profile 42's city becomes Lyon, if it is at version 7.
async fn write_lyon(repo: &dyn occ_core::repository::Repository<Profile>) -> Profile {
    let mut profile = repo.get(&42).await.expect("read");
    profile.city = "Lyon".into();
    repo.update(profile, &WriteCondition::VersionIn(vec![7]))
        .await
        .expect("written")
}

/// A keyed write that the database refuses (a CHECK constraint) is a 4xx
/// on the first try, recorded, and replayed on the retry: the failed
/// statement does not leave the held transaction unusable.
async fn a_refused_keyed_write_is_a_recorded_4xx(b: Backend) {
    let app = b.app();
    let request = put(
        "long",
        "\"prof-42-v7\"",
        &format!(r#"{{"city":"{}"}}"#, "x".repeat(80)),
    );
    let first = exchange(&app, Method::PUT, "/profiles/42", &request).await;
    assert_problem(&first, 422);
    let retry = exchange(&app, Method::PUT, "/profiles/42", &request).await;
    assert_problem(&retry, 422);
    assert_eq!(
        retry.header("idempotent-replayed"),
        Some("true"),
        "{}",
        b.name
    );
    assert_eq!(retry.body, first.body);
    assert_eq!(b.version(42).await, Some(7), "{}: nothing written", b.name);
}

/// A keyed attempt that deletes, then fails a statement: the failure rolls
/// the held transaction back, the delete with it, so the attempt's answer
/// (which would claim the delete) is not recorded, and the key is free.
async fn a_delete_rolled_back_by_a_later_failure_is_not_recorded(b: Backend) {
    let bo = Profile {
        id: 60,
        version: 1,
        name: "Bo".into(),
        city: "Oslo".into(),
    };
    b.repo.create(bo).await.expect("profile 60");
    let request = (vec![], String::new());
    let Claim::Claimed(attempt) =
        claim_as_the_route_would(&*b.repo, "/profiles/60", "delete-then-fail", &request).await
    else {
        panic!("{}: claimed", b.name);
    };
    attempt
        .repository()
        .delete(&60, &WriteCondition::VersionIn(vec![1]))
        .await
        .expect("deleted in the attempt");
    let mut long = b.repo.get(&42).await.expect("read 42");
    long.city = "x".repeat(80);
    let failed = attempt
        .repository()
        .update(long, &WriteCondition::VersionIn(vec![7]))
        .await;
    assert!(
        matches!(failed, Err(RepositoryError::Invalid(_))),
        "{}: {failed:?}",
        b.name
    );
    let answer = StoredResponse {
        status: 204,
        headers: vec![],
        body: vec![],
    };
    let finished = attempt.finish(&answer).await;
    assert!(
        finished.is_err(),
        "{}: an answer claiming a rolled-back delete was recorded: {finished:?}",
        b.name
    );
    assert_eq!(b.version(60).await, Some(1), "{}: not deleted", b.name);
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn decision_17_a_refused_keyed_write_is_a_recorded_4xx_postgres() {
    let check = "ALTER TABLE profiles ADD CONSTRAINT city_short CHECK (length(city) < 64)";
    if let Some(b) = Backend::postgres_with("refused_keyed_pg", DEFAULT, &[check]).await {
        a_refused_keyed_write_is_a_recorded_4xx(b).await;
    }
    if let Some(b) = Backend::postgres_with("delete_then_fail_pg", DEFAULT, &[check]).await {
        a_delete_rolled_back_by_a_later_failure_is_not_recorded(b).await;
    }
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn decision_17_a_refused_keyed_write_is_a_recorded_4xx_mariadb() {
    let check = "ALTER TABLE profiles ADD CONSTRAINT city_short CHECK (CHAR_LENGTH(city) < 64)";
    if let Some(b) = Backend::mariadb_with("refused_keyed_my", DEFAULT, &[check]).await {
        a_refused_keyed_write_is_a_recorded_4xx(b).await;
    }
    if let Some(b) = Backend::mariadb_with("delete_then_fail_my", DEFAULT, &[check]).await {
        a_delete_rolled_back_by_a_later_failure_is_not_recorded(b).await;
    }
}

/// A keyed delete whose future is dropped between its statements (a
/// timeout while a slow trigger holds its `DELETE`): the `DELETE` lands in
/// the held transaction without its tombstone, so the transaction must
/// not commit. The attempt's record is refused and nothing lands.
#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn an_interrupted_keyed_delete_lands_nothing_mariadb() {
    let slow = "CREATE TRIGGER slow_deletes BEFORE DELETE ON profiles \
                FOR EACH ROW SET @occ_slow = SLEEP(1)";
    let Some(b) = Backend::mariadb_with("interrupted_delete_my", DEFAULT, &[slow]).await else {
        return;
    };
    let request = (vec![], String::new());
    let Claim::Claimed(attempt) =
        claim_as_the_route_would(&*b.repo, "/profiles/42", "interrupted", &request).await
    else {
        panic!("claimed");
    };
    let at_7 = WriteCondition::VersionIn(vec![7]);
    let delete = attempt.repository().delete(&42, &at_7);
    let timed_out = tokio::time::timeout(Duration::from_millis(300), delete).await;
    assert!(timed_out.is_err(), "the delete outlived the timeout");
    let answer = StoredResponse {
        status: 204,
        headers: vec![],
        body: vec![],
    };
    let finished = attempt.finish(&answer).await;
    assert!(finished.is_err(), "recorded half a delete: {finished:?}");
    assert_eq!(b.version(42).await, Some(7), "not deleted");
}

/// A delete whose second statement fails (its tombstone, refused by a
/// trigger) lands nothing, under a key or not. Under a key, the delete
/// runs in the held transaction without a savepoint of its own: the
/// failure rolls the whole held transaction back, the row's delete with
/// it. PostgreSQL deletes and records in one statement, which fails whole.
async fn a_delete_whose_tombstone_fails_lands_nothing(b: Backend) {
    let app = b.app();
    for key in [Some("\"tomb-1\""), None] {
        let mut headers = vec![("if-match".to_owned(), "\"prof-42-v7\"".to_owned())];
        if let Some(key) = key {
            headers.push(("idempotency-key".into(), key.into()));
        }
        let request = (headers, String::new());
        let deleted = exchange(&app, Method::DELETE, "/profiles/42", &request).await;
        assert_problem(&deleted, 500);
        assert_eq!(
            b.version(42).await,
            Some(7),
            "{}: key {key:?}: the row's delete was rolled back with its tombstone",
            b.name
        );
    }
    // A handler of its own that goes on after the failure and records an
    // answer commits the held transaction: the failed delete's first
    // statement must not be in it.
    let request = (vec![], String::new());
    let Claim::Claimed(attempt) =
        claim_as_the_route_would(&*b.repo, "/profiles/42", "tomb-2", &request).await
    else {
        panic!("{}: claimed", b.name);
    };
    let failed = attempt
        .repository()
        .delete(&42, &WriteCondition::VersionIn(vec![7]))
        .await;
    assert!(
        matches!(failed, Err(RepositoryError::Internal(_))),
        "{}: {failed:?}",
        b.name
    );
    let answer = StoredResponse {
        status: 503,
        headers: vec![],
        body: b"{}".to_vec(),
    };
    assert_eq!(
        attempt.finish(&answer).await.unwrap(),
        Finished::Recorded,
        "{}",
        b.name
    );
    assert_eq!(b.version(42).await, Some(7), "{}: nothing deleted", b.name);
    // The connection the failures ran on is usable again.
    assert_eq!(write_lyon(&*b.repo).await.version, 8, "{}", b.name);
}

#[tokio::test]
async fn a_delete_whose_tombstone_fails_lands_nothing_sqlite() {
    let refuse = "CREATE TRIGGER refuse_tombstones BEFORE INSERT ON profile_tombstones \
                  BEGIN SELECT RAISE(ABORT, 'tombstones refused'); END";
    let b = Backend::sqlite_with("tomb_fails_sqlite", DEFAULT, &[refuse]).await;
    a_delete_whose_tombstone_fails_lands_nothing(b).await;
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn a_delete_whose_tombstone_fails_lands_nothing_postgres() {
    let refuse = [
        "CREATE FUNCTION refuse_tombstones() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'tombstones refused'; END $$",
        "CREATE TRIGGER refuse_tombstones BEFORE INSERT ON profile_tombstones \
         FOR EACH ROW EXECUTE FUNCTION refuse_tombstones()",
    ];
    if let Some(b) = Backend::postgres_with("tomb_fails_pg", DEFAULT, &refuse).await {
        a_delete_whose_tombstone_fails_lands_nothing(b).await;
    }
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn a_delete_whose_tombstone_fails_lands_nothing_mariadb() {
    let refuse = "CREATE TRIGGER refuse_tombstones BEFORE INSERT ON profile_tombstones \
                  FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'tombstones refused'";
    if let Some(b) = Backend::mariadb_with("tomb_fails_my", DEFAULT, &[refuse]).await {
        a_delete_whose_tombstone_fails_lands_nothing(b).await;
    }
}

/// Design decision 15 under keys: creates of one id, each under a key of
/// its own (in the held transaction, READ COMMITTED on MariaDB), racing
/// plain deletes of that id, never give a tag twice: a create that waits
/// on a deleted row takes its version from the delete's tombstone.
async fn decision_15_keyed_creates_racing_deletes_never_repeat_a_tag(b: Backend) {
    let b = Arc::new(b);
    let mut tasks = Vec::new();
    for task in 0..4 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            let mut tags = Vec::new();
            let mut refused = 0_u32;
            for i in 0..40 {
                let key = format!("race-{task}-{i}");
                let request = (vec![], format!("{task}-{i}"));
                let Claim::Claimed(attempt) =
                    claim_as_the_route_would(&*b.repo, "/profiles/42", &key, &request).await
                else {
                    panic!("{}: a new key is claimed", b.name);
                };
                let profile = Profile {
                    id: 42,
                    version: 1,
                    name: "Ava".into(),
                    city: format!("task {task} round {i}"),
                };
                match attempt.repository().create(profile).await {
                    Ok(created) => {
                        let answer = StoredResponse {
                            status: 201,
                            headers: vec![],
                            body: vec![],
                        };
                        match attempt.finish(&answer).await {
                            Ok(Finished::Recorded) => {
                                tags.push(occ_core::Versioned::entity_tag(&created).to_string())
                            }
                            Ok(other) => panic!("{}: {other:?}", b.name),
                            Err(RepositoryError::Unavailable(_)) => refused += 1,
                            Err(e) => panic!("{}: finish: {e:?}", b.name),
                        }
                    }
                    Err(RepositoryError::AlreadyExists { .. }) => attempt.abandon().await,
                    Err(RepositoryError::Unavailable(_)) => {
                        refused += 1;
                        attempt.abandon().await;
                    }
                    Err(e) => panic!("{}: create: {e:?}", b.name),
                }
                match b.repo.delete(&42, &WriteCondition::Exists).await {
                    Ok(_)
                    | Err(RepositoryError::NotFound)
                    | Err(RepositoryError::PreconditionFailed { .. }) => {}
                    Err(RepositoryError::Unavailable(_)) => refused += 1,
                    Err(e) => panic!("{}: delete: {e:?}", b.name),
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
    let distinct: std::collections::HashSet<&String> = all.iter().collect();
    eprintln!(
        "{}: {} keyed creates recorded, {} distinct tags, {refused} transient refusals",
        b.name,
        all.len(),
        distinct.len()
    );
    assert!(all.len() >= 20, "{}: only {} creates", b.name, all.len());
    assert_eq!(
        distinct.len(),
        all.len(),
        "{}: a tag was reused: {all:?}",
        b.name
    );
}

/// The race of an id's first delete (no tombstone yet) with a keyed create
/// of it: the create either finds the row (exists) or, once the delete
/// has committed, continues after the deleted version; never restarts at
/// the version it was given. Each round on an id of its own.
async fn decision_15_a_keyed_create_racing_an_ids_first_delete_continues_after_it(b: Backend) {
    let b = Arc::new(b);
    let mut created = 0;
    for id in 100..140_i64 {
        let at_5 = Profile {
            id,
            version: 5,
            name: "Ava".into(),
            city: "Paris".into(),
        };
        b.repo.create(at_5).await.expect("the id at version 5");
        let start = Arc::new(tokio::sync::Barrier::new(2));
        let create = {
            let (b, start) = (b.clone(), start.clone());
            tokio::spawn(async move {
                let key = format!("first-{id}");
                let uri = format!("/profiles/{id}");
                let request = (vec![], String::new());
                let Claim::Claimed(attempt) =
                    claim_as_the_route_would(&*b.repo, &uri, &key, &request).await
                else {
                    panic!("{}: claimed", b.name);
                };
                let again = Profile {
                    id,
                    version: 1,
                    name: "Ava".into(),
                    city: "Lyon".into(),
                };
                start.wait().await;
                let result = attempt.repository().create(again).await;
                let answer = StoredResponse {
                    status: 201,
                    headers: vec![],
                    body: vec![],
                };
                match result {
                    Ok(created) => attempt.finish(&answer).await.ok().map(|_| created.version),
                    Err(_) => {
                        attempt.abandon().await;
                        None
                    }
                }
            })
        };
        start.wait().await;
        let deleted = b
            .repo
            .delete(&id, &WriteCondition::VersionIn(vec![5]))
            .await;
        if let Some(version) = create.await.unwrap() {
            created += 1;
            assert!(
                deleted.is_ok(),
                "{}: id {id}: created over a row not deleted",
                b.name
            );
            assert!(
                version > 5,
                "{}: id {id}: created again at version {version}, after version 5 was deleted",
                b.name
            );
        }
    }
    eprintln!(
        "{}: {created} of 40 creates landed after the delete",
        b.name
    );
}
