//! A client of the profiles service on `occ-client`, which threads the
//! entity tags, the preconditions and the idempotency keys, so that this
//! file does not. The model is the server's own `Profile`, with its
//! `#[derive(Versioned)]`: a tag, an id and a version mean the same here
//! as there.
//!
//! ```sh
//! cargo run --example profiles &          # or let this example start one
//! PROFILES_URL=http://127.0.0.1:3000 cargo run --example client
//! ```
//!
//! Without `PROFILES_URL` it serves the profiles app itself, in memory, on
//! a free port. Then:
//!
//! - a write without a precondition is refused: 428;
//! - alice and bob both read profile 42; alice moves Ava to Lyon; bob,
//!   who read before that, renames her. His `PUT` carries the tag he read
//!   and gets 412 instead of silently undoing alice's change; the client
//!   applies his change again to the state that 412 carried and succeeds,
//!   with no second read. Both edits survive;
//! - carol moves Ava to Turin while the in-process server is slow once:
//!   it applies her write but holds its answer back past the client's
//!   timeout, as a congested network or an overloaded proxy would. The
//!   client sends the same request again, with the same `Idempotency-Key`,
//!   and gets the first answer replayed (`Idempotent-Replayed: true`)
//!   instead of a 412 for its now stale `If-Match`: the write was applied
//!   once, the version went up by one per logical write.
//!
//! The client's retries, resends and replays are `tracing` events
//! (`RUST_LOG=occ_client=debug` shows them all).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use occ_client::Client;
use occ_examples::Profile;

/// How long the client waits for an answer before it sends the write
/// again (with the same key).
const TIMEOUT: Duration = Duration::from_secs(1);

type Error = Box<dyn std::error::Error + Send + Sync>;

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

/// A profile as the server sends it: its tag and its JSON.
fn shown(profile: &occ_client::Tagged<Profile>) -> String {
    let json = serde_json::to_string(profile.value()).unwrap_or_default();
    format!("{} {json}", profile.etag())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "occ_client=info".into()),
        )
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        .init();
    // Armed only for the server served here: another is slow on its own.
    let slow = SlowOnce::default();
    let (base, in_process) = match std::env::var("PROFILES_URL") {
        Ok(url) => (url, false),
        Err(_) => (serve_in_memory(slow.clone()).await?, true),
    };

    // Three people, three clients: each remembers what it has seen.
    let alice = Client::builder(&base).timeout(TIMEOUT).build()?;
    let bob = Client::builder(&base).timeout(TIMEOUT).build()?;
    let carol = Client::builder(&base).timeout(TIMEOUT).build()?;
    let (profiles, bobs, carols) = (
        alice.resource::<Profile>("/profiles"),
        bob.resource::<Profile>("/profiles"),
        carol.resource::<Profile>("/profiles"),
    );

    let initial = profiles.get(&42).await?;
    println!("initial {}", shown(&initial));

    // Without If-Match the server refuses to guess: 428. (occ-client never
    // sends such a write; a bare HTTP client can.)
    let blind = reqwest::Client::new()
        .put(format!("{}/profiles/42", base.trim_end_matches('/')))
        .json(&serde_json::json!({"city": "Rome"}))
        .send()
        .await?;
    println!("blind write: {}", blind.status());

    // Bob reads before alice writes: his tag will be stale.
    bobs.get(&42).await?;
    let moved = profiles.update(&42, |p| p.city = "Lyon".into()).await?;
    println!("alice: wrote {}", shown(&moved));
    let sent = bob.stats().sends;
    let renamed = bobs
        .update(&42, |p| p.name = format!("{} B.", p.name))
        .await?;
    let (conflicts, puts) = (bob.stats().conflicts, bob.stats().sends - sent);
    println!(
        "bob: wrote {} after {conflicts} 412 in {puts} PUTs and no GET: \
         his change was applied again to the state the 412 carried",
        shown(&renamed)
    );

    // Carol's answer gets lost (when the server is this example's).
    if in_process {
        println!("carol: the server will hold its answer back past the client's {TIMEOUT:?}");
        slow.arm();
    }
    let turin = carols.update(&42, |p| p.city = "Turin".into()).await?;
    if turin.is_replayed() {
        println!(
            "carol: {} is a replay: her first send had landed, and her second, \
             with the same key, wrote nothing more",
            shown(&turin)
        );
    }

    let now = profiles.get(&42).await?;
    let stats = [&alice, &bob, &carol].map(Client::stats);
    println!(
        "final {} after 3 logical writes from {} ({} resent, {} replayed)",
        shown(&now),
        initial.etag(),
        stats.iter().map(|s| s.resends).sum::<u64>(),
        stats.iter().map(|s| s.replays).sum::<u64>(),
    );
    Ok(())
}
