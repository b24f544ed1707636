//! The precondition policy of a router or route, and the responses of the
//! evaluation's refusals.

use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use occ_core::{Decision, EntityTag, Failure};

use crate::{NotModified, Problem};

pub use occ_core::Policy;

/// The 428 answer (428-1 … 428-3): says which header to send and where to
/// get the tag, and must not be stored.
pub(crate) fn precondition_required() -> Problem {
    Problem::new(StatusCode::PRECONDITION_REQUIRED)
        .with_detail(
            "this request must be conditional: send If-Match with the ETag from a GET of this \
             resource, or If-None-Match: * to create it only if it does not exist",
        )
        .no_store()
}

/// Why a request was refused by its preconditions: a 304 or a problem.
#[derive(Debug)]
pub enum Refused {
    /// 304 Not Modified (GET/HEAD).
    NotModified(NotModified),
    /// 404, 412 or 428 as problem details.
    Problem(Problem),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::NotModified(n) => n.into_response(),
            Self::Problem(p) => p.into_response(),
        }
    }
}

impl From<Problem> for Refused {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl Refused {
    /// The refusal for `decision`, or `None` to proceed. `resource` names
    /// the target in the log (its path); `current` is its current entity
    /// tag, sent with 304 and 412.
    ///
    /// Each 412 and 428 is one `tracing` event at INFO level with the
    /// method, the resource, the header at fault and the current tag.
    pub fn from_decision(
        decision: Decision,
        method: &Method,
        resource: &str,
        current: Option<&EntityTag>,
    ) -> Option<Self> {
        let head = method == Method::HEAD;
        match decision {
            Decision::Proceed => None,
            Decision::NotModified => Some(Self::NotModified(NotModified::new(current.cloned()))),
            Decision::NotFound => Some(Self::Problem(
                Problem::new(StatusCode::NOT_FOUND)
                    .with_detail("no resource exists at this URL")
                    .for_head(head),
            )),
            Decision::PreconditionRequired => {
                tracing::info!(
                    method = %method,
                    resource,
                    current = current.map(tracing::field::display),
                    "precondition required"
                );
                Some(Self::Problem(precondition_required()))
            }
            Decision::PreconditionFailed(failure) => {
                tracing::info!(
                    method = %method,
                    resource,
                    header = %failure.header(),
                    current = current.map(tracing::field::display),
                    "precondition failed: {failure}"
                );
                Some(Self::Problem(precondition_failed(&failure, current, head)))
            }
        }
    }
}

/// The 412 answer, with the current tag when there is a resource
/// (design decision 5, docs/design.md).
pub(crate) fn precondition_failed(
    failure: &Failure,
    current: Option<&EntityTag>,
    head: bool,
) -> Problem {
    let problem = Problem::new(StatusCode::PRECONDITION_FAILED)
        .with_detail(failure.to_string())
        .for_head(head);
    match current {
        Some(tag) => problem.with_current_etag(tag.clone()),
        None => problem,
    }
}
