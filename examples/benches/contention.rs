//! Optimistic vs pessimistic concurrency on PostgreSQL: clients
//! incrementing counters, with occ's compare-and-swap (read, then
//! `UPDATE … WHERE version IN (…)`, retry on 412) against the usual
//! hand-written alternative (`SELECT … FOR UPDATE` and `UPDATE` in one
//! transaction). The matrix: {1, 32, 10 000} rows × {8, 32} clients, from
//! every client fighting for one row to hardly any collision.
//!
//! ```sh
//! OCC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p occ-examples --bench contention
//! ```
//!
//! Reported: commits per second, conflicts (412s, then retried), the p50
//! and p99 time from the first attempt of an increment to its commit, and
//! the database round trips per commit. Each run ends by checking that
//! every counter equals its number of commits.
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
    /// Read, compare-and-swap, and on 412 start over at once: read again.
    Optimistic,
    /// Read once; on 412 retry at once from the state the 412 carried
    /// (design decision 16), without reading again.
    FromConflict,
    /// The same through `retry_on_conflict`: it retries from the state the
    /// conflict carried, after a jittered backoff (1 ms doubling up to
    /// 20 ms).
    OptimisticBackoff,
    /// `SELECT … FOR UPDATE` then `UPDATE` in a transaction.
    Pessimistic,
}

#[derive(Default)]
struct Outcome {
    commits: u64,
    conflicts: u64,
    /// Statements sent to the database (a transaction's BEGIN and COMMIT
    /// included).
    round_trips: u64,
    latencies: Vec<Duration>,
}

/// One row that every client writes, each its own member (`c0` … `c31`):
/// with `merge`, the table keeps a version per member (`c0_version`, …),
/// and a write from an older version merges when its members did not
/// change since (design decision 16).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "bench_wide", merge)]
struct Wide {
    id: i64,
    #[version]
    version: i64,
    c0: i64,
    c1: i64,
    c2: i64,
    c3: i64,
    c4: i64,
    c5: i64,
    c6: i64,
    c7: i64,
    c8: i64,
    c9: i64,
    c10: i64,
    c11: i64,
    c12: i64,
    c13: i64,
    c14: i64,
    c15: i64,
    c16: i64,
    c17: i64,
    c18: i64,
    c19: i64,
    c20: i64,
    c21: i64,
    c22: i64,
    c23: i64,
    c24: i64,
    c25: i64,
    c26: i64,
    c27: i64,
    c28: i64,
    c29: i64,
    c30: i64,
    c31: i64,
}

