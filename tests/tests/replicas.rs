//! Reads served by PostgreSQL streaming replicas, and never a state older
//! than one the client has seen.
//!
//! The test starts its own PostgreSQL 15 primary and two replicas
//! (`replicas/cluster.rs`: `initdb`, `pg_basebackup -R`, free loopback
//! ports, a temporary directory removed after), with
//! `recovery_min_apply_delay` making the replicas' lag deterministic.
//! Two application servers (in-process axum servers, each with its own
//! repository over the same primary and replicas, behind
//! `ReadFloorLayer`) serve the profiles of the examples.
//!
//! First the floors one at a time: a tag the replica has not reached (a
//! resource just created, a version just written) is answered by the
//! primary, never a 404 or an older version; a 304 comes from a replica
//! only when its version is the client's; the `Occ-Read-After` position
//! of a write, as header or cookie, gives read-your-writes to reads
//! without a tag and to lists; under `FloorMiss::Unavailable` the miss is
//! a 503 with `Retry-After`; a write under an `Idempotency-Key`, and its
//! replay, hand out a position too; a replica lagging past `max_lag` leaves the
//! rotation while writes go on, and comes back once caught up; a
//! conditional read on a replica is one statement (sqlx's log, counted).
//! At the end, a promoted replica leaves the rotation.
//!
//! Then the history checker (`replicas/history.rs`): 8 clients write and read through both
//! servers; each keeps the highest version it has seen of each resource,
//! sends it in `If-None-Match`, and sends back the newest position its
//! writes were handed. A response that shows an older version than the
//! client has seen, a list that misses or shows older one of the client's
//! own writes, a 404 for a resource the client created, or a 5xx, is a
//! violation. It runs with a lag of 0 and 300 ms, with a bounded wait
//! instead of the primary, and with one replica stopped in the middle;
//! and without tags or tokens in a 90/10 read/write mix, for the share of
//! reads the replicas serve. The figures are printed on stderr (outside
//! libtest's capture) as a table.
//!
//! Root, PostgreSQL 15's `initdb` and `pg_basebackup` and the `postgres`
//! user are needed: without them the test says why and passes, or fails
//! when `OCC_REQUIRE_REPLICAS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step is the test failing

#[path = "replicas/cluster.rs"]
mod cluster;
#[path = "replicas/history.rs"]
mod history;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster::Cluster;
use history::{run_phase, table, Load};
use occ_axum::ReadFloorLayer;
use occ_core::idempotency::KeyPolicy;
use occ_core::repository::sql::{
    idempotency_table, Dialect, FloorMiss, PgRepository, ReplicaOptions, ReplicaStats,
};
use occ_examples::{Profile, Profiles};
use sqlx::AssertSqlSafe;
use tracing::field::{Field, Visit};
use tracing::Subscriber;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const CLIENTS: usize = 8;
const PHASE: Duration = Duration::from_secs(5);
const LAG: Duration = Duration::from_millis(300);

/// Writes on stderr without libtest's capture.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// What this machine lacks for the test, if anything.
fn missing_prerequisite() -> Option<String> {
    match cluster::run("id", &["-u"]) {
        Ok(uid) if uid.trim() == "0" => {}
        _ => return Some("not running as root (PostgreSQL runs as the postgres user)".into()),
    }
    for tool in ["initdb", "pg_basebackup", "pg_ctl"] {
        let path = format!("{}/{tool}", cluster::BIN);
        if !std::path::Path::new(&path).exists() {
            return Some(format!("no {path} (PostgreSQL 15)"));
        }
    }
    if let Err(e) = cluster::postgres_ids() {
        return Some(format!("no postgres user: {e}"));
    }
    if let Err(e) = cluster::run("setpriv", &["--version"]) {
        return Some(format!("setpriv unavailable: {e}"));
    }
    None
}

fn unavailable(test: &str, reason: &str) {
    assert!(
        std::env::var("OCC_REQUIRE_REPLICAS").as_deref() != Ok("1"),
        "{test}: OCC_REQUIRE_REPLICAS=1 but {reason}"
    );
    say(&format!("{test}: skipped, {reason}"));
}

