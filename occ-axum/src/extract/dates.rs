//! The `IfModifiedSince` and `IfUnmodifiedSince` extractors.

use std::time::SystemTime;

use axum::extract::OptionalFromRequestParts;
use http::header::{IF_MODIFIED_SINCE, IF_UNMODIFIED_SINCE};
use http::request::Parts;
use occ_core::DateField;

/// A valid `If-Modified-Since` date. Optional only: an absent or invalid
/// value is `None`, as the RFC says to ignore it (IMS-2).
///
/// ```
/// use axum::{routing::get, Router};
/// use occ_axum::IfModifiedSince;
///
/// async fn read(since: Option<IfModifiedSince>) -> String {
///     format!("{:?}", since.map(|IfModifiedSince(t)| t))
/// }
/// let app: Router = Router::new().route("/", get(read));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfModifiedSince(pub SystemTime);

/// A valid `If-Unmodified-Since` date. Optional only: an absent or invalid
/// value is `None` (IUS-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfUnmodifiedSince(pub SystemTime);

impl<S: Send + Sync> OptionalFromRequestParts<S> for IfModifiedSince {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            DateField::from_lines(parts.headers.get_all(IF_MODIFIED_SINCE))
                .and_then(DateField::valid)
                .map(Self),
        )
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for IfUnmodifiedSince {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            DateField::from_lines(parts.headers.get_all(IF_UNMODIFIED_SINCE))
                .and_then(DateField::valid)
                .map(Self),
        )
    }
}
