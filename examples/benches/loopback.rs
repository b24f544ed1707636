//! Over loopback, with a load generator in this process: requests per
//! second and p50 / p99 latency of occ's generated routes against two
//! hand-written baselines, measured side by side in one run:
//!
//! - "typical": read, compare, update (`support::hand_written`), two
//!   statements for a successful conditional write;
//! - "one statement" (PostgreSQL only): straight sqlx on the pool, the
//!   `If-Match` version in the `UPDATE`'s `WHERE` clause, a conditional GET
//!   that reads the representation only when the tag is stale
//!   (`support::one_statement`).
//!
//! On SQLite (a file) and PostgreSQL (when `OCC_TEST_POSTGRES_URL` is set,
//! in a schema of its own). All sides share one pool of `OCC_LOAD_CLIENTS`
//! connections (default 16) and are loaded by as many keep-alive clients;
//! only one side is served at a time, and the database is settled before
//! each turn (PostgreSQL: `VACUUM`; SQLite: WAL checkpoint). In a round,
//! each side gets `OCC_LOAD_SECONDS` (default 2) per request kind, cut into
//! `OCC_LOAD_SLICES` turns (default 4) taken in A B C, C B A, … order; the
//! order rotates from round to round; `OCC_LOAD_ROUNDS` rounds (default 3).
//! Ratios are computed within each round, and reported pooled over the
//! rounds and as the range of the rounds. `OCC_LOAD_REQUESTS` picks request
//! kinds (`get200,get304,put200,put412`).
//!
//! ```sh
//! cargo bench -p occ-examples --bench loopback
//! OCC_LOAD_SECONDS=5 OCC_LOAD_ROUNDS=5 cargo bench -p occ-examples --bench loopback
//! OCC_LOAD_REQUESTS=get200,get304 cargo bench -p occ-examples --bench loopback
//! ```
//!
//! Server, clients and the database share the machine's cores, as they
//! would on a small host. Under `cargo test --benches` the bench only checks
//! that every side answers every request kind alike (statuses and tags, no
//! timing), in about a second.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup should stop the bench

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use http::{header, HeaderName, Method, Request, StatusCode};
use occ_core::repository::sql::{sqlite_pool, PgRepository, SqliteRepository};
use reqwest::Client;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::AssertSqlSafe;
use support::{doc, hand_written, occ, one_statement, send, tag, version_of, Doc, Repo, DDL};
use tokio::sync::Barrier;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Get200,
    Get304,
    Put200,
    Put412,
}

impl Scenario {
    const ALL: [Self; 4] = [Self::Get200, Self::Get304, Self::Put200, Self::Put412];

    fn name(self) -> &'static str {
        match self {
            Self::Get200 => "GET 200",
            Self::Get304 => "GET 304",
            Self::Put200 => "PUT 200",
            Self::Put412 => "PUT 412",
        }
    }

    /// The name in `OCC_LOAD_REQUESTS`: `get200`, `get304`, `put200`, `put412`.
    fn key(self) -> String {
        self.name().replace(' ', "").to_lowercase()
    }

    fn expected(self) -> StatusCode {
        match self {
            Self::Get200 | Self::Put200 => StatusCode::OK,
            Self::Get304 => StatusCode::NOT_MODIFIED,
            Self::Put412 => StatusCode::PRECONDITION_FAILED,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Occ,
    Typical,
    OneStatement,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Self::Occ => "occ",
            Self::Typical => "typical",
            Self::OneStatement => "one statement",
        }
    }
}

/// How long and how hard each side is loaded.
#[derive(Clone, Copy)]
struct Timing {
    /// Each side's time per request kind and round.
    duration: Duration,
    /// How many pieces that time is cut into, the sides taking turns.
    slices: usize,
    rounds: usize,
    clients: usize,
}

/// One database, its services and how to settle it.
struct Backend {
    name: &'static str,
    sides: Vec<(Side, Router)>,
    db: Db,
}

enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    /// Brings the database back to a settled state, so that no side runs
    /// on what the one before it left behind.
    async fn settle(&self) {
        match self {
            Self::Sqlite(pool) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(pool)
                    .await
                    .unwrap();
            }
            Self::Postgres(pool) => {
                sqlx::query("VACUUM bench_http_docs")
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }
}

#[derive(Default)]
struct Stats {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Stats {
    fn merge(&mut self, other: &Stats) {
        self.latencies.extend_from_slice(&other.latencies);
        self.elapsed += other.elapsed;
    }

    fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn quantile(&mut self, q: f64) -> Duration {
        self.latencies.sort_unstable();
        let n = self.latencies.len();
        self.latencies[((n as f64 * q) as usize).min(n - 1)]
    }
}

/// The rows: doc 1 for reads and 412s, one row per client for PUT 200 (no
/// conflicts).
fn row(scenario: Scenario, client: usize) -> i64 {
    if scenario == Scenario::Put200 {
        100 + client as i64
    } else {
        1
    }
}

/// `clients` tasks send `scenario` requests for `duration`, timed from
/// when all of them have their connection and the row's current tag;
/// every answer must have the expected status.
async fn load(base: &str, scenario: Scenario, clients: usize, duration: Duration) -> Stats {
    let client = Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let ready = Arc::new(Barrier::new(clients + 1));
    let tasks: Vec<_> = (0..clients)
        .map(|n| {
            let (client, base, ready) = (client.clone(), base.to_owned(), ready.clone());
            tokio::spawn(async move {
                let id = row(scenario, n);
                let url = format!("{base}/docs/{id}");
                let body = serde_json::to_vec(&doc(id)).unwrap();
                let response = client.get(&url).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                let mut version = version_of(response.headers(), id);
                let _ = response.bytes().await.unwrap();
                let mut latencies = Vec::with_capacity(4096);
                ready.wait().await;
                let started = Instant::now();
                while started.elapsed() < duration {
                    let request = match scenario {
                        Scenario::Get200 => client.get(&url),
                        Scenario::Get304 => client
                            .get(&url)
                            .header(header::IF_NONE_MATCH, tag(id, version)),
                        Scenario::Put200 => client
                            .put(&url)
                            .header(header::IF_MATCH, tag(id, version))
                            .header(header::CONTENT_TYPE, "application/json")
                            .body(body.clone()),
                        Scenario::Put412 => client
                            .put(&url)
                            .header(header::IF_MATCH, tag(id, version - 1))
                            .header(header::CONTENT_TYPE, "application/json")
                            .body(body.clone()),
                    };
                    let sent = Instant::now();
                    let response = request.send().await.unwrap();
                    assert_eq!(response.status(), scenario.expected());
                    if scenario == Scenario::Put200 {
                        version = version_of(response.headers(), id);
                    }
                    let _ = response.bytes().await.unwrap();
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    ready.wait().await;
    let started = Instant::now();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    Stats {
        latencies: all,
        elapsed: started.elapsed(),
    }
}

async fn serve(app: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), server)
}

async fn seed(repo: &Repo, clients: usize) {
    for id in std::iter::once(1).chain(100..100 + clients as i64) {
        let _ = repo.create(Doc { id, ..doc(id) }).await;
    }
}

/// Every side's measurements of one backend: `stats[round][scenario][side]`.
struct Run {
    scenarios: Vec<Scenario>,
    sides: Vec<Side>,
    stats: Vec<Vec<Vec<Stats>>>,
}

impl Run {
    fn side(&self, side: Side) -> Option<usize> {
        self.sides.iter().position(|s| *s == side)
    }

    /// All rounds of one side and request kind together.
    fn pooled(&self, scenario: usize, side: usize) -> Stats {
        let mut pooled = Stats::default();
        for round in &self.stats {
            pooled.merge(&round[scenario][side]);
        }
        pooled
    }

    /// `a / b` in requests per second: pooled over the rounds, and the
    /// lowest and highest of the rounds.
    fn ratio(&self, a: (usize, usize), b: (usize, usize)) -> (f64, f64, f64) {
        let pooled = self.pooled(a.0, a.1).rps() / self.pooled(b.0, b.1).rps();
        let per_round = self
            .stats
            .iter()
            .map(|round| round[a.0][a.1].rps() / round[b.0][b.1].rps());
        let (low, high) =
            per_round.fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(r), hi.max(r)));
        (pooled, low, high)
    }
}

/// Measures every request kind on every side, `rounds` times. Within a
/// round, each side's `duration` is cut into `slices` run in turn (A B C,
/// C B A, A B C, …), so that a burst of load from elsewhere on the machine
/// falls on all sides alike; the order rotates from round to round, so
/// that no side always comes first after the previous request kind.
async fn measure(backend: &Backend, scenarios: &[Scenario], timing: Timing, quiet: bool) -> Run {
    let n = backend.sides.len();
    let slice = timing.duration / timing.slices as u32;
    let mut stats = Vec::new();
    for round in 0..timing.rounds {
        let mut this_round = Vec::new();
        for &scenario in scenarios {
            let mut by_side: Vec<Stats> = (0..n).map(|_| Stats::default()).collect();
            for turn in 0..timing.slices {
                let mut order: Vec<usize> = (0..n).map(|k| (k + round) % n).collect();
                if turn % 2 == 1 {
                    order.reverse();
                }
                for i in order {
                    backend.db.settle().await;
                    let (base, server) = serve(backend.sides[i].1.clone()).await;
                    let stats = load(&base, scenario, timing.clients, slice).await;
                    server.abort();
                    by_side[i].merge(&stats);
                }
            }
            if !quiet {
                for ((side, _), stats) in backend.sides.iter().zip(&by_side) {
                    eprintln!(
                        "round {} | {} | {} | {}: {:.0} req/s",
                        round + 1,
                        backend.name,
                        scenario.name(),
                        side.name(),
                        stats.rps()
                    );
                }
            }
            this_round.push(by_side);
        }
        stats.push(this_round);
    }
    Run {
        scenarios: scenarios.to_vec(),
        sides: backend.sides.iter().map(|(side, _)| *side).collect(),
        stats,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn ratio_text((pooled, low, high): (f64, f64, f64)) -> String {
    format!("{pooled:.2} ({low:.2}-{high:.2})")
}

fn report(backend: &str, run: &Run) {
    let occ = run.side(Side::Occ).expect("occ is measured");
    let baselines: Vec<(Side, usize)> = [Side::Typical, Side::OneStatement]
        .into_iter()
        .filter_map(|side| run.side(side).map(|i| (side, i)))
        .collect();
    println!("\n{backend}: requests per second pooled over the rounds; ratio = occ req/s / baseline req/s, pooled (lowest-highest round)\n");
    let mut head = String::from("| request | occ req/s |");
    let mut rule = String::from("| --- | ---: |");
    for (side, _) in &baselines {
        head.push_str(&format!(" {} req/s | occ / {} |", side.name(), side.name()));
        rule.push_str(" ---: | ---: |");
    }
    let names: Vec<&str> = run.sides.iter().map(|side| side.name()).collect();
    head.push_str(&format!(" p50 / p99 ms: {} |", names.join(", ")));
    rule.push_str(" --- |");
    println!("{head}\n{rule}");
    for (s, scenario) in run.scenarios.iter().enumerate() {
        let mut line = format!("| {} | {:.0} |", scenario.name(), run.pooled(s, occ).rps());
        for (_, i) in &baselines {
            line.push_str(&format!(
                " {:.0} | {} |",
                run.pooled(s, *i).rps(),
                ratio_text(run.ratio((s, occ), (s, *i)))
            ));
        }
        let quantiles: Vec<String> = (0..run.sides.len())
            .map(|i| {
                let mut pooled = run.pooled(s, i);
                format!(
                    "{} / {}",
                    ms(pooled.quantile(0.50)),
                    ms(pooled.quantile(0.99))
                )
            })
            .collect();
        line.push_str(&format!(" {} |", quantiles.join(", ")));
        println!("{line}");
    }
    let position = |wanted| run.scenarios.iter().position(|s| *s == wanted);
    let (Some(get_200), Some(get_304)) = (position(Scenario::Get200), position(Scenario::Get304))
    else {
        return;
    };
    println!(
        "\n{backend}: GET 304 req/s / GET 200 req/s, same side, pooled (lowest-highest round)\n"
    );
    println!("| side | 304 / 200 |\n| --- | ---: |");
    for (side, i) in run.sides.iter().zip(0..) {
        println!(
            "| {} | {} |",
            side.name(),
            ratio_text(run.ratio((get_304, i), (get_200, i)))
        );
    }
}

// ---- Quick mode: the sides answer alike. ----

fn quick_request(
    method: Method,
    id: i64,
    fields: &[(HeaderName, &str)],
    body: &str,
) -> Request<axum::body::Body> {
    let mut builder = Request::builder().method(method).uri(format!("/docs/{id}"));
    for (name, value) in fields {
        builder = builder.header(name, *value);
    }
    if !body.is_empty() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    builder
        .body(axum::body::Body::from(body.to_owned()))
        .unwrap()
}

/// The same requests to each side, each on a row of its own at version 1:
/// the statuses and tags must be the expected ones. The typical baseline
/// answers any unreadable body with 422 (it does not classify serde's
/// error), where the others tell a syntax error (400) from a wrong shape.
async fn answer_alike(backend: &Backend, repo: &Repo) {
    for (n, (side, app)) in backend.sides.iter().enumerate() {
        let id = 10 + n as i64;
        repo.create(doc(id)).await.unwrap();
        let body = serde_json::to_string(&doc(id)).unwrap();
        let (v1, v2, v3) = (tag(id, 1), tag(id, 2), tag(id, 3));
        let weak = format!("W/{v1}");
        let list = format!("{}, {v1}", tag(id, 7));
        let other = tag(id + 1, 1);
        use header::{IF_MATCH as IM, IF_NONE_MATCH as INM};
        let strict = *side != Side::Typical;
        let checks: Vec<(Request<axum::body::Body>, StatusCode, Option<i64>)> = vec![
            (
                quick_request(Method::GET, id, &[], ""),
                StatusCode::OK,
                Some(1),
            ),
            (
                quick_request(Method::GET, 999, &[], ""),
                StatusCode::NOT_FOUND,
                None,
            ),
            (
                quick_request(Method::GET, id, &[(INM, &v1)], ""),
                StatusCode::NOT_MODIFIED,
                Some(1),
            ),
            (
                quick_request(Method::GET, id, &[(INM, &weak)], ""),
                StatusCode::NOT_MODIFIED,
                Some(1),
            ),
            (
                quick_request(Method::GET, id, &[(INM, "*")], ""),
                StatusCode::NOT_MODIFIED,
                Some(1),
            ),
            (
                quick_request(Method::GET, id, &[(INM, &v2)], ""),
                StatusCode::OK,
                Some(1),
            ),
            (
                quick_request(Method::GET, id, &[(INM, &other)], ""),
                StatusCode::OK,
                Some(1),
            ),
            (
                quick_request(Method::PUT, id, &[], &body),
                StatusCode::PRECONDITION_REQUIRED,
                None,
            ),
            (
                quick_request(Method::PUT, 999, &[(IM, &v1)], &body),
                StatusCode::NOT_FOUND,
                None,
            ),
            (
                quick_request(Method::PUT, id, &[(IM, &v2)], &body),
                StatusCode::PRECONDITION_FAILED,
                Some(1),
            ),
            (
                quick_request(Method::PUT, id, &[(IM, &weak)], &body),
                StatusCode::PRECONDITION_FAILED,
                Some(1),
            ),
            (
                quick_request(Method::PUT, id, &[(IM, &other)], &body),
                StatusCode::PRECONDITION_FAILED,
                Some(1),
            ),
            (
                quick_request(Method::PUT, id, &[(IM, "\"unclosed")], &body),
                StatusCode::PRECONDITION_FAILED,
                Some(1),
            ),
            (
                quick_request(Method::PUT, id, &[(IM, &v2)], "{"),
                StatusCode::PRECONDITION_FAILED,
                Some(1),
            ),
            (
                quick_request(Method::PUT, id, &[(IM, &v1)], "{"),
                if strict {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                },
                None,
            ),
            (
                quick_request(Method::PUT, id, &[(IM, &v1)], "{\"id\":1}"),
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            ),
            (
                quick_request(Method::PUT, id, &[(IM, &v1)], &body),
                StatusCode::OK,
                Some(2),
            ),
            (
                quick_request(Method::PUT, id, &[(IM, &list)], &body),
                StatusCode::PRECONDITION_FAILED,
                Some(2),
            ),
            (
                quick_request(Method::PUT, id, &[(IM, &format!("{v1}, {v2}"))], &body),
                StatusCode::OK,
                Some(3),
            ),
            (
                quick_request(Method::PUT, id, &[(IM, "*")], &body),
                StatusCode::OK,
                Some(4),
            ),
            (
                quick_request(
                    Method::GET,
                    id,
                    &[(INM, &format!("{v3}, {}", tag(id, 4)))],
                    "",
                ),
                StatusCode::NOT_MODIFIED,
                Some(4),
            ),
        ];
        for (k, (request, status, version)) in checks.into_iter().enumerate() {
            let (got, headers, bytes) = send(app, request).await;
            let got_version = headers.get(header::ETAG).map(|_| version_of(&headers, id));
            assert_eq!(
                (got, got_version),
                (status, version),
                "{} on {}, check {k}: {}",
                side.name(),
                backend.name,
                String::from_utf8_lossy(&bytes)
            );
            if got == StatusCode::OK {
                assert!(
                    bytes.len() > 4000,
                    "a representation of {} bytes",
                    bytes.len()
                );
            }
        }
    }
}

// ---- Set-up. ----

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn sqlite(path: &std::path::Path, clients: usize) -> (Backend, Arc<Repo>) {
    let pool = sqlite_pool(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query(DDL).execute(&pool).await.unwrap();
    let repo: Arc<Repo> = Arc::new(SqliteRepository::<Doc>::new(pool.clone()));
    seed(&*repo, clients).await;
    let sides = vec![
        (Side::Occ, occ(repo.clone())),
        (Side::Typical, hand_written(repo.clone())),
    ];
    let backend = Backend {
        name: "SQLite",
        sides,
        db: Db::Sqlite(pool),
    };
    (backend, repo)
}

/// PostgreSQL, in a schema of its own (other runs may use the database).
async fn postgres(url: &str, schema: &str, clients: usize) -> (Backend, Arc<Repo>) {
    let admin = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let options: PgConnectOptions = url.parse().unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(clients as u32)
        .connect_with(options.options([("search_path", schema)]))
        .await
        .unwrap();
    sqlx::query(DDL).execute(&pool).await.unwrap();
    let repo: Arc<Repo> = Arc::new(PgRepository::<Doc>::new(pool.clone()));
    seed(&*repo, clients).await;
    let sides = vec![
        (Side::Occ, occ(repo.clone())),
        (Side::Typical, hand_written(repo.clone())),
        (Side::OneStatement, one_statement(pool.clone())),
    ];
    let backend = Backend {
        name: "PostgreSQL",
        sides,
        db: Db::Postgres(pool),
    };
    (backend, repo)
}

async fn drop_schema(url: &str, schema: &str) {
    if let Ok(admin) = sqlx::PgPool::connect(url).await {
        let _ = sqlx::query(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
        )))
        .execute(&admin)
        .await;
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then the bench only checks, quickly.
    let timed = std::env::args().any(|arg| arg == "--bench");
    let timing = if timed {
        Timing {
            duration: Duration::from_secs_f64(env("OCC_LOAD_SECONDS", 2.0)),
            slices: env("OCC_LOAD_SLICES", 4usize).max(1),
            rounds: env("OCC_LOAD_ROUNDS", 3usize).max(1),
            clients: env("OCC_LOAD_CLIENTS", 16usize).max(1),
        }
    } else {
        Timing {
            duration: Duration::from_millis(50),
            slices: 1,
            rounds: 1,
            clients: 2,
        }
    };
    let clients = timing.clients;
    // All four by default; `OCC_LOAD_REQUESTS=get200,get304` for some.
    let scenarios: Vec<Scenario> = match std::env::var("OCC_LOAD_REQUESTS") {
        Ok(list) if timed => Scenario::ALL
            .into_iter()
            .filter(|s| {
                list.split(',')
                    .any(|k| k.trim().eq_ignore_ascii_case(&s.key()))
            })
            .collect(),
        _ => Scenario::ALL.to_vec(),
    };
    assert!(
        !scenarios.is_empty(),
        "OCC_LOAD_REQUESTS names none of get200, get304, put200, put412"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if timed {
            println!(
                "{clients} clients and a pool of {clients} connections; each side {:.1} s per \
                 request kind and round, in {} slices taking turns; {} rounds; ~4 KiB \
                 representation",
                timing.duration.as_secs_f64(),
                timing.slices,
                timing.rounds,
            );
        }
        let mut backends = Vec::new();
        let path = std::env::temp_dir().join(format!("occ_loopback_{}.db", std::process::id()));
        backends.push(sqlite(&path, clients).await);
        let url = std::env::var("OCC_TEST_POSTGRES_URL").ok();
        let schema = format!("occ_loopback_{}", std::process::id());
        match &url {
            Some(url) => backends.push(postgres(url, &schema, clients).await),
            None => println!("PostgreSQL: skipped, OCC_TEST_POSTGRES_URL is not set"),
        }
        for (backend, repo) in &backends {
            answer_alike(backend, &**repo).await;
            let run = measure(backend, &scenarios, timing, !timed).await;
            if timed {
                report(backend.name, &run);
            } else {
                println!("loopback/{}: every side answers alike", backend.name);
            }
        }
        drop(backends);
        let _ = std::fs::remove_file(&path);
        if let Some(url) = &url {
            drop_schema(url, &schema).await;
        }
    });
}
