//! Faults between the servers and the database, on a network of the
//! test's own (issue 12).
//!
//! The test builds network namespaces joined by a bridge (see
//! `netfaults/net.rs`): one holds a PostgreSQL 15 it starts itself
//! (`netfaults/postgres.rs`), three hold one `occ-profiles-server` each,
//! and the test process reaches them all over the bridge. Clients do
//! read-modify-write updates through all three servers (GET for the ETag,
//! PUT with `If-Match` and an `Idempotency-Key` per logical write, the same
//! request retried with the same key after a timeout, a broken
//! connection, a 5xx or a 409, possibly on another server; a 412 starts a
//! new logical write from a new read), while one fault at a time is
//! applied to the links between the servers and the database:
//!
//! - partition: one server cut off from the database (nftables `drop` in
//!   its namespace) for a few seconds;
//! - one way: only what the database sends to that server is dropped, so
//!   its writes commit and their answers are lost (what Idempotency-Key is
//!   for: the retry must get the 2xx, not a 412);
//! - lost answers (on the client side of one server, not the database's):
//!   every answer of that server dropped, so that each write it receives
//!   commits unacknowledged and is retried elsewhere;
//! - loss: 5% of the packets between every server and the database
//!   dropped (`numgen random mod 100 < 5`);
//! - latency: 50 ms ± 20 each way, through a delaying TCP proxy inside the
//!   test (`netfaults/proxy.rs`; the kernel has no netem);
//! - restart: PostgreSQL stopped (`pg_ctl -m fast stop`) and started again
//!   (three times in the long run).
//!
//! Every request and response is recorded, and the checker
//! (`netfaults/history.rs`) holds the final database state against that
//! history: every acknowledged write is there, at the version its 2xx
//! named; the versions form one chain with no gap; no write is applied
//! twice; 5xx answers only within a fault window (plus [`GRACE`]); and each
//! affected server answers a 2xx again within [`RECOVERY_BOUND`] of the
//! fault's end. A table of the figures per fault is printed on stderr
//! (outside libtest's capture).
//!
//! `pgbouncer_transaction_pooling` runs the same load through pgbouncer
//! 1.18 in transaction pooling mode.
//!
//! Root, `ip netns`, nftables and PostgreSQL 15's `initdb` are needed
//! (`.ci/netfaults-deps` installs nftables and pgbouncer): without them
//! the tests say why and pass, or fail when `OCC_REQUIRE_NETFAULTS=1`.
//! Short by default (about a minute); `OCC_LONG_TESTS=1` runs longer
//! windows with more clients.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step is the test failing

#[path = "netfaults/history.rs"]
mod history;
#[path = "netfaults/net.rs"]
mod net;
#[path = "netfaults/postgres.rs"]
mod postgres;
#[path = "netfaults/proxy.rs"]
mod proxy;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use history::{Outcome, Record, Report, State, Window};
use net::Net;
use occ_tests::process::Rng;
use postgres::Postgres;

/// A request unanswered for this long is given up (and retried).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// A 5xx answered to a request that overlapped a fault window extended by
/// this much counts as inside it: a request sent just before the fault is
/// lifted may fail a little after.
const GRACE: Duration = Duration::from_secs(3);
/// Each affected server must answer a 2xx within this time of the end of
/// a fault.
const RECOVERY_BOUND: Duration = Duration::from_secs(10);
/// The idempotency lease given to the servers (`OCC_IDEMPOTENCY_LEASE_MS`):
/// a key held by a server cut off from the database is free again after it.
const LEASE_MS: u64 = 5000;
/// The servers' port, each in its own namespace.
const SERVER_PORT: u16 = 8080;
const SERVERS: usize = 3;

fn long() -> bool {
    std::env::var("OCC_LONG_TESTS").as_deref() == Ok("1")
}

