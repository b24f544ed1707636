//! The rules of docs/design.md, through the generated routes in process (tower
//! `oneshot`), one test per rule id. The reference scenario over TCP is in
//! `scenario.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::Arc;

use axum::Router;
use http::{Method, StatusCode};
use occ_axum::routes::{ConditionalRoutes, PutMode};
use occ_axum::Policy;
use occ_core::repository::{MemoryRepository, Repository};
use occ_core::Versioned;
use occ_tests::{send, Reply};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Versioned)]
#[occ(etag = "doc-{id}-v{version}")]
struct Doc {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    title: String,
    pages: u32,
}

fn doc(id: i64, version: i64, title: &str) -> Doc {
    Doc {
        id,
        version,
        title: title.into(),
        pages: 1,
    }
}

struct Setup {
    app: Router,
    repo: Arc<MemoryRepository<Doc>>,
}

async fn setup_with(
    configure: impl FnOnce(
        ConditionalRoutes<Doc, MemoryRepository<Doc>>,
    ) -> ConditionalRoutes<Doc, MemoryRepository<Doc>>,
) -> Setup {
    let repo = Arc::new(MemoryRepository::new());
    repo.create(doc(1, 3, "One")).await.unwrap();
    let routes = configure(ConditionalRoutes::new(repo.clone()));
    Setup {
        app: Router::new().nest("/docs", routes.into_router()),
        repo,
    }
}

async fn setup() -> Setup {
    setup_with(|r| r).await
}

/// Assertions these tests make on a reply.
trait Checks {
    /// Every refusal is problem details whose `status` member is the status
    /// (PD-1, PD-2) and whose title is the reason phrase (PD-4).
    fn assert_problem(&self, status: StatusCode);
}

impl Checks for Reply {
    fn assert_problem(&self, status: StatusCode) {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let p = self.json();
        assert_eq!(p["status"], json!(status.as_u16()));
        assert_eq!(p["title"], json!(status.canonical_reason().unwrap()));
        assert_eq!(p["type"], json!("about:blank"));
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");
const MERGE: (&str, &str) = ("content-type", "application/merge-patch+json");
const V3: &str = "\"doc-1-v3\"";

async fn stored(s: &Setup) -> Doc {
    s.repo.get(&1).await.unwrap()
}

#[tokio::test]
async fn g_5_get_sends_strong_etag_and_representation() {
    let s = setup().await;
    let r = send(&s.app, Method::GET, "/docs/1", &[], "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("etag"), Some(V3));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({"id": 1, "title": "One", "pages": 1}));
}

#[tokio::test]
async fn inm_1_s1_matching_if_none_match_is_304_with_etag_and_nothing_else() {
    let s = setup().await;
    for value in [V3, "W/\"doc-1-v3\"", "*", "\"x\", \"doc-1-v3\""] {
        let r = send(
            &s.app,
            Method::GET,
            "/docs/1",
            &[("if-none-match", value)],
            "",
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_MODIFIED, "{value}");
        // 304-2: ETag; 304-3: no Content-Type; 304-4: no body; 304-5: no Content-Length.
        assert_eq!(r.header("etag"), Some(V3));
        assert_eq!(r.header("content-type"), None);
        assert!(r.body.is_empty());
        assert_eq!(r.header("content-length"), None);
    }
}

#[tokio::test]
async fn ev_5_head_behaves_as_get_without_body() {
    let s = setup().await;
    let r = send(&s.app, Method::HEAD, "/docs/1", &[], "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("etag"), Some(V3));
    assert!(r.body.is_empty());
    let r = send(
        &s.app,
        Method::HEAD,
        "/docs/1",
        &[("if-none-match", V3)],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let r = send(
        &s.app,
        Method::HEAD,
        "/docs/1",
        &[("if-match", "\"doc-1-v2\"")],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert!(r.body.is_empty(), "412-2: no body for HEAD");
}

#[tokio::test]
async fn inm_5_malformed_if_none_match_on_get_is_ignored() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::GET,
        "/docs/1",
        &[("if-none-match", "doc-1-v3")],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn im_8_s5_failed_if_match_on_get_is_412() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::GET,
        "/docs/1",
        &[("if-match", "\"doc-1-v2\"")],
        "",
    )
    .await;
    r.assert_problem(StatusCode::PRECONDITION_FAILED);
    assert_eq!(r.header("etag"), Some(V3));
}

#[tokio::test]
async fn pr_1_failed_if_match_beats_304() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::GET,
        "/docs/1",
        &[("if-match", "\"doc-1-v2\""), ("if-none-match", V3)],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn im_4_put_with_current_tag_writes_and_returns_new_tag() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", V3)],
        r#"{"id":1,"title":"Uno","pages":2}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // Design decision 6 (docs/design.md): new tag, full representation, no-store.
    assert_eq!(r.header("etag"), Some("\"doc-1-v4\""));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.json(), json!({"id": 1, "title": "Uno", "pages": 2}));
    assert_eq!(stored(&s).await.version, 4);
}

#[tokio::test]
async fn im_6_s3_stale_if_match_is_412_with_current_etag_and_no_write() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", "\"doc-1-v2\"")],
        r#"{"id":1,"title":"Lost","pages":2}"#,
    )
    .await;
    r.assert_problem(StatusCode::PRECONDITION_FAILED);
    assert_eq!(r.header("etag"), Some(V3));
    assert_eq!(r.json()["current_etag"], json!(V3));
    assert_eq!(stored(&s).await, doc(1, 3, "One"));
}

