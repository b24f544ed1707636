//! The names and media types both ends of occ's protocol speak that `http`
//! does not define, each spelled once: the server (occ-axum) sends and
//! reads them, a client (occ-client) reads and sends them back.

use http::HeaderName;

/// `Idempotency-Key`: the key of one logical write, the same on each send
/// of it.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// `Idempotent-Replayed: true` marks an answer recorded by an earlier send
/// under the same key.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The header a write's answer carries the primary's position in, and a
/// read sends back: `Occ-Read-After: 16/B374D848`.
pub const READ_AFTER: HeaderName = HeaderName::from_static("occ-read-after");

/// The media type of JSON bodies: representations, pages.
pub const JSON: &str = "application/json";

/// The media type a PATCH body is sent in (RFC 7396, MP-1).
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";

/// The media type of problem details (RFC 9457, PD-1).
pub const PROBLEM_JSON: &str = "application/problem+json";
