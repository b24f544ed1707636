//! The `IfMatch` extractor.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::header::IF_MATCH;
use http::request::Parts;
use http::StatusCode;
use occ_core::EntityTagList;

use crate::problem::Problem;

/// The `If-Match` field, all lines, kept raw until evaluated against the
/// current tag in one pass ([`EntityTagList::matches`] with
/// [`Comparison::Strong`](occ_core::Comparison::Strong)).
///
/// As a plain extractor it requires the header: a request without one is
/// rejected with 428 Precondition Required. Use `Option<IfMatch>` where
/// absence is fine; absence and an empty value stay distinct (an empty
/// value is present, and malformed).
///
/// ```
/// use axum::{routing::put, Router};
/// use occ_axum::IfMatch;
///
/// async fn replace(IfMatch(tags): IfMatch) -> String {
///     format!("{tags:?}")
/// }
/// let app: Router = Router::new().route("/docs/{id}", put(replace));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfMatch(pub EntityTagList);

/// Why [`IfMatch`] rejected a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IfMatchRejection {
    /// The request has no `If-Match` header: 428 (428-1, 428-2).
    Missing,
}

impl IntoResponse for IfMatchRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Missing => crate::refusal::precondition_required().into_response(),
        }
    }
}

impl From<IfMatchRejection> for Problem {
    fn from(rejection: IfMatchRejection) -> Self {
        match rejection {
            IfMatchRejection::Missing => crate::refusal::precondition_required(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = IfMatchRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        EntityTagList::from_lines(parts.headers.get_all(IF_MATCH))
            .map(Self)
            .ok_or(IfMatchRejection::Missing)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for IfMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(EntityTagList::from_lines(parts.headers.get_all(IF_MATCH)).map(Self))
    }
}

impl IfMatchRejection {
    /// The status it answers with: 428 Precondition Required.
    pub fn status(&self) -> StatusCode {
        StatusCode::PRECONDITION_REQUIRED
    }

    /// The explanation its problem carries.
    pub fn body_text(&self) -> String {
        match self {
            Self::Missing => crate::refusal::precondition_required()
                .detail()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

impl std::fmt::Display for IfMatchRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.body_text())
    }
}

impl std::error::Error for IfMatchRejection {}
