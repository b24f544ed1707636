//! The `IfNoneMatch` extractor.

use axum::extract::OptionalFromRequestParts;
use http::header::IF_NONE_MATCH;
use http::request::Parts;
use occ_core::EntityTagList;

/// The `If-None-Match` field, all lines, kept raw until evaluated
/// in one pass ([`EntityTagList::matches`] with
/// [`Comparison::Weak`](occ_core::Comparison::Weak)).
///
/// Optional only: `Option<IfNoneMatch>`.
///
/// ```
/// use axum::{routing::get, Router};
/// use occ_axum::IfNoneMatch;
///
/// async fn read(if_none_match: Option<IfNoneMatch>) -> String {
///     format!("conditional: {}", if_none_match.is_some())
/// }
/// let app: Router = Router::new().route("/docs/{id}", get(read));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfNoneMatch(pub EntityTagList);

impl<S: Send + Sync> OptionalFromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(EntityTagList::from_lines(parts.headers.get_all(IF_NONE_MATCH)).map(Self))
    }
}
