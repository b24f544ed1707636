//! Hand-written handlers on the same pipeline as the generated routes: a
//! custom action is a write (428 without a precondition under the default
//! policy, design decision 2), and the layer and the extractors agree.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::routing::post;
use axum::Router;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use occ_axum::{Conditional, Refusal, RequirePreconditionsLayer, Tagged};
use occ_core::repository::{MemoryRepository, Repository};
use occ_core::Versioned;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

#[derive(Debug, Clone, Serialize, Deserialize, Versioned)]
#[occ(etag = "doc-{id}-v{version}")]
struct Doc {
    id: u64,
    #[version]
    #[serde(skip)]
    version: u64,
    title: String,
    published: bool,
}

type Docs = Arc<MemoryRepository<Doc>>;

/// `POST /docs/{id}/publish`: a merge of the member it sets, one
/// compare-and-swap.
async fn publish(
    State(docs): State<Docs>,
    Path(id): Path<u64>,
    request: Conditional<Bytes>,
) -> Result<Tagged<Doc>, Refusal> {
    request
        .merge(&*docs, &id, |_| {
            Ok(serde_json::json!({ "published": true }))
        })
        .await
}

async fn docs() -> Docs {
    let docs = Docs::default();
    docs.create(Doc {
        id: 1,
        version: 3,
        title: "One".into(),
        published: false,
    })
    .await
    .unwrap();
    docs
}

async fn send(app: &Router, headers: &[(&str, &str)]) -> (StatusCode, Option<String>, String) {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/docs/1/publish");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, etag, String::from_utf8_lossy(&body).into_owned())
}

async fn custom_action_is_a_write(app: Router, docs: &Docs) {
    let (status, _, body) = send(&app, &[]).await;
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED, "{body}");
    assert!(body.contains("If-Match"), "{body}");
    assert!(!docs.get(&1).await.unwrap().published, "nothing written");

    let (status, etag, body) = send(&app, &[("if-match", "\"doc-1-v2\"")]).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(etag.as_deref(), Some("\"doc-1-v3\""));
    assert!(!docs.get(&1).await.unwrap().published, "nothing written");

    let (status, etag, body) = send(&app, &[("if-match", "\"doc-1-v3\"")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(etag.as_deref(), Some("\"doc-1-v4\""));
    let stored = docs.get(&1).await.unwrap();
    assert!(stored.published && stored.version == 4 && stored.title == "One");
}

#[tokio::test]
async fn r428_1_post_custom_action_through_conditional_requires_a_precondition() {
    let docs = docs().await;
    let app = Router::new()
        .route("/docs/{id}/publish", post(publish))
        .with_state(docs.clone());
    custom_action_is_a_write(app, &docs).await;
}

#[tokio::test]
async fn r428_1_layer_and_extractor_agree_on_custom_actions() {
    let docs = docs().await;
    let app = Router::new()
        .route("/docs/{id}/publish", post(publish))
        .with_state(docs.clone())
        .layer(RequirePreconditionsLayer::new());
    custom_action_is_a_write(app, &docs).await;
}
