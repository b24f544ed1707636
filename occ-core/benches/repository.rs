//! A conditional update through the repository vs the same compare-and-swap
//! written by hand with sqlx, on the same pool, in the same run: SQLite
//! (a file in the temporary directory) and PostgreSQL (when
//! `OCC_TEST_POSTGRES_URL` is set).
//!
//! Each iteration bumps one row from the version it knows to the next, so
//! every statement succeeds: this measures the happy path's overhead.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup should stop the bench

use std::cell::Cell;
use std::hint::black_box;

#[path = "support/interleaved.rs"]
mod interleaved;
#[path = "support/ratios.rs"]
mod ratios;

use criterion::{criterion_group, Criterion};
use occ_core::repository::sql::{sqlite_pool, PgRepository, SqlModel, SqliteRepository};
use occ_core::repository::{Repository, WriteCondition};
use occ_core::Versioned;
use sqlx::error::BoxDynError;
use sqlx::{Arguments, Database, Encode, FromRow, Type};

#[derive(Debug, Clone, FromRow, Versioned)]
#[occ(etag = "doc-{id}-v{version}")]
struct Doc {
    id: i64,
    #[version]
    version: i64,
    title: String,
    body: String,
}

impl<DB: Database> SqlModel<DB> for Doc
where
    Doc: for<'r> FromRow<'r, DB::Row>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
{
    const TABLE: &'static str = "bench_docs";
    const ID_COLUMN: &'static str = "id";
    const VERSION_COLUMN: &'static str = "version";
    const DATA_COLUMNS: &'static [&'static str] = &["title", "body"];

    fn bind_id(id: &i64, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
        args.add(*id)
    }

    fn bind_data(&self, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
        args.add(&self.title)?;
        args.add(&self.body)
    }
}

/// Each side writes its own table, created fresh, so that neither runs on
/// the other's leftovers (a grown WAL, dead tuples).
const DDL: [&str; 2] = [
    "CREATE TABLE bench_docs (
    id BIGINT PRIMARY KEY, version BIGINT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE bench_docs_hand (
    id BIGINT PRIMARY KEY, version BIGINT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL)",
];
const SEED_HAND: &str =
    "INSERT INTO bench_docs_hand (id, version, title, body) VALUES (1, 1, '', '')";

fn doc(version: i64) -> Doc {
    Doc {
        id: 1,
        version,
        title: "A title".into(),
        body: "x".repeat(200),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Times `repo.update` against `hand_written` (the same compare-and-swap
/// as one SQL statement), each on its own table, in `group`.
///
/// The two alternate: each timed operation of one side is followed by an
/// untimed one of the other, and `reset` settles the database before each
/// measurement, so that both run on the same database state. (Run one after
/// the other, the second pays for the first's WAL or dead tuples.)
fn compare<F, Fut>(
    c: &mut Criterion,
    group: &str,
    rt: &tokio::runtime::Runtime,
    repo: &dyn Repository<Doc>,
    reset: &dyn Fn(),
    hand_written: F,
) where
    F: Fn(Doc, i64) -> Fut,
    Fut: std::future::Future<Output = Doc>,
{
    let version = Cell::new(1i64);
    let hand_version = Cell::new(1i64);
    let occ_op = || {
        let v = version.get();
        let saved = rt
            .block_on(repo.update(black_box(doc(v)), &WriteCondition::VersionIn(vec![v])))
            .unwrap();
        version.set(saved.version);
    };
    let hand_op = || {
        let v = hand_version.get();
        let saved = rt.block_on(hand_written(black_box(doc(v)), v));
        hand_version.set(saved.version);
    };
    let mut group = c.benchmark_group(group);
    // Each measurement starts from a settled database: the WAL
    // checkpointed, the dead tuples vacuumed.
    reset();
    group.bench_function("occ", |b| {
        b.iter_custom(|iters| interleaved::timed(&occ_op, &hand_op, iters))
    });
    reset();
    group.bench_function("hand_written", |b| {
        b.iter_custom(|iters| interleaved::timed(&hand_op, &occ_op, iters))
    });
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let path = std::env::temp_dir().join(format!("occ_bench_{}.db", std::process::id()));
    let pool = rt
        .block_on(sqlite_pool(&format!("sqlite://{}", path.display())))
        .unwrap();
    rt.block_on(async {
        for ddl in DDL {
            sqlx::query(ddl).execute(&pool).await.unwrap();
        }
    });
    let repo = SqliteRepository::<Doc>::new(pool.clone());
    rt.block_on(async {
        repo.create(doc(1)).await.unwrap();
        sqlx::query(SEED_HAND).execute(&pool).await.unwrap();
    });
    let reset = || {
        rt.block_on(sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool))
            .unwrap();
    };
    compare(
        c,
        "conditional_update/sqlite",
        &rt,
        &repo,
        &reset,
        |d, v| {
            let pool = &pool;
            async move {
                sqlx::query_as(
                    "UPDATE bench_docs_hand SET title = ?2, body = ?3, version = version + 1 \
                 WHERE id = ?1 AND version = ?4 RETURNING id, version, title, body",
                )
                .bind(d.id)
                .bind(d.title)
                .bind(d.body)
                .bind(v)
                .fetch_one(pool)
                .await
                .unwrap()
            }
        },
    );
    let _ = std::fs::remove_file(&path);
}

fn postgres(c: &mut Criterion) {
    let Ok(url) = std::env::var("OCC_TEST_POSTGRES_URL") else {
        eprintln!("conditional_update/postgres: skipped, OCC_TEST_POSTGRES_URL is not set");
        return;
    };
    let rt = runtime();
    let pool = rt.block_on(sqlx::PgPool::connect(&url)).unwrap();
    rt.block_on(async {
        for table in ["bench_docs", "bench_docs_hand"] {
            let drop = format!("DROP TABLE IF EXISTS {table}");
            sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&pool)
                .await
                .unwrap();
        }
        for ddl in DDL {
            sqlx::query(ddl).execute(&pool).await.unwrap();
        }
    });
    let repo = PgRepository::<Doc>::new(pool.clone());
    rt.block_on(async {
        repo.create(doc(1)).await.unwrap();
        sqlx::query(SEED_HAND).execute(&pool).await.unwrap();
    });
    let reset = || {
        rt.block_on(sqlx::query("VACUUM bench_docs, bench_docs_hand").execute(&pool))
            .unwrap();
    };
    compare(
        c,
        "conditional_update/postgres",
        &rt,
        &repo,
        &reset,
        |d, v| {
            let pool = &pool;
            async move {
                sqlx::query_as(
                    "UPDATE bench_docs_hand SET title = $2, body = $3, version = version + 1 \
                 WHERE id = $1 AND version = $4 RETURNING id, version, title, body",
                )
                .bind(d.id)
                .bind(d.title)
                .bind(d.body)
                .bind(v)
                .fetch_one(pool)
                .await
                .unwrap()
            }
        },
    );
    rt.block_on(async {
        let _ = sqlx::query("DROP TABLE bench_docs, bench_docs_hand")
            .execute(&pool)
            .await;
    });
}

criterion_group!(benches, sqlite, postgres);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios::report(
        &["conditional_update/sqlite", "conditional_update/postgres"],
        "occ",
        "hand_written",
    );
}
