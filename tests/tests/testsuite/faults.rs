//! Faults under load, against the real server as a separate process
//! (`occ-profiles-server`): clients do read-modify-write increments of one
//! profile's counter (kept in `city` as a number) with `If-Match` while
//!
//! - PostgreSQL terminates the server's connections several times
//!   (`pg_terminate_backend`, only the backends whose `application_name` is
//!   unique to the test, since other tests share the database): every answer
//!   is 200, 412, or 503 as `application/problem+json`, never another status
//!   nor a hang; the server recovers by itself once the kills stop; every
//!   write acknowledged with a 200 is in the database;
//! - the server process is killed with SIGKILL mid-load, on a SQLite file and
//!   on PostgreSQL, and a new process is started on the same database: every
//!   write acknowledged before the kill is there, the counter and the version
//!   agree, and the restarted service works.
//!
//! The PostgreSQL tests are skipped unless `OCC_TEST_POSTGRES_URL` is set
//! (and fail without it when `OCC_REQUIRE_POSTGRES=1`). By default each test
//! takes a few seconds (6 connection kills; 2 process kills); with
//! `OCC_LONG_TESTS=1` they run longer, with more clients and more kills
//! (40 connection kills; 8 process kills).
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use occ_tests::{Db, RawResponse};

/// An answer slower than this is a hang, and fails the test.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The profile the clients increment (created by the test, version 1).
const COUNTER_ID: i64 = 7001;

fn long() -> bool {
    std::env::var("OCC_LONG_TESTS").as_deref() == Ok("1")
}

/// An `occ-profiles-server` process, killed when dropped.
type Server = occ_tests::ServerProcess;

/// Starts one on a free port.
async fn start(database_url: &str) -> Server {
    Server::start(env!("CARGO_BIN_EXE_occ-profiles-server"), database_url).await
}

/// Why an exchange did not give a response.
#[derive(Debug)]
enum Failure {
    /// Connection refused, reset or closed before a whole response: what
    /// a killed server looks like.
    Broken(String),
    /// No answer within [`REQUEST_TIMEOUT`], or an answer that is no HTTP.
    Fatal(String),
}

/// Sends one request on a fresh connection (`Connection: close`) and reads
/// the whole response, as [`occ_tests::http`] does, but reports a broken
/// connection or a hang instead of panicking.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<RawResponse, Failure> {
    let what = format!("{method} {path} on {addr}");
    let exchange = async {
        let raw = occ_tests::exchange(addr, method, path, headers, body)
            .await
            .map_err(|e| Failure::Broken(format!("{what}: {e}")))?;
        occ_tests::parse_response(&raw, false).map_err(|e| {
            if raw.is_empty() {
                Failure::Broken(format!("{what}: closed without a response"))
            } else {
                Failure::Fatal(format!("{what}: {e}"))
            }
        })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(Failure::Fatal(format!(
                "{what}: no answer within {REQUEST_TIMEOUT:?}"
            )))
        })
}

/// The version in a `"prof-{id}-v{version}"` ETag.
fn etag_version(r: &RawResponse) -> Result<i64, String> {
    let etag = r.header("etag").ok_or("no ETag")?;
    etag.strip_prefix(&format!("\"prof-{COUNTER_ID}-v"))
        .and_then(|rest| rest.strip_suffix('"'))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("unexpected ETag {etag}"))
}

