//! axum's own rejections, as problem details (design decision 10, docs/design.md).

use axum::extract::rejection::{
    BytesRejection, FormRejection, JsonRejection, PathRejection, QueryRejection, StringRejection,
};
use occ_core::repository::RepositoryError;
use occ_core::Versioned;

use crate::Problem;

macro_rules! from_axum_rejection {
    ($($rejection:ty),*) => {$(
        impl From<$rejection> for Problem {
            fn from(rejection: $rejection) -> Self {
                Problem::new(rejection.status()).with_detail(rejection.body_text())
            }
        }
    )*};
}

from_axum_rejection!(
    JsonRejection,
    BytesRejection,
    StringRejection,
    FormRejection,
    PathRejection,
    QueryRejection
);

impl From<std::convert::Infallible> for Problem {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl<M: Versioned> From<RepositoryError<M>> for Problem {
    /// Maps a repository error to its status; a 412 carries the current tag.
    /// Backend details stay in the log (PD-11).
    fn from(error: RepositoryError<M>) -> Self {
        let problem = Problem::new(error.status());
        match error {
            RepositoryError::NotFound => problem.with_detail("no resource exists at this URL"),
            RepositoryError::PreconditionFailed { current } => problem
                .with_detail(
                    "the resource was changed by someone else; fetch it again, merge, and retry with the current ETag",
                )
                .with_current_etag(current.entity_tag()),
            RepositoryError::AlreadyExists { current } => {
                let problem = problem.with_detail("a resource with this id exists already");
                match current {
                    Some(current) => problem.with_current_etag(current.entity_tag()),
                    None => problem,
                }
            }
            RepositoryError::Invalid(why) => problem.with_detail(why),
            RepositoryError::VersionExhausted => {
                problem.with_detail("the resource's version counter is exhausted")
            }
            RepositoryError::Unavailable(_) => {
                problem.with_detail("the storage backend is unavailable; retry later")
            }
        }
    }
}
