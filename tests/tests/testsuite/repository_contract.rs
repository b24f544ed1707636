//! One contract suite, run against every backend: memory, a SQLite file,
//! PostgreSQL and MariaDB/MySQL. Then the contention proofs: many writers, one row, no lost
//! update, in one process and across processes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::Arc;

use occ_core::pipeline::{Pipeline, Rejection, Written};
use occ_core::repository::sql::{MySqlRepository, PgRepository, SqliteRepository};
use occ_core::repository::{MemoryRepository, Repository, RepositoryError, WriteCondition};
use occ_core::{Preconditions, Versioned};
use occ_tests::{hammer, Item, ITEMS_DDL};
use serde_json::json;

type Result<T> = std::result::Result<T, RepositoryError<Item>>;

fn is_not_found<T>(r: &Result<T>) -> bool {
    matches!(r, Err(RepositoryError::NotFound))
}

fn stale_at<T: std::fmt::Debug>(r: Result<T>, version: i64) {
    match r {
        Err(RepositoryError::PreconditionFailed { current }) => {
            assert_eq!(current.version, version)
        }
        other => panic!("expected PreconditionFailed at v{version}, got {other:?}"),
    }
}

fn versions(v: &[i64]) -> WriteCondition<i64> {
    WriteCondition::VersionIn(v.to_vec())
}

/// Every method and every error of the `Repository` contract.
async fn contract<R: Repository<Item>>(repo: &R) {
    // get / create
    assert!(is_not_found(&repo.get(&1).await));
    let created = repo.create(Item::new(1, "one")).await.unwrap();
    assert_eq!(created, Item::new(1, "one"));
    assert_eq!(repo.get(&1).await.unwrap(), created);
    match repo.create(Item::new(1, "again")).await {
        Err(RepositoryError::AlreadyExists { current }) => {
            assert_eq!(current.map(|c| c.name), Some("one".into()));
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }

    // update: the version in the body is ignored, the condition decides.
    let mut next = Item::new(1, "uno");
    next.version = 99;
    let updated = repo.update(next.clone(), &versions(&[1])).await.unwrap();
    assert_eq!((updated.version, updated.name.as_str()), (2, "uno"));
    assert_eq!(repo.get(&1).await.unwrap(), updated);
    // The same If-Match again is stale and changes nothing.
    stale_at(repo.update(Item::new(1, "lost"), &versions(&[1])).await, 2);
    stale_at(repo.update(Item::new(1, "lost"), &versions(&[])).await, 2);
    assert_eq!(repo.get(&1).await.unwrap().name, "uno");
    // Any listed version may match.
    assert_eq!(
        repo.update(next.clone(), &versions(&[7, 2, 9]))
            .await
            .unwrap()
            .version,
        3
    );
    assert_eq!(
        repo.update(next.clone(), &WriteCondition::Exists)
            .await
            .unwrap()
            .version,
        4
    );
    assert_eq!(
        repo.update(next.clone(), &WriteCondition::Unconditional)
            .await
            .unwrap()
            .version,
        5
    );
    // A missing resource is NotFound, whatever the condition.
    for condition in [
        versions(&[1]),
        versions(&[]),
        WriteCondition::Exists,
        WriteCondition::Unconditional,
    ] {
        assert!(is_not_found(
            &repo.update(Item::new(404, "x"), &condition).await
        ));
        assert!(is_not_found(&repo.delete(&404, &condition).await));
    }

    // merge patch (RFC 7396), atomic and validated.
    repo.create(Item::new(2, "two")).await.unwrap();
    let patched = repo
        .merge_patch(&2, &json!({"name": "deux"}), &versions(&[1]))
        .await
        .unwrap();
    assert_eq!(
        (patched.version, patched.name.as_str(), patched.count),
        (2, "deux", 0)
    );
    stale_at(
        repo.merge_patch(&2, &json!({"name": "x"}), &versions(&[1]))
            .await,
        2,
    );
    for bad in [
        json!({"id": 3}),
        json!({"version": 9}),
        json!({"count": "many"}),
        json!({"name": null}),
        json!([1]),
    ] {
        match repo.merge_patch(&2, &bad, &versions(&[2])).await {
            Err(RepositoryError::Invalid(_)) => {}
            other => panic!("patch {bad} must be Invalid, got {other:?}"),
        }
    }
    // Setting the id to its own value is not a change.
    assert_eq!(
        repo.merge_patch(&2, &json!({"id": 2, "count": 5}), &versions(&[2]))
            .await
            .unwrap()
            .count,
        5
    );
    assert!(is_not_found(
        &repo
            .merge_patch(&404, &json!({}), &WriteCondition::Exists)
            .await
    ));
    assert_eq!(repo.get(&2).await.unwrap().version, 3);

    // delete
    stale_at(repo.delete(&1, &versions(&[1])).await, 5);
    let deleted = repo.delete(&1, &versions(&[5])).await.unwrap();
    assert_eq!(deleted.name, "uno");
    assert!(is_not_found(&repo.get(&1).await));
    assert!(is_not_found(
        &repo.delete(&1, &WriteCondition::Unconditional).await
    ));
    // Recreated: a new life starting at version 1 again.
    repo.create(Item::new(1, "reborn")).await.unwrap();
    assert_eq!(
        repo.delete(&1, &WriteCondition::Exists).await.unwrap().name,
        "reborn"
    );

    // The version counter never wraps.
    let mut last = Item::new(3, "old");
    last.version = i64::MAX;
    repo.create(last.clone()).await.unwrap();
    assert!(matches!(
        repo.update(last.clone(), &versions(&[i64::MAX])).await,
        Err(RepositoryError::VersionExhausted)
    ));
    assert_eq!(
        repo.delete(&3, &versions(&[i64::MAX]))
            .await
            .unwrap()
            .version,
        i64::MAX
    );

    // Keyset pagination in id order.
    for id in [15, 11, 13, 12, 14] {
        repo.create(Item::new(id, "page")).await.unwrap();
    }
    let first = repo.list(None, 3).await.unwrap();
    let ids: Vec<i64> = first.items.iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![2, 11, 12]);
    assert_eq!(first.next_after, Some(12));
    let second = repo.list(Some(&12), 3).await.unwrap();
    assert_eq!(
        second.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![13, 14, 15]
    );
    let last_page = repo.list(Some(&15), 3).await.unwrap();
    assert!(last_page.items.is_empty());
    assert_eq!(last_page.next_after, None);
    assert!(repo.list(None, 0).await.unwrap().items.is_empty());
}

