//! axum integration for occ: extractors, responders, problem details and
//! generated conditional CRUD routes.
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
//! - [`routes::ConditionalRoutes`]: the conditional CRUD routes of a model,
//!   generated.
#![forbid(unsafe_code)]

mod bodiless;
pub mod extract;
mod layer;
mod problem;
mod refusal;
mod rejection;
mod response;
pub mod routes;

pub use extract::{
    Conditional, ConditionalRequest, IfMatch, IfMatchRejection, IfModifiedSince, IfNoneMatch,
    IfUnmodifiedSince,
};
pub use layer::{RequirePreconditions, RequirePreconditionsLayer, ResponseFuture};
pub use occ_core;
pub use occ_core::Policy;
pub use problem::{Problem, PROBLEM_JSON};
pub use refusal::Refusal;
pub use response::{NotModified, Tagged};