#[tokio::test]
async fn s18_no_already_applied_2xx() {
    let s = setup().await;
    // The body equals the current state, but the tag is stale: still 412.
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", "\"doc-1-v2\"")],
        r#"{"id":1,"title":"One","pages":1}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn im_1_s4_weak_if_match_never_matches() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", "W/\"doc-1-v3\"")],
        r#"{"id":1,"title":"X","pages":1}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn im_5_malformed_if_match_is_412_saying_so() {
    let s = setup().await;
    for value in [
        "doc-1-v3",
        "\"doc-1-v3",
        "*, \"doc-1-v3\"",
        "",
        "w/\"doc-1-v3\"",
    ] {
        let r = send(
            &s.app,
            Method::PUT,
            "/docs/1",
            &[JSON, ("if-match", value)],
            r#"{"id":1,"title":"X","pages":1}"#,
        )
        .await;
        r.assert_problem(StatusCode::PRECONDITION_FAILED);
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .contains("could not be parsed"),
            "{value:?}"
        );
    }
    assert_eq!(stored(&s).await.version, 3);
}

#[tokio::test]
async fn im_3_star_matches_existing() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", "*")],
        r#"{"id":1,"title":"Star","pages":1}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn g_12_if_match_over_several_lines() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", "\"a\""), ("if-match", V3)],
        r#"{"id":1,"title":"Lines","pages":1}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn inm_6_s2_if_none_match_on_existing_write_is_412() {
    let s = setup().await;
    for value in ["*", V3] {
        let r = send(
            &s.app,
            Method::PUT,
            "/docs/1",
            &[JSON, ("if-none-match", value)],
            r#"{"id":1,"title":"X","pages":1}"#,
        )
        .await;
        r.assert_problem(StatusCode::PRECONDITION_FAILED);
    }
    let r = send(
        &s.app,
        Method::DELETE,
        "/docs/1",
        &[("if-none-match", "*")],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn s15_428_1_unconditional_write_is_428_naming_if_match_and_not_stored() {
    let s = setup().await;
    for (method, headers, body) in [
        (Method::PUT, vec![JSON], r#"{"id":1,"title":"X","pages":1}"#),
        (Method::PATCH, vec![MERGE], r#"{"title":"X"}"#),
        (Method::DELETE, vec![], ""),
    ] {
        let r = send(&s.app, method.clone(), "/docs/1", &headers, body).await;
        r.assert_problem(StatusCode::PRECONDITION_REQUIRED);
        // 428-2: says how to resubmit; 428-3: not stored.
        assert!(
            r.json()["detail"].as_str().unwrap().contains("If-Match"),
            "{method}"
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    assert_eq!(stored(&s).await.version, 3);
}

#[tokio::test]
async fn policy_optional_lets_unconditional_writes_through() {
    let s = setup_with(|r| r.policy(Policy::Optional)).await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON],
        r#"{"id":1,"title":"Free","pages":1}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("etag"), Some("\"doc-1-v4\""));
}

#[tokio::test]
async fn ev_1_s17_stale_if_match_with_invalid_body_is_412() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", "\"doc-1-v2\"")],
        "{not json",
    )
    .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn s16_valid_if_match_with_invalid_body_is_400_or_422() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", V3)],
        "{not json",
    )
    .await;
    r.assert_problem(StatusCode::BAD_REQUEST);
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", V3)],
        r#"{"id":1,"title":5}"#,
    )
    .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(stored(&s).await, doc(1, 3, "One"));
}