const WIDE_DDL: &str = "CREATE TABLE bench_wide (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, c0 BIGINT NOT NULL DEFAULT 0, c0_version BIGINT NOT NULL DEFAULT 0, c1 BIGINT NOT NULL DEFAULT 0, c1_version BIGINT NOT NULL DEFAULT 0, c2 BIGINT NOT NULL DEFAULT 0, c2_version BIGINT NOT NULL DEFAULT 0, c3 BIGINT NOT NULL DEFAULT 0, c3_version BIGINT NOT NULL DEFAULT 0, c4 BIGINT NOT NULL DEFAULT 0, c4_version BIGINT NOT NULL DEFAULT 0, c5 BIGINT NOT NULL DEFAULT 0, c5_version BIGINT NOT NULL DEFAULT 0, c6 BIGINT NOT NULL DEFAULT 0, c6_version BIGINT NOT NULL DEFAULT 0, c7 BIGINT NOT NULL DEFAULT 0, c7_version BIGINT NOT NULL DEFAULT 0, c8 BIGINT NOT NULL DEFAULT 0, c8_version BIGINT NOT NULL DEFAULT 0, c9 BIGINT NOT NULL DEFAULT 0, c9_version BIGINT NOT NULL DEFAULT 0, c10 BIGINT NOT NULL DEFAULT 0, c10_version BIGINT NOT NULL DEFAULT 0, c11 BIGINT NOT NULL DEFAULT 0, c11_version BIGINT NOT NULL DEFAULT 0, c12 BIGINT NOT NULL DEFAULT 0, c12_version BIGINT NOT NULL DEFAULT 0, c13 BIGINT NOT NULL DEFAULT 0, c13_version BIGINT NOT NULL DEFAULT 0, c14 BIGINT NOT NULL DEFAULT 0, c14_version BIGINT NOT NULL DEFAULT 0, c15 BIGINT NOT NULL DEFAULT 0, c15_version BIGINT NOT NULL DEFAULT 0, c16 BIGINT NOT NULL DEFAULT 0, c16_version BIGINT NOT NULL DEFAULT 0, c17 BIGINT NOT NULL DEFAULT 0, c17_version BIGINT NOT NULL DEFAULT 0, c18 BIGINT NOT NULL DEFAULT 0, c18_version BIGINT NOT NULL DEFAULT 0, c19 BIGINT NOT NULL DEFAULT 0, c19_version BIGINT NOT NULL DEFAULT 0, c20 BIGINT NOT NULL DEFAULT 0, c20_version BIGINT NOT NULL DEFAULT 0, c21 BIGINT NOT NULL DEFAULT 0, c21_version BIGINT NOT NULL DEFAULT 0, c22 BIGINT NOT NULL DEFAULT 0, c22_version BIGINT NOT NULL DEFAULT 0, c23 BIGINT NOT NULL DEFAULT 0, c23_version BIGINT NOT NULL DEFAULT 0, c24 BIGINT NOT NULL DEFAULT 0, c24_version BIGINT NOT NULL DEFAULT 0, c25 BIGINT NOT NULL DEFAULT 0, c25_version BIGINT NOT NULL DEFAULT 0, c26 BIGINT NOT NULL DEFAULT 0, c26_version BIGINT NOT NULL DEFAULT 0, c27 BIGINT NOT NULL DEFAULT 0, c27_version BIGINT NOT NULL DEFAULT 0, c28 BIGINT NOT NULL DEFAULT 0, c28_version BIGINT NOT NULL DEFAULT 0, c29 BIGINT NOT NULL DEFAULT 0, c29_version BIGINT NOT NULL DEFAULT 0, c30 BIGINT NOT NULL DEFAULT 0, c30_version BIGINT NOT NULL DEFAULT 0, c31 BIGINT NOT NULL DEFAULT 0, c31_version BIGINT NOT NULL DEFAULT 0)";

#[derive(Clone, Copy)]
enum OwnField {
    /// A merge patch of the client's own member, from the version of its
    /// own last write: it never conflicts, however stale.
    Merge,
    /// The same patch under strict If-Match: read, swap, retry on 412.
    Strict,
    /// `SELECT … FOR UPDATE` then `UPDATE` of the client's column.
    Locked,
}

