//! The log of refusals: one `tracing` event per 412 and per 428, with the
//! method, the resource, the header at fault and the current tag.
//!
//! A binary of its own: a thread-local subscriber and tests on other
//! threads race on tracing's per-callsite interest cache.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::Router;
use http::{Method, Request, StatusCode};
use occ_axum::routes::ConditionalRoutes;
use occ_core::repository::{MemoryRepository, Repository};
use occ_core::Versioned;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

#[derive(Debug, Clone, Serialize, Deserialize, Versioned)]
#[occ(etag = "doc-{id}-v{version}")]
struct Doc {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    title: String,
}

/// Collects what a `fmt` subscriber writes, to read the events back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn status(app: &Router, method: Method, headers: &[(&str, &str)]) -> StatusCode {
    let mut request = Request::builder().method(method).uri("/docs/1");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = Body::from(r#"{"id":1,"title":"x"}"#);
    app.clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn every_412_and_428_is_one_event_with_the_resource_and_tags() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let repo = Arc::new(MemoryRepository::new());
    repo.create(Doc {
        id: 1,
        version: 3,
        title: "One".into(),
    })
    .await
    .unwrap();
    let app = Router::new().nest("/docs", ConditionalRoutes::new(repo).into_router());

    let json = ("content-type", "application/json");
    let stale = ("if-match", "\"doc-1-v2\"");
    assert_eq!(
        status(&app, Method::PUT, &[json, stale]).await,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        status(&app, Method::DELETE, &[]).await,
        StatusCode::PRECONDITION_REQUIRED
    );
    assert_eq!(status(&app, Method::GET, &[]).await, StatusCode::OK);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    for expected in [
        "precondition failed",
        "method=PUT",
        "resource=\"/docs/1\"",
        "header=if-match",
        r#"current="doc-1-v3""#,
    ] {
        assert!(lines[0].contains(expected), "{expected} in {log}");
    }
    for expected in [
        "precondition required",
        "method=DELETE",
        "resource=\"/docs/1\"",
    ] {
        assert!(lines[1].contains(expected), "{expected} in {log}");
    }
}
