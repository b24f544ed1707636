//! What a read returns: the state, the time it was read at, and pages of a
//! listing.

use std::time::{Duration, SystemTime};

use super::condition::KnownVersions;
use crate::versioned::Versioned;

/// What [`Repository::read`](super::Repository::read) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched<M: Versioned> {
    /// The current version is not one the client knows: the representation.
    Changed(M),
    /// The client knows the current version: only its validators were read.
    Unchanged {
        /// The current version.
        version: M::Version,
        /// The current modification time, when the model has one and the
        /// store read it.
        last_modified: Option<SystemTime>,
    },
}

impl<M: Versioned> Fetched<M> {
    /// [`Fetched::Unchanged`] with `current`'s validators when the client
    /// knows its version; `None` when the representation must be sent.
    pub fn of(current: &M, known: &KnownVersions<M::Version>) -> Option<Self> {
        known.contains(&current.version()).then(|| Self::Unchanged {
            version: current.version(),
            last_modified: current.last_modified(),
        })
    }
}

/// What [`Repository::read`](super::Repository::read) found, and how far it is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot<M: Versioned> {
    /// The representation, or only its validators.
    pub fetched: Fetched<M>,
    /// A time, on the clock that stamps modification times, no later than
    /// the stamp of any write the read does not include. The
    /// `Last-Modified` sent for the read is rounded up to a whole second
    /// only once this time has passed that second
    /// ([`http_last_modified`](crate::date::http_last_modified)), so an
    /// `If-Unmodified-Since` with that date can never pass over a write the
    /// client did not see.
    pub as_of: SystemTime,
}

/// How long a write may take from its stamp to its commit, on a store
/// whose writes are stamped before they commit (SQL: the statement reads
/// the clock, the commit follows). A read's [`Snapshot::as_of`] is its own
/// time less this much, and a write held open longer (an
/// `Idempotency-Key`'s transaction) is rolled back rather than committed
/// under a date already sent. A row that has been quiet for this long and
/// a second more accepts a date-only write.
pub const COMMIT_MARGIN: Duration = Duration::from_secs(1);

/// One page of a keyset-paginated listing.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<M: Versioned> {
    /// The resources, in ascending id order.
    pub items: Vec<M>,
    /// The id to pass as `after` for the next page, if there may be one.
    pub next_after: Option<M::Id>,
}
