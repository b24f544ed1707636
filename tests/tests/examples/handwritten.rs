//! Hand-written handlers on the same pipeline as the generated routes: a
//! custom action is a write (428 without a precondition under the default
//! policy, design decision 2), and the layer and the extractors agree;
//! the `handwritten` example's writes honour `Idempotency-Key` (design
//! decision 17) through `occ_axum::idempotency::attempt`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use http::{Method, StatusCode};
use occ_axum::{Conditional, Refusal, RequirePreconditionsLayer, Tagged};
use occ_core::repository::{MemoryRepository, Repository};
use occ_core::Versioned;
use serde::{Deserialize, Serialize};

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

/// `POST /docs/1/publish` with `headers`, through [`occ_tests::send`]:
/// the status, the tag and the body.
async fn send(app: &Router, headers: &[(&str, &str)]) -> (StatusCode, Option<String>, String) {
    let reply = occ_tests::send(app, Method::POST, "/docs/1/publish", headers, "").await;
    let etag = reply
        .headers
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (reply.status, etag, reply.text())
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

/// The `handwritten` example, run as a user runs it on a free port, and
/// killed when dropped.
struct Handwritten {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl Handwritten {
    fn start() -> Self {
        use std::io::BufRead as _;
        use std::process::{Command, Stdio};
        let mut child = Command::new(occ_tests::example_binary("handwritten"))
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the example starts");
        let stdout = child.stdout.take().expect("a piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Its log goes to stdout: the line that names the bound address.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some((_, url)) = line.split_once("listening on http://") {
                    let addr = url.split(',').next().unwrap_or_default().to_owned();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(e) => {
                let _ = child.kill();
                panic!("the handwritten example did not report its address: {e}");
            }
        };
        let addr = addr.parse().expect("an address");
        Self { child, addr }
    }
}

impl Drop for Handwritten {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_handwritten_example_replays_a_retried_keyed_write_and_applies_it_once() {
    let server = tokio::task::spawn_blocking(Handwritten::start)
        .await
        .expect("joined");
    let addr = server.addr;
    let json = ("content-type", "application/json");

    // The first PUT with a key is written; its retry (same key, same
    // request: a client that never saw the answer) gets the same answer,
    // marked as a replay, not a 412 for its now stale If-Match.
    let put = [
        json,
        ("if-match", "\"note-1-v1\""),
        ("idempotency-key", "\"edit-1\""),
    ];
    let first = occ_tests::http(addr, "PUT", "/notes/1", &put, r#"{"text":"edited"}"#).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("etag"), Some("\"note-1-v2\""));
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = occ_tests::http(addr, "PUT", "/notes/1", &put, r#"{"text":"edited"}"#).await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.header("etag"), Some("\"note-1-v2\""));
    assert_eq!(retry.json(), first.json());

    // Applied once: the note is at version 2, not 3.
    let read = occ_tests::http(addr, "GET", "/notes/1", &[], "").await;
    assert_eq!(
        read.header("etag"),
        Some("\"note-1-v2\""),
        "{}",
        read.text()
    );
    assert_eq!(read.json()["text"], "edited");

    // The same key on another request: 422, nothing written.
    let other = occ_tests::http(addr, "PUT", "/notes/1", &put, r#"{"text":"other"}"#).await;
    assert_eq!(other.status, 422, "{}", other.text());

    // The same key without If-Match is another request too: 422, not a
    // replay and not 428.
    let unconditional = [json, ("idempotency-key", "\"edit-1\"")];
    let blind = occ_tests::http(
        addr,
        "PUT",
        "/notes/1",
        &unconditional,
        r#"{"text":"edited"}"#,
    )
    .await;
    assert_eq!(blind.status, 422, "{}", blind.text());

    // The custom action, keyed: written once, replayed once.
    let pin = [
        ("if-match", "\"note-1-v2\""),
        ("idempotency-key", "\"pin-1\""),
    ];
    let pinned = occ_tests::http(addr, "POST", "/notes/1/pin", &pin, "").await;
    assert_eq!(pinned.status, 200, "{}", pinned.text());
    assert_eq!(pinned.header("etag"), Some("\"note-1-v3\""));
    let again = occ_tests::http(addr, "POST", "/notes/1/pin", &pin, "").await;
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("etag"), Some("\"note-1-v3\""));
    let read = occ_tests::http(addr, "GET", "/notes/1", &[], "").await;
    assert_eq!(
        read.header("etag"),
        Some("\"note-1-v3\""),
        "{}",
        read.text()
    );
    assert_eq!(read.json()["pinned"], true);

    // A refusal is recorded too: a keyed write on a stale tag is 412, and
    // so is its retry, replayed.
    let stale = [
        json,
        ("if-match", "\"note-1-v1\""),
        ("idempotency-key", "\"edit-2\""),
    ];
    let refused = occ_tests::http(addr, "PUT", "/notes/1", &stale, r#"{"text":"late"}"#).await;
    assert_eq!(refused.status, 412, "{}", refused.text());
    let replayed = occ_tests::http(addr, "PUT", "/notes/1", &stale, r#"{"text":"late"}"#).await;
    assert_eq!(replayed.status, 412, "{}", replayed.text());
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));

    // A key that is not an sf-string: 400, nothing written.
    let bad = [("if-match", "\"note-1-v3\""), ("idempotency-key", "pin-2")];
    let refused = occ_tests::http(addr, "POST", "/notes/1/pin", &bad, "").await;
    assert_eq!(refused.status, 400, "{}", refused.text());

    // Without a key, a write is as before: a stale tag is 412.
    let plain = [json, ("if-match", "\"note-1-v2\"")];
    let stale = occ_tests::http(addr, "PUT", "/notes/1", &plain, r#"{"text":"x"}"#).await;
    assert_eq!(stale.status, 412, "{}", stale.text());
    let read = occ_tests::http(addr, "GET", "/notes/1", &[], "").await;
    assert_eq!(
        read.header("etag"),
        Some("\"note-1-v3\""),
        "{}",
        read.text()
    );
    assert_eq!(read.json()["text"], "edited");
}