/// Writes on stderr without libtest's capture, so that the figures and
/// the reason for a skip show in a normal `cargo test` run.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// What this machine lacks for the tests, if anything.
fn missing_prerequisite() -> Option<String> {
    match net::run("id", &["-u"]) {
        Ok(uid) if uid.trim() == "0" => {}
        _ => return Some("not running as root (network namespaces need it)".into()),
    }
    let initdb = format!("{}/initdb", postgres::BIN);
    if !std::path::Path::new(&initdb).exists() {
        return Some(format!("no {initdb} (PostgreSQL 15)"));
    }
    if let Err(e) = postgres::postgres_ids() {
        return Some(format!("no postgres user: {e}"));
    }
    for (tool, args) in [("nft", ["--version"]), ("setpriv", ["--version"])] {
        if let Err(e) = net::run(tool, &args) {
            return Some(format!("{tool} unavailable: {e}"));
        }
    }
    None
}

/// `None` (after saying why) when the tests cannot run here; a failure
/// instead when `OCC_REQUIRE_NETFAULTS=1`.
fn unavailable(test: &str, reason: &str) {
    assert!(
        std::env::var("OCC_REQUIRE_NETFAULTS").as_deref() != Ok("1"),
        "{test}: OCC_REQUIRE_NETFAULTS=1 but {reason}"
    );
    say(&format!("{test}: skipped, {reason}"));
}

/// The tests take turns: their timings should not depend on each other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The network, the database, and the place for the servers' logs.
struct Lab {
    // Dropped in this order: the database before its namespace.
    pg: Postgres,
    net: Net,
    logs: std::path::PathBuf,
}

impl Lab {
    fn new() -> Result<Lab, String> {
        let roles: Vec<String> = std::iter::once("db".to_owned())
            .chain((0..SERVERS).map(|i| format!("s{i}")))
            .collect();
        let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
        let net = Net::create(&roles)?;
        // nftables works in a namespace (the kernel has nf_tables).
        net.nft(
            "s0",
            "table inet occ_probe {}\ndelete table inet occ_probe\n",
        )?;
        let pg = Postgres::start(&net, "db")?;
        let logs = std::env::temp_dir().join(occ_tests::unique_name("occ_netfaults_logs"));
        std::fs::create_dir(&logs).map_err(|e| e.to_string())?;
        Ok(Lab { pg, net, logs })
    }

    fn server_addr(&self, i: usize) -> SocketAddr {
        SocketAddr::new(self.net.addr(&format!("s{i}")).into(), SERVER_PORT)
    }

    /// Starts the three servers on `database_url`, or says why one did
    /// not start (with what it wrote on stderr).
    async fn start_servers(
        &self,
        database_url: &str,
    ) -> Result<Vec<occ_tests::ServerProcess>, String> {
        let mut servers = Vec::new();
        for i in 0..SERVERS {
            let log = self.logs.join(occ_tests::unique_name(&format!("s{i}")));
            let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
            let mut command = self
                .net
                .command(&format!("s{i}"), env!("CARGO_BIN_EXE_occ-profiles-server"));
            command
                .env("LISTEN_ADDR", self.server_addr(i).to_string())
                .env("DATABASE_URL", database_url)
                .env("OCC_IDEMPOTENCY_LEASE_MS", LEASE_MS.to_string())
                .env_remove("RUST_LOG")
                .stderr(file);
            let started =
                tokio::task::spawn_blocking(move || occ_tests::ServerProcess::spawn(command))
                    .await
                    .unwrap();
            match started {
                Ok(server) => servers.push(server),
                Err(e) => {
                    let said = std::fs::read_to_string(&log).unwrap_or_default();
                    return Err(format!("server {i}: {e}: {}", said.trim()));
                }
            }
        }
        Ok(servers)
    }

