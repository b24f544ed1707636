//! occ's generated routes vs hand-written axum handlers doing the same
//! correct work (same repository, same serialization, same checks), in
//! process through tower's `oneshot`, on the in-memory repository (the
//! framework's own cost), SQLite (a file in the temporary directory) and
//! PostgreSQL (when `OCC_TEST_POSTGRES_URL` is set).
//!
//! The representation is about 4 KiB, so the 200 vs 304 pair shows what a
//! conditional GET saves. The baseline uses the `headers` crate for
//! `If-Match` / `If-None-Match`, as a hand-written service would.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup should stop the bench

#[path = "../../occ-core/benches/support/interleaved.rs"]
mod interleaved;
#[path = "../../occ-core/benches/support/ratios.rs"]
mod ratios;
mod support;

use std::cell::Cell;
use std::sync::Arc;

use axum::body::Bytes;
use axum::Router;
use criterion::{criterion_group, Criterion};
use http::{header, Method, StatusCode};
use occ_core::repository::sql::{sqlite_pool, PgRepository, SqliteRepository};
use occ_core::repository::MemoryRepository;
use sqlx::postgres::PgConnectOptions;
use sqlx::AssertSqlSafe;

use support::{doc, hand_written, occ, request, runtime, send, tag, version_of, Doc, Repo, DDL};

// ---- The measurements. ----

/// `reset` brings the database back to a settled state (WAL checkpointed,
/// dead tuples vacuumed) before each measurement, so that neither side
/// runs on what the other left behind.
fn run(
    c: &mut Criterion,
    backend: &str,
    rt: &tokio::runtime::Runtime,
    repo: Arc<Repo>,
    reset: &dyn Fn(),
) {
    rt.block_on(repo.create(doc(1))).unwrap();
    let apps = [
        ("occ", occ(repo.clone())),
        ("hand_written", hand_written(repo.clone())),
    ];
    let put_body = Bytes::from(serde_json::to_vec(&doc(1)).unwrap());
    let none = Bytes::new();
    let version = Cell::new(1i64);

    // Both sides answer alike before anything is timed.
    for (_, app) in &apps {
        let v = version.get();
        let (status, headers, body) = rt.block_on(send(app, request(Method::GET, None, &none)));
        assert_eq!((status, version_of(&headers, 1)), (StatusCode::OK, v));
        assert!(body.len() > 4000, "representation of {} bytes", body.len());
        let inm = Some((header::IF_NONE_MATCH, tag(1, v)));
        let (status, _, body) = rt.block_on(send(app, request(Method::GET, inm, &none)));
        assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
        let stale = Some((header::IF_MATCH, tag(1, v - 1)));
        let (status, headers, _) = rt.block_on(send(app, request(Method::PUT, stale, &put_body)));
        assert_eq!(
            (status, version_of(&headers, 1)),
            (StatusCode::PRECONDITION_FAILED, v)
        );
        let (status, headers, _) = rt.block_on(send(
            app,
            request(Method::PUT, Some((header::IF_MATCH, tag(1, v))), &put_body),
        ));
        assert_eq!((status, version_of(&headers, 1)), (StatusCode::OK, v + 1));
        version.set(v + 1);
    }

    let (occ_app, hand_app) = (&apps[0].1, &apps[1].1);
    pair(
        c,
        &format!("get_200/{backend}"),
        occ_app,
        hand_app,
        reset,
        |app| {
            rt.block_on(send(app, request(Method::GET, None, &none)));
        },
    );
    pair(
        c,
        &format!("get_304/{backend}"),
        occ_app,
        hand_app,
        reset,
        |app| {
            let inm = Some((header::IF_NONE_MATCH, tag(1, version.get())));
            rt.block_on(send(app, request(Method::GET, inm, &none)));
        },
    );
    pair(
        c,
        &format!("put_200/{backend}"),
        occ_app,
        hand_app,
        reset,
        |app| {
            let if_match = Some((header::IF_MATCH, tag(1, version.get())));
            let (status, headers, _) =
                rt.block_on(send(app, request(Method::PUT, if_match, &put_body)));
            assert_eq!(status, StatusCode::OK);
            version.set(version_of(&headers, 1));
        },
    );
    pair(
        c,
        &format!("put_412/{backend}"),
        occ_app,
        hand_app,
        reset,
        |app| {
            let stale = Some((header::IF_MATCH, tag(1, version.get() - 1)));
            rt.block_on(send(app, request(Method::PUT, stale, &put_body)));
        },
    );
}