/// The counter kept in the profile's `city`.
fn counter(r: &RawResponse) -> Result<i64, String> {
    let body: serde_json::Value =
        serde_json::from_slice(&r.body).map_err(|e| format!("{e}: {}", r.text()))?;
    body["city"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no counter in {body}"))
}

/// A 503 must be a problem detail.
fn check_503(r: &RawResponse, what: &str) -> Result<(), String> {
    let problem: Option<serde_json::Value> = serde_json::from_slice(&r.body).ok();
    let status = problem.as_ref().map(|p| p["status"].clone());
    if r.header("content-type") == Some("application/problem+json")
        && status == Some(serde_json::json!(503))
    {
        Ok(())
    } else {
        Err(format!("{what}: 503 that is no problem+json: {r:?}"))
    }
}

/// What one GET + conditional PUT came to.
#[derive(Debug)]
enum Outcome {
    /// 200 at this version.
    Written(i64),
    /// 412.
    Conflict,
    /// 503 (only allowed where the database is being disturbed).
    Unavailable { put: bool },
    /// The connection broke (only allowed once the server is killed).
    Broken { put: bool, why: String },
}

/// One read-modify-write attempt. Any status but 200, 412 and (when
/// `allow_503`) 503 problem+json is an error, as is a hang.
async fn attempt(addr: SocketAddr, allow_503: bool) -> Result<Outcome, String> {
    let path = format!("/profiles/{COUNTER_ID}");
    let r = match send(addr, "GET", &path, &[], "").await {
        Ok(r) => r,
        Err(Failure::Broken(why)) => return Ok(Outcome::Broken { put: false, why }),
        Err(Failure::Fatal(why)) => return Err(why),
    };
    match r.status {
        200 => {}
        503 if allow_503 => {
            check_503(&r, "GET")?;
            return Ok(Outcome::Unavailable { put: false });
        }
        other => return Err(format!("GET {path} answered {other}: {}", r.text())),
    }
    let (version, count) = (etag_version(&r)?, counter(&r)?);
    let tag = format!("\"prof-{COUNTER_ID}-v{version}\"");
    let body = serde_json::json!({ "city": (count + 1).to_string() }).to_string();
    let headers = [("content-type", "application/json"), ("if-match", &tag)];
    let r = match send(addr, "PUT", &path, &headers, &body).await {
        Ok(r) => r,
        Err(Failure::Broken(why)) => return Ok(Outcome::Broken { put: true, why }),
        Err(Failure::Fatal(why)) => return Err(why),
    };
    match r.status {
        200 => {
            let saved = etag_version(&r)?;
            if saved != version + 1 || counter(&r)? != count + 1 {
                return Err(format!(
                    "PUT If-Match {tag} city {} answered {saved}: {}",
                    count + 1,
                    r.text()
                ));
            }
            Ok(Outcome::Written(saved))
        }
        412 if r.header("content-type") == Some("application/problem+json") => {
            Ok(Outcome::Conflict)
        }
        503 if allow_503 => {
            check_503(&r, "PUT")?;
            Ok(Outcome::Unavailable { put: true })
        }
        other => Err(format!("PUT If-Match {tag} answered {other}: {r:?}")),
    }
}

/// What the clients saw.
#[derive(Debug, Default)]
struct Tally {
    /// The version of every 200.
    acked: Vec<i64>,
    conflicts: u64,
    get_503: u64,
    put_503: u64,
    /// PUTs whose connection broke: they may or may not have committed.
    broken_puts: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.acked.extend(other.acked);
        self.conflicts += other.conflicts;
        self.get_503 += other.get_503;
        self.put_503 += other.put_503;
        self.broken_puts += other.broken_puts;
    }
}

/// `GET` the counter profile: (version, counter).
async fn read_counter(addr: SocketAddr) -> (i64, i64) {
    let r = send(addr, "GET", &format!("/profiles/{COUNTER_ID}"), &[], "")
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(r.status, 200, "{}", r.text());
    (etag_version(&r).unwrap(), counter(&r).unwrap())
}

