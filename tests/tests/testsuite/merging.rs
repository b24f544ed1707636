//! Merging of disjoint edits (design decision 16), opt-in per route: a
//! PATCH whose `If-Match` names an older version succeeds when none of the
//! members it sets changed after that version, and is 412 naming the
//! members (`conflicts`) otherwise. Over memory and SQLite, and PostgreSQL
//! and MariaDB/MySQL where `OCC_TEST_POSTGRES_URL` / `OCC_TEST_MYSQL_URL`
//! are set; each backend runs the same scenarios:
//!
//! 1. 16 clients each PATCH their own member of one resource, all from the
//!    same stale tag, concurrently: all 16 succeed, without a retry.
//! 2. 16 clients PATCH the same member from the same tag, concurrently,
//!    over several rounds: exactly one wins each round, the others are 412
//!    with `conflicts: ["f0"]`, and the state is the acknowledged write.
//! 3. Strict mode is the default; `If-Match: *` and `If-Unmodified-Since`
//!    keep their strict meaning with merging on; a merging PUT merges too.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::Arc;

use axum::Router;
use http::{Method, StatusCode};
use occ_axum::routes::{ConditionalRoutes, PutMode};
use occ_core::repository::sql::SqlRepository;
use occ_core::repository::{MemoryRepository, Repository};
use occ_core::Versioned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A resource of 16 members that clients edit independently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "merge_wide", merge, etag = "w-{id}-v{version}")]
struct Wide {
    id: i64,
    #[version]
    version: i64,
    f0: String,
    f1: String,
    f2: String,
    f3: String,
    f4: String,
    f5: String,
    f6: String,
    f7: String,
    f8: String,
    f9: String,
    f10: String,
    f11: String,
    f12: String,
    f13: String,
    f14: String,
    f15: String,
}

const FIELDS: usize = 16;

fn ddl() -> String {
    let mut ddl =
        String::from("CREATE TABLE merge_wide (id BIGINT PRIMARY KEY, version BIGINT NOT NULL");
    for i in 0..FIELDS {
        ddl.push_str(&format!(
            ", f{i} TEXT NOT NULL, f{i}_version BIGINT NOT NULL DEFAULT 0"
        ));
    }
    ddl.push(')');
    ddl
}

fn initial(id: i64) -> Wide {
    serde_json::from_value(json!({
        "id": id, "version": 1,
        "f0": "", "f1": "", "f2": "", "f3": "", "f4": "", "f5": "", "f6": "", "f7": "",
        "f8": "", "f9": "", "f10": "", "f11": "", "f12": "", "f13": "", "f14": "", "f15": "",
    }))
    .unwrap()
}

struct Reply {
    status: StatusCode,
    etag: Option<String>,
    body: Value,
}

/// [`occ_tests::send`], with the tag and the JSON body (`null` if none).
async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let reply = occ_tests::send(app, method, uri, headers, body).await;
    Reply {
        status: reply.status,
        etag: reply
            .headers
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: serde_json::from_slice(&reply.body).unwrap_or(Value::Null),
    }
}

async fn patch(app: &Router, id: i64, if_match: &str, patch: &Value) -> Reply {
    send(
        app,
        Method::PATCH,
        &format!("/{id}"),
        &[
            ("if-match", if_match),
            ("content-type", "application/merge-patch+json"),
        ],
        &patch.to_string(),
    )
    .await
}

async fn get(app: &Router, id: i64) -> Reply {
    send(app, Method::GET, &format!("/{id}"), &[], "").await
}