#[tokio::test]
async fn ev_2_s13_wrong_media_type_415_beats_412() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[("content-type", "text/plain"), ("if-match", "\"stale\"")],
        "{}",
    )
    .await;
    r.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn ev_2_s11_delete_missing_is_404_whatever_the_preconditions() {
    let s = setup().await;
    for headers in [
        vec![("if-match", "\"doc-9-v1\"")],
        vec![("if-match", "*")],
        vec![],
    ] {
        let r = send(&s.app, Method::DELETE, "/docs/9", &headers, "").await;
        r.assert_problem(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn s12_get_missing_is_404_whatever_the_preconditions() {
    let s = setup().await;
    for headers in [vec![("if-match", "*")], vec![("if-none-match", "*")]] {
        send(&s.app, Method::GET, "/docs/9", &headers, "")
            .await
            .assert_problem(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn s9_patch_missing_is_404() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PATCH,
        "/docs/9",
        &[MERGE, ("if-match", "*")],
        "{}",
    )
    .await;
    r.assert_problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn s6_put_if_match_on_missing_is_412_when_put_creates() {
    let s = setup_with(|r| r.creating_put(true)).await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/9",
        &[JSON, ("if-match", "*")],
        r#"{"id":9,"title":"New","pages":1}"#,
    )
    .await;
    r.assert_problem(StatusCode::PRECONDITION_FAILED);
    assert!(
        r.header("etag").is_none(),
        "no current tag for a missing resource"
    );
}

#[tokio::test]
async fn s7_put_1_if_none_match_star_creates_once_with_201() {
    let s = setup_with(|r| r.creating_put(true)).await;
    let create = || {
        send(
            &s.app,
            Method::PUT,
            "/docs/9",
            &[JSON, ("if-none-match", "*")],
            r#"{"id":9,"title":"New","pages":1}"#,
        )
    };
    let r = create().await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("etag"), Some("\"doc-9-v1\""));
    assert_eq!(r.header("location"), Some("/docs/9"));
    // Create-once: the second one finds it and fails.
    create()
        .await
        .assert_problem(StatusCode::PRECONDITION_FAILED);
}

#[tokio::test]
async fn put_without_creating_on_missing_is_404() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/9",
        &[JSON, ("if-none-match", "*")],
        r#"{"id":9,"title":"New","pages":1}"#,
    )
    .await;
    r.assert_problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn put_merge_mode_keeps_unsent_members() {
    let s = setup_with(|r| r.put_mode(PutMode::Merge)).await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", V3)],
        r#"{"pages":9}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"id": 1, "title": "One", "pages": 9}));
}

#[tokio::test]
async fn put_id_in_body_must_match_url() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", V3)],
        r#"{"id":2,"title":"X","pages":1}"#,
    )
    .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn patch_1_mp_2_merge_patch_applies_atomically() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PATCH,
        "/docs/1",
        &[MERGE, ("if-match", V3)],
        r#"{"pages":7}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("etag"), Some("\"doc-1-v4\""));
    assert_eq!(r.json(), json!({"id": 1, "title": "One", "pages": 7}));
}

#[tokio::test]
async fn patch_1_invalid_patch_changes_nothing() {
    let s = setup().await;
    for (patch, status) in [
        (r#"{"pages":"many"}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (r#"{"id":2}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (r#"{"title":null}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (r#"[1,2]"#, StatusCode::UNPROCESSABLE_ENTITY),
        ("{oops", StatusCode::BAD_REQUEST),
    ] {
        let r = send(
            &s.app,
            Method::PATCH,
            "/docs/1",
            &[MERGE, ("if-match", V3)],
            patch,
        )
        .await;
        r.assert_problem(status);
    }
    assert_eq!(stored(&s).await, doc(1, 3, "One"));
}

#[tokio::test]
async fn patch_6_mp_1_patch_needs_merge_patch_media_type_and_says_so() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::PATCH,
        "/docs/1",
        &[JSON, ("if-match", V3)],
        r#"{"pages":7}"#,
    )
    .await;
    r.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        r.header("accept-patch"),
        Some("application/merge-patch+json")
    );
}

#[tokio::test]
async fn ev_3_s14_options_ignores_preconditions_and_lists_methods() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::OPTIONS,
        "/docs/1",
        &[("if-match", "\"stale\"")],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        r.header("allow"),
        Some("GET, HEAD, PUT, PATCH, DELETE, OPTIONS")
    );
    assert_eq!(
        r.header("accept-patch"),
        Some("application/merge-patch+json")
    );
}

