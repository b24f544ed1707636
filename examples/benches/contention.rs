//! Optimistic vs pessimistic concurrency on PostgreSQL: 32 clients
//! incrementing counters, with occ's compare-and-swap (read, then
//! `UPDATE … WHERE version IN (…)`, retry on 412) against the usual
//! hand-written alternative (`SELECT … FOR UPDATE` and `UPDATE` in one
//! transaction). Once on one row (every client fights for it), once on 32
//! rows (little contention).
//!
//! ```sh
//! OCC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p occ-examples --bench contention
//! ```
//!
//! Reported: commits per second, conflicts (412s, then retried), and the
//! p99 time from the first attempt of an increment to its commit. Each run
//! ends by checking that every counter equals its number of commits.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup should stop the bench

use std::sync::Arc;
use std::time::{Duration, Instant};

use occ_core::repository::sql::PgRepository;
use occ_core::repository::{
    retry_on_conflict, Repository, RepositoryError, RetryPolicy, WriteCondition,
};
use occ_core::Versioned;
use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow, Versioned)]
#[occ(table = "bench_counters")]
struct Counter {
    id: i64,
    #[version]
    version: i64,
    value: i64,
}

const DDL: &str = "CREATE TABLE bench_counters (
    id BIGINT PRIMARY KEY, version BIGINT NOT NULL, value BIGINT NOT NULL)";

#[derive(Clone, Copy)]
enum Strategy {
    /// Read, compare-and-swap, and on 412 start over at once.
    Optimistic,
    /// The same through `retry_on_conflict`: jittered backoff between
    /// attempts, 1 ms doubling up to 20 ms.
    OptimisticBackoff,
    /// `SELECT … FOR UPDATE` then `UPDATE` in a transaction.
    Pessimistic,
}

#[derive(Default)]
struct Outcome {
    commits: u64,
    conflicts: u64,
    latencies: Vec<Duration>,
}

/// A small deterministic generator: which row the next increment touches.
fn next_row(state: &mut u64, rows: i64) -> i64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    1 + ((*state >> 33) % rows as u64) as i64
}

async fn optimistic(repo: &PgRepository<Counter>, id: i64, outcome: &mut Outcome) {
    loop {
        let current = repo.get(&id).await.unwrap();
        let next = Counter {
            value: current.value + 1,
            ..current.clone()
        };
        match repo
            .update(next, &WriteCondition::VersionIn(vec![current.version()]))
            .await
        {
            Ok(_) => return,
            Err(RepositoryError::PreconditionFailed { .. }) => outcome.conflicts += 1,
            Err(other) => panic!("{other}"),
        }
    }
}

async fn optimistic_backoff(repo: &PgRepository<Counter>, id: i64, outcome: &mut Outcome) {
    let policy = RetryPolicy {
        max_attempts: u32::MAX,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(20),
    };
    let mut attempts = 0;
    retry_on_conflict(repo, &id, policy, |c| {
        attempts += 1;
        c.value += 1;
        Ok(())
    })
    .await
    .unwrap();
    outcome.conflicts += attempts - 1;
}

async fn pessimistic(pool: &PgPool, id: i64) {
    let mut tx = pool.begin().await.unwrap();
    let (value,): (i64,) =
        sqlx::query_as("SELECT value FROM bench_counters WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    sqlx::query("UPDATE bench_counters SET value = $2, version = version + 1 WHERE id = $1")
        .bind(id)
        .bind(value + 1)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn run(
    pool: &PgPool,
    strategy: Strategy,
    clients: usize,
    rows: i64,
    duration: Duration,
) -> (Outcome, f64) {
    sqlx::query("DROP TABLE IF EXISTS bench_counters")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(DDL).execute(pool).await.unwrap();
    let repo = Arc::new(PgRepository::<Counter>::new(pool.clone()));
    for id in 1..=rows {
        repo.create(Counter {
            id,
            version: 1,
            value: 0,
        })
        .await
        .unwrap();
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|n| {
            let (repo, pool) = (repo.clone(), pool.clone());
            tokio::spawn(async move {
                let mut outcome = Outcome::default();
                let mut state = n as u64 + 1;
                while started.elapsed() < duration {
                    let id = next_row(&mut state, rows);
                    let begun = Instant::now();
                    match strategy {
                        Strategy::Optimistic => optimistic(&repo, id, &mut outcome).await,
                        Strategy::OptimisticBackoff => {
                            optimistic_backoff(&repo, id, &mut outcome).await
                        }
                        Strategy::Pessimistic => pessimistic(&pool, id).await,
                    }
                    outcome.latencies.push(begun.elapsed());
                    outcome.commits += 1;
                }
                outcome
            })
        })
        .collect();
    let mut total = Outcome::default();
    for task in tasks {
        let outcome = task.await.unwrap();
        total.commits += outcome.commits;
        total.conflicts += outcome.conflicts;
        total.latencies.extend(outcome.latencies);
    }
    let elapsed = started.elapsed().as_secs_f64();
    // No lost update, whichever the strategy.
    let (sum, versions): (i64, i64) =
        sqlx::query_as("SELECT SUM(value)::BIGINT, SUM(version - 1)::BIGINT FROM bench_counters")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(sum as u64, total.commits, "lost updates");
    assert_eq!(versions as u64, total.commits, "versions out of step");
    (total, elapsed)
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let Ok(url) = std::env::var("OCC_TEST_POSTGRES_URL") else {
        println!("contention: skipped, OCC_TEST_POSTGRES_URL is not set");
        return;
    };
    let seconds = std::env::var("OCC_LOAD_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let duration = Duration::from_secs(seconds);
    let clients = 32;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(clients as u32)
            .connect(&url)
            .await
            .unwrap();
        println!("{clients} clients, {seconds} s per run, PostgreSQL\n");
        println!(
            "| rows | strategy | commits/s | conflicts (retried) | p50 ms | p99 ms | commits |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- |");
        for rows in [1, 32] {
            for (name, strategy) in [
                ("occ CAS, immediate retry", Strategy::Optimistic),
                (
                    "occ CAS, retry_on_conflict (backoff)",
                    Strategy::OptimisticBackoff,
                ),
                ("SELECT … FOR UPDATE", Strategy::Pessimistic),
            ] {
                let (mut outcome, elapsed) = run(&pool, strategy, clients, rows, duration).await;
                outcome.latencies.sort_unstable();
                let at = |q: f64| {
                    let l = &outcome.latencies;
                    l[((l.len() as f64 * q) as usize).min(l.len() - 1)].as_secs_f64() * 1000.0
                };
                println!(
                    "| {rows} | {name} | {:.0} | {} | {:.2} | {:.2} | {} |",
                    outcome.commits as f64 / elapsed,
                    outcome.conflicts,
                    at(0.50),
                    at(0.99),
                    outcome.commits
                );
            }
        }
        let _ = sqlx::query("DROP TABLE bench_counters")
            .execute(&pool)
            .await;
    });
}
