//! What the benches share: a document of about 4 KiB, its table, and the
//! hand-written baseline service that does the same correct work as occ's
//! generated routes.
#![allow(dead_code)] // each bench uses its part

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use headers::HeaderMapExt;
use http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use occ_axum::routes::ConditionalRoutes;
use occ_axum::{Problem, Tagged};
use occ_core::repository::{Repository, RepositoryError, WriteCondition};
use occ_core::Versioned;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "bench_http_docs", etag = "doc-{id}-v{version}")]
pub(crate) struct Doc {
    pub(crate) id: i64,
    #[version]
    #[serde(skip)]
    pub(crate) version: i64,
    pub(crate) title: String,
    pub(crate) body: String,
}

pub(crate) const DDL: &str = "CREATE TABLE IF NOT EXISTS bench_http_docs (
    id BIGINT PRIMARY KEY, version BIGINT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL)";

pub(crate) fn doc(id: i64) -> Doc {
    Doc {
        id,
        version: 1,
        title: "A title".into(),
        // About 4 KiB of JSON once serialized.
        body: "lorem ipsum ".repeat(340),
    }
}

pub(crate) type Repo = dyn Repository<Doc>;

// ---- The baseline: what a careful hand-written service does. ----

fn problem(status: StatusCode, current: Option<&Doc>) -> Response {
    let problem = Problem::new(status);
    match current {
        Some(doc) => problem.with_current_etag(doc.entity_tag()).into_response(),
        None => problem.into_response(),
    }
}

fn etag_header(doc: &Doc) -> headers::ETag {
    doc.entity_tag().to_string().parse().expect("a valid tag")
}

async fn hand_get(
    State(repo): State<Arc<Repo>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    let doc = match repo.get(&id).await {
        Ok(doc) => doc,
        Err(RepositoryError::NotFound) => return problem(StatusCode::NOT_FOUND, None),
        Err(_) => return problem(StatusCode::SERVICE_UNAVAILABLE, None),
    };
    let etag = etag_header(&doc);
    if let Some(if_none_match) = headers.typed_get::<headers::IfNoneMatch>() {
        if !if_none_match.precondition_passes(&etag) {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            response.headers_mut().typed_insert(etag);
            return response;
        }
    }
    Tagged::ok(doc).into_response()
}

async fn hand_put(
    State(repo): State<Arc<Repo>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers.get(header::CONTENT_TYPE) != Some(&HeaderValue::from_static("application/json")) {
        return problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
    }
    let current = match repo.get(&id).await {
        Ok(doc) => doc,
        Err(RepositoryError::NotFound) => return problem(StatusCode::NOT_FOUND, None),
        Err(_) => return problem(StatusCode::SERVICE_UNAVAILABLE, None),
    };
    let Some(if_match) = headers.typed_get::<headers::IfMatch>() else {
        return problem(StatusCode::PRECONDITION_REQUIRED, None);
    };
    if !if_match.precondition_passes(&etag_header(&current)) {
        return problem(StatusCode::PRECONDITION_FAILED, Some(&current));
    }
    let Ok(mut next) = serde_json::from_slice::<Doc>(&body) else {
        return problem(StatusCode::UNPROCESSABLE_ENTITY, None);
    };
    next.id = current.id;
    next.version = current.version;
    match repo
        .update(next, &WriteCondition::VersionIn(vec![current.version]))
        .await
    {
        Ok(saved) => Tagged::written(saved).into_response(),
        Err(RepositoryError::PreconditionFailed { current }) => {
            problem(StatusCode::PRECONDITION_FAILED, Some(&current))
        }
        Err(_) => problem(StatusCode::SERVICE_UNAVAILABLE, None),
    }
}

pub(crate) fn hand_written(repo: Arc<Repo>) -> Router {
    Router::new().nest(
        "/docs",
        Router::new()
            .route("/{id}", get(hand_get).put(hand_put))
            .with_state(repo),
    )
}

pub(crate) fn occ(repo: Arc<Repo>) -> Router {
    Router::new().nest(
        "/docs",
        ConditionalRoutes::<Doc, Repo>::new(repo).into_router(),
    )
}

// ---- One in-process exchange, the same for both sides. ----

/// A request for doc 1, with one optional header; a non-empty body is sent
/// as JSON.
pub(crate) fn request(
    method: Method,
    header: Option<(header::HeaderName, String)>,
    body: &Bytes,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri("/docs/1");
    if let Some((name, value)) = header {
        builder = builder.header(name, value);
    }
    if body.is_empty() {
        builder.body(Body::empty()).expect("a valid request")
    } else {
        builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.clone()))
            .expect("a valid request")
    }
}

/// Sends `request` through `app` with tower's `oneshot` and collects the
/// whole response.
pub(crate) async fn send(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.expect("a whole body").to_bytes(),
    )
}

/// The wire form of doc `id`'s tag at `version`, as the model makes it.
pub(crate) fn tag(id: i64, version: i64) -> String {
    Doc::entity_tag_for(&id, version).to_string()
}

/// The version in the `ETag` of a response about doc `id`.
pub(crate) fn version_of(headers: &HeaderMap, id: i64) -> i64 {
    let etag = headers[header::ETAG].to_str().expect("an ASCII ETag");
    let tag: occ_core::EntityTag = etag.parse().expect("a valid ETag");
    Doc::version_from_tag(&id, tag.as_tag_ref()).expect("a tag of this doc")
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}