#[tokio::test]
async fn patch_6_collection_options_does_not_advertise_patch() {
    let s = setup().await;
    let r = send(&s.app, Method::OPTIONS, "/docs", &[], "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert_eq!(r.header("accept-patch"), None, "no PATCH on the collection");
    // The item's OPTIONS keeps it.
    let r = send(&s.app, Method::OPTIONS, "/docs/1", &[], "").await;
    assert_eq!(
        r.header("accept-patch"),
        Some("application/merge-patch+json")
    );
}

#[tokio::test]
async fn r412_3_decision_16_failed_if_match_carries_current_representation() {
    let s = setup().await;
    let get = send(&s.app, Method::GET, "/docs/1", &[], "").await;
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", "\"doc-1-v2\"")],
        r#"{"title":"Mine","pages":2}"#,
    )
    .await;
    r.assert_problem(StatusCode::PRECONDITION_FAILED);
    assert_eq!(r.header("etag"), Some(V3));
    assert_eq!(r.json()["current_etag"], json!(V3));
    assert_eq!(r.json()["current"], get.json());
    assert_eq!(stored(&s).await, doc(1, 3, "One"));
}

#[tokio::test]
async fn method_not_allowed_is_405_with_allow_as_problem() {
    let s = setup().await;
    let r = send(&s.app, Method::POST, "/docs/1", &[JSON], "{}").await;
    r.assert_problem(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.header("allow"),
        Some("GET, HEAD, PUT, PATCH, DELETE, OPTIONS")
    );
}