/// Creates the counter profile; returns its (version, counter).
async fn create_counter(addr: SocketAddr) -> (i64, i64) {
    let r = send(
        addr,
        "POST",
        "/profiles",
        &[("content-type", "application/json")],
        &format!(r#"{{"id":{COUNTER_ID},"name":"counter","city":"0"}}"#),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(r.status, 201, "{}", r.text());
    read_counter(addr).await
}

/// Checks that the row holds every acknowledged write and is consistent:
/// the counter moved exactly as the version did, no two 200s claimed one
/// version, and at most the writes whose outcome the client could not know
/// (`ambiguous`) committed unacknowledged. Returns the committed writes.
fn check_durable(
    what: &str,
    initial: (i64, i64),
    now: (i64, i64),
    tally: &Tally,
    ambiguous: u64,
) -> i64 {
    let committed = now.0 - initial.0;
    let acked = i64::try_from(tally.acked.len()).unwrap();
    assert_eq!(
        now.1 - initial.1,
        committed,
        "{what}: the counter and the version disagree (lost or torn update)"
    );
    assert!(
        committed >= acked,
        "{what}: {acked} writes acknowledged, only {committed} in the database"
    );
    assert!(
        committed - acked <= i64::try_from(ambiguous).unwrap(),
        "{what}: {committed} writes committed, {acked} acknowledged, only {ambiguous} unanswered"
    );
    let mut versions = tally.acked.clone();
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(
        versions.len(),
        tally.acked.len(),
        "{what}: two 200s claimed one version"
    );
    assert!(
        versions.last().is_none_or(|&v| v <= now.0),
        "{what}: a 200 reported a version beyond the database's"
    );
    committed
}

/// `n` increments in a row from one client: each must be a 200.
async fn increments_succeed(addr: SocketAddr, n: usize, what: &str) -> Vec<i64> {
    let mut versions = Vec::new();
    for i in 0..n {
        match attempt(addr, false).await {
            Ok(Outcome::Written(v)) => versions.push(v),
            other => panic!("{what}: increment {i} of {n} after recovery: {other:?}"),
        }
    }
    versions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn postgres_connections_killed_mid_load() {
    let test = "postgres_connections_killed_mid_load";
    let Some((service_url, database)) = occ_tests::example_database(Db::Postgres, test).await
    else {
        return;
    };
    let url = database.server_url();
    let (clients, kills, every) = if long() {
        (12, 40, Duration::from_millis(250))
    } else {
        (6, 6, Duration::from_millis(300))
    };
    let started = Instant::now();
    // The schema's name is unique to this test run: it names the
    // service's connections, and only those are terminated.
    let app_name = database.name();
    let server = start(&service_url).await;
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let server_backends: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = $1",
    )
    .bind(&app_name)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(
        server_backends > 0,
        "the server's connections do not carry application_name={app_name}"
    );
    let initial = create_counter(server.addr).await;

    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (addr, stop) = (server.addr, stop.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while !stop.load(Ordering::Relaxed) {
                    match attempt(addr, true).await? {
                        Outcome::Written(v) => tally.acked.push(v),
                        Outcome::Conflict => tally.conflicts += 1,
                        Outcome::Unavailable { put: false } => tally.get_503 += 1,
                        Outcome::Unavailable { put: true } => tally.put_503 += 1,
                        Outcome::Broken { why, .. } => return Err(why),
                    }
                }
                Ok::<_, String>(tally)
            })
        })
        .collect();

    let mut terminated = Vec::new();
    for _ in 0..kills {
        tokio::time::sleep(every).await;
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (
                 SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
                  WHERE datname = current_database()
                    AND pid <> pg_backend_pid()
                    AND application_name = $1
             ) AS k WHERE done",
        )
        .bind(&app_name)
        .fetch_one(&admin)
        .await
        .unwrap();
        terminated.push(n);
    }
    // The load goes on a little after the last kill, then stops.
    tokio::time::sleep(every).await;
    stop.store(true, Ordering::Relaxed);
    let mut tally = Tally::default();
    let mut errors = Vec::new();
    for handle in handles {
        match handle.await.unwrap() {
            Ok(t) => tally.add(t),
            Err(e) => errors.push(e),
        }
    }
    assert!(errors.is_empty(), "clients failed: {errors:#?}");

    // Recovered by itself: every request succeeds again.
    let recovered = increments_succeed(server.addr, 20, "postgres").await;
    let now = read_counter(server.addr).await;
    let mut all = Tally {
        acked: tally.acked.clone(),
        ..Tally::default()
    };
    all.acked.extend(&recovered);
    let committed = check_durable("postgres kills", initial, now, &all, tally.put_503);
    eprintln!(
        "postgres, {clients} clients, {kills} kill rounds terminating {terminated:?} connections: \
         {} writes acknowledged ({} after the kills), {committed} found; {} conflicts (412), \
         {} GET 503s, {} PUT 503s; {:.1?}",
        all.acked.len(),
        recovered.len(),
        tally.conflicts,
        tally.get_503,
        tally.put_503,
        started.elapsed()
    );
    assert!(
        terminated.iter().all(|&n| n > 0),
        "a kill round found no connection of the server: {terminated:?}"
    );
    assert!(
        tally.acked.len() > kills,
        "too little load to prove anything: {} writes",
        tally.acked.len()
    );
    let mut server = server;
    server.assert_alive();
    drop(server);
    admin.close().await;
}