/// A repository wrapper that yields to the scheduler before each call, as a
/// network round trip would, so in-memory writers interleave.
struct Yielding<R>(R);

#[async_trait::async_trait]
impl<R: Repository<Item>> Repository<Item> for Yielding<R> {
    async fn get(&self, id: &i64) -> Result<Item> {
        tokio::task::yield_now().await;
        self.0.get(id).await
    }
    async fn create(&self, model: Item) -> Result<Item> {
        tokio::task::yield_now().await;
        self.0.create(model).await
    }
    async fn update(&self, model: Item, condition: &WriteCondition<i64>) -> Result<Item> {
        tokio::task::yield_now().await;
        self.0.update(model, condition).await
    }
    async fn delete(&self, id: &i64, condition: &WriteCondition<i64>) -> Result<Item> {
        tokio::task::yield_now().await;
        self.0.delete(id, condition).await
    }
    async fn list(
        &self,
        after: Option<&i64>,
        limit: u32,
    ) -> Result<occ_core::repository::Page<Item>> {
        self.0.list(after, limit).await
    }
}

const TASKS: u32 = 16;
const INCREMENTS: u32 = 200;

/// N writers × M increments on one row: every success is counted once in
/// the row, and conflicts did happen (or the test proved nothing).
async fn no_lost_update<R: Repository<Item> + 'static>(repo: Arc<R>, backend: &str) {
    repo.create(Item::new(100, "counter")).await.unwrap();
    let (ok, attempts) = hammer(repo.clone(), 100, TASKS, INCREMENTS).await;
    let row = repo.get(&100).await.unwrap();
    let conflicts = attempts - ok;
    eprintln!("{backend}: {ok} increments, {attempts} attempts, {conflicts} conflicts");
    assert_eq!(ok, u64::from(TASKS * INCREMENTS));
    assert_eq!(
        u64::try_from(row.count).unwrap(),
        ok,
        "{backend}: lost update"
    );
    assert_eq!(
        u64::try_from(row.version).unwrap(),
        ok + 1,
        "{backend}: version != writes + 1"
    );
    assert!(
        conflicts > 0,
        "{backend}: no conflict happened, the test proved nothing"
    );
}

async fn sqlite_repo(prefix: &str) -> (SqliteRepository<Item>, String) {
    let (pool, url) = occ_tests::sqlite_file_pool(prefix).await;
    sqlx::query(ITEMS_DDL).execute(&pool).await.unwrap();
    (SqliteRepository::new(pool), url)
}

async fn pg_repo(pool: sqlx::PgPool) -> PgRepository<Item> {
    sqlx::query(ITEMS_DDL).execute(&pool).await.unwrap();
    PgRepository::new(pool)
}

/// A repository in a fresh database of its own (`pool`, from
/// [`occ_tests::mariadb_database`]), dropped by the test.
async fn mysql_repo(pool: sqlx::MySqlPool) -> MySqlRepository<Item> {
    sqlx::query(ITEMS_DDL).execute(&pool).await.unwrap();
    MySqlRepository::new(pool)
}

#[tokio::test]
async fn contract_memory() {
    contract(&MemoryRepository::<Item>::new()).await;
}

