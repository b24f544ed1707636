//! What a repository operation can fail with.

use std::error::Error;
use std::fmt;

/// Why a repository operation failed: one variant per HTTP outcome, so a
/// handler maps it without matching strings.
pub enum RepositoryError<M> {
    /// No resource with that id (404).
    NotFound,
    /// The write condition did not hold (412); the current state is here so
    /// the response can carry its ETag.
    PreconditionFailed {
        /// The stored resource as it is now.
        current: Box<M>,
    },
    /// A resource with that id exists already (412 for `If-None-Match: *`,
    /// 409 for POST).
    AlreadyExists {
        /// The stored resource, when the backend returned it.
        current: Option<Box<M>>,
    },
    /// The requested state is not valid for the model (422): a merge patch
    /// that does not deserialize, or that changes the id or version.
    Invalid(String),
    /// The version counter cannot go higher (409).
    VersionExhausted,
    /// The backend failed or cannot be reached (503). The source is for
    /// logs only; it is never shown to clients.
    Unavailable(Box<dyn Error + Send + Sync>),
}

impl<M> RepositoryError<M> {
    /// Wraps a backend error.
    pub fn unavailable(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::Unavailable(source.into())
    }

    /// The HTTP status this error stands for.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PreconditionFailed { .. } | Self::AlreadyExists { .. } => {
                StatusCode::PRECONDITION_FAILED
            }
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::VersionExhausted => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl<M> fmt::Debug for RepositoryError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("NotFound"),
            Self::PreconditionFailed { .. } => f.write_str("PreconditionFailed { .. }"),
            Self::AlreadyExists { .. } => f.write_str("AlreadyExists { .. }"),
            Self::Invalid(why) => f.debug_tuple("Invalid").field(why).finish(),
            Self::VersionExhausted => f.write_str("VersionExhausted"),
            Self::Unavailable(source) => f.debug_tuple("Unavailable").field(source).finish(),
        }
    }
}

impl<M> fmt::Display for RepositoryError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("the resource does not exist"),
            Self::PreconditionFailed { .. } => {
                f.write_str("the resource does not meet the write condition")
            }
            Self::AlreadyExists { .. } => f.write_str("a resource with this id exists already"),
            Self::Invalid(why) => write!(f, "invalid resource: {why}"),
            Self::VersionExhausted => f.write_str("the version counter cannot be incremented"),
            Self::Unavailable(_) => f.write_str("the storage backend is unavailable"),
        }
    }
}

impl<M> Error for RepositoryError<M> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Unavailable(source) => Some(&**source),
            _ => None,
        }
    }
}
