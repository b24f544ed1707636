//! The decide→write pipeline: one conditional request, one statement.
//!
//! Every conditional operation of occ goes through [`Pipeline`]: the
//! generated routes, `occ_axum::Conditional<T>` and hand-written handlers.
//! Where the request's preconditions reduce to a condition the store can
//! check inside the write ([`WriteCondition`](crate::repository::WriteCondition): `If-Match` tags or `*`,
//! `If-None-Match` on a write, `If-Unmodified-Since` on a model with a
//! modification time), the write is ONE statement that applies the
//! condition and the change and returns the new row; only when it touches
//! nothing does a second read tell 404 from 412, and the preconditions are
//! then evaluated on that state, in the order of RFC 9110 §13.2.2, to say
//! which one failed. A conditional GET is one statement that reads the
//! representation only when the client's tag does not match.
//!
//! The general path (read, [`Preconditions::evaluate`](crate::Preconditions::evaluate), compare-and-swap
//! on the version read) is taken for what cannot be pushed down: `If-Match`
//! together with `If-None-Match`, a malformed `If-None-Match`, an
//! unconditional write under [`Policy::Required`](crate::Policy::Required) (one read tells 404 from
//! 428), and a body that failed to parse (preconditions are reported before
//! the body, EV-1). It is still atomic: the swap is in the store.
//! [`Pipeline::merge_with`] takes it on purpose, for a merge whose result
//! must pass through application code (a route's `before_write` and
//! `validate` hooks) before it is written.
//!
//! The pipeline knows nothing of HTTP responses: a [`Rejection`] says why a
//! request stops, and the web layer picks the status.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use http::{HeaderMap, Method};
//! use occ_core::pipeline::{Pipeline, Rejection};
//! use occ_core::repository::{MemoryRepository, Repository};
//! use occ_core::{Failure, Preconditions, Versioned};
//!
//! #[derive(Clone, Debug, serde::Serialize, serde::Deserialize, Versioned)]
//! #[occ(etag = "prof-{id}-v{version}")]
//! struct Profile { id: u64, #[version] version: u64, city: String }
//!
//! let repo = MemoryRepository::new();
//! repo.create(Profile { id: 42, version: 7, city: "Paris".into() }).await.unwrap();
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("if-match", "\"prof-42-v7\"".parse().unwrap());
//! let pre = Preconditions::from_headers(&headers);
//! let put = Pipeline::new(&Method::PUT, &pre);
//! let lyon = serde_json::json!({"city": "Lyon"});
//!
//! let saved = put.merge::<Profile, _, ()>(&repo, &42, Ok(lyon.clone())).await.unwrap();
//! assert_eq!(saved.version, 8);
//! // The same If-Match again: someone (we) changed it first.
//! match put.merge::<Profile, _, ()>(&repo, &42, Ok(lyon)).await {
//!     Err(Rejection::PreconditionFailed { failure: Failure::IfMatchMismatch, current }) => {
//!         assert_eq!(current.map(|c| c.version), Some(8));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # });
//! ```

/// Runs `$call` on `$repo`, or on its view restricted to the pipeline's
/// scope when it has one.
macro_rules! in_scope {
    ($this:ident, $repo:ident, |$r:ident| $call:expr) => {
        match $this.scope {
            Some(scope) => {
                let scoped = $repo.scoped(scope)?;
                let $r = &*scoped;
                $call.await
            }
            None => {
                let $r = $repo;
                $call.await
            }
        }
    };
}

mod plan;
mod read;
mod rejection;
mod request;
mod swap;
mod write;

pub use plan::WritePlan;
pub use read::Representation;
pub use rejection::Rejection;
pub use request::Pipeline;
pub use write::Written;
