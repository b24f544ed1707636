//! Repositories: storage with an atomic compare-and-swap contract.
//!
//! Every conditional write is decided by the store, in the same statement
//! (or transaction) as the write, on the stored version: two requests that
//! carry the same `If-Match` can never both succeed. Read-compare-then-write
//! in application code is exactly the lost update this module exists to
//! prevent.

mod error;
mod memory;
mod merge_patch;
mod retry;
#[cfg(feature = "sqlx")]
pub mod sql;

use std::time::SystemTime;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::precondition::Preconditions;
use crate::tag_list::{ListElement, ListKind};
use crate::versioned::Versioned;

pub use error::RepositoryError;
pub use memory::MemoryRepository;
pub use merge_patch::{apply_merge_patch, merge_patch_model};
pub use retry::{retry_on_conflict, RetryPolicy};

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
    /// The stored modification time is not after this date
    /// (`If-Unmodified-Since`, compared at second resolution).
    UnmodifiedSince(SystemTime),
}

impl<V: Copy + Eq> WriteCondition<V> {
    /// Whether `current` satisfies the condition.
    pub fn is_met_by<M: Versioned<Version = V>>(&self, current: &M) -> bool {
        match self {
            Self::Unconditional | Self::Exists => true,
            Self::VersionIn(versions) => versions.contains(&current.version()),
            Self::UnmodifiedSince(since) => current
                .last_modified()
                .is_none_or(|lm| crate::date::to_second(lm) <= *since),
        }
    }
}

impl Preconditions {
    /// The condition a write must meet, when the request's preconditions
    /// reduce to one the store can check in the write itself: a well-formed
    /// `If-Match` (tags or `*`) alone, or a valid `If-Unmodified-Since` alone
    /// on a model with modification times, or nothing at all.
    ///
    /// `None` means the request needs the general path: read the current
    /// state, [`evaluate`](Preconditions::evaluate), then write with
    /// [`WriteCondition::VersionIn`] the version that was read.
    ///
    /// Tags map to versions through [`Versioned::version_from_tag`] for this
    /// `id`: a tag of another resource, or a weak tag (IM-1), maps to none.
    pub fn write_condition<M: Versioned>(&self, id: &M::Id) -> Option<WriteCondition<M::Version>> {
        if self.if_none_match().is_some() || self.if_modified_since().is_some() {
            return None;
        }
        if let Some(list) = self.if_match() {
            return match list.check().ok()? {
                ListKind::Any => Some(WriteCondition::Exists),
                ListKind::Tags(_) => Some(WriteCondition::VersionIn(
                    list.elements()
                        .filter_map(|e| match e {
                            Ok(ListElement::Tag(tag)) => M::version_from_tag(id, tag),
                            _ => None,
                        })
                        .collect(),
                )),
            };
        }
        match self.if_unmodified_since() {
            None => Some(WriteCondition::Unconditional),
            Some(crate::DateField::Valid(since)) if M::HAS_LAST_MODIFIED => {
                Some(WriteCondition::UnmodifiedSince(since))
            }
            // Ignored (IUS-2, IUS-3): leave the decision to `evaluate`.
            Some(_) => None,
        }
    }
}

/// One page of a keyset-paginated listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<M: Versioned> {
    /// The resources, in ascending id order.
    pub items: Vec<M>,
    /// The id to pass as `after` for the next page, if there may be one.
    pub next_after: Option<M::Id>,
}

