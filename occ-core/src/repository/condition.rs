//! What a conditional write requires of the stored resource, and what a
//! conditional read already has.

use std::time::SystemTime;

use crate::versioned::Versioned;

/// What a conditional write requires of the stored resource. The repository
/// checks it atomically with the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition<V> {
    /// No requirement: an unconditional write (only under
    /// [`Policy::Optional`](crate::Policy::Optional)).
    Unconditional,
    /// The resource exists (`If-Match: *`).
    Exists,
    /// The stored version is one of these (`If-Match` tags). An empty list
    /// never matches.
    VersionIn(Vec<V>),
    /// The stored version is none of these (`If-None-Match` tags on a
    /// write). An empty list always matches.
    VersionNotIn(Vec<V>),
    /// The stored modification time is not after this date
    /// (`If-Unmodified-Since`), compared at the precision the store keeps
    /// (an HTTP date is whole seconds; the `Last-Modified` sent is rounded
    /// so that this comparison never passes over an unseen write).
    UnmodifiedSince(SystemTime),
    /// The members this write sets are unchanged since this version: no
    /// later write set any of them (design decision 16, merging). For
    /// [`Repository::update`](super::Repository::update) that is every member. A store that keeps no
    /// per-member versions treats it as `VersionIn(vec![v])` (strict); a
    /// miss with per-member versions is [`RepositoryError::MergeConflict`](super::RepositoryError::MergeConflict).
    UnchangedSince(V),
}

impl<V: Copy + Eq> WriteCondition<V> {
    /// Whether `current` satisfies the condition.
    pub fn is_met_by<M: Versioned<Version = V>>(&self, current: &M) -> bool {
        match self {
            Self::Unconditional | Self::Exists => true,
            Self::VersionIn(versions) => versions.contains(&current.version()),
            Self::VersionNotIn(versions) => !versions.contains(&current.version()),
            Self::UnmodifiedSince(since) => current.last_modified().is_none_or(|lm| lm <= *since),
            // Without per-member versions: strict.
            Self::UnchangedSince(version) => current.version() == *version,
        }
    }
}

/// The versions a client already has, from `If-None-Match` on GET/HEAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownVersions<V> {
    /// `*`: any current representation is known.
    Any,
    /// These versions (tags of other resources and malformed elements are
    /// left out, so they never match).
    Listed(Vec<V>),
}

impl<V: PartialEq> KnownVersions<V> {
    /// Whether the client knows `version`.
    pub fn contains(&self, version: &V) -> bool {
        match self {
            Self::Any => true,
            Self::Listed(versions) => versions.contains(version),
        }
    }
}