    /// Waits until PostgreSQL has no session from the servers' addresses:
    /// after the servers are killed, nothing they sent can still commit.
    async fn wait_sessions_gone(&self) -> Result<(), String> {
        let admin = self.admin().await?;
        let addrs: Vec<String> = (0..SERVERS)
            .map(|i| self.net.addr(&format!("s{i}")).to_string())
            .collect();
        let started = Instant::now();
        loop {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE host(client_addr) = ANY($1)",
            )
            .bind(&addrs)
            .fetch_one(&admin)
            .await
            .map_err(|e| e.to_string())?;
            if n == 0 {
                admin.close().await;
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!("{n} sessions of killed servers still open"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn admin(&self) -> Result<sqlx::PgPool, String> {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&Postgres::url(self.pg.addr))
            .await
            .map_err(|e| format!("connect to the test's PostgreSQL: {e}"))
    }

    /// The profiles' versions and lists, read from the database itself.
    async fn final_states(&self, ids: &[i64]) -> Result<BTreeMap<i64, State>, String> {
        let admin = self.admin().await?;
        let rows: Vec<(i64, i64, String)> =
            sqlx::query_as("SELECT id, version, city FROM profiles WHERE id = ANY($1)")
                .bind(ids)
                .fetch_all(&admin)
                .await
                .map_err(|e| e.to_string())?;
        admin.close().await;
        Ok(rows
            .into_iter()
            .map(|(id, version, city)| {
                (
                    id,
                    State {
                        version,
                        list: markers(&city),
                    },
                )
            })
            .collect())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.logs);
    }
}

fn markers(city: &str) -> Vec<String> {
    city.split_whitespace().map(str::to_owned).collect()
}

/// Sends one request with a timeout; the outcome as the history keeps it.
async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (Outcome, Option<occ_tests::RawResponse>) {
    let sent = tokio::time::timeout(
        REQUEST_TIMEOUT,
        occ_tests::exchange(addr, method, path, headers, body),
    )
    .await;
    let raw = match sent {
        Err(_) => return (Outcome::Timeout, None),
        Ok(Err(e)) => return (Outcome::Broken(e), None),
        Ok(Ok(raw)) => raw,
    };
    let response = match occ_tests::parse_response(&raw, false) {
        Ok(r) => r,
        Err(e) => return (Outcome::Broken(e), None),
    };
    let version = response.header("etag").and_then(|etag| {
        etag.trim_matches('"')
            .rsplit_once("-v")
            .and_then(|(_, v)| v.parse().ok())
    });
    let list = if (200..300).contains(&response.status) {
        serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|b| b["city"].as_str().map(markers))
    } else {
        None
    };
    let outcome = Outcome::Response {
        status: response.status,
        version,
        list,
        replayed: response.header("idempotent-replayed") == Some("true"),
    };
    (outcome, Some(response))
}

/// What the clients share.
struct Shared {
    servers: Vec<SocketAddr>,
    resources: Vec<i64>,
    /// A tag unique to the run, in every Idempotency-Key.
    run: String,
    stop: AtomicBool,
    /// Past this, a client gives up the write it is retrying.
    give_up_after: Duration,
    t0: Instant,
    /// Per server: the instant (µs after t0) of its latest 2xx.
    last_ok: Vec<AtomicU64>,
    /// The details of 5xx answers and the reasons of broken exchanges,
    /// counted, for the report.
    errors: Mutex<BTreeMap<String, usize>>,
}