/// Storage for a [`Versioned`] model, with atomic conditional writes.
///
/// Contract, for every implementation (the contract test suite checks it):
/// - [`update`](Repository::update) and [`delete`](Repository::delete) apply
///   `condition` and the write atomically; on success the version is the
///   [next one](crate::VersionNumber::next).
/// - A failed condition is [`RepositoryError::PreconditionFailed`] carrying
///   the current state; a missing resource is
///   [`RepositoryError::NotFound`]: the two are never confused.
/// - Errors never carry backend text meant for clients.
///
/// A hand-written implementation only needs the five required methods; a
/// sketch over a hypothetical key-value store with a native CAS:
///
/// ```
/// use async_trait::async_trait;
/// use occ_core::repository::{Page, Repository, RepositoryError, WriteCondition};
/// use occ_core::Versioned;
///
/// # #[derive(Clone, Versioned)] struct Note { id: u64, #[version] version: u64 }
/// struct Notes { inner: occ_core::repository::MemoryRepository<Note> }
///
/// #[async_trait]
/// impl Repository<Note> for Notes {
///     async fn get(&self, id: &u64) -> Result<Note, RepositoryError<Note>> {
///         self.inner.get(id).await
///     }
///     async fn create(&self, note: Note) -> Result<Note, RepositoryError<Note>> {
///         self.inner.create(note).await
///     }
///     async fn update(
///         &self,
///         note: Note,
///         condition: &WriteCondition<u64>,
///     ) -> Result<Note, RepositoryError<Note>> {
///         // A real store would send `condition` with the write, e.g.
///         // `UPDATE … WHERE version IN (…)` or a CAS on a key's revision.
///         self.inner.update(note, condition).await
///     }
///     async fn delete(
///         &self,
///         id: &u64,
///         condition: &WriteCondition<u64>,
///     ) -> Result<Note, RepositoryError<Note>> {
///         self.inner.delete(id, condition).await
///     }
///     async fn list(&self, after: Option<&u64>, limit: u32) -> Result<Page<Note>, RepositoryError<Note>> {
///         self.inner.list(after, limit).await
///     }
/// }
/// ```
#[async_trait]
pub trait Repository<M>: Send + Sync
where
    M: Versioned + Send + Sync + 'static,
    M::Id: Send + Sync,
{
    /// The resource with this id.
    async fn get(&self, id: &M::Id) -> Result<M, RepositoryError<M>>;

    /// Stores a new resource as given (version included), or fails with
    /// [`RepositoryError::AlreadyExists`] if the id is taken.
    async fn create(&self, model: M) -> Result<M, RepositoryError<M>>;

    /// Replaces the resource with `model` (its version is ignored) if
    /// `condition` holds, bumping the version. Returns the stored state.
    async fn update(
        &self,
        model: M,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>>;

    /// Deletes the resource if `condition` holds; returns what was deleted.
    async fn delete(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>>;

    /// Up to `limit` resources with ids greater than `after`, in id order.
    async fn list(&self, after: Option<&M::Id>, limit: u32) -> Result<Page<M>, RepositoryError<M>>;

    /// Applies a JSON merge patch (RFC 7396) if `condition` holds, atomically
    /// (PATCH-1): the patch is applied to the current state, the result is
    /// validated by deserializing it into `M`, changes to the id or version
    /// are refused ([`RepositoryError::Invalid`]), and the write is a
    /// compare-and-swap on the version that was read. A concurrent change
    /// between the read and the write is detected by that swap; the read is
    /// then repeated (a bounded number of times) and the condition checked
    /// again on the fresh state.
    async fn merge_patch(
        &self,
        id: &M::Id,
        patch: &serde_json::Value,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>>
    where
        M: Serialize + DeserializeOwned,
    {
        const ATTEMPTS: usize = 8;
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let current = self.get(id).await?;
            if !condition.is_met_by(&current) {
                return Err(RepositoryError::PreconditionFailed {
                    current: Box::new(current),
                });
            }
            let read_version = current.version();
            let patched = merge_patch_model(&current, patch)?;
            match self
                .update(patched, &WriteCondition::VersionIn(vec![read_version]))
                .await
            {
                Err(RepositoryError::PreconditionFailed { current }) => last = Some(current),
                other => return other,
            }
        }
        Err(match last {
            Some(current) => RepositoryError::PreconditionFailed { current },
            None => RepositoryError::NotFound,
        })
    }
}