#[tokio::test]
async fn contract_sqlite_file() {
    contract(&sqlite_repo("occ_contract").await.0).await;
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn contract_postgres() {
    let Some((pool, _drop)) =
        occ_tests::postgres_schema("contract_postgres", "occ_contract", 4).await
    else {
        return;
    };
    contract(&pg_repo(pool).await).await;
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn contract_mysql() {
    let Some((pool, _drop)) =
        occ_tests::mariadb_database("contract_mysql", "occ_contract", 4).await
    else {
        return;
    };
    contract(&mysql_repo(pool).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contention_memory() {
    no_lost_update(
        Arc::new(Yielding(MemoryRepository::<Item>::new())),
        "memory",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contention_sqlite_file() {
    no_lost_update(Arc::new(sqlite_repo("occ_contention").await.0), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn contention_postgres() {
    let Some((pool, _drop)) =
        occ_tests::postgres_schema("contention_postgres", "occ_contention", 16).await
    else {
        return;
    };
    no_lost_update(Arc::new(pg_repo(pool).await), "postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn contention_mysql() {
    let Some((pool, _drop)) =
        occ_tests::mariadb_database("contention_mysql", "occ_contention", 16).await
    else {
        return;
    };
    no_lost_update(Arc::new(mysql_repo(pool).await), "mysql").await;
}

/// Runs `PROCESSES` copies of the worker binary against one database and
/// checks the row counts every acknowledged increment exactly once.
async fn across_processes<R: Repository<Item>>(repo: &R, backend: &str, url: &str, schema: &str) {
    const PROCESSES: u32 = 3;
    const TASKS: u32 = 6;
    const INCREMENTS: u32 = 60;
    repo.create(Item::new(200, "shared")).await.unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_occ-contention-worker"))
                .args([
                    backend,
                    url,
                    schema,
                    "200",
                    &TASKS.to_string(),
                    &INCREMENTS.to_string(),
                ])
                .output()
        })
        .collect();
    let (mut ok, mut attempts) = (0u64, 0u64);
    for child in children {
        let out = child.await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "worker failed: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut fields = stdout.split_whitespace().filter_map(|f| f.split_once('='));
        let mut next = |name: &str| {
            let (key, value) = fields.next().unwrap();
            assert_eq!(key, name);
            value.parse::<u64>().unwrap()
        };
        ok += next("successes");
        attempts += next("attempts");
    }
    let row = repo.get(&200).await.unwrap();
    eprintln!(
        "{backend}, {PROCESSES} processes: {ok} increments, {} conflicts",
        attempts - ok
    );
    assert_eq!(ok, u64::from(PROCESSES * TASKS * INCREMENTS));
    assert_eq!(
        u64::try_from(row.count).unwrap(),
        ok,
        "{backend}: lost update across processes"
    );
    assert_eq!(u64::try_from(row.version).unwrap(), ok + 1);
    assert!(attempts > ok, "{backend}: no conflict across processes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contention_sqlite_file_across_processes() {
    let (repo, url) = sqlite_repo("occ_processes").await;
    across_processes(&repo, "sqlite", &url, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn contention_postgres_across_processes() {
    let Some((pool, guard)) =
        occ_tests::postgres_schema("contention_postgres_across_processes", "occ_processes", 2)
            .await
    else {
        return;
    };
    let repo = pg_repo(pool).await;
    across_processes(&repo, "postgres", &guard.server_url(), &guard.name()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn contention_mysql_across_processes() {
    let Some((pool, guard)) =
        occ_tests::mariadb_database("contention_mysql_across_processes", "occ_processes", 2).await
    else {
        return;
    };
    let repo = mysql_repo(pool).await;
    across_processes(&repo, "mysql", &guard.server_url(), &guard.name()).await;
}

#[tokio::test]
async fn if_match_tags_become_versions_for_the_write() {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "if-match",
        r#""item-7-v3", W/"item-7-v4", "item-8-v5", "item-7-v04""#
            .parse()
            .unwrap(),
    );
    let pre = Preconditions::from_headers(&headers);
    let put = Pipeline::new(&http::Method::PUT, &pre);
    let repo = MemoryRepository::new();
    let mut item = Item::new(7, "seven");
    item.version = 3;
    repo.create(item.clone()).await.unwrap();
    // "item-7-v3" names version 3: the write goes through.
    let saved = put
        .replace::<Item, _, ()>(&repo, &7, Ok(item.clone()))
        .await;
    assert!(
        matches!(saved, Ok(Written::Updated(ref i)) if i.version == 4),
        "{saved:?}"
    );
    // Now at version 4: the weak tag never matches (IM-1), another item's
    // tag names no version of this one, and a non-canonical number is not
    // our tag.
    let again = put.replace::<Item, _, ()>(&repo, &7, Ok(item)).await;
    assert!(
        matches!(again, Err(Rejection::PreconditionFailed { ref current, .. })
            if current.as_ref().map(|c| c.version) == Some(4)),
        "{again:?}"
    );
    assert_eq!(
        Item::version_from_tag(&7, Item::entity_tag_for(&7, 42).as_tag_ref()),
        Some(42)
    );
}
