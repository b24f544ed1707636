//! What occ-client costs per request against a bare reqwest call doing the
//! same careful work (a timeout on every request, without which a lost
//! answer is never noticed; the tag read from `ETag`, the JSON parsed into
//! the model, `If-None-Match` or `If-Match` sent, a key on each write), against
//! one in-process profiles service on the in-memory repository, so that
//! the server's share is small and the same for both sides.
//!
//! - `get_200`: a read without a cached state (occ-client's cache off);
//! - `get_304`: a conditional read of an unchanged resource, answered from
//!   the cache;
//! - `put_200`: an update from the known state: one `PUT` with `If-Match`
//!   and an `Idempotency-Key`, the answer kept for the next one.
//!
//! Each timed request to one side is followed by an untimed one to the
//! other, as in the routes bench. `cargo bench -p occ-examples --bench
//! client` prints the ratios (reqwest time / occ-client time: at least 1.0,
//! the client costs nothing).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup should stop the bench

#[path = "../../occ-core/benches/support/interleaved.rs"]
mod interleaved;
#[path = "../../occ-core/benches/support/ratios.rs"]
mod ratios;

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, Criterion};
use occ_client::{Client, Resource, Tagged};
use occ_core::repository::{MemoryRepository, Repository};
use occ_core::{EntityTag, Versioned};
use occ_examples::Profile;
use reqwest::header;

/// The two sides of one measurement.
struct Sides {
    rt: tokio::runtime::Runtime,
    base: String,
    http: reqwest::Client,
    cached: Resource<Profile>,
    uncached: Resource<Profile>,
}

fn sides() -> Sides {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = rt.block_on(async {
        let repo = Arc::new(MemoryRepository::<Profile>::new());
        for id in [1, 2] {
            repo.create(Profile {
                id,
                version: 1,
                name: "Ava".into(),
                city: "Paris".into(),
            })
            .await
            .unwrap();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, occ_examples::app(repo)).await });
        format!("http://{addr}")
    });
    let cached = Client::new(&base).unwrap().resource("/profiles");
    let uncached = Client::builder(&base)
        .cache_capacity(0)
        .build()
        .unwrap()
        .resource("/profiles");
    Sides {
        rt,
        base,
        // The same per-request timeout as occ-client's default.
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        cached,
        uncached,
    }
}

/// What a careful hand-written client keeps of an answer: the model, its
/// version from the tag, the tag.
async fn bare_representation(response: reqwest::Response) -> (Profile, EntityTag) {
    let tag: EntityTag = response.headers()[header::ETAG]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut profile: Profile = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let version = Profile::version_from_tag(&profile.id, tag.as_tag_ref()).unwrap();
    profile.set_version(version);
    (profile, tag)
}

/// Times `ours` and `theirs`, interleaved: each timed call to one is
/// followed by an untimed call to the other.
fn pair(c: &mut Criterion, group: &str, ours: impl Fn(), theirs: impl Fn()) {
    let mut group = c.benchmark_group(group);
    group.bench_function("occ_client", |b| {
        b.iter_custom(|iters| interleaved::timed(&ours, &theirs, iters))
    });
    group.bench_function("reqwest", |b| {
        b.iter_custom(|iters| interleaved::timed(&theirs, &ours, iters))
    });
    group.finish();
}

fn reads(c: &mut Criterion) {
    let s = sides();
    let url = format!("{}/profiles/1", s.base);

    let (known, known_tag) =
        s.rt.block_on(async { bare_representation(s.http.get(&url).send().await.unwrap()).await });
    let first = s.rt.block_on(s.cached.get(&1)).unwrap();
    assert_eq!((first.value(), first.etag()), (&known, &known_tag));

    pair(
        c,
        "get_200",
        || {
            let read: Tagged<Profile> = s.rt.block_on(s.uncached.get(&1)).unwrap();
            assert_eq!(read.version, 1);
        },
        || {
            let (read, _) = s.rt.block_on(async {
                bare_representation(s.http.get(&url).send().await.unwrap()).await
            });
            assert_eq!(read.version, 1);
        },
    );
    pair(
        c,
        "get_304",
        || {
            let read = s.rt.block_on(s.cached.get(&1)).unwrap();
            assert_eq!(read.version, 1);
        },
        || {
            let read = s.rt.block_on(async {
                let answer = s
                    .http
                    .get(&url)
                    .header(header::IF_NONE_MATCH, known_tag.to_header_value())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), 304);
                known.clone()
            });
            assert_eq!(read.version, 1);
        },
    );
}

fn writes(c: &mut Criterion) {
    let s = sides();
    // occ-client writes profile 1, the bare side profile 2.
    s.rt.block_on(s.cached.get(&1)).unwrap();
    let url = format!("{}/profiles/2", s.base);
    let state = std::sync::Mutex::new(
        s.rt.block_on(async { bare_representation(s.http.get(&url).send().await.unwrap()).await }),
    );
    pair(
        c,
        "put_200",
        || {
            let written =
                s.rt.block_on(s.cached.update(&1, |p| p.city = "Lyon".into()))
                    .unwrap();
            assert!(written.version > 1);
        },
        || {
            let mut state = state.lock().unwrap();
            let (mut profile, tag) = state.clone();
            profile.city = "Lyon".into();
            let written = s.rt.block_on(async {
                let key = format!("\"{}\"", uuid::Uuid::now_v7());
                let answer = s
                    .http
                    .put(&url)
                    .header(header::IF_MATCH, tag.to_header_value())
                    .header("idempotency-key", key)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(&profile).unwrap())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), 200);
                bare_representation(answer).await
            });
            assert!(written.0.version > 1);
            *state = written;
        },
    );
}

criterion_group!(benches, reads, writes);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios::report(&["get_200", "get_304", "put_200"], "occ_client", "reqwest");
}
