//! Compression that keeps validators right: the documents service behind
//! tower-http's `CompressionLayer` and occ's `CodingTagsLayer`, driven by
//! curl with `--compressed` (a real gzip client) and without it (an
//! identity client). Each coding has its own strong tag; `If-Match` and
//! `If-None-Match` accept either coding's tag for the same state and no
//! other state's; 204 and 304 carry no `Content-Encoding`, and a 304 keeps
//! `Vary`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use occ_axum::CodingTagsLayer;
use occ_core::repository::MemoryRepository;
use occ_examples::document::{self, Document, Documents};
use tower_http::compression::CompressionLayer;
use uuid::Uuid;

struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// curl, `--compressed` or not, with `headers` and an optional JSON body.
async fn curl(
    addr: SocketAddr,
    compressed: bool,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let mut command = tokio::process::Command::new("curl");
    command.args(["-s", "-i", "-X", method]);
    if compressed {
        // curl decodes what it asked for; gzip only, to know the coding.
        command.args(["--compressed", "-H", "accept-encoding: gzip"]);
    }
    for (name, value) in headers {
        command.args(["-H", &format!("{name}: {value}")]);
    }
    if let Some(body) = body {
        command.args([
            "-H",
            "content-type: application/json",
            "--data-binary",
            body,
        ]);
    }
    command.arg(format!("http://{addr}{path}"));
    let output = command.output().await.expect("curl runs");
    assert!(output.status.success(), "curl: {output:?}");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut headers: HashMap<String, String> = HashMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        headers
            .entry(name.trim().to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(value.trim());
            })
            .or_insert_with(|| value.trim().to_owned());
    }
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

async fn serve() -> (SocketAddr, Document) {
    let repo: Arc<Documents> = Arc::new(MemoryRepository::<Document>::new());
    let doc = repo
        .create(Document {
            id: Uuid::now_v7(),
            revision: 1,
            title: "Compressed".into(),
            // Long enough to be worth compressing.
            body: "all work and no play ".repeat(20),
            tags: None,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        })
        .await
        .unwrap();
    let app = document::app(repo)
        .layer(CompressionLayer::new())
        .layer(CodingTagsLayer::new());
    (occ_tests::serve(app).await, doc)
}

fn has_accept_encoding(vary: Option<&str>) -> bool {
    vary.is_some_and(|v| {
        v.split(',')
            .any(|f| f.trim().eq_ignore_ascii_case("accept-encoding"))
    })
}

#[tokio::test]
async fn each_coding_has_its_own_strong_tag_and_either_names_the_state() {
    let (addr, doc) = serve().await;
    let path = format!("/documents/{}", doc.id);
    let plain = format!("\"doc-{}-r1\"", doc.id);
    let gzip = format!("\"doc-{}-r1-gzip\"", doc.id);

    // Two codings, two strong tags, one body.
    let zipped = curl(addr, true, "GET", &path, &[], None).await;
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(zipped.header("etag"), Some(gzip.as_str()));
    assert!(has_accept_encoding(zipped.header("vary")));
    let identity = curl(addr, false, "GET", &path, &[], None).await;
    assert_eq!(identity.status, 200);
    assert_eq!(identity.header("content-encoding"), None);
    assert_eq!(identity.header("etag"), Some(plain.as_str()));
    assert_eq!(zipped.body, identity.body);

    // A 304 for each client, with the tag it holds: no Content-Encoding,
    // and Vary as the 200 had it. Either tag names the state.
    for (compressed, held) in [
        (true, &gzip),
        (false, &plain),
        (false, &gzip),
        (true, &plain),
    ] {
        let r = curl(
            addr,
            compressed,
            "GET",
            &path,
            &[("if-none-match", held)],
            None,
        )
        .await;
        assert_eq!(r.status, 304, "{compressed} {held}");
        assert_eq!(r.header("content-encoding"), None, "{compressed} {held}");
        assert!(
            has_accept_encoding(r.header("vary")),
            "{compressed} {held}: {:?}",
            r.headers
        );
        assert_eq!(r.header("etag"), Some(held.as_str()), "{compressed} {held}");
    }

    // A write with the gzip tag: the same state, so it passes; its answer
    // compressed, tagged for gzip.
    let text = serde_json::json!({"title": "Compressed", "body": "x ".repeat(40)}).to_string();
    let w = curl(
        addr,
        true,
        "PUT",
        &path,
        &[("if-match", &gzip)],
        Some(&text),
    )
    .await;
    assert_eq!(w.status, 200, "{}", w.body);
    let new_gzip = format!("\"doc-{}-r2-gzip\"", doc.id);
    assert_eq!(w.header("etag"), Some(new_gzip.as_str()));

    // The old state's tags, in either coding, match nothing now.
    for stale in [&gzip, &plain] {
        let r = curl(
            addr,
            false,
            "PUT",
            &path,
            &[("if-match", stale)],
            Some(&text),
        )
        .await;
        assert_eq!(r.status, 412, "{stale}");
        let r = curl(addr, true, "GET", &path, &[("if-none-match", stale)], None).await;
        assert_eq!(r.status, 200, "{stale}");
    }

    // DELETE with the identity tag of the gzip state: 204, nothing encoded.
    let new_plain = format!("\"doc-{}-r2\"", doc.id);
    let d = curl(
        addr,
        true,
        "DELETE",
        &path,
        &[("if-match", &new_plain)],
        None,
    )
    .await;
    assert_eq!(d.status, 204);
    assert_eq!(d.header("content-encoding"), None);
}

/// Without the layer, compression alone sends one strong tag for two
/// codings: the reason the layer exists.
#[tokio::test]
async fn compression_alone_shares_one_strong_tag_between_codings() {
    let repo: Arc<Documents> = Arc::new(MemoryRepository::<Document>::new());
    let doc = repo
        .create(Document {
            id: Uuid::now_v7(),
            revision: 1,
            title: "Compressed".into(),
            body: "all work and no play ".repeat(20),
            tags: None,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        })
        .await
        .unwrap();
    let addr = occ_tests::serve(document::app(repo).layer(CompressionLayer::new())).await;
    let path = format!("/documents/{}", doc.id);
    let zipped = curl(addr, true, "GET", &path, &[], None).await;
    let identity = curl(addr, false, "GET", &path, &[], None).await;
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(zipped.header("etag"), identity.header("etag"));
}