impl Shared {
    fn note(&self, server: usize, outcome: &Outcome, response: Option<&occ_tests::RawResponse>) {
        if let Outcome::Broken(why) = outcome {
            *self
                .errors
                .lock()
                .unwrap()
                .entry(format!("no answer: {why}"))
                .or_default() += 1;
        }
        if let Outcome::Response { status, .. } = outcome {
            if (200..300).contains(status) {
                let at = u64::try_from(self.t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.last_ok[server].fetch_max(at, Ordering::Relaxed);
            } else if *status >= 500 {
                let detail = response.map_or_else(String::new, |r| {
                    serde_json::from_slice::<serde_json::Value>(&r.body)
                        .ok()
                        .and_then(|b| b["detail"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| {
                            let text = r.text();
                            format!("{:?}", text.get(..120).unwrap_or(&text))
                        })
                });
                *self
                    .errors
                    .lock()
                    .unwrap()
                    .entry(format!("{status} {detail}"))
                    .or_default() += 1;
            }
        }
    }

    fn ok_since(&self, server: usize, since: Instant) -> bool {
        let at = u64::try_from((since - self.t0).as_micros()).unwrap_or(u64::MAX);
        self.last_ok[server].load(Ordering::Relaxed) >= at
    }
}

/// One client: logical writes until told to stop, then the one in hand
/// until it has a definite answer (or [`Shared::give_up_after`]).
async fn client(id: usize, shared: Arc<Shared>) -> Vec<Record> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ (id as u64 + 1).wrapping_mul(0x9e37_79b9));
    let mut records = Vec::new();
    let mut seq = 0u32;
    while !shared.stop.load(Ordering::Relaxed) {
        let resource = shared.resources[rng.below(shared.resources.len())];
        let path = format!("/profiles/{resource}");
        let server = rng.below(shared.servers.len());
        let start = Instant::now();
        let (outcome, response) = exchange(shared.servers[server], "GET", &path, &[], "").await;
        shared.note(server, &outcome, response.as_ref());
        let read = match &outcome {
            Outcome::Response {
                status: 200,
                version: Some(v),
                list: Some(list),
                ..
            } => Some((*v, list.clone())),
            _ => None,
        };
        records.push(Record {
            server,
            method: "GET",
            resource,
            write: None,
            attempt: 0,
            base: None,
            start,
            end: Instant::now(),
            outcome,
        });
        let Some((base, mut list)) = read else {
            tokio::time::sleep(rng.jitter(Duration::from_millis(100))).await;
            continue;
        };
        seq += 1;
        let write = format!("c{id}.{seq}");
        list.push(write.clone());
        let body = serde_json::json!({ "city": list.join(" ") }).to_string();
        let key = format!("\"{}-{write}\"", shared.run);
        let tag = format!("\"prof-{resource}-v{base}\"");
        let headers = [
            ("content-type", "application/json"),
            ("if-match", tag.as_str()),
            ("idempotency-key", key.as_str()),
        ];
        let mut attempt = 0;
        let mut server = rng.below(shared.servers.len());
        let mut stopped_at: Option<Instant> = None;
        loop {
            attempt += 1;
            let start = Instant::now();
            let (outcome, response) =
                exchange(shared.servers[server], "PUT", &path, &headers, &body).await;
            shared.note(server, &outcome, response.as_ref());
            let status = match &outcome {
                Outcome::Response { status, .. } => Some(*status),
                _ => None,
            };
            records.push(Record {
                server,
                method: "PUT",
                resource,
                write: Some(write.clone()),
                attempt,
                base: Some(base),
                start,
                end: Instant::now(),
                outcome,
            });
            let pause = match status {
                Some(200..=299 | 412) => break,
                Some(409) => {
                    let after = response
                        .as_ref()
                        .and_then(|r| r.header("retry-after"))
                        .and_then(|s| s.parse::<u64>().ok())
                        .map_or(Duration::from_millis(500), Duration::from_secs);
                    rng.jitter(after.min(Duration::from_secs(1)))
                }
                Some(500..=599) | None => rng.jitter(Duration::from_millis(100)),
                Some(_) => break,
            };
            if shared.stop.load(Ordering::Relaxed) {
                let since = *stopped_at.get_or_insert_with(Instant::now);
                if since.elapsed() > shared.give_up_after {
                    break;
                }
            }
            tokio::time::sleep(pause).await;
            // The retry goes to another server.
            server = (server + 1 + rng.below(shared.servers.len() - 1)) % shared.servers.len();
        }
    }
    records
}

/// The faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Partition,
    OneWay,
    LostAnswers,
    Loss,
    Latency,
    Restart,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Partition => "partition s0 | db",
            Fault::OneWay => "db -> s0 dropped",
            Fault::LostAnswers => "answers of s0 lost",
            Fault::Loss => "5% loss servers | db",
            Fault::Latency => "latency 50±20 ms",
            Fault::Restart => "PostgreSQL restart",
        }
    }
}

/// One row of the table.
struct Row {
    name: String,
    window: Duration,
    report: Report,
}

