//! Browser clients on another origin: the examples' CORS layer
//! (`CORS_ORIGIN`) lets a page send the precondition headers and read the
//! validators, and occ's own `OPTIONS` answers survive beside preflights.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::sync::Arc;

use occ_tests::{http, RawResponse};

const ORIGIN: &str = "https://app.example";

async fn profiles_with_cors() -> std::net::SocketAddr {
    let repo: Arc<occ_examples::Profiles> = Arc::new(occ_core::repository::MemoryRepository::new());
    occ_examples::seed(&*repo).await.expect("seed");
    let app = occ_examples::with_cors(occ_examples::app(repo), ORIGIN).expect("a valid origin");
    occ_tests::serve(app).await
}

/// The comma-separated values of `name`, lowercased.
fn list(response: &RawResponse, name: &str) -> Vec<String> {
    response
        .header(name)
        .unwrap_or_default()
        .split(',')
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

#[tokio::test]
async fn a_preflight_allows_the_precondition_headers_on_writes() {
    let addr = profiles_with_cors().await;
    let r = http(
        addr,
        "OPTIONS",
        "/profiles/42",
        &[
            ("origin", ORIGIN),
            ("access-control-request-method", "PUT"),
            (
                "access-control-request-headers",
                "if-match, content-type, idempotency-key",
            ),
        ],
        "",
    )
    .await;
    assert!(r.status == 200 || r.status == 204, "{}", r.status);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    let methods = list(&r, "access-control-allow-methods");
    for method in ["get", "put", "patch", "delete", "post"] {
        assert!(
            methods.iter().any(|m| m == method),
            "{method} in {methods:?}"
        );
    }
    let headers = list(&r, "access-control-allow-headers");
    for header in [
        "if-match",
        "if-none-match",
        "if-unmodified-since",
        "content-type",
        "idempotency-key",
        "occ-read-after",
    ] {
        assert!(
            headers.iter().any(|h| h == header),
            "{header} in {headers:?}"
        );
    }
}

#[tokio::test]
async fn a_cross_origin_read_can_see_the_validators() {
    let addr = profiles_with_cors().await;
    let r = http(addr, "GET", "/profiles/42", &[("origin", ORIGIN)], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("etag"), Some("\"prof-42-v7\""));
    let exposed = list(&r, "access-control-expose-headers");
    for header in [
        "etag",
        "last-modified",
        "location",
        "idempotent-replayed",
        "occ-read-after",
    ] {
        assert!(
            exposed.iter().any(|h| h == header),
            "{header} in {exposed:?}"
        );
    }
    // A refusal is readable too: the 428's problem body and its CORS headers.
    let r = http(
        addr,
        "PUT",
        "/profiles/42",
        &[("origin", ORIGIN), ("content-type", "application/json")],
        r#"{"city":"Lyon"}"#,
    )
    .await;
    assert_eq!(r.status, 428);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers() {
    let addr = profiles_with_cors().await;
    let r = http(
        addr,
        "GET",
        "/profiles/42",
        &[("origin", "https://evil.example")],
        "",
    )
    .await;
    assert_eq!(
        r.status, 200,
        "the server still answers; the browser withholds it"
    );
    assert!(r.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn occs_own_options_answer_survives_beside_cors() {
    let addr = profiles_with_cors().await;
    for headers in [vec![], vec![("origin", ORIGIN)]] {
        let r = http(addr, "OPTIONS", "/profiles/42", &headers, "").await;
        assert_eq!(r.status, 204, "{headers:?}");
        let cross_origin = !headers.is_empty();
        assert_eq!(
            r.header("access-control-allow-origin").is_some(),
            cross_origin
        );
        let allow = list(&r, "allow");
        assert!(allow.iter().any(|m| m == "patch"), "{allow:?}");
        assert_eq!(
            r.header("accept-patch"),
            Some("application/merge-patch+json")
        );
    }
}