/// Clients increment while the server process is killed with SIGKILL and
/// restarted on the same database, `cycles` times.
async fn server_killed_mid_load(database_url: &str, backend: &str) {
    let (clients, cycles, writes_before_kill) = if long() { (12, 8, 300) } else { (6, 2, 100) };
    let started = Instant::now();
    let mut server = start(database_url).await;
    let initial = create_counter(server.addr).await;
    let mut tally = Tally::default();
    for cycle in 0..cycles {
        let killed = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let (addr, killed, written) = (server.addr, killed.clone(), written.clone());
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    loop {
                        match attempt(addr, false).await? {
                            Outcome::Written(v) => {
                                tally.acked.push(v);
                                written.fetch_add(1, Ordering::Relaxed);
                            }
                            Outcome::Conflict => tally.conflicts += 1,
                            Outcome::Broken { put, why } => {
                                if !killed.load(Ordering::SeqCst) {
                                    return Err(format!("before the kill: {why}"));
                                }
                                tally.broken_puts += u64::from(put);
                                return Ok(tally);
                            }
                            Outcome::Unavailable { .. } => unreachable!("503 refused by attempt"),
                        }
                    }
                })
            })
            .collect();
        // Kill in the middle of the load, at a point that varies.
        let deadline = Instant::now() + Duration::from_secs(15);
        let target = writes_before_kill + 7 * cycle;
        while written.load(Ordering::Relaxed) < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        killed.store(true, Ordering::SeqCst);
        let status = server.kill();
        {
            use std::os::unix::process::ExitStatusExt as _;
            assert_eq!(status.signal(), Some(9), "{backend}: {status:?}");
        }
        let mut errors = Vec::new();
        for handle in handles {
            match tokio::time::timeout(Duration::from_secs(20), handle).await {
                Ok(joined) => match joined.unwrap() {
                    Ok(t) => tally.add(t),
                    Err(e) => errors.push(e),
                },
                Err(_) => errors.push("a client did not stop after the kill".into()),
            }
        }
        assert!(errors.is_empty(), "{backend}: clients failed: {errors:#?}");

        // A new process on the same database has every acknowledged write.
        server = start(database_url).await;
        let now = read_counter(server.addr).await;
        let what = format!("{backend}, after kill {}", cycle + 1);
        let committed = check_durable(&what, initial, now, &tally, tally.broken_puts);
        eprintln!(
            "{what}: {} writes acknowledged, {committed} found, {} PUTs cut off, {} conflicts",
            tally.acked.len(),
            tally.broken_puts,
            tally.conflicts
        );
        assert!(
            written.load(Ordering::Relaxed) >= target,
            "{backend}: the load stalled before the kill"
        );
    }
    // And the restarted service works.
    let after = increments_succeed(server.addr, 10, backend).await;
    let now = read_counter(server.addr).await;
    tally.acked.extend(after);
    let committed = check_durable(backend, initial, now, &tally, tally.broken_puts);
    eprintln!(
        "{backend}, {clients} clients, {cycles} SIGKILLs: {} writes acknowledged, {committed} found \
         (version {} -> {}), {} PUTs cut off by the kills, {} conflicts; {:.1?}",
        tally.acked.len(),
        initial.0,
        now.0,
        tally.broken_puts,
        tally.conflicts,
        started.elapsed()
    );
    server.assert_alive();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_load_sqlite_file() {
    let test = "server_killed_mid_load_sqlite_file";
    let (url, _drop) = occ_tests::example_database(Db::Sqlite, test)
        .await
        .expect("SQLite needs no URL");
    server_killed_mid_load(&url, "sqlite").await;
    // The file is intact after the crashes.
    let pool = occ_core::repository::sql::sqlite_pool(&url).await.unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn server_killed_mid_load_postgres() {
    let test = "server_killed_mid_load_postgres";
    let Some((url, _drop)) = occ_tests::example_database(Db::Postgres, test).await else {
        return;
    };
    server_killed_mid_load(&url, "postgres").await;
}
