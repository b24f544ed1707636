//! What a repository operation can fail with.

use std::error::Error;
use std::fmt;

/// Why a repository operation failed: one variant per outcome a handler
/// tells apart, so it maps them without matching strings.
#[non_exhaustive]
pub enum RepositoryError<M> {
    /// No resource with that id.
    NotFound,
    /// The write condition did not hold; the current state is here so
    /// the response can carry its ETag.
    PreconditionFailed {
        /// The stored resource as it is now.
        current: Box<M>,
    },
    /// A merging write ([`WriteCondition::UnchangedSince`](super::WriteCondition::UnchangedSince))
    /// found members it sets changed after the version it was based on:
    /// 412 naming them.
    MergeConflict {
        /// The stored resource as it is now.
        current: Box<M>,
        /// The JSON member names changed since that version, sorted.
        conflicts: Vec<String>,
    },
    /// A resource with that id exists already.
    AlreadyExists {
        /// The stored resource, when the backend returned it.
        current: Option<Box<M>>,
    },
    /// The requested state is not valid for the model: a merge patch that
    /// does not deserialize, that changes the id or version, or a value a
    /// storage constraint refuses.
    Invalid(String),
    /// The version counter cannot go higher.
    VersionExhausted,
    /// The backend cannot be reached, is busy, or gave up on a transaction
    /// (a lost connection, a timeout, a deadlock): worth a retry. The
    /// source is for logs only; it is never shown to clients.
    Unavailable(Box<dyn Error + Send + Sync>),
    /// The backend refused the operation for a reason a retry will not
    /// change: the table does not match the model (a missing column, a
    /// wrong type). The source is for logs only.
    Internal(Box<dyn Error + Send + Sync>),
}

impl<M> RepositoryError<M> {
    /// Wraps a transient backend error.
    pub fn unavailable(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::Unavailable(source.into())
    }

    /// Wraps a backend error that a retry will not fix.
    pub fn internal(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::Internal(source.into())
    }
}

impl<M> fmt::Debug for RepositoryError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("NotFound"),
            Self::PreconditionFailed { .. } => f.write_str("PreconditionFailed { .. }"),
            Self::MergeConflict { conflicts, .. } => f
                .debug_struct("MergeConflict")
                .field("conflicts", conflicts)
                .finish_non_exhaustive(),
            Self::AlreadyExists { .. } => f.write_str("AlreadyExists { .. }"),
            Self::Invalid(why) => f.debug_tuple("Invalid").field(why).finish(),
            Self::VersionExhausted => f.write_str("VersionExhausted"),
            Self::Unavailable(source) => f.debug_tuple("Unavailable").field(source).finish(),
            Self::Internal(source) => f.debug_tuple("Internal").field(source).finish(),
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
            Self::MergeConflict { conflicts, .. } => write!(
                f,
                "members changed since the version the write was based on: {}",
                conflicts.join(", ")
            ),
            Self::AlreadyExists { .. } => f.write_str("a resource with this id exists already"),
            Self::Invalid(why) => write!(f, "invalid resource: {why}"),
            Self::VersionExhausted => f.write_str("the version counter cannot be incremented"),
            Self::Unavailable(_) => f.write_str("the storage backend is unavailable"),
            Self::Internal(_) => f.write_str("the storage backend refused the operation"),
        }
    }
}

impl<M> Error for RepositoryError<M> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Unavailable(source) | Self::Internal(source) => Some(&**source),
            _ => None,
        }
    }
}
