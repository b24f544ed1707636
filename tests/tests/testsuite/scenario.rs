//! The reference scenario of docs/design.md, replayed byte for byte over a
//! real TCP socket against the profiles service, on SQLite, PostgreSQL and
//! MariaDB/MySQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use occ_tests::{http, serve};
use serde_json::json;

async fn replay(database_url: &str) {
    let repo = occ_examples::connect(database_url).await.unwrap();
    let addr = serve(occ_examples::app(repo)).await;

    // GET /profiles/42 -> 200, ETag: "prof-42-v7", {"id":42,"name":"Ava","city":"Paris"}
    let r = http(addr, "GET", "/profiles/42", &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some("\"prof-42-v7\""));
    assert_eq!(r.text(), r#"{"id":42,"name":"Ava","city":"Paris"}"#);
    assert!(r.header("date").is_some(), "304-6: Date on every response");

    // PUT If-Match: "prof-42-v7" {"city":"Lyon"} -> 200, "prof-42-v8", the new body
    let json_body = [("content-type", "application/json")];
    let r = http(
        addr,
        "PUT",
        "/profiles/42",
        &[json_body[0], ("if-match", "\"prof-42-v7\"")],
        r#"{"city":"Lyon"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("etag"), Some("\"prof-42-v8\""));
    assert_eq!(r.text(), r#"{"id":42,"name":"Ava","city":"Lyon"}"#);
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // The same If-Match again -> 412 with the current ETag and state, problem+json.
    let r = http(
        addr,
        "PUT",
        "/profiles/42",
        &[json_body[0], ("if-match", "\"prof-42-v7\"")],
        r#"{"name":"Ava Smith"}"#,
    )
    .await;
    assert_eq!(r.status, 412);
    assert_eq!(r.header("etag"), Some("\"prof-42-v8\""));
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let problem = r.json();
    assert_eq!(problem["title"], json!("Precondition Failed"));
    assert_eq!(problem["status"], json!(412));
    assert!(problem["type"].is_string() && problem["detail"].is_string());
    assert_eq!(problem["current_etag"], json!("\"prof-42-v8\""));
    // Decision 16: the current representation, as the GET sends it.
    assert_eq!(
        problem["current"],
        json!({"id":42,"name":"Ava","city":"Lyon"})
    );
    assert!(r
        .text()
        .ends_with(r#","current":{"id":42,"name":"Ava","city":"Lyon"}}"#));

    // No If-Match -> 428, problem+json naming If-Match.
    let r = http(
        addr,
        "PUT",
        "/profiles/42",
        &json_body,
        r#"{"name":"Ava Smith"}"#,
    )
    .await;
    assert_eq!(r.status, 428);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.json()["title"], json!("Precondition Required"));
    assert!(r.json()["detail"].as_str().unwrap().contains("If-Match"));

    // Nothing was lost or half-written.
    let r = http(addr, "GET", "/profiles/42", &[], "").await;
    assert_eq!(r.header("etag"), Some("\"prof-42-v8\""));
    assert_eq!(r.text(), r#"{"id":42,"name":"Ava","city":"Lyon"}"#);
}

#[tokio::test]
async fn reference_scenario_sqlite() {
    let path = std::env::temp_dir().join(format!("{}.db", occ_tests::unique_name("occ_scenario")));
    replay(&format!("sqlite://{}", path.display())).await;
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn reference_scenario_sqlite_memory() {
    replay("sqlite::memory:").await;
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn reference_scenario_postgres() {
    // A schema of its own, which the service's URL points at.
    let test = "reference_scenario_postgres";
    let Some((url, _drop)) = occ_tests::example_database(occ_tests::Db::Postgres, test).await
    else {
        return;
    };
    replay(&url).await;
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn reference_scenario_mysql() {
    // A database of its own, named in the URL the service opens.
    let test = "reference_scenario_mysql";
    let Some((url, _drop)) = occ_tests::example_database(occ_tests::Db::MariaDb, test).await else {
        return;
    };
    replay(&url).await;
}
