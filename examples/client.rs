//! A well-behaved client of a conditional resource: read, modify, write
//! with `If-Match`; on 412, take the current state the server sent back in
//! the problem details (`current` and `current_etag`), apply the change
//! again, and retry, without reading the resource again. Every write
//! carries an `Idempotency-Key`, so that a write whose answer was lost can
//! be sent again safely.
//!
//! ```sh
//! cargo run --example profiles &          # or let this example start one
//! PROFILES_URL=http://127.0.0.1:3000 cargo run --example client
//! ```
//!
//! Without `PROFILES_URL` it serves the profiles app itself, in memory, on
//! a free port. Two clients then edit profile 42 at the same time: one
//! changes the city, the other the name. Each write carries the ETag it
//! read, so the slower one gets 412 instead of silently overwriting the
//! other's change; it re-applies its own edit to the state that 412 carries
//! and succeeds, with no second GET. Both edits survive.
//!
//! Each logical write (one PUT with its `If-Match` and body) gets a fresh
//! key, a UUID sent as an sf-string (`"…"`). When a write times out, its
//! connection fails, or the server answers 5xx or 409 (a retry of the same
//! key still running: after its `Retry-After`, bounded), the client sends
//! the same request again with the same key: the server applies it at most
//! once, and a retry of a write that had landed gets the first answer
//! again, marked `Idempotent-Replayed: true`, instead of a 412 for its
//! now stale `If-Match`. A 412 starts a new logical write (another body,
//! another `If-Match`), so it gets a new key.
//!
//! Then a third client, carol, moves Ava to Turin while the in-process
//! server is slow once: it applies her write but holds its answer back
//! past the client's timeout, as a congested network or an overloaded
//! proxy would. Carol retries with the same key, gets the replayed 200,
//! and a GET shows the write was applied once: the version went up by one
//! per logical write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use reqwest::{header, Client, Response, StatusCode};
use serde_json::{json, Value};

/// Bounded: a resource that changes under us forever is a problem to
/// report, not to spin on.
const MAX_ATTEMPTS: u32 = 5;

/// Bounded too: how many times one logical write is sent.
const MAX_SENDS: u32 = 5;

/// How long the client waits for an answer before it sends the write
/// again (with the same key).
const TIMEOUT: Duration = Duration::from_secs(1);

/// The longest `Retry-After` the client honours.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

/// `Idempotency-Key` and `Idempotent-Replayed`.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The outcome of [`edit`]: the final representation, how many 412s it
/// took to get there, and how many of its writes were answered by a
/// replay.
struct Edited {
    body: Value,
    etag: String,
    conflicts: u32,
    replays: u32,
}

/// The `ETag` header of a response.
fn etag_of(response: &Response) -> Result<String, Error> {
    Ok(response
        .headers()
        .get(header::ETAG)
        .ok_or("the server sent no ETag")?
        .to_str()?
        .to_owned())
}

/// Reads `url` with GET: the representation and its tag.
async fn read(client: &Client, url: &str) -> Result<(String, Value), Error> {
    let read = client.get(url).send().await?.error_for_status()?;
    let etag = etag_of(&read)?;
    Ok((etag, read.json().await?))
}

/// A fresh `Idempotency-Key`: a UUID, as an sf-string.
fn new_key() -> String {
    format!("\"{}\"", uuid::Uuid::now_v7())
}