/// How long and how hard.
struct Shape {
    clients: usize,
    resources: usize,
    lead: Duration,
    window: Duration,
    tail: Duration,
}

fn shape() -> Shape {
    if long() {
        Shape {
            clients: 12,
            resources: 4,
            lead: Duration::from_secs(3),
            window: Duration::from_secs(12),
            tail: Duration::from_secs(6),
        }
    } else {
        Shape {
            clients: 6,
            resources: 3,
            lead: Duration::from_secs(1),
            window: Duration::from_secs(4),
            tail: Duration::from_secs(2),
        }
    }
}

/// nftables rules in a server's namespace dropping (all, or `percent`% at
/// random of) its traffic with the database at `db`: both ways, or only
/// what comes from the database (`inbound_only`: the server's statements
/// arrive and commit, their answers are lost).
fn drop_rules(db: SocketAddr, percent: Option<u32>, inbound_only: bool) -> String {
    let sample = percent.map_or(String::new(), |p| format!("numgen random mod 100 < {p} "));
    let (ip, port) = (db.ip(), db.port());
    let out = if inbound_only {
        String::new()
    } else {
        format!("ip daddr {ip} tcp dport {port} {sample}drop;")
    };
    format!(
        "table inet occ_netfaults {{\n\
           chain out {{ type filter hook output priority 0; {out} }}\n\
           chain in {{ type filter hook input priority 0; ip saddr {ip} tcp sport {port} {sample}drop; }}\n\
         }}\n"
    )
}

/// nftables rules in a server's namespace dropping every packet it sends
/// from its HTTP port except the SYN-ACK: connections open, requests
/// arrive and are carried out, and every answer is lost.
fn lose_answers() -> String {
    format!(
        "table inet occ_netfaults {{\n\
           chain out {{ type filter hook output priority 0; \
             tcp sport {SERVER_PORT} tcp flags & syn == 0 drop; }}\n\
         }}\n"
    )
}

const LIFT: &str = "delete table inet occ_netfaults\n";

