//! The header names and media types occ-axum sends and reads that `http`
//! does not define: the ones a client speaks too from `occ_core::wire`,
//! the server's own here, each spelled once. The public ones are
//! re-exported where they have always been (`occ_axum::PROBLEM_JSON`,
//! `occ_axum::routes::MERGE_PATCH_JSON`, `occ_axum::idempotency::…`,
//! `occ_axum::openapi::…`).

use http::HeaderName;

/// `Accept-Patch` (RFC 5789 §3.1).
pub(crate) const ACCEPT_PATCH: HeaderName = HeaderName::from_static("accept-patch");

pub(crate) use occ_core::wire::JSON;
pub use occ_core::wire::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, MERGE_PATCH_JSON, PROBLEM_JSON};

/// Header names as a description shows them (an OpenAPI document keys
/// headers by name, in their usual capitalisation).
// Without the feature nothing describes, and nothing re-exports the public two.
#[cfg_attr(not(feature = "openapi"), allow(dead_code, unreachable_pub))]
pub(crate) mod shown {
    /// `Accept-Patch`.
    pub(crate) const ACCEPT_PATCH: &str = "Accept-Patch";
    /// `Allow`.
    pub(crate) const ALLOW: &str = "Allow";
    /// `Cache-Control`.
    pub(crate) const CACHE_CONTROL: &str = "Cache-Control";
    /// `ETag`.
    pub(crate) const ETAG: &str = "ETag";
    /// `If-Match`.
    pub(crate) const IF_MATCH: &str = "If-Match";
    /// `If-Modified-Since`.
    pub(crate) const IF_MODIFIED_SINCE: &str = "If-Modified-Since";
    /// `If-None-Match`.
    pub(crate) const IF_NONE_MATCH: &str = "If-None-Match";
    /// `If-Unmodified-Since`.
    pub(crate) const IF_UNMODIFIED_SINCE: &str = "If-Unmodified-Since";
    /// The request header of an idempotent retry (`Idempotency-Key`).
    pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
    /// The response header of a replayed answer (`Idempotent-Replayed: true`).
    pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";
    /// `Last-Modified`.
    pub(crate) const LAST_MODIFIED: &str = "Last-Modified";
    /// `Location`.
    pub(crate) const LOCATION: &str = "Location";
    /// `Retry-After`.
    pub(crate) const RETRY_AFTER: &str = "Retry-After";
}