/// (1) 16 clients, one member each, all from the same stale tag.
async fn disjoint_edits_all_merge<R: Repository<Wide> + 'static>(repo: Arc<R>) {
    let app = ConditionalRoutes::new(repo.clone())
        .merging(true)
        .into_router();
    repo.create(initial(1)).await.unwrap();
    // Version 1: stale after the first write, for all 16.
    let tag = get(&app, 1).await.etag.unwrap();
    let mut handles = Vec::new();
    for i in 0..FIELDS {
        let app = app.clone();
        let tag = tag.clone();
        handles.push(tokio::spawn(async move {
            let member = format!("f{i}");
            patch(&app, 1, &tag, &json!({ member: format!("edit {i}") })).await
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for handle in handles {
        let reply = handle.await.unwrap();
        match reply.status {
            StatusCode::OK => ok += 1,
            StatusCode::PRECONDITION_FAILED => refused += 1,
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    eprintln!("disjoint edits: {ok} succeeded, {refused} refused with 412, 0 retries");
    assert_eq!(
        (ok, refused),
        (FIELDS, 0),
        "every disjoint edit merges, none retried"
    );
    let end = get(&app, 1).await;
    for i in 0..FIELDS {
        assert_eq!(end.body[format!("f{i}")], format!("edit {i}"), "f{i} kept");
    }
    assert_eq!(end.body["version"], json!(1 + FIELDS as i64));
    assert_eq!(
        end.etag.as_deref(),
        Some(&*format!("\"w-1-v{}\"", 1 + FIELDS))
    );
}

/// (2) 16 clients, the same member, the same tag, over several rounds.
async fn same_member_one_wins<R: Repository<Wide> + 'static>(repo: Arc<R>) {
    const ROUNDS: usize = 5;
    let app = ConditionalRoutes::new(repo.clone())
        .merging(true)
        .into_router();
    repo.create(initial(2)).await.unwrap();
    let mut acknowledged = 0usize;
    let mut refused_total = 0usize;
    for round in 0..ROUNDS {
        let tag = get(&app, 2).await.etag.unwrap();
        let mut handles = Vec::new();
        for client in 0..FIELDS {
            let app = app.clone();
            let tag = tag.clone();
            handles.push(tokio::spawn(async move {
                let value = format!("round {round} client {client}");
                let reply = patch(&app, 2, &tag, &json!({ "f0": value.clone() })).await;
                (value, reply)
            }));
        }
        let mut winners = Vec::new();
        for handle in handles {
            let (value, reply) = handle.await.unwrap();
            match reply.status {
                StatusCode::OK => winners.push((value, reply)),
                StatusCode::PRECONDITION_FAILED => {
                    refused_total += 1;
                    assert_eq!(reply.body["conflicts"], json!(["f0"]), "{}", reply.body);
                    assert!(reply.body["current_etag"].is_string(), "{}", reply.body);
                    assert!(reply.body["current"].is_object(), "{}", reply.body);
                }
                other => panic!("unexpected {other}: {}", reply.body),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one wins");
        acknowledged += 1;
        let (value, won) = &winners[0];
        let end = get(&app, 2).await;
        assert_eq!(
            end.body["f0"],
            json!(value),
            "the acknowledged write is the state"
        );
        assert_eq!(end.etag, won.etag, "the state is the one acknowledged");
    }
    eprintln!(
        "same member: {acknowledged} acknowledged, {refused_total} refused with 412 and conflicts [\"f0\"], over {ROUNDS} rounds of {FIELDS}"
    );
    assert_eq!(refused_total, ROUNDS * (FIELDS - 1));
    let end = get(&app, 2).await;
    assert_eq!(end.body["version"], json!(1 + acknowledged as i64));
}

/// (3) Strict by default; `*` and dates strict with merging on.
async fn strict_meanings_kept<R: Repository<Wide> + 'static>(repo: Arc<R>) {
    repo.create(initial(3)).await.unwrap();
    let strict = ConditionalRoutes::new(repo.clone()).into_router();
    let merging = ConditionalRoutes::new(repo.clone())
        .merging(true)
        .into_router();
    let v1 = get(&strict, 3).await.etag.unwrap();
    assert_eq!(
        patch(&strict, 3, &v1, &json!({"f0": "a"})).await.status,
        StatusCode::OK
    );
    // Strict: the tag is old, even though f1 did not change.
    let old = patch(&strict, 3, &v1, &json!({"f1": "b"})).await;
    assert_eq!(old.status, StatusCode::PRECONDITION_FAILED);
    assert!(old.body.get("conflicts").is_none(), "{}", old.body);
    // Merging: the same request merges.
    let merged = patch(&merging, 3, &v1, &json!({"f1": "b"})).await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_eq!(merged.body["f0"], "a");
    assert_eq!(merged.body["f1"], "b");
    // A version the resource never had: 412, no conflicts.
    let future = patch(&merging, 3, "\"w-3-v99\"", &json!({"f2": "c"})).await;
    assert_eq!(future.status, StatusCode::PRECONDITION_FAILED);
    assert!(future.body.get("conflicts").is_none(), "{}", future.body);
    // A list naming two versions: strict.
    let two = patch(
        &merging,
        3,
        &format!("{v1}, \"w-3-v2\""),
        &json!({"f2": "c"}),
    )
    .await;
    assert_eq!(two.status, StatusCode::PRECONDITION_FAILED);
    // `*` still means "exists".
    let star = patch(&merging, 3, "*", &json!({"f2": "c"})).await;
    assert_eq!(star.status, StatusCode::OK);
    // If-Unmodified-Since with an old If-Match: strict (If-Match decides).
    let dated = send(
        &merging,
        Method::PATCH,
        "/3",
        &[
            ("if-match", &v1),
            ("if-unmodified-since", "Sun, 06 Nov 2044 08:49:37 GMT"),
            ("content-type", "application/merge-patch+json"),
        ],
        &json!({"f3": "d"}).to_string(),
    )
    .await;
    assert_eq!(
        dated.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        dated.body
    );
    let end = get(&merging, 3).await;
    assert_eq!(end.body["version"], json!(4));
    assert_eq!(end.body["f3"], "");
    // A merging PUT from the old tag on an unchanged member merges too;
    // on a changed one it is 412 naming it.
    let put = ConditionalRoutes::new(repo)
        .put_mode(PutMode::Merge)
        .merging(true)
        .into_router();
    let headers = [
        ("if-match", v1.as_str()),
        ("content-type", "application/json"),
    ];
    let merged = send(&put, Method::PUT, "/3", &headers, r#"{"f4":"e"}"#).await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_eq!(
        (merged.body["f1"].as_str(), merged.body["f4"].as_str()),
        (Some("b"), Some("e"))
    );
    let refused = send(&put, Method::PUT, "/3", &headers, r#"{"f0":"z","f5":"y"}"#).await;
    assert_eq!(
        refused.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["conflicts"], json!(["f0"]));
    assert_eq!(get(&put, 3).await.body["version"], json!(5));
}

async fn all<R: Repository<Wide> + 'static>(repo: Arc<R>) {
    disjoint_edits_all_merge(repo.clone()).await;
    same_member_one_wins(repo.clone()).await;
    strict_meanings_kept(repo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merging_memory() {
    all(Arc::new(MemoryRepository::<Wide>::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merging_sqlite() {
    let (pool, url) = occ_tests::sqlite_file_pool("occ_merging").await;
    sqlx::query(sqlx::AssertSqlSafe(ddl()))
        .execute(&pool)
        .await
        .unwrap();
    all(Arc::new(SqlRepository::<sqlx::Sqlite, Wide>::new(pool))).await;
    let path = url.trim_start_matches("sqlite://").to_owned();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn merging_postgres() {
    let Some((pool, _drop)) =
        occ_tests::postgres_schema("merging_postgres", "occ_merging", 16).await
    else {
        return;
    };
    sqlx::query(sqlx::AssertSqlSafe(ddl()))
        .execute(&pool)
        .await
        .unwrap();
    all(Arc::new(SqlRepository::<sqlx::Postgres, Wide>::new(pool))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn merging_mysql() {
    let Some((pool, _drop)) = occ_tests::mariadb_database("merging_mysql", "occ_merging", 16).await
    else {
        return;
    };
    sqlx::query(sqlx::AssertSqlSafe(ddl()))
        .execute(&pool)
        .await
        .unwrap();
    all(Arc::new(SqlRepository::<sqlx::MySql, Wide>::new(pool))).await;
}
