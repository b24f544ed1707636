//! [`Rejection`]: why a conditional request stops before (or instead of)
//! its write.

use std::fmt;
use std::time::SystemTime;

use crate::entity_tag::EntityTag;
use crate::precondition::Failure;
use crate::repository::RepositoryError;
use crate::versioned::Versioned;

/// Why a conditional request stops before (or instead of) its write.
///
/// `B` is the error of the request body, reported only when the
/// preconditions pass (EV-1).
pub enum Rejection<M: Versioned, B = std::convert::Infallible> {
    /// The client's copy is current (GET/HEAD): 304.
    NotModified {
        /// The current entity tag.
        etag: EntityTag,
        /// The current modification time, when known.
        last_modified: Option<SystemTime>,
        /// The read's [`Snapshot::as_of`](crate::repository::Snapshot::as_of): what `Last-Modified` is rounded
        /// with.
        as_of: SystemTime,
    },
    /// No such resource, and the method cannot create it.
    NotFound,
    /// A write without any precondition under [`Policy::Required`](crate::precondition::Policy::Required).
    PreconditionRequired,
    /// A precondition is false.
    PreconditionFailed {
        /// Which one, and why.
        failure: Failure,
        /// The current state, when the resource exists.
        current: Option<Box<M>>,
    },
    /// The preconditions pass, but the body is not acceptable.
    Body(B),
    /// The store refused or failed (an invalid state, an exhausted
    /// counter, a backend error).
    Repository(RepositoryError<M>),
}

impl<M: Versioned, B: fmt::Debug> fmt::Debug for Rejection<M, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotModified { etag, .. } => f.debug_tuple("NotModified").field(etag).finish(),
            Self::NotFound => f.write_str("NotFound"),
            Self::PreconditionRequired => f.write_str("PreconditionRequired"),
            Self::PreconditionFailed { failure, current } => f
                .debug_struct("PreconditionFailed")
                .field("failure", failure)
                .field("current", &current.as_ref().map(|c| c.entity_tag()))
                .finish(),
            Self::Body(body) => f.debug_tuple("Body").field(body).finish(),
            Self::Repository(e) => f.debug_tuple("Repository").field(e).finish(),
        }
    }
}

impl<M: Versioned, B> From<RepositoryError<M>> for Rejection<M, B> {
    fn from(error: RepositoryError<M>) -> Self {
        match error {
            RepositoryError::NotFound => Self::NotFound,
            other => Self::Repository(other),
        }
    }
}
