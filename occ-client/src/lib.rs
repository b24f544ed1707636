//! A client for conditional resources that does the right thing by
//! default: it threads entity tags, preconditions and idempotency keys so
//! that the application does not.
//!
//! It shares the model type with the server, and with it the
//! [`Versioned`](occ_core::Versioned) derive, so that an id, a version and a
//! tag mean the same on both sides:
//!
//! ```no_run
//! use occ_client::Client;
//! use occ_core::Versioned;
//!
//! #[derive(Debug, serde::Serialize, serde::Deserialize, Versioned)]
//! #[occ(etag = "prof-{id}-v{version}")]
//! struct Profile {
//!     id: i64,
//!     #[version]
//!     #[serde(skip)]
//!     version: i64,
//!     name: String,
//!     city: String,
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let client = Client::new("http://127.0.0.1:3000")?;
//! let profiles = client.resource::<Profile>("/profiles");
//! let ava = profiles.get(&42).await?; // ETag "prof-42-v7": ava.version == 7
//! let moved = profiles.update(&42, |p| p.city = "Lyon".into()).await?;
//! assert_eq!((moved.version, moved.city.as_str()), (ava.version + 1, "Lyon"));
//! # Ok(()) }
//! ```
//!
//! # What it sends, and when it tries again
//!
//! - [`get`](Resource::get): `GET` with `If-None-Match` when it knows the
//!   resource; a 304 is answered from its validator cache.
//! - [`update`](Resource::update): the change applied to the state it
//!   knows (or reads), `PUT` with `If-Match`. On 412 it applies the change
//!   again to the state the refusal carries (occ's `current` and
//!   `current_etag`), without another read, a bounded number of times
//!   with jittered exponential waits ([`RetryPolicy`]); from the second
//!   412 on, whose waits are long enough for others to have written
//!   again, it revalidates that state first (`If-None-Match`: a 304 when
//!   nothing changed).
//! - [`patch`](Resource::patch): a JSON merge patch with `If-Match`, sent
//!   again on 412 only when none of the members it sets changed in the
//!   state the refusal carries; otherwise the refusal names them.
//! - [`create`](Resource::create) (`POST`),
//!   [`create_once`](Resource::create_once) (`PUT` with `If-None-Match: *`),
//!   [`delete_state`](Resource::delete_state) and
//!   [`delete`](Resource::delete) (`DELETE` with `If-Match`).
//! - Every logical write carries one `Idempotency-Key`. When its answer is
//!   lost (a timeout, a broken connection), is a 500, 502, 503 or 504, or
//!   is a 409 or 429 with `Retry-After` (the same key still running), the
//!   very same request is sent again, with the same key: the server
//!   applies it once, and the answer of a write that had landed comes
//!   back as a replay ([`Tagged::is_replayed`]). A 412 starts a new
//!   logical write, with a new key. A write still without an answer when
//!   the policy's sends run out is [`Error::Unconfirmed`]: it may have
//!   been applied, and the error carries its key.
//! - Redirects are not followed: a write redirected would be sent again
//!   elsewhere, or as a `GET`.
//! - A write's answer that carries `Occ-Read-After` (a server with read
//!   replicas) makes later reads send it back, so that no replica answers
//!   from before this client's writes.
//!
//! Failures are typed ([`Error`]): the 412 with the current state, 428, 404,
//! any other problem details ([`Problem`]). Retries, resends and replays
//! are `tracing` events, and counted ([`Client::stats`]).
//!
//! # Features
#![doc = document_features::document_features!()]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod client;
mod error;
mod merge_patch;
mod problem;
mod resource;
mod retry;
mod send;
mod tagged;

pub use client::{BuildError, Client, ClientBuilder, Stats};
pub use error::{Conflict, Error};
pub use problem::Problem;
pub use resource::Resource;
pub use retry::RetryPolicy;
pub use tagged::Tagged;