/// Times `op` on occ's app and on the baseline, interleaved: each timed
/// request to one is followed by an untimed one to the other, so that both
/// see the same database state (SQLite's WAL, PostgreSQL's dead tuples
/// grow with every write; run one after the other, the second pays).
fn pair(
    c: &mut Criterion,
    group: &str,
    occ: &Router,
    hand: &Router,
    reset: &dyn Fn(),
    op: impl Fn(&Router),
) {
    let timed = |measured: &Router, other: &Router, iters: u64| {
        interleaved::timed(&|| op(measured), &|| op(other), iters)
    };
    let mut group = c.benchmark_group(group);
    reset();
    group.bench_function("occ", |b| b.iter_custom(|iters| timed(occ, hand, iters)));
    reset();
    group.bench_function("hand_written", |b| {
        b.iter_custom(|iters| timed(hand, occ, iters))
    });
    group.finish();
}

/// No database: what the framework itself costs, and what a 304 saves
/// when reading the state is cheap.
fn memory(c: &mut Criterion) {
    let rt = runtime();
    run(
        c,
        "memory",
        &rt,
        Arc::new(MemoryRepository::<Doc>::new()),
        &|| {},
    );
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let path = std::env::temp_dir().join(format!("occ_bench_http_{}.db", std::process::id()));
    let pool = rt
        .block_on(sqlite_pool(&format!("sqlite://{}", path.display())))
        .unwrap();
    rt.block_on(sqlx::query(DDL).execute(&pool)).unwrap();
    let reset = || {
        rt.block_on(sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool))
            .unwrap();
    };
    run(
        c,
        "sqlite",
        &rt,
        Arc::new(SqliteRepository::<Doc>::new(pool.clone())),
        &reset,
    );
    let _ = std::fs::remove_file(&path);
}

fn postgres(c: &mut Criterion) {
    let Ok(url) = std::env::var("OCC_TEST_POSTGRES_URL") else {
        eprintln!("routes/postgres: skipped, OCC_TEST_POSTGRES_URL is not set");
        return;
    };
    let rt = runtime();
    // A schema of its own: other runs may use the same database.
    let schema = format!("occ_routes_{}", std::process::id());
    let pool = rt.block_on(async {
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let options: PgConnectOptions = url.parse().unwrap();
        let pool = sqlx::PgPool::connect_with(options.options([("search_path", &schema)]))
            .await
            .unwrap();
        sqlx::query(DDL).execute(&pool).await.unwrap();
        pool
    });
    let reset = || {
        rt.block_on(sqlx::query("VACUUM bench_http_docs").execute(&pool))
            .unwrap();
    };
    run(
        c,
        "postgres",
        &rt,
        Arc::new(PgRepository::<Doc>::new(pool.clone())),
        &reset,
    );
    rt.block_on(async {
        let _ = sqlx::query(AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE")))
            .execute(&pool)
            .await;
    });
}

criterion_group!(benches, memory, sqlite, postgres);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let groups: Vec<String> = ["get_200", "get_304", "put_200", "put_412"]
        .iter()
        .flat_map(|g| ["memory", "sqlite", "postgres"].map(|b| format!("{g}/{b}")))
        .collect();
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    ratios::report(&groups, "occ", "hand_written");
    ratios::report_pair("get_200/memory", "get_304/memory", "occ");
    ratios::report_pair("get_200/sqlite", "get_304/sqlite", "occ");
    ratios::report_pair("get_200/postgres", "get_304/postgres", "occ");
}
