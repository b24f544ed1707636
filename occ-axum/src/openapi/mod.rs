//! OpenAPI 3.1 descriptions (feature `openapi`, on utoipa).
//!
//! The generated routes describe themselves:
//! [`ConditionalRoutes::openapi`](crate::routes::ConditionalRoutes::openapi) gives every operation with its
//! precondition headers, its validators, and every status it can answer,
//! each refusal an `application/problem+json` body of the [`Problem`](crate::Problem)
//! schema. Hand-written handlers reuse the same pieces in
//! `#[utoipa::path(...)]`: the headers as [`ReadPreconditions`] and
//! [`WritePreconditions`] (or one at a time, [`if_match`] and the others),
//! the refusals as [`ReadRefusals`] and [`WriteRefusals`] (or one at a
//! time, [`problem_response`]), and `body = Problem` for the schema; where
//! a handler keeps `Idempotency-Key`, [`idempotency_key`] and
//! [`KeyRefusals`] too.
//!
//! ```
//! use occ_axum::openapi::{WritePreconditions, WriteRefusals};
//! use occ_axum::Problem;
//! use utoipa::OpenApi;
//!
//! #[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
//! struct Note { id: u64, text: String }
//!
//! /// Replaces a note, if it is still the version the client read.
//! #[utoipa::path(
//!     put,
//!     path = "/notes/{id}",
//!     params(("id" = u64, Path, description = "The note's id"), WritePreconditions),
//!     request_body = Note,
//!     responses((status = 200, description = "The note, replaced", body = Note), WriteRefusals),
//! )]
//! async fn put_note() {}
//!
//! #[derive(OpenApi)]
//! #[openapi(paths(put_note), components(schemas(Problem)))]
//! struct Api;
//!
//! let spec = serde_json::to_value(Api::openapi()).unwrap();
//! let put = &spec["paths"]["/notes/{id}"]["put"];
//! let headers: Vec<&str> = put["parameters"]
//!     .as_array()
//!     .unwrap()
//!     .iter()
//!     .map(|p| p["name"].as_str().unwrap())
//!     .collect();
//! assert_eq!(headers, ["id", "If-Match", "If-None-Match", "If-Unmodified-Since"]);
//! assert_eq!(
//!     put["responses"]["412"]["content"]["application/problem+json"]["schema"]["$ref"],
//!     "#/components/schemas/Problem"
//! );
//! assert!(put["responses"]["428"].is_object());
//! assert!(spec["components"]["schemas"]["Problem"].is_object());
//! ```

mod describer;
mod operations;
mod parameters;
mod problem;
mod responses;
mod routes;
mod syntax;

pub use self::parameters::{
    idempotency_key, if_match, if_modified_since, if_none_match, if_unmodified_since,
    ReadPreconditions, WritePreconditions,
};
pub use self::problem::PROBLEM_SCHEMA;
pub use self::responses::{
    etag_header, idempotent_replayed_header, last_modified_header, location_header,
    not_modified_response, problem_response, KeyRefusals, ReadRefusals, WriteRefusals,
};
pub use self::syntax::EXAMPLE_TAG;
pub use crate::headers::shown::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
