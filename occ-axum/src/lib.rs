//! axum integration for occ: extractors, responders, problem details and
//! generated conditional CRUD routes.
//!
//! - [`Preconditions`], [`IfMatch`], [`IfNoneMatch`], [`IfModifiedSince`],
//!   [`IfUnmodifiedSince`]: the precondition headers, absence kept distinct.
//! - [`Conditional<T>`]: preconditions evaluated before the body `T` is
//!   read (EV-1).
//! - [`Tagged`], [`NotModified`], [`Problem`]: responses with the right
//!   validators, and RFC 9457 problem details for every refusal.
//! - [`RequirePreconditionsLayer`]: 428 for unconditional writes across a
//!   whole router of hand-written handlers.
//! - [`routes::ConditionalRoutes`]: the conditional CRUD routes of a model,
//!   generated.
#![forbid(unsafe_code)]

mod bodiless;
pub mod extract;
mod layer;
mod policy;
mod problem;
mod rejection;
mod response;
pub mod routes;

pub use extract::{
    Conditional, IfMatch, IfMatchRejection, IfModifiedSince, IfNoneMatch, IfUnmodifiedSince,
    Preconditions,
};
pub use layer::{RequirePreconditions, RequirePreconditionsLayer};
pub use occ_core;
pub use policy::{Policy, Refused};
pub use problem::{Problem, PROBLEM_JSON};
pub use response::{NotModified, Tagged};