/// Starts the servers on `database_url`, creates `resources` profiles
/// from `first_id`, runs the load, and calls `fault` after the lead time
/// (it applies the fault, lifts it, and returns the window); then waits
/// for recovery, stops, and checks.
async fn run_phase<F, Fut>(
    lab: &Lab,
    name: &str,
    database_url: &str,
    first_id: i64,
    fault: F,
) -> Result<(Row, BTreeMap<String, usize>), String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Option<Window>, String>>,
{
    let shape = shape();
    let mut servers = lab.start_servers(database_url).await?;
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let ids: Vec<i64> = (0..shape.resources as i64).map(|i| first_id + i).collect();
    for id in &ids {
        let body = format!(r#"{{"id":{id},"name":"netfaults","city":""}}"#);
        let r = occ_tests::http(
            addrs[0],
            "POST",
            "/profiles",
            &[("content-type", "application/json")],
            &body,
        )
        .await;
        if r.status != 201 {
            return Err(format!("{name}: creating {id}: {} {}", r.status, r.text()));
        }
    }
    let initial: BTreeMap<i64, i64> = lab
        .final_states(&ids)
        .await?
        .into_iter()
        .map(|(id, s)| (id, s.version))
        .collect();
    let t0 = Instant::now();
    let shared = Arc::new(Shared {
        servers: addrs,
        resources: ids.clone(),
        run: occ_tests::unique_name("nf"),
        stop: AtomicBool::new(false),
        give_up_after: Duration::from_secs(20),
        t0,
        last_ok: (0..SERVERS).map(|_| AtomicU64::new(0)).collect(),
        errors: Mutex::new(BTreeMap::new()),
    });
    let clients: Vec<_> = (0..shape.clients)
        .map(|i| tokio::spawn(client(i, shared.clone())))
        .collect();
    tokio::time::sleep(shape.lead).await;
    let window = fault().await;
    // Recovery: every affected server answers a 2xx again (measured by the
    // checker from the history), then the load goes on for the tail.
    if let Ok(Some(w)) = &window {
        let deadline = w.end + RECOVERY_BOUND;
        while Instant::now() < deadline && !w.affected.iter().all(|&s| shared.ok_since(s, w.end)) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(shape.tail).await;
    shared.stop.store(true, Ordering::Relaxed);
    let mut records = Vec::new();
    for handle in clients {
        records.extend(handle.await.map_err(|e| e.to_string())?);
    }
    let window = window?;
    for server in &mut servers {
        server.assert_alive();
        server.kill();
    }
    drop(servers);
    lab.wait_sessions_gone().await?;
    let states = lab.final_states(&ids).await?;
    let windows: Vec<Window> = window.iter().cloned().collect();
    let report = history::check(&records, &initial, &states, &windows, GRACE);
    let errors = shared.errors.lock().unwrap().clone();
    Ok((
        Row {
            name: name.to_owned(),
            window: window.map_or(Duration::ZERO, |w| w.end - w.start),
            report,
        },
        errors,
    ))
}

fn table(rows: &[Row], idempotency: Option<bool>) -> String {
    let mut out = format!(
        "\nnetfaults: {} clients over {SERVERS} servers, request timeout {REQUEST_TIMEOUT:?}, \
         5xx grace {GRACE:?}, Idempotency-Key {}\n",
        shape().clients,
        match idempotency {
            Some(true) => "honoured (a repeated PUT is replayed)",
            Some(false) => "NOT honoured by these servers (a repeated PUT is refused with 412)",
            None => "not probed",
        },
    );
    let mut lines = vec![[
        "fault", "window", "requests", "writes", "acked", "lost", "twice", "unacked", "gave-up",
        "412r", "5xx", "409", "noans", "replayed", "recovery",
    ]
    .map(str::to_owned)];
    for row in rows {
        let r = &row.report;
        let recovery = match r.recovery.first() {
            Some(Some(d)) => format!("{:.2}s", d.as_secs_f64()),
            Some(None) => "NEVER".to_owned(),
            None => "-".to_owned(),
        };
        lines.push([
            row.name.clone(),
            format!("{:.1}s", row.window.as_secs_f64()),
            r.requests.to_string(),
            r.writes.to_string(),
            r.acknowledged.to_string(),
            r.lost.to_string(),
            r.applied_twice.to_string(),
            r.applied_unacknowledged.to_string(),
            r.abandoned.to_string(),
            r.retry_412_after_apply.to_string(),
            r.server_errors.to_string(),
            r.in_flight_409.to_string(),
            r.no_answer.to_string(),
            r.replayed.to_string(),
            recovery,
        ]);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| match c {
                0 => format!("{cell:<w$}"),
                _ => format!("{cell:>w$}"),
            })
            .collect();
        out.push_str(&cells.join("  "));
        out.push('\n');
    }
    out.push_str(
        "(writes: logical writes; acked: answered 2xx; lost: acked but missing; twice: applied \
         twice; unacked: applied without a 2xx reaching the client; gave-up: writes left without \
         a definite answer; 412r: retries answered 412 although their write was applied; noans: \
         timeouts and broken connections; recovery: from the fault's end to the first 2xx \
         through each affected server, worst server)\n",
    );
    out
}

/// Whether the servers honour Idempotency-Key: the same conditional PUT
/// sent twice with one key is replayed the second time (200 with
/// `Idempotent-Replayed: true`), not refused with 412.
async fn honours_idempotency(server: SocketAddr, id: i64) -> bool {
    let body = format!(r#"{{"id":{id},"name":"probe","city":""}}"#);
    let r = occ_tests::http(
        server,
        "POST",
        "/profiles",
        &[("content-type", "application/json")],
        &body,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let key = format!("\"{}\"", occ_tests::unique_name("probe"));
    let tag = format!("\"prof-{id}-v1\"");
    let headers = [
        ("content-type", "application/json"),
        ("if-match", tag.as_str()),
        ("idempotency-key", key.as_str()),
    ];
    let path = format!("/profiles/{id}");
    let first = occ_tests::http(server, "PUT", &path, &headers, r#"{"city":"x"}"#).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let again = occ_tests::http(server, "PUT", &path, &headers, r#"{"city":"x"}"#).await;
    match again.status {
        200 => {
            assert_eq!(
                again.header("idempotent-replayed"),
                Some("true"),
                "{again:?}"
            );
            assert_eq!(again.header("etag"), first.header("etag"));
            true
        }
        412 => false,
        other => panic!(
            "a repeated PUT with its key answered {other}: {}",
            again.text()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_between_servers_and_database() {
    const TEST: &str = "faults_between_servers_and_database";
    let _turn = ONE_AT_A_TIME.lock().await;
    if let Some(reason) = missing_prerequisite() {
        return unavailable(TEST, &reason);
    }
    let started = Instant::now();
    let lab = match Lab::new() {
        Ok(lab) => lab,
        Err(e) => return unavailable(TEST, &format!("the test network or database: {e}")),
    };
    let direct = Postgres::url(lab.pg.addr);
    let proxy = proxy::Proxy::start(SocketAddr::new(lab.net.root_addr().into(), 0), lab.pg.addr)
        .await
        .unwrap();
    let through_proxy = Postgres::url(proxy.addr);
    let idempotency = {
        let servers = lab.start_servers(&direct).await.unwrap();
        let honoured = honours_idempotency(servers[0].addr, 900).await;
        drop(servers);
        honoured
    };
    let shape = shape();
    let restarts = if long() { 3 } else { 1 };
    let all: Vec<usize> = (0..SERVERS).collect();
    let mut rows = Vec::new();
    let mut errors = BTreeMap::new();
    for (n, fault) in [
        Fault::Partition,
        Fault::OneWay,
        Fault::LostAnswers,
        Fault::Loss,
        Fault::Latency,
        Fault::Restart,
    ]
    .into_iter()
    .enumerate()
    {
        let first_id = 1000 + 100 * n as i64;
        let url = if fault == Fault::Latency {
            &through_proxy
        } else {
            &direct
        };
        let (lab_ref, proxy_ref, all) = (&lab, &proxy, all.clone());
        let window = shape.window;
        let apply = move || async move {
            let db = lab_ref.pg.addr;
            let start = Instant::now();
            let affected = match fault {
                Fault::Partition | Fault::OneWay => {
                    let rules = drop_rules(db, None, fault == Fault::OneWay);
                    lab_ref.net.nft("s0", &rules)?;
                    tokio::time::sleep(window).await;
                    lab_ref.net.nft("s0", LIFT)?;
                    vec![0]
                }
                Fault::LostAnswers => {
                    lab_ref.net.nft("s0", &lose_answers())?;
                    tokio::time::sleep(window).await;
                    lab_ref.net.nft("s0", LIFT)?;
                    vec![0]
                }
                Fault::Loss => {
                    for s in &all {
                        lab_ref
                            .net
                            .nft(&format!("s{s}"), &drop_rules(db, Some(5), false))?;
                    }
                    tokio::time::sleep(window).await;
                    for s in &all {
                        lab_ref.net.nft(&format!("s{s}"), LIFT)?;
                    }
                    all
                }
                Fault::Latency => {
                    proxy_ref.set_delaying(true);
                    tokio::time::sleep(window).await;
                    proxy_ref.set_delaying(false);
                    all
                }
                Fault::Restart => {
                    let pg = &lab_ref.pg;
                    for cycle in 0..restarts {
                        if cycle > 0 {
                            // Load on the restarted database in between.
                            tokio::time::sleep(Duration::from_secs(2)).await;
                        }
                        tokio::task::block_in_place(|| pg.stop_fast())?;
                        // Down for a second, then started again (pg_ctl -w
                        // returns once it accepts connections).
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        tokio::task::block_in_place(|| pg.start_server())?;
                    }
                    all
                }
            };
            Ok(Some(Window {
                start,
                end: Instant::now(),
                affected,
            }))
        };
        let (row, seen) = run_phase(&lab, fault.name(), url, first_id, apply)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", fault.name()));
        if fault == Fault::Restart {
            assert!(lab.pg.ready(), "PostgreSQL is not back after its restart");
        }
        for (k, v) in seen {
            *errors.entry(format!("{}: {k}", fault.name())).or_insert(0) += v;
        }
        rows.push(row);
    }
    say(&table(&rows, Some(idempotency)));
    if !errors.is_empty() {
        say(&format!("5xx answers and broken exchanges: {errors:#?}"));
    }
    say(&format!("{TEST}: {:.1?} in all", started.elapsed()));
    for row in &rows {
        let r = &row.report;
        assert!(
            r.violations.is_empty(),
            "{}: {} violations: {:#?}",
            row.name,
            r.violations.len(),
            r.violations
        );
        assert_eq!(r.lost, 0, "{}: acknowledged writes lost", row.name);
        assert_eq!(r.applied_twice, 0, "{}: writes applied twice", row.name);
        for recovery in &r.recovery {
            let recovery =
                recovery.unwrap_or_else(|| panic!("{}: no 2xx after the fault", row.name));
            assert!(
                recovery <= RECOVERY_BOUND,
                "{}: recovered in {recovery:?}, over {RECOVERY_BOUND:?}",
                row.name
            );
        }
        assert!(
            r.acknowledged >= 20,
            "{}: too little load to prove anything: {} writes acknowledged",
            row.name,
            r.acknowledged
        );
        assert_eq!(
            r.retry_412_after_apply,
            0,
            "{}: retries answered 412 although their write was applied (an acknowledgement \
             lost; Idempotency-Key {} by these servers)",
            row.name,
            if idempotency {
                "honoured"
            } else {
                "not honoured"
            }
        );
    }
}

/// The load of the fault test, without a fault, through pgbouncer 1.18:
/// in `pool_mode = transaction` (with sqlx's default statement cache, and
/// with `statement-cache-capacity=0`) the servers must refuse to start and
/// say why, since sqlx's named prepared statements are lost or mixed up
/// between clients there (unchecked, they fail as `prepared statement
/// "sqlx_s_1" already exists`); in `pool_mode = session` the load must pass
/// the checker as on a direct connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_transaction_pooling() {
    const TEST: &str = "pgbouncer_transaction_pooling";
    let _turn = ONE_AT_A_TIME.lock().await;
    if let Some(reason) = missing_prerequisite() {
        return unavailable(TEST, &reason);
    }
    if let Err(e) = net::run("pgbouncer", &["--version"]) {
        return unavailable(TEST, &format!("pgbouncer unavailable: {e}"));
    }
    let mut lab = match Lab::new() {
        Ok(lab) => lab,
        Err(e) => return unavailable(TEST, &format!("the test network or database: {e}")),
    };
    let transaction = lab.pg.start_bouncer("transaction", 6432, 4).unwrap();
    let session = lab.pg.start_bouncer("session", 6433, 40).unwrap();
    for options in ["", "?statement-cache-capacity=0"] {
        let url = format!("{}{options}", Postgres::url(transaction));
        match lab.start_servers(&url).await {
            Ok(_) => panic!("the servers started behind pool_mode = transaction ({url})"),
            Err(e) => {
                say(&format!("{TEST}: pool_mode = transaction{options}: {e}"));
                assert!(
                    e.contains("pooler that shares one server session")
                        && e.contains("pool_mode = session"),
                    "the refusal does not say why: {e}"
                );
            }
        }
    }
    let (row, errors) = run_phase(
        &lab,
        "pgbouncer session mode",
        &Postgres::url(session),
        3000,
        || async { Ok(None) },
    )
    .await
    .unwrap();
    say(&table(std::slice::from_ref(&row), None));
    let r = &row.report;
    assert!(r.violations.is_empty(), "{:#?}", r.violations);
    assert_eq!(
        (r.lost, r.applied_twice, r.server_errors),
        (0, 0, 0),
        "{errors:?}"
    );
    assert!(r.acknowledged >= 20, "too little load: {r:?}");
}
