//! Over loopback, with a load generator in this process: requests per
//! second and p50 / p99 latency for occ's generated routes and for the
//! hand-written baseline, on SQLite (a file) and PostgreSQL (when
//! `OCC_TEST_POSTGRES_URL` is set), in the same run.
//!
//! ```sh
//! cargo bench -p occ-examples --bench loopback
//! OCC_LOAD_SECONDS=10 OCC_LOAD_CLIENTS=32 cargo bench -p occ-examples --bench loopback
//! ```
//!
//! Server and clients share the machine's cores, as they would on a small
//! host; each pair is measured back to back with the same settings.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup should stop the bench

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use occ_core::repository::sql::{sqlite_pool, PgRepository, SqliteRepository};
use reqwest::{header, Client, StatusCode};
use support::{doc, hand_written, occ, tag, version_of, Doc, Repo, DDL};

#[derive(Clone, Copy, PartialEq)]
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

    fn expected(self) -> StatusCode {
        match self {
            Self::Get200 | Self::Put200 => StatusCode::OK,
            Self::Get304 => StatusCode::NOT_MODIFIED,
            Self::Put412 => StatusCode::PRECONDITION_FAILED,
        }
    }
}

#[derive(Default)]
struct Stats {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.latencies.extend(other.latencies);
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

/// `clients` tasks send `scenario` requests for `duration`; every answer
/// must have the expected status.
async fn load(base: &str, scenario: Scenario, clients: usize, duration: Duration) -> Stats {
    let client = Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|n| {
            let (client, base) = (client.clone(), base.to_owned());
            tokio::spawn(async move {
                // Each client writes its own row: no conflicts in PUT 200.
                let id = if scenario == Scenario::Put200 {
                    100 + n as i64
                } else {
                    1
                };
                let url = format!("{base}/docs/{id}");
                let body = serde_json::to_vec(&doc(id)).unwrap();
                let mut version = client
                    .get(&url)
                    .send()
                    .await
                    .map(|r| version_of(r.headers(), id))
                    .unwrap();
                let mut latencies = Vec::with_capacity(4096);
                while started.elapsed() < duration {
                    let request = match scenario {
                        Scenario::Get200 => client.get(&url),
                        Scenario::Get304 => client
                            .get(&url)
                            .header(header::IF_NONE_MATCH, tag(id, version)),
                        Scenario::Put200 => {
                            client.put(&url).header(header::IF_MATCH, tag(id, version))
                        }
                        Scenario::Put412 => client
                            .put(&url)
                            .header(header::IF_MATCH, tag(id, version - 1)),
                    };
                    let request = match scenario {
                        Scenario::Put200 | Scenario::Put412 => request
                            .header(header::CONTENT_TYPE, "application/json")
                            .body(body.clone()),
                        _ => request,
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
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    Stats {
        latencies: all,
        elapsed: started.elapsed(),
    }
}

async fn serve(app: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
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

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

async fn compare(backend: &str, repo: Arc<Repo>, clients: usize, duration: Duration) {
    seed(&*repo, clients).await;
    for scenario in Scenario::ALL {
        // occ, baseline, baseline, occ: a drift in the machine's load
        // during the run weighs on both sides alike.
        let (mut occ_stats, mut hand_stats) = (Stats::default(), Stats::default());
        for occ_turn in [true, false, false, true] {
            let app = if occ_turn {
                occ(repo.clone())
            } else {
                hand_written(repo.clone())
            };
            let (base, server) = serve(app).await;
            let stats = load(&base, scenario, clients, duration / 2).await;
            server.abort();
            if occ_turn {
                occ_stats.merge(stats);
            } else {
                hand_stats.merge(stats);
            }
        }
        let (occ, hand) = (&mut occ_stats, &mut hand_stats);
        println!(
            "| {} | {backend} | {:.0} | {:.0} | {:.3} | {} / {} | {} / {} | {} / {} |",
            scenario.name(),
            occ.rps(),
            hand.rps(),
            occ.rps() / hand.rps(),
            ms(occ.quantile(0.50)),
            ms(occ.quantile(0.99)),
            ms(hand.quantile(0.50)),
            ms(hand.quantile(0.99)),
            occ.latencies.len(),
            hand.latencies.len(),
        );
    }
}

fn main() {
    // `cargo test --benches` runs every bench target once: nothing to
    // measure then.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let duration = Duration::from_secs(env("OCC_LOAD_SECONDS", 3));
    let clients = env("OCC_LOAD_CLIENTS", 16) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!(
            "{clients} clients, {} s per run, ~4 KiB representation; ratio = occ rps / hand-written rps\n",
            duration.as_secs()
        );
        println!("| request | backend | occ req/s | hand-written req/s | ratio | occ p50 / p99 ms | hand-written p50 / p99 ms | requests occ / hand-written |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");

        let path = std::env::temp_dir().join(format!("occ_loopback_{}.db", std::process::id()));
        let pool = sqlite_pool(&format!("sqlite://{}", path.display())).await.unwrap();
        sqlx::query(DDL).execute(&pool).await.unwrap();
        compare("SQLite", Arc::new(SqliteRepository::<Doc>::new(pool)), clients, duration).await;
        let _ = std::fs::remove_file(&path);

        match std::env::var("OCC_TEST_POSTGRES_URL") {
            Ok(url) => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(clients as u32)
                    .connect(&url)
                    .await
                    .unwrap();
                sqlx::query("DROP TABLE IF EXISTS bench_http_docs").execute(&pool).await.unwrap();
                sqlx::query(DDL).execute(&pool).await.unwrap();
                compare("PostgreSQL", Arc::new(PgRepository::<Doc>::new(pool.clone())), clients, duration).await;
                let _ = sqlx::query("DROP TABLE bench_http_docs").execute(&pool).await;
            }
            Err(_) => println!("\nPostgreSQL: skipped, OCC_TEST_POSTGRES_URL is not set"),
        }
    });
}
