//! The `Preconditions` extractor: every precondition header, parsed once.

use std::convert::Infallible;
use std::ops::Deref;

use axum::extract::FromRequestParts;
use http::request::Parts;

/// All four precondition headers of the request, parsed once; never rejects
/// (malformed values are decided at evaluation, as the RFC says).
///
/// ```
/// use axum::{routing::get, Router};
/// use occ_axum::Preconditions;
///
/// async fn handler(preconditions: Preconditions) -> String {
///     format!("conditional: {}", !preconditions.is_empty())
/// }
/// let app: Router = Router::new().route("/", get(handler));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions(pub occ_core::Preconditions);

impl Deref for Preconditions {
    type Target = occ_core::Preconditions;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Preconditions {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(occ_core::Preconditions::from_headers(&parts.headers)))
    }
}