/// Client `client` increments its own member of the hot row until
/// `deadline`; what it saw.
async fn own_field(
    repo: &PgRepository<Wide>,
    pool: &PgPool,
    strategy: OwnField,
    client: usize,
    rows: i64,
    started: Instant,
    duration: Duration,
) -> (Outcome, std::collections::HashMap<i64, i64>) {
    let member = format!("c{client}");
    let mut outcome = Outcome::default();
    let mut state = client as u64 + 1;
    // Per row: the version of this client's last write there (where its
    // member last changed), and the member's value.
    let mut seen: std::collections::HashMap<i64, (i64, i64)> = std::collections::HashMap::new();
    while started.elapsed() < duration {
        let id = next_row(&mut state, rows);
        let (mut base, mut value) = seen.get(&id).copied().unwrap_or((1, 0));
        let begun = Instant::now();
        loop {
            let patch = serde_json::json!({ member.as_str(): value + 1 });
            let result = match strategy {
                OwnField::Merge => {
                    outcome.round_trips += 1;
                    repo.merge_patch(&id, &patch, &WriteCondition::UnchangedSince(base))
                        .await
                }
                OwnField::Strict => {
                    let current = repo.get(&id).await.unwrap();
                    outcome.round_trips += 2;
                    repo.merge_patch(
                        &id,
                        &patch,
                        &WriteCondition::VersionIn(vec![current.version]),
                    )
                    .await
                }
                OwnField::Locked => {
                    let mut tx = pool.begin().await.unwrap();
                    let sql = format!("SELECT {member} FROM bench_wide WHERE id = $1 FOR UPDATE");
                    let (now,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await
                        .unwrap();
                    let sql = format!(
                        "UPDATE bench_wide SET {member} = $1, version = version + 1 WHERE id = $2"
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(now + 1)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                    outcome.round_trips += 4;
                    value += 1;
                    break;
                }
            };
            match result {
                Ok(saved) => {
                    base = saved.version;
                    value += 1;
                    break;
                }
                Err(
                    RepositoryError::PreconditionFailed { .. }
                    | RepositoryError::MergeConflict { .. },
                ) => {
                    // The miss was explained by one read.
                    outcome.round_trips += 1;
                    outcome.conflicts += 1;
                }
                Err(other) => panic!("{other}"),
            }
        }
        seen.insert(id, (base, value));
        outcome.latencies.push(begun.elapsed());
        outcome.commits += 1;
    }
    let values = seen
        .into_iter()
        .map(|(id, (_, value))| (id, value))
        .collect();
    (outcome, values)
}

async fn run_own_field(
    pool: &PgPool,
    strategy: OwnField,
    clients: usize,
    rows: i64,
    duration: Duration,
) -> (Outcome, f64) {
    sqlx::query("DROP TABLE IF EXISTS bench_wide")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(WIDE_DDL).execute(pool).await.unwrap();
    sqlx::query("INSERT INTO bench_wide (id, version) SELECT g, 1 FROM generate_series(1, $1) g")
        .bind(rows)
        .execute(pool)
        .await
        .unwrap();
    let repo = Arc::new(PgRepository::<Wide>::new(pool.clone()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (repo, pool) = (repo.clone(), pool.clone());
            tokio::spawn(async move {
                own_field(&repo, &pool, strategy, client, rows, started, duration).await
            })
        })
        .collect();
    let mut total = Outcome::default();
    let mut per_client = Vec::new();
    for task in tasks {
        let (outcome, values) = task.await.unwrap();
        per_client.push(values);
        total.commits += outcome.commits;
        total.conflicts += outcome.conflicts;
        total.round_trips += outcome.round_trips;
        total.latencies.extend(outcome.latencies);
    }
    let elapsed = started.elapsed().as_secs_f64();
    // No lost update: every member holds what its client wrote last, and
    // the versions count every commit.
    for (client, values) in per_client.iter().enumerate() {
        for (id, value) in values {
            let row = serde_json::to_value(repo.get(id).await.unwrap()).unwrap();
            assert_eq!(
                row[format!("c{client}")].as_i64(),
                Some(*value),
                "lost updates"
            );
        }
    }
    let (versions,): (i64,) = sqlx::query_as("SELECT SUM(version - 1)::BIGINT FROM bench_wide")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(versions as u64, total.commits, "versions out of step");
    (total, elapsed)
}

fn report(rows: &str, clients: usize, name: &str, outcome: &mut Outcome, elapsed: f64) {
    outcome.latencies.sort_unstable();
    let at = |q: f64| {
        let l = &outcome.latencies;
        l[((l.len() as f64 * q) as usize).min(l.len() - 1)].as_secs_f64() * 1000.0
    };
    println!(
        "| {rows} | {clients} | {name} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {} |",
        outcome.commits as f64 / elapsed,
        outcome.conflicts,
        outcome.round_trips as f64 / outcome.commits as f64,
        at(0.50),
        at(0.99),
        outcome.commits
    );
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
        outcome.round_trips += 1;
        let next = Counter {
            value: current.value + 1,
            ..current.clone()
        };
        outcome.round_trips += 1;
        match repo
            .update(next, &WriteCondition::VersionIn(vec![current.version()]))
            .await
        {
            Ok(_) => return,
            Err(RepositoryError::PreconditionFailed { .. }) => {
                // The miss was explained by one read (the 412's state).
                outcome.round_trips += 1;
                outcome.conflicts += 1;
            }
            Err(other) => panic!("{other}"),
        }
    }
}

async fn from_conflict(repo: &PgRepository<Counter>, id: i64, outcome: &mut Outcome) {
    let mut current = repo.get(&id).await.unwrap();
    outcome.round_trips += 1;
    loop {
        let next = Counter {
            value: current.value + 1,
            ..current.clone()
        };
        outcome.round_trips += 1;
        match repo
            .update(next, &WriteCondition::VersionIn(vec![current.version()]))
            .await
        {
            Ok(_) => return,
            Err(RepositoryError::PreconditionFailed { current: now }) => {
                outcome.round_trips += 1;
                outcome.conflicts += 1;
                current = *now;
            }
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
    let mut attempts: u64 = 0;
    retry_on_conflict(repo, &id, policy, |c| {
        attempts += 1;
        c.value += 1;
        Ok(())
    })
    .await
    .unwrap();
    let conflicts = attempts - 1;
    outcome.conflicts += conflicts;
    // One read, a write per attempt, and the read that explains each miss
    // (the helper retries from the state that read returned).
    outcome.round_trips += 1 + attempts + conflicts;
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
    sqlx::query("INSERT INTO bench_counters SELECT g, 1, 0 FROM generate_series(1, $1) g")
        .bind(rows)
        .execute(pool)
        .await
        .unwrap();
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
                        Strategy::FromConflict => from_conflict(&repo, id, &mut outcome).await,
                        Strategy::OptimisticBackoff => {
                            optimistic_backoff(&repo, id, &mut outcome).await
                        }
                        Strategy::Pessimistic => {
                            pessimistic(&pool, id).await;
                            // BEGIN, SELECT … FOR UPDATE, UPDATE, COMMIT.
                            outcome.round_trips += 4;
                        }
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
        total.round_trips += outcome.round_trips;
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
    let most_clients = 32;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(most_clients)
            .connect(&url)
            .await
            .unwrap();
        println!("{seconds} s per run, PostgreSQL\n");
        println!(
            "| rows | clients | strategy | commits/s | conflicts (retried) | round trips / commit | p50 ms | p99 ms | commits |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for rows in [1, 32, 10_000] {
            for clients in [8, 32] {
                for (name, strategy) in [
                    ("occ CAS, retry after a new read", Strategy::Optimistic),
                    ("occ CAS, retry from the 412's state", Strategy::FromConflict),
                    (
                        "occ CAS, retry_on_conflict (backoff)",
                        Strategy::OptimisticBackoff,
                    ),
                    ("SELECT … FOR UPDATE", Strategy::Pessimistic),
                ] {
                    let (mut outcome, elapsed) =
                        run(&pool, strategy, clients, rows, duration).await;
                    report(&rows.to_string(), clients, name, &mut outcome, elapsed);
                }
            }
        }
        for rows in [1, 32, 10_000] {
        for clients in [8, 32] {
            for (name, strategy) in [
                ("own field: occ merge (stale tags)", OwnField::Merge),
                ("own field: occ strict CAS, retry after a new read", OwnField::Strict),
                ("own field: SELECT … FOR UPDATE", OwnField::Locked),
            ] {
                let (mut outcome, elapsed) =
                    run_own_field(&pool, strategy, clients, rows, duration).await;
                report(&rows.to_string(), clients, name, &mut outcome, elapsed);
            }
        }
        }
        for table in ["bench_counters", "bench_wide"] {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
                .execute(&pool)
                .await;
        }
    });
}