/// The replicas' pools: a connection not had within a second is a replica
/// down.
fn replica_pools(cluster: &Cluster) -> Vec<sqlx::PgPool> {
    cluster
        .replicas
        .iter()
        .map(|r| {
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(1))
                .connect_lazy(&r.url())
                .unwrap()
        })
        .collect()
}

/// One application server: its address and its repository (for its
/// figures).
struct Server {
    addr: SocketAddr,
    repo: Arc<PgRepository<Profile>>,
}

async fn servers(cluster: &Cluster, n: usize, options: &ReplicaOptions) -> Vec<Server> {
    let mut servers = Vec::new();
    for _ in 0..n {
        let primary = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect(&cluster.primary.url())
            .await
            .unwrap();
        let repo = Arc::new(
            PgRepository::<Profile>::new(primary)
                .with_replicas(replica_pools(cluster), options.clone()),
        );
        let dyn_repo: Arc<Profiles> = repo.clone();
        let app = occ_examples::app(dyn_repo).layer(ReadFloorLayer::new());
        servers.push(Server {
            addr: occ_tests::serve(app).await,
            repo,
        });
    }
    servers
}

/// A server whose repository keeps idempotency keys (its table created
/// on the primary first).
async fn servers_with_keys(cluster: &Cluster, options: &ReplicaOptions) -> SocketAddr {
    let primary = sqlx::PgPool::connect(&cluster.primary.url()).await.unwrap();
    for ddl in idempotency_table(Dialect::Postgres, "profile_idempotency_keys") {
        sqlx::query(AssertSqlSafe(ddl))
            .execute(&primary)
            .await
            .unwrap();
    }
    let repo = PgRepository::<Profile>::new(primary)
        .with_idempotency_keys("profile_idempotency_keys", KeyPolicy::default())
        .with_replicas(replica_pools(cluster), options.clone());
    let repo: Arc<Profiles> = Arc::new(repo);
    occ_tests::serve(occ_examples::app(repo).layer(ReadFloorLayer::new())).await
}

fn stats(servers: &[Server]) -> ReplicaStats {
    let mut sum = ReplicaStats::default();
    for s in servers {
        let st = s.repo.replica_stats().unwrap();
        sum.replica_reads += st.replica_reads;
        sum.primary_after_miss += st.primary_after_miss;
        sum.primary_no_replica += st.primary_no_replica;
        sum.primary_by_request += st.primary_by_request;
        sum.waits += st.waits;
        sum.refused += st.refused;
        sum.taken_out += st.taken_out;
        sum.in_rotation += st.in_rotation;
    }
    sum
}

fn minus(a: ReplicaStats, b: ReplicaStats) -> ReplicaStats {
    let mut d = a;
    d.replica_reads -= b.replica_reads;
    d.primary_after_miss -= b.primary_after_miss;
    d.primary_no_replica -= b.primary_no_replica;
    d.primary_by_request -= b.primary_by_request;
    d.waits -= b.waits;
    d.refused -= b.refused;
    d.taken_out -= b.taken_out;
    d
}

/// The version in a profile's tag (`"prof-<id>-v<version>"`).
fn version_of(etag: Option<&str>) -> Option<i64> {
    etag?
        .trim_start_matches("W/")
        .trim_matches('"')
        .rsplit_once("-v")?
        .1
        .parse()
        .ok()
}

fn tag(id: i64, version: i64) -> String {
    format!("\"prof-{id}-v{version}\"")
}