#[tokio::test]
async fn del_1_delete_with_current_tag_is_204() {
    let s = setup().await;
    let r = send(&s.app, Method::DELETE, "/docs/1", &[("if-match", V3)], "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // RFC 9110 §8.6: no Content-Length on a 204.
    assert_eq!(r.header("content-length"), None);
    assert!(r.body.is_empty());
    assert!(s.repo.get(&1).await.is_err());
}

#[tokio::test]
async fn post_creates_with_201_location_and_etag() {
    let s = setup().await;
    let r = send(
        &s.app,
        Method::POST,
        "/docs",
        &[JSON],
        r#"{"id":5,"title":"Five","pages":1}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("location"), Some("/docs/5"));
    assert_eq!(r.header("etag"), Some("\"doc-5-v1\""));
    let again = send(
        &s.app,
        Method::POST,
        "/docs",
        &[JSON],
        r#"{"id":5,"title":"Five","pages":1}"#,
    )
    .await;
    again.assert_problem(StatusCode::CONFLICT);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let s = setup_with(|r| r.body_limit(64)).await;
    let big = format!(r#"{{"id":1,"title":"{}","pages":1}}"#, "x".repeat(100));
    let r = send(
        &s.app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", V3)],
        &big,
    )
    .await;
    r.assert_problem(StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn decision_12_unparsable_id_is_400_and_unknown_path_404_problems() {
    let s = setup().await;
    for uri in ["/docs/abc", "/docs/99999999999999999999999"] {
        let r = send(&s.app, Method::GET, uri, &[], "").await;
        r.assert_problem(StatusCode::BAD_REQUEST);
        let detail = r.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.starts_with("the id in the URL is not valid: "),
            "{detail}"
        );
    }
    // A well-formed id that names nothing, and a URL the routes do not
    // have, are 404, each with its own explanation.
    let r = send(&s.app, Method::GET, "/docs/2", &[], "").await;
    r.assert_problem(StatusCode::NOT_FOUND);
    assert_eq!(r.json()["detail"], json!("no resource with id 2 exists"));
    let r = send(&s.app, Method::GET, "/docs/1/extra", &[], "").await;
    r.assert_problem(StatusCode::NOT_FOUND);
    assert_eq!(r.json()["detail"], json!("no resource exists at this URL"));
}

#[tokio::test]
async fn list_pages_by_id() {
    let s = setup().await;
    for id in 2..=4 {
        s.repo.create(doc(id, 1, "More")).await.unwrap();
    }
    let r = send(&s.app, Method::GET, "/docs?limit=2", &[], "").await;
    assert_eq!(r.status, StatusCode::OK);
    let page = r.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_after"], json!(2));
    let r = send(&s.app, Method::GET, "/docs?after=2&limit=2", &[], "").await;
    let ids: Vec<i64> = r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![3, 4]);
    send(&s.app, Method::GET, "/docs?limit=abc", &[], "")
        .await
        .assert_problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn list_refuses_unknown_query_parameters_naming_them() {
    let s = setup().await;
    for uri in [
        "/docs?foo=1",
        "/docs?limit=2&foo=1",
        "/docs?after=1&sort=title",
    ] {
        let r = send(&s.app, Method::GET, uri, &[], "").await;
        r.assert_problem(StatusCode::BAD_REQUEST);
        let detail = r.json()["detail"].as_str().unwrap().to_owned();
        let name = if uri.contains("sort") {
            "`sort`"
        } else {
            "`foo`"
        };
        assert!(detail.contains(name), "{uri}: {detail}");
    }
    // The known ones still work, and a malformed limit is still 400.
    let r = send(&s.app, Method::GET, "/docs?after=0&limit=1", &[], "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["items"][0]["id"], json!(1));
    let r = send(&s.app, Method::GET, "/docs?limit=x", &[], "").await;
    r.assert_problem(StatusCode::BAD_REQUEST);
    assert!(r.json()["detail"].as_str().unwrap().contains("limit"));
}

/// EV-2 behind the layer: the handler's own 403 and 404 come before the
/// 428, which the extractor answers where the handler evaluates the
/// preconditions; a conditional write passes.
#[tokio::test]
async fn ev_2_behind_the_layer_403_and_404_come_before_the_428() {
    use axum::extract::Path;
    use axum::routing::put;
    use occ_axum::{ConditionalRequest, Refusal, RequirePreconditionsLayer, Tagged};

    #[derive(Clone, Serialize, Deserialize, Versioned)]
    #[occ(etag = "n-{id}-v{version}")]
    struct Note {
        id: u64,
        #[version]
        version: u64,
    }

    async fn touch(
        Path(id): Path<u64>,
        headers: http::HeaderMap,
        request: ConditionalRequest,
    ) -> Result<Tagged<Note>, Refusal> {
        if headers.get("x-user").is_none_or(|user| user != "owner") {
            return Err(occ_axum::Problem::new(StatusCode::FORBIDDEN).into());
        }
        if id != 1 {
            return Err(occ_axum::Problem::new(StatusCode::NOT_FOUND).into());
        }
        let current = Note { id, version: 1 };
        let current = request
            .pipeline()
            .decide::<Note, occ_axum::Problem>(Some(current))
            .map_err(|rejection| request.refuse(rejection))?
            .expect("it exists");
        Ok(Tagged::written(Note {
            version: current.version + 1,
            ..current
        }))
    }

    let app: Router = Router::new()
        .route("/notes/{id}", put(touch))
        .layer(RequirePreconditionsLayer::new());
    let r = send(&app, Method::PUT, "/notes/1", &[("x-user", "mallory")], "").await;
    r.assert_problem(StatusCode::FORBIDDEN);
    let r = send(&app, Method::PUT, "/notes/2", &[("x-user", "owner")], "").await;
    r.assert_problem(StatusCode::NOT_FOUND);
    let r = send(&app, Method::PUT, "/notes/1", &[("x-user", "owner")], "").await;
    r.assert_problem(StatusCode::PRECONDITION_REQUIRED);
    let tag = [("x-user", "owner"), ("if-match", "\"n-1-v1\"")];
    let r = send(&app, Method::PUT, "/notes/1", &tag, "").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn r428_1_layer_refuses_unconditional_writes_of_hand_written_handlers() {
    use axum::routing::get;
    use occ_axum::RequirePreconditionsLayer;

    let app: Router = Router::new()
        .route(
            "/notes/{id}",
            get(|| async { "read" })
                .put(|| async { "written" })
                .delete(|| async { "deleted" }),
        )
        .layer(RequirePreconditionsLayer::new().before_handlers());
    for method in [Method::PUT, Method::DELETE] {
        let r = send(&app, method.clone(), "/notes/1", &[], "").await;
        r.assert_problem(StatusCode::PRECONDITION_REQUIRED);
        // 428-2: says how to resubmit; 428-3: not stored.
        assert!(r.json()["detail"].as_str().unwrap().contains("If-Match"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        for header in [
            ("if-match", V3),
            ("if-none-match", "*"),
            ("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ] {
            let r = send(&app, method.clone(), "/notes/1", &[header], "").await;
            assert_eq!(r.status, StatusCode::OK, "{method} {header:?}");
        }
    }
    let r = send(&app, Method::GET, "/notes/1", &[], "").await;
    assert_eq!(
        (r.status, r.body.as_slice()),
        (StatusCode::OK, &b"read"[..])
    );
}
