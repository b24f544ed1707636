//! A well-behaved client of a conditional resource: read, modify, write
//! with `If-Match`; on 412, take the current state the server sent back in
//! the problem details (`current` and `current_etag`), apply the change
//! again, and retry, without reading the resource again.
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

use std::time::Duration;

use reqwest::{header, Client, StatusCode};
use serde_json::{json, Value};

/// Bounded: a resource that changes under us forever is a problem to
/// report, not to spin on.
const MAX_ATTEMPTS: u32 = 5;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The outcome of [`edit`]: the final representation and how many 412s it
/// took to get there.
struct Edited {
    body: Value,
    etag: String,
    conflicts: u32,
}

/// The `ETag` header of a response.
fn etag_of(response: &reqwest::Response) -> Result<String, Error> {
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

/// Reads `url` once, applies `change` to the body, and PUTs it back with
/// `If-Match`. On 412 the problem details carry the current state (the
/// `current` member, as a GET would return it) and its tag: `change` is
/// applied to that state and the PUT retried, without another GET. Only
/// a server that leaves the representation out of its 412s costs a GET
/// again. `pause` widens the window between read and write, to show the
/// conflict.
async fn edit(
    client: &Client,
    url: &str,
    who: &str,
    pause: Duration,
    change: impl Fn(&mut Value),
) -> Result<Edited, Error> {
    let mut conflicts = 0;
    let (mut etag, mut body) = read(client, url).await?;
    println!("{who}: read {etag} {body}");
    for attempt in 1..=MAX_ATTEMPTS {
        change(&mut body);
        tokio::time::sleep(pause).await;

        let write = client
            .put(url)
            .header(header::IF_MATCH, &etag)
            .json(&body)
            .send()
            .await?;
        match write.status() {
            StatusCode::OK => {
                let etag = etag_of(&write)?;
                let body = write.json().await?;
                println!("{who}: wrote {etag} {body}");
                return Ok(Edited {
                    body,
                    etag,
                    conflicts,
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

async fn serve_in_memory() -> Result<String, Error> {
    let repo = occ_examples::connect("sqlite::memory:").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, occ_examples::app(repo)).await });
    Ok(format!("http://{addr}"))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let base = match std::env::var("PROFILES_URL") {
        Ok(url) => url,
        Err(_) => serve_in_memory().await?,
    };
    let url = format!("{}/profiles/42", base.trim_end_matches('/'));
    let client = Client::new();

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
        "alice needed {} retries, bob {}; final {} {}",
        city.conflicts, name.conflicts, name.etag, name.body
    );
    Ok(())
}
