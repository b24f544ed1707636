//! Several server processes on one database: three `occ-profiles-server`
//! processes share one PostgreSQL schema (and, separately, one MariaDB/MySQL
//! database, one SQLite file), and client tasks spread round-robin across them do read-modify-
//! write increments of one profile's counter (kept in `city` as a number)
//! with `If-Match`, retrying on 412. No update may be lost: every 200 is one
//! version increment and one counter increment, and conflicts must happen.
//!
//! The PostgreSQL test is skipped unless `OCC_TEST_POSTGRES_URL` is set
//! (and fails without it when `OCC_REQUIRE_POSTGRES=1`), the MariaDB one
//! unless `OCC_TEST_MYSQL_URL` is set (`OCC_REQUIRE_MYSQL=1`). By default each
//! test runs 12 clients × 25 increments (a few seconds); `OCC_LONG_TESTS=1`
//! runs 24 clients × 100 increments.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use occ_tests::{Db, RawResponse};

/// How long one request may take before the test calls it a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts (GET + conditional PUT) allowed for one increment.
const MAX_ATTEMPTS: u32 = 200;
/// The servers sharing one database.
const SERVERS: usize = 3;
/// The profile the clients increment (created by the test, version 1).
const COUNTER_ID: i64 = 9001;

fn long() -> bool {
    std::env::var("OCC_LONG_TESTS").as_deref() == Ok("1")
}

/// An `occ-profiles-server` process, killed when dropped.
type Server = occ_tests::ServerProcess;

/// Starts one on a free port.
async fn start(database_url: &str) -> Server {
    Server::start(env!("CARGO_BIN_EXE_occ-profiles-server"), database_url).await
}

/// Sends one request on a fresh connection (`Connection: close`) and reads
/// the whole response, as [`occ_tests::http`] does, but reports a broken
/// connection, a malformed response or a hang as an error.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<RawResponse, String> {
    let exchange = async {
        let raw = occ_tests::exchange(addr, method, path, headers, body).await?;
        occ_tests::parse_response(&raw, false)
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
        Ok(result) => result.map_err(|e| format!("{method} {path} on {addr}: {e}")),
        Err(_) => Err(format!(
            "{method} {path} on {addr}: no answer within {REQUEST_TIMEOUT:?}"
        )),
    }
}