async fn set_lag(cluster: &Cluster, lag: Duration) {
    for r in &cluster.replicas {
        r.set_apply_delay(lag).unwrap();
    }
    // The reload is asynchronous.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Waits until every replica has replayed what the primary has written.
async fn caught_up(cluster: &Cluster) {
    let primary = sqlx::PgPool::connect(&cluster.primary.url()).await.unwrap();
    let target: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
        .fetch_one(&primary)
        .await
        .unwrap();
    for r in &cluster.replicas {
        let Ok(pool) = sqlx::PgPool::connect(&r.url()).await else {
            continue;
        };
        let started = Instant::now();
        loop {
            let done: bool =
                sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn")
                    .bind(&target)
                    .fetch_one(&pool)
                    .await
                    .unwrap_or(true);
            if done || started.elapsed() > Duration::from_secs(10) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        pool.close().await;
    }
    primary.close().await;
}

// ---------------------------------------------------------------------
// Counting the statements of a read (sqlx logs each one it executes as a
// `tracing` event with the target `sqlx::query`).

/// Statements on the model's table, and replay-position checks (the
/// statement a read with a position runs when the replica's remembered
/// position is behind), since the binary started.
static TABLE_STATEMENTS: AtomicU64 = AtomicU64::new(0);
static POSITION_CHECKS: AtomicU64 = AtomicU64::new(0);

struct CountStatements;

#[derive(Default)]
struct SqlText(String);

impl Visit for SqlText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if matches!(field.name(), "summary" | "db.statement") && value.len() >= self.0.len() {
            value.clone_into(&mut self.0);
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl<S: Subscriber> Layer<S> for CountStatements {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut sql = SqlText::default();
        event.record(&mut sql);
        if sql.0.contains("profiles") {
            TABLE_STATEMENTS.fetch_add(1, Ordering::Relaxed);
        } else if sql.0.contains("pg_last_wal_replay_lsn") && !sql.0.contains("pg_is_in_recovery") {
            POSITION_CHECKS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Installs the counting subscriber (sqlx's statements only), once.
fn count_statements() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let layer = CountStatements.with_filter(filter_fn(|m| m.target() == "sqlx::query"));
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("the only global subscriber");
    });
}

/// The statements on the table and the position checks `request` sent.
async fn statements_of<T>(request: impl std::future::Future<Output = T>) -> (T, (u64, u64)) {
    let table = TABLE_STATEMENTS.load(Ordering::SeqCst);
    let checks = POSITION_CHECKS.load(Ordering::SeqCst);
    let out = request.await;
    (
        out,
        (
            TABLE_STATEMENTS.load(Ordering::SeqCst) - table,
            POSITION_CHECKS.load(Ordering::SeqCst) - checks,
        ),
    )
}

// ---------------------------------------------------------------------
// The focused checks.

/// Writes and reads profile 9001 through `addr`, from version `from`,
/// until `until` holds (at most 10 s); whether it did, and the version
/// reached. No 5xx meanwhile.
async fn churn(addr: SocketAddr, from: i64, until: impl Fn() -> bool) -> (bool, i64) {
    let mut v = from;
    let started = Instant::now();
    while !until() && started.elapsed() < Duration::from_secs(10) {
        let if_match = tag(9001, v);
        let w = occ_tests::http(
            addr,
            "PUT",
            "/profiles/9001",
            &[
                ("content-type", "application/json"),
                ("if-match", &if_match),
            ],
            r#"{"city":"churn"}"#,
        )
        .await;
        assert_eq!(w.status, 200, "{}", w.text());
        v += 1;
        let r = occ_tests::http(addr, "GET", "/profiles/9001", &[], "").await;
        assert!(r.status < 500, "{} {}", r.status, r.text());
    }
    (until(), v)
}

async fn focused(cluster: &Cluster) {
    let options = ReplicaOptions::new().check_every(Duration::from_millis(200));
    let pair = servers(cluster, 2, &options).await;
    let (a, b) = (pair[0].addr, pair[1].addr);
    set_lag(cluster, LAG).await;
    let json = [("content-type", "application/json")];

    // A resource just created, its tag presented at once to the other
    // server: the replicas do not have it yet; the primary answers.
    let before = stats(&pair);
    let created = occ_tests::http(
        a,
        "POST",
        "/profiles",
        &json,
        r#"{"id":9001,"name":"f","city":"one"}"#,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let token = created
        .header("occ-read-after")
        .expect("a write's response carries Occ-Read-After")
        .to_owned();
    assert!(
        created
            .headers
            .iter()
            .any(|(n, v)| n == "set-cookie" && v.starts_with(&format!("occ_read_after={token};"))),
        "and the cookie: {:?}",
        created.headers
    );
    let v1 = tag(9001, 1);
    let r = occ_tests::http(b, "GET", "/profiles/9001", &[("if-none-match", &v1)], "").await;
    assert_eq!(
        r.status,
        304,
        "a created resource's tag, from a lagging replica: {}",
        r.text()
    );
    let d = minus(stats(&pair), before);
    assert_eq!(
        (d.primary_after_miss, d.replica_reads),
        (1, 0),
        "the primary answered after the replica missed: {d:?}"
    );

    // The write's position, as header and as cookie: read-your-writes
    // without a tag, and in a list.
    let r = occ_tests::http(
        b,
        "GET",
        "/profiles/9001",
        &[("occ-read-after", &token)],
        "",
    )
    .await;
    assert_eq!(
        (r.status, version_of(r.header("etag"))),
        (200, Some(1)),
        "{}",
        r.text()
    );
    let updated = occ_tests::http(
        a,
        "PUT",
        "/profiles/9001",
        &[("content-type", "application/json"), ("if-match", &v1)],
        r#"{"city":"two"}"#,
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    let token = updated.header("occ-read-after").unwrap().to_owned();
    let cookie = format!("occ_read_after={token}");
    let r = occ_tests::http(b, "GET", "/profiles/9001", &[("cookie", &cookie)], "").await;
    assert_eq!(
        (r.status, version_of(r.header("etag"))),
        (200, Some(2)),
        "read-your-writes by the cookie: {}",
        r.text()
    );
    let r = occ_tests::http(
        b,
        "GET",
        "/profiles?limit=1000",
        &[("occ-read-after", &token)],
        "",
    )
    .await;
    let listed = r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == 9001)
        .map(|i| version_of(i["etag"].as_str()));
    assert_eq!(
        listed,
        Some(Some(2)),
        "the list after the write: {}",
        r.text()
    );

    // A 304 from a replica only when its version is the client's.
    caught_up(cluster).await;
    let v2 = tag(9001, 2);
    let before = stats(&pair);
    let (r, sent) = statements_of(occ_tests::http(
        b,
        "GET",
        "/profiles/9001",
        &[("if-none-match", &v2)],
        "",
    ))
    .await;
    assert_eq!(r.status, 304);
    let d = minus(stats(&pair), before);
    assert_eq!((d.replica_reads, d.primary_after_miss), (1, 0), "{d:?}");
    assert_eq!(
        sent,
        (1, 0),
        "a conditional read on a replica is one statement"
    );
    // With the position of the last write: one statement too, once the
    // replica is known to have replayed it (each replica is asked once,
    // in rotation, or learns it from a health check).
    for _ in 0..2 {
        let r = occ_tests::http(
            b,
            "GET",
            "/profiles/9001",
            &[("if-none-match", &v2), ("occ-read-after", &token)],
            "",
        )
        .await;
        assert_eq!(r.status, 304);
    }
    let (r, sent) = statements_of(occ_tests::http(
        b,
        "GET",
        "/profiles/9001",
        &[("if-none-match", &v2), ("occ-read-after", &token)],
        "",
    ))
    .await;
    assert_eq!(r.status, 304);
    assert_eq!(
        sent,
        (1, 0),
        "a read with a reached position is one statement"
    );
    let updated = occ_tests::http(
        a,
        "PUT",
        "/profiles/9001",
        &[("content-type", "application/json"), ("if-match", &v2)],
        r#"{"city":"three"}"#,
    )
    .await;
    assert_eq!(updated.status, 200);
    let v3 = tag(9001, 3);
    let token = updated.header("occ-read-after").unwrap().to_owned();
    // At once, v3 presented: the replicas are still at v2, so the primary
    // answers; with the write's position, after one check of the
    // replica's replay position.
    let before = stats(&pair);
    let r = occ_tests::http(b, "GET", "/profiles/9001", &[("if-none-match", &v3)], "").await;
    assert_eq!(
        (r.status, r.header("etag")),
        (304, Some(v3.as_str())),
        "v3 presented, the replica still at v2"
    );
    let d = minus(stats(&pair), before);
    assert_eq!((d.replica_reads, d.primary_after_miss), (0, 1), "{d:?}");
    let (r, sent) = statements_of(occ_tests::http(
        b,
        "GET",
        "/profiles/9001",
        &[("if-none-match", &v3), ("occ-read-after", &token)],
        "",
    ))
    .await;
    assert_eq!(r.status, 304);
    assert_eq!(
        sent,
        (1, 1),
        "a position the replica is not known to have: one check, then the primary's read"
    );

    // If-Match on a GET is decided on the primary.
    let r = occ_tests::http(b, "GET", "/profiles/9001", &[("if-match", &v3)], "").await;
    assert_eq!(r.status, 200, "{}", r.text());

    // FloorMiss::Unavailable: 503 with Retry-After.
    let refusing = servers(
        cluster,
        1,
        &ReplicaOptions::new().on_floor_miss(FloorMiss::Unavailable {
            retry_after: Duration::from_secs(1),
        }),
    )
    .await;
    let updated = occ_tests::http(
        refusing[0].addr,
        "PUT",
        "/profiles/9001",
        &[("content-type", "application/json"), ("if-match", &v3)],
        r#"{"city":"four"}"#,
    )
    .await;
    assert_eq!(updated.status, 200);
    let v4 = tag(9001, 4);
    let r = occ_tests::http(
        refusing[0].addr,
        "GET",
        "/profiles/9001",
        &[("if-none-match", &v4)],
        "",
    )
    .await;
    assert_eq!(
        (r.status, r.header("retry-after")),
        (503, Some("1")),
        "{}",
        r.text()
    );

    // A write under an Idempotency-Key commits with its recorded answer:
    // its position is taken after that, and its replay hands one out too.
    let keyed = servers_with_keys(cluster, &options).await;
    let key = [
        ("content-type", "application/json"),
        ("if-match", v4.as_str()),
        ("idempotency-key", "\"replicas-focused-1\""),
    ];
    let first = occ_tests::http(keyed, "PUT", "/profiles/9001", &key, r#"{"city":"five"}"#).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let token = first
        .header("occ-read-after")
        .expect("a keyed write's position");
    let r = occ_tests::http(b, "GET", "/profiles/9001", &[("occ-read-after", token)], "").await;
    assert_eq!(
        (r.status, version_of(r.header("etag"))),
        (200, Some(5)),
        "read-your-writes after a keyed write: {}",
        r.text()
    );
    let again = occ_tests::http(keyed, "PUT", "/profiles/9001", &key, r#"{"city":"five"}"#).await;
    assert_eq!(
        (again.status, again.header("idempotent-replayed")),
        (200, Some("true")),
        "{}",
        again.text()
    );
    assert!(
        again.header("occ-read-after").is_some(),
        "a replayed write hands out a position"
    );

    // Lagging past the bound: out of rotation (reads on the primary, no
    // 5xx) while writes go on, back once the lag is gone.
    let strict = servers(
        cluster,
        1,
        &ReplicaOptions::new()
            .max_lag(Duration::from_millis(100))
            .check_every(Duration::from_millis(50)),
    )
    .await;
    let repo = strict[0].repo.clone();
    let in_rotation = move |n: usize| {
        let repo = repo.clone();
        move || repo.replica_stats().unwrap().in_rotation == n
    };
    // In rotation after the first check, then out as the lag shows.
    let (first, v) = churn(strict[0].addr, 5, in_rotation(2)).await;
    assert!(first, "the replicas never came into rotation");
    let (out, v) = churn(strict[0].addr, v, in_rotation(0)).await;
    assert!(
        out,
        "replicas 300 ms behind stay in rotation with max_lag 100 ms"
    );
    set_lag(cluster, Duration::ZERO).await;
    let (back, _) = churn(strict[0].addr, v, in_rotation(2)).await;
    assert!(back, "replicas caught up do not come back into rotation");
    let st = strict[0].repo.replica_stats().unwrap();
    assert!(st.taken_out >= 2 && st.primary_no_replica > 0, "{st:?}");

    caught_up(cluster).await;
    say(
        "replicas: focused checks passed (tag floor, token as header and cookie, list, 304, \
         one statement per conditional read, If-Match, 503 + Retry-After, lag past the bound)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_never_serve_the_past() {
    const TEST: &str = "replicas_never_serve_the_past";
    if let Some(reason) = missing_prerequisite() {
        return unavailable(TEST, &reason);
    }
    let started = Instant::now();
    let cluster = match tokio::task::spawn_blocking(|| Cluster::start(2))
        .await
        .unwrap()
    {
        Ok(c) => c,
        Err(e) => return unavailable(TEST, &format!("the test's PostgreSQL: {e}")),
    };
    let primary = sqlx::PgPool::connect(&cluster.primary.url()).await.unwrap();
    for ddl in [occ_examples::SCHEMA, occ_examples::TOMBSTONES_SCHEMA] {
        sqlx::query(ddl).execute(&primary).await.unwrap();
    }
    caught_up(&cluster).await;
    say(&format!(
        "replicas: cluster up in {:.1?}",
        started.elapsed()
    ));

    count_statements();
    focused(&cluster).await;

    let options = ReplicaOptions::new().check_every(Duration::from_millis(200));
    let pair = servers(&cluster, 2, &options).await;
    let tagged = Load {
        tagged: true,
        writes: 10,
        duration: PHASE,
    };
    let mut rows = Vec::new();
    rows.push(run_phase("lag 0", &pair, 10_000, tagged, || async {}).await);
    set_lag(&cluster, LAG).await;
    rows.push(run_phase("lag 300 ms", &pair, 20_000, tagged, || async {}).await);
    let waiting = servers(
        &cluster,
        2,
        &options
            .clone()
            .on_floor_miss(FloorMiss::Wait(Duration::from_secs(1))),
    )
    .await;
    rows.push(
        run_phase(
            "lag 300 ms, wait <= 1 s",
            &waiting,
            30_000,
            tagged,
            || async {},
        )
        .await,
    );
    set_lag(&cluster, Duration::ZERO).await;
    let stopped = &cluster.replicas[1];
    rows.push(
        run_phase(
            "lag 0, replica 1 stopped",
            &pair,
            40_000,
            tagged,
            || async move {
                tokio::time::sleep(PHASE / 3).await;
                tokio::task::block_in_place(|| stopped.stop()).unwrap();
                tokio::time::sleep(PHASE / 3).await;
                tokio::task::block_in_place(|| stopped.start()).unwrap();
            },
        )
        .await,
    );
    // The stopped replica is back in rotation.
    let back = Instant::now();
    while stats(&pair).in_rotation < 4 && back.elapsed() < Duration::from_secs(10) {
        let _ = occ_tests::http(pair[0].addr, "GET", "/profiles/10000", &[], "").await;
        let _ = occ_tests::http(pair[1].addr, "GET", "/profiles/10000", &[], "").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stats(&pair).in_rotation,
        4,
        "the restarted replica is back in rotation on both servers"
    );
    let untagged = Load {
        tagged: false,
        writes: 10,
        duration: PHASE,
    };
    rows.push(
        run_phase(
            "lag 0, 90/10, no tags or tokens",
            &pair,
            50_000,
            untagged,
            || async {},
        )
        .await,
    );
    set_lag(&cluster, LAG).await;
    rows.push(
        run_phase(
            "lag 300 ms, 90/10, no tags or tokens",
            &pair,
            60_000,
            untagged,
            || async {},
        )
        .await,
    );

    // A promoted replica leaves the rotation.
    tokio::task::block_in_place(|| cluster.replicas[1].promote()).unwrap();
    let promoted = Instant::now();
    while stats(&pair).in_rotation > 2 && promoted.elapsed() < Duration::from_secs(10) {
        let _ = occ_tests::http(pair[0].addr, "GET", "/profiles/10000", &[], "").await;
        let _ = occ_tests::http(pair[1].addr, "GET", "/profiles/10000", &[], "").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stats(&pair).in_rotation,
        2,
        "the promoted replica is out of rotation"
    );

    say(&table(&rows));
    say(&format!("{TEST}: {:.1?} in all", started.elapsed()));
    for row in &rows {
        assert!(
            row.violations.is_empty(),
            "{}: {} violations: {:#?}",
            row.name,
            row.violations.len(),
            &row.violations[..row.violations.len().min(20)]
        );
        assert_eq!(row.server_errors, 0, "{}: 5xx answers", row.name);
        assert!(
            row.reads >= 100,
            "{}: too little load: {} reads",
            row.name,
            row.reads
        );
    }
    let no_tags = &rows[4];
    assert!(
        no_tags.share() >= 90.0,
        "{}: {:.1}% of the reads on replicas, under 90%",
        no_tags.name,
        no_tags.share()
    );
    assert!(
        rows[1].stats.primary_after_miss > 0,
        "lag 300 ms: no floor miss, so nothing was tested"
    );
    assert!(rows[2].stats.waits > 0, "the waiting phase never waited");
    assert!(
        rows[3].stats.taken_out > 0,
        "the stopped replica was never taken out of rotation"
    );
}
