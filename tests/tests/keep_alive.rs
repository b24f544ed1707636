//! A refusal leaves the connection usable (design decision 25): a
//! hand-written handler's `Conditional<T>` that refuses (412, 428, 404)
//! before it reads the body reads and drops the body first, so that a
//! client whose body follows its headers (as Python's `requests` sends it)
//! can send its next request on the same connection.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::put;
use axum::{Json, Router};
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

async fn app() -> Router {
    let docs = Docs::default();
    docs.create(Doc {
        id: 1,
        version: 1,
        text: "one".into(),
    })
    .await
    .unwrap();
    Router::new()
        .route("/docs/{id}", put(edit).get(read))
        .with_state(docs)
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
    let addr = occ_tests::serve(app().await).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = r#"{"text":"two"}"#;
    for round in 0..5 {
        let head = format!(
            "PUT {uri} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
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