/// The version in a `"prof-{id}-v{version}"` ETag.
fn etag_version(r: &RawResponse, id: i64) -> Result<i64, String> {
    let etag = r.header("etag").ok_or("no ETag")?;
    etag.strip_prefix(&format!("\"prof-{id}-v"))
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

/// `GET` the counter profile: (version, counter).
async fn read_counter(addr: SocketAddr) -> Result<(i64, i64), String> {
    let r = send(addr, "GET", &format!("/profiles/{COUNTER_ID}"), &[], "").await?;
    if r.status != 200 {
        return Err(format!("GET answered {}: {}", r.status, r.text()));
    }
    Ok((etag_version(&r, COUNTER_ID)?, counter(&r)?))
}

/// What the clients saw.
#[derive(Debug, Default)]
struct Tally {
    writes: u64,
    conflicts: u64,
    /// The version of every 200, to prove no two writes claimed the same one.
    acked_versions: Vec<i64>,
}

/// A small xorshift for retry jitter, seeded per client.
fn jitter(state: &mut u64, attempt: u32) -> Duration {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    let cap = 200 * u64::from(attempt.min(10));
    Duration::from_micros(*state % cap.max(1))
}

/// One read-modify-write increment, retried on 412.
async fn increment(addr: SocketAddr, tally: &mut Tally, seed: &mut u64) -> Result<(), String> {
    let path = format!("/profiles/{COUNTER_ID}");
    for attempt in 1..=MAX_ATTEMPTS {
        let (version, count) = read_counter(addr).await?;
        let tag = format!("\"prof-{COUNTER_ID}-v{version}\"");
        let body = serde_json::json!({ "city": (count + 1).to_string() }).to_string();
        let r = send(
            addr,
            "PUT",
            &path,
            &[("content-type", "application/json"), ("if-match", &tag)],
            &body,
        )
        .await?;
        match r.status {
            200 => {
                let saved = etag_version(&r, COUNTER_ID)?;
                if saved != version + 1 || counter(&r)? != count + 1 {
                    return Err(format!(
                        "PUT If-Match {tag} city {} answered {saved}: {}",
                        count + 1,
                        r.text()
                    ));
                }
                tally.writes += 1;
                tally.acked_versions.push(saved);
                return Ok(());
            }
            412 => {
                if r.header("content-type") != Some("application/problem+json") {
                    return Err(format!("412 without problem+json: {r:?}"));
                }
                tally.conflicts += 1;
                tokio::time::sleep(jitter(seed, attempt)).await;
            }
            other => return Err(format!("PUT If-Match {tag} answered {other}: {}", r.text())),
        }
    }
    Err(format!("no increment after {MAX_ATTEMPTS} attempts"))
}

/// Starts [`SERVERS`] processes at once on `database_url` (all of them
/// race to create the schema on a new database, and all must come up),
/// creates the counter, runs the clients and checks that no update was
/// lost.
async fn contend(database_url: &str, backend: &str) {
    let (clients, increments) = if long() { (24, 100) } else { (12, 25) };
    let started = Instant::now();
    let mut starting = Vec::new();
    for _ in 0..SERVERS {
        let url = database_url.to_owned();
        starting.push(tokio::spawn(async move { start(&url).await }));
    }
    let mut servers = Vec::new();
    for server in starting {
        servers.push(server.await.expect("a server starts"));
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();

    let created = send(
        addrs[0],
        "POST",
        "/profiles",
        &[("content-type", "application/json")],
        &format!(r#"{{"id":{COUNTER_ID},"name":"counter","city":"0"}}"#),
    )
    .await
    .unwrap();
    assert_eq!(created.status, 201, "{}", created.text());
    let (initial_version, initial_count) = read_counter(addrs[1]).await.unwrap();
    assert_eq!(initial_count, 0);

    let handles: Vec<_> = (0..clients)
        .map(|i: u64| {
            let addr = addrs[usize::try_from(i).unwrap() % SERVERS];
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (i + 1);
                for _ in 0..increments {
                    increment(addr, &mut tally, &mut seed).await?;
                }
                Ok::<_, String>(tally)
            })
        })
        .collect();
    let mut total = Tally::default();
    let mut errors = Vec::new();
    for handle in handles {
        match handle.await.unwrap() {
            Ok(tally) => {
                total.writes += tally.writes;
                total.conflicts += tally.conflicts;
                total.acked_versions.extend(tally.acked_versions);
            }
            Err(e) => errors.push(e),
        }
    }
    assert!(errors.is_empty(), "{backend}: clients failed: {errors:#?}");
    for server in &mut servers {
        server.assert_alive();
    }

    let (final_version, final_count) = read_counter(addrs[2]).await.unwrap();
    eprintln!(
        "{backend}, {SERVERS} servers, {clients} clients x {increments}: {} writes, {} conflicts (412), \
         version {initial_version} -> {final_version}, counter {final_count}, {:.1?}",
        total.writes,
        total.conflicts,
        started.elapsed()
    );
    let expected = clients * increments;
    assert_eq!(total.writes, expected, "{backend}: successful writes");
    assert_eq!(
        final_version,
        initial_version + i64::try_from(total.writes).unwrap(),
        "{backend}: final version != initial + successful writes"
    );
    assert_eq!(
        final_count,
        i64::try_from(expected).unwrap(),
        "{backend}: lost update"
    );
    let mut versions = total.acked_versions.clone();
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(
        versions.len(),
        total.acked_versions.len(),
        "{backend}: two 200s claimed the same version"
    );
    assert!(
        total.conflicts > 0,
        "{backend}: no conflict happened, the test proved nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn three_servers_one_postgres_database() {
    let test = "three_servers_one_postgres_database";
    let Some((url, _drop)) = occ_tests::example_database(Db::Postgres, test).await else {
        return;
    };
    contend(&url, "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn three_servers_one_mysql_database() {
    let test = "three_servers_one_mysql_database";
    let Some((url, _drop)) = occ_tests::example_database(Db::MariaDb, test).await else {
        return;
    };
    contend(&url, "mysql").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_one_sqlite_file() {
    let (url, _drop) = occ_tests::example_database(Db::Sqlite, "three_servers_one_sqlite_file")
        .await
        .expect("SQLite needs no URL");
    contend(&url, "sqlite").await;
}