/// How long a 409 or 503 asks to wait (`Retry-After` in seconds), bounded
/// by [`MAX_RETRY_AFTER`].
fn retry_after(response: &Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// The answers after which the same request is sent again: a 5xx (the
/// server did not record it: the write did not happen, or is sent again to
/// find out) or a 409 (the first send with this key is still running).
fn retried(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::CONFLICT
}

/// One logical write: `PUT url` with `If-Match: etag` and `body`, under a
/// fresh `Idempotency-Key`. A timeout, a connection error, a 5xx or a 409
/// sends the very same request again, with the same key, a bounded number
/// of times: the server applies it once. Any other answer is returned,
/// with whether it was a replay of an attempt that had landed.
async fn put(
    client: &Client,
    url: &str,
    who: &str,
    etag: &str,
    body: &Value,
) -> Result<(Response, bool), Error> {
    let key = new_key();
    let bytes = serde_json::to_vec(body)?;
    let mut backoff = Duration::from_millis(100);
    for send in 1..=MAX_SENDS {
        let sent = client
            .put(url)
            .header(header::IF_MATCH, etag)
            .header(header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_KEY, &key)
            .body(bytes.clone())
            .send()
            .await;
        let wait = match sent {
            Ok(answer) if retried(answer.status()) => {
                let wait = retry_after(&answer).unwrap_or(backoff);
                println!(
                    "{who}: {} on send {send}; sending the same request again with the same key",
                    answer.status()
                );
                wait
            }
            Ok(answer) => {
                let replayed = answer
                    .headers()
                    .get(IDEMPOTENT_REPLAYED)
                    .is_some_and(|v| v.as_bytes() == b"true");
                return Ok((answer, replayed));
            }
            Err(e) if e.is_timeout() || e.is_connect() || e.is_request() => {
                let why = if e.is_timeout() {
                    format!("no answer within {TIMEOUT:?}")
                } else {
                    format!("connection error ({e})")
                };
                println!(
                    "{who}: {why} on send {send}; sending the same request again with the same key"
                );
                backoff
            }
            Err(e) => return Err(e.into()),
        };
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(MAX_RETRY_AFTER);
    }
    Err(format!("{who}: no answer after {MAX_SENDS} sends of one write").into())
}

/// Reads `url` once, applies `change` to the body, and PUTs it back with
/// `If-Match` (see [`put`]). On 412 the problem details carry the current
/// state (the `current` member, as a GET would return it) and its tag:
/// `change` is applied to that state and the PUT retried, as a new logical
/// write with a new key, without another GET. Only a server that leaves
/// the representation out of its 412s costs a GET again. `pause` widens
/// the window between read and write, to show the conflict.
async fn edit(
    client: &Client,
    url: &str,
    who: &str,
    pause: Duration,
    change: impl Fn(&mut Value),
) -> Result<Edited, Error> {
    let (mut conflicts, mut replays) = (0, 0);
    let (mut etag, mut body) = read(client, url).await?;
    println!("{who}: read {etag} {body}");
    for attempt in 1..=MAX_ATTEMPTS {
        change(&mut body);
        tokio::time::sleep(pause).await;

        let (write, replayed) = put(client, url, who, &etag, &body).await?;
        if replayed {
            replays += 1;
            println!(
                "{who}: {} is a replay (Idempotent-Replayed: true): the first attempt had landed",
                write.status()
            );
        }
        match write.status() {
            StatusCode::OK => {
                let etag = etag_of(&write)?;
                let body = write.json().await?;
                println!("{who}: wrote {etag} {body}");
                return Ok(Edited {
                    body,
                    etag,
                    conflicts,
                    replays,
                });
            }
            StatusCode::PRECONDITION_FAILED => {
                conflicts += 1;
                // Someone else wrote first. The problem details carry their
                // version: our edit is re-applied to it.
                let problem: Value = write.json().await?;
                match (&problem["current_etag"], problem.get("current")) {
                    (Value::String(current_etag), Some(current)) => {
                        println!(
                            "{who}: 412 on attempt {attempt}, current is {current_etag}; \
                             retrying from the state in the 412 body, without a GET"
                        );
                        etag.clone_from(current_etag);
                        body = current.clone();
                    }
                    _ => {
                        println!(
                            "{who}: 412 on attempt {attempt} without the current state; re-reading"
                        );
                        (etag, body) = read(client, url).await?;
                        println!("{who}: read {etag} {body}");
                    }
                }
            }
            status => {
                let problem = write.text().await?;
                return Err(format!("{who}: unexpected {status}: {problem}").into());
            }
        }
    }
    Err(format!("{who}: gave up after {MAX_ATTEMPTS} conflicting attempts").into())
}

/// A server that is slow once, when armed: it applies the next PUT but
/// holds its answer back past the client's [`TIMEOUT`], so that the
/// client never sees it.
#[derive(Clone, Default)]
struct SlowOnce(Arc<AtomicBool>);

impl SlowOnce {
    fn arm(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// `app`, with the next PUT after [`arm`](Self::arm) answered late.
    fn wrap(self, app: axum::Router) -> axum::Router {
        app.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let slow = self.clone();
                async move {
                    let late = request.method() == http::Method::PUT
                        && slow.0.swap(false, Ordering::SeqCst);
                    // The write is applied (and its answer recorded for its
                    // key) here, whatever happens to the answer.
                    let answer = next.run(request).await;
                    if late {
                        tokio::time::sleep(TIMEOUT * 2).await;
                    }
                    answer
                }
            },
        ))
    }
}

/// Serves the profiles app in memory on a free port, through `slow`.
async fn serve_in_memory(slow: SlowOnce) -> Result<String, Error> {
    let repo = occ_examples::connect("sqlite::memory:").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = slow.wrap(occ_examples::app(repo));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Armed only for the server served here: another is slow on its own.
    let slow = SlowOnce::default();
    let (base, in_process) = match std::env::var("PROFILES_URL") {
        Ok(url) => (url, false),
        Err(_) => (serve_in_memory(slow.clone()).await?, true),
    };
    let url = format!("{}/profiles/42", base.trim_end_matches('/'));
    let client = Client::builder().timeout(TIMEOUT).build()?;

    let (initial, _) = read(&client, &url).await?;
    println!("initial {initial}");

    // Without If-Match the server refuses to guess: 428.
    let blind = client
        .put(&url)
        .json(&json!({"city": "Rome"}))
        .send()
        .await?;
    println!("blind write: {}", blind.status());

    let (city, name) = tokio::join!(
        edit(&client, &url, "alice", Duration::from_millis(50), |p| {
            p["city"] = json!("Lyon");
        }),
        edit(&client, &url, "bob", Duration::from_millis(200), |p| {
            p["name"] = json!(format!("{} B.", p["name"].as_str().unwrap_or("")));
        }),
    );
    let (city, name) = (city?, name?);
    println!(
        "alice needed {} retries, bob {}; now {} {}",
        city.conflicts, name.conflicts, name.etag, name.body
    );

    // Carol's answer gets lost (when the server is this example's).
    if in_process {
        println!("carol: the server will hold its answer back past the client's {TIMEOUT:?}");
        slow.arm();
    }
    let moved = edit(&client, &url, "carol", Duration::ZERO, |p| {
        p["city"] = json!("Turin");
    })
    .await?;
    let (now, body) = read(&client, &url).await?;
    match (moved.replays, now == moved.etag) {
        (0, _) => println!("carol: a GET gives {now}; none of her answers was a replay"),
        (_, true) => println!(
            "carol: a GET gives {now}, the tag of her replayed answer: \
             her retry wrote nothing more, the write was applied once"
        ),
        (_, false) => println!(
            "carol: a GET gives {now}, not {}: the profile moved on since",
            moved.etag
        ),
    }
    let replayed = city.replays + name.replays + moved.replays;
    println!("final {now} {body} after 3 logical writes from {initial} ({replayed} replayed)");
    Ok(())
}
