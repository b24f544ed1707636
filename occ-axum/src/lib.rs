//! axum integration for occ: generated conditional CRUD routes,
//! extractors, responders and problem details.
//!
//! # Your own table, served
//!
//! A model with `#[derive(Versioned)]` and `#[occ(table = "…")]`, a
//! repository over the pool, and [`routes::ConditionalRoutes`]:
//!
//! ```no_run
//! use std::sync::Arc;
//! use chrono::{DateTime, Utc};
//! use occ_axum::routes::ConditionalRoutes;
//! use occ_core::repository::sql::PgRepository;
//! use occ_core::Versioned;
//!
//! // CREATE TABLE documents (id UUID PRIMARY KEY, rev INTEGER NOT NULL,
//! //   title TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL)
//! #[derive(Clone, serde::Serialize, serde::Deserialize, sqlx::FromRow, Versioned)]
//! #[occ(table = "documents", etag = "doc-{id}-r{revision}")]
//! struct Document {
//!     #[occ(generated)] // POST without an id: a UUID v7 from the server
//!     id: uuid::Uuid,
//!     #[version]
//!     #[sqlx(rename = "rev")]
//!     #[serde(skip)]
//!     revision: i32,
//!     title: String,
//!     #[occ(last_modified)] // set by the database, sent as Last-Modified
//!     #[serde(default)]
//!     updated_at: DateTime<Utc>,
//! }
//!
//! # async fn serve(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
//! let repo = PgRepository::<Document>::new(pool);
//! repo.verify().await?;
//! let app: axum::Router = axum::Router::new().nest(
//!     "/documents",
//!     ConditionalRoutes::new(Arc::new(repo)).into_router(),
//! );
//! // GET/HEAD/PUT/PATCH/DELETE /documents/{id}, GET/POST /documents:
//! // ETag and Last-Modified, 304, 412 with the current ETag, 428 for
//! // writes without a precondition, problem+json for every refusal, one
//! // statement per request.
//! # let _ = app; Ok(()) }
//! ```
//!
//! # The pieces, for hand-written handlers
//!
//! - [`ConditionalRequest`]: a request's preconditions, method and policy,
//!   and the conditional operations of occ-core's
//!   [`Pipeline`](occ_core::pipeline::Pipeline) on a repository, one
//!   database statement each on the happy path.
//! - [`Conditional<T>`]: the same, with the body `T` answered for only
//!   after the preconditions (EV-1).
//! - [`IfMatch`], [`IfNoneMatch`], [`IfModifiedSince`],
//!   [`IfUnmodifiedSince`]: the precondition headers one at a time, absence
//!   kept distinct.
//! - [`Tagged`], [`NotModified`], [`Problem`], [`Refusal`]: responses with
//!   the right validators, and RFC 9457 problem details for every refusal;
//!   the one place where outcomes become HTTP statuses.
//! - [`RequirePreconditionsLayer`]: 428 for unconditional writes across a
//!   whole router of hand-written handlers.
//! - [`ReadFloorLayer`]: read-your-writes across PostgreSQL read replicas
//!   (the `Occ-Read-After` header and cookie, [`read_floor`]).
//! - [`routes::ConditionalRoutes`]: the conditional CRUD routes of a model,
//!   generated.
//! - [`idempotency`]: `Idempotency-Key` on writes (the generated routes
//!   honour it; [`idempotency::begin`] and [`idempotency::finish`] for
//!   hand-written handlers): a retried write applied once, its first answer
//!   replayed.
//! - `openapi` (feature `openapi`): the routes' OpenAPI 3.1
//!   description, and its pieces for hand-written handlers.
//!
//! # Features
//!
#![doc = document_features::document_features!()]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bodiless;
mod body;
mod coding;
pub mod extract;
mod headers;
pub mod idempotency;
mod layer;
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
pub mod openapi;
mod page;
mod problem;
pub mod read_floor;
mod refusal;
mod rejection;
mod response;
pub mod routes;

pub use coding::{CodingTags, CodingTagsFuture, CodingTagsLayer};
pub use extract::{
    Conditional, ConditionalRequest, IfMatch, IfMatchRejection, IfModifiedSince, IfNoneMatch,
    IfUnmodifiedSince,
};
pub use headers::PROBLEM_JSON;
pub use layer::{RequirePreconditions, RequirePreconditionsLayer, ResponseFuture};
pub use occ_core;
pub use occ_core::Policy;
pub use page::Listing;
pub use problem::Problem;
pub use read_floor::ReadFloorLayer;
pub use refusal::Refusal;
pub use response::{NotModified, Tagged};
