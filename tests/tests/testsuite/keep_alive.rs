//! A refusal leaves the connection usable (design decision 25): every
//! refusal (412, 428, 404, 400, 413, 415, 422) of a hand-written
//! handler's `Conditional<T>` and of the generated routes reads and drops
//! the body it did not use, so that a client whose body follows its
//! headers (as Python's `requests` sends it) can send its next request on
//! the same connection.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::put;
use axum::{Json, Router};
use occ_axum::routes::ConditionalRoutes;
use occ_axum::{Conditional, Refusal, Tagged};
use occ_core::repository::{MemoryRepository, Repository, WriteCondition};
use occ_core::Versioned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
#[occ(etag = "doc-{id}-v{version}")]
struct Doc {
    id: u64,
    #[version]
    #[serde(skip)]
    version: u64,
    text: String,
}

type Docs = Arc<MemoryRepository<Doc>>;

/// A hand-written PUT: read, evaluate, then the body, then a swap.
async fn edit(
    State(docs): State<Docs>,
    Path(id): Path<u64>,
    request: Conditional<Json<serde_json::Value>>,
) -> Result<Tagged<Doc>, Refusal> {
    let (mut doc, Json(body)) = request.fetch(&*docs, &id).await?;
    let read = doc.version;
    doc.text = body["text"].as_str().unwrap_or_default().to_owned();
    docs.update(doc, &WriteCondition::VersionIn(vec![read]))
        .await
        .map(Tagged::written)
        .map_err(|_| Refusal::from(occ_axum::Problem::new(http::StatusCode::CONFLICT)))
}

/// A typed body: a member of the wrong type is 422.
#[derive(serde::Deserialize)]
struct Edit {
    text: String,
}

/// The same, with a typed body.
async fn edit_typed(
    State(docs): State<Docs>,
    Path(id): Path<u64>,
    request: Conditional<Json<Edit>>,
) -> Result<Tagged<Doc>, Refusal> {
    let (mut doc, Json(body)) = request.fetch(&*docs, &id).await?;
    let read = doc.version;
    doc.text = body.text;
    docs.update(doc, &WriteCondition::VersionIn(vec![read]))
        .await
        .map(Tagged::written)
        .map_err(|_| Refusal::from(occ_axum::Problem::new(http::StatusCode::CONFLICT)))
}

/// Bodies up to 1 KiB on the hand-written routes and the generated ones.
const LIMIT: usize = 1024;

async fn app() -> Router {
    let docs = Docs::default();
    docs.create(Doc {
        id: 1,
        version: 1,
        text: "one".into(),
    })
    .await
    .unwrap();
    let generated = ConditionalRoutes::<Doc, MemoryRepository<Doc>>::new(docs.clone())
        .body_limit(LIMIT)
        .into_router();
    Router::new()
        .route("/docs/{id}", put(edit).get(read))
        .route("/typed/{id}", put(edit_typed))
        .layer(DefaultBodyLimit::max(LIMIT))
        .with_state(docs)
        .nest("/generated", generated)
}

async fn read(State(docs): State<Docs>, Path(id): Path<u64>) -> Result<Tagged<Doc>, Refusal> {
    docs.get(&id)
        .await
        .map(Tagged::ok)
        .map_err(|_| Refusal::from(occ_axum::Problem::new(http::StatusCode::NOT_FOUND)))
}

/// Reads one response (headers and a `Content-Length` body) off `stream`,
/// or `None` if the server closed the connection.
async fn response(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if raw.len() >= end + 4 + length {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                let body = String::from_utf8_lossy(&raw[end + 4..end + 4 + length]).into_owned();
                return Some((status, body));
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// A PUT whose body follows its headers by 30 ms, refused with `status`,
/// then a GET on the same connection, which must be answered.
async fn refused_then_next(preconditions: &str, uri: &str, status: u16) {
    refused_with(
        preconditions,
        uri,
        "application/json",
        r#"{"text":"two"}"#,
        status,
    )
    .await;
}

/// As [`refused_then_next`], with a body of this type.
async fn refused_with(preconditions: &str, uri: &str, media_type: &str, body: &str, status: u16) {
    let addr = occ_tests::serve(app().await).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for round in 0..5 {
        let head = format!(
            "PUT {uri} HTTP/1.1\r\nhost: x\r\ncontent-type: {media_type}\r\n\
             content-length: {}\r\n{preconditions}\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        stream.write_all(body.as_bytes()).await.unwrap();
        let (got, text) = response(&mut stream).await.expect("the refusal");
        assert_eq!(got, status, "round {round}: {text}");
        stream
            .write_all(b"GET /docs/1 HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let next = response(&mut stream).await;
        assert!(
            matches!(next, Some((200, _))),
            "round {round}: after a {status}, the next request on the connection got {next:?}"
        );
    }
}

#[tokio::test]
async fn a_412_leaves_the_connection_usable() {
    refused_then_next("if-match: \"doc-1-v9\"\r\n", "/docs/1", 412).await;
}

#[tokio::test]
async fn a_428_leaves_the_connection_usable() {
    refused_then_next("", "/docs/1", 428).await;
}

#[tokio::test]
async fn a_404_leaves_the_connection_usable() {
    refused_then_next("if-match: \"doc-2-v1\"\r\n", "/docs/2", 404).await;
}

const CURRENT: &str = "if-match: \"doc-1-v1\"\r\n";

/// Each body refusal, on the hand-written routes and the generated ones:
/// its status, then a GET on the same connection.
async fn every_body_refusal(base: &str) {
    let uri = format!("{base}/1");
    let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(4 * LIMIT));
    refused_with(CURRENT, &uri, "application/json", r#"{"text":"#, 400).await;
    refused_with(CURRENT, &uri, "text/plain", r#"{"text":"two"}"#, 415).await;
    refused_with(CURRENT, &uri, "application/json", &big, 413).await;
}

#[tokio::test]
async fn body_refusals_of_a_hand_written_handler_leave_the_connection_usable() {
    every_body_refusal("/docs").await;
    refused_with(
        CURRENT,
        "/typed/1",
        "application/json",
        r#"{"text":5}"#,
        422,
    )
    .await;
}

#[tokio::test]
async fn refusals_of_the_generated_routes_leave_the_connection_usable() {
    every_body_refusal("/generated").await;
    refused_with(
        CURRENT,
        "/generated/1",
        "application/json",
        r#"{"id":1,"text":5}"#,
        422,
    )
    .await;
    refused_then_next("if-match: \"doc-1-v9\"\r\n", "/generated/1", 412).await;
    refused_then_next("", "/generated/1", 428).await;
    refused_with(
        "if-match: *\r\n",
        "/generated/x",
        "application/json",
        "{}",
        400,
    )
    .await;
}
