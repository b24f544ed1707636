//! The [`Repository`] trait: the contract every store keeps, with the key
//! claims its writes may go through.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::condition::{KnownVersions, WriteCondition};
use super::error::RepositoryError;
use super::merge_patch::merge_patch_model;
use super::scope::Scope;
use super::snapshot::{Fetched, Page, Snapshot, COMMIT_MARGIN};
use crate::idempotency::{Fingerprint, Finished, IdempotencyKey, StoredResponse};
use crate::versioned::Versioned;

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
{
    /// The resource with this id.
    async fn get(&self, id: &M::Id) -> Result<M, RepositoryError<M>>;

    /// The resource with this id unless its current version is one the
    /// client `known`s, in which case only the version is read: what a
    /// conditional GET needs, so that a 304 transfers no representation.
    /// With it the time up to which the read is complete
    /// ([`Snapshot::as_of`]): what a GET's `Last-Modified` is rounded with.
    ///
    /// The SQL repository does it in one statement, and reads the
    /// database's clock in it; the memory repository reads its clock under
    /// the lock its writes take. The default reads the whole resource and
    /// takes this server's clock before the read, less [`COMMIT_MARGIN`]:
    /// right for a store whose writes are stamped on the same clock and
    /// commit within that margin.
    async fn read(
        &self,
        id: &M::Id,
        known: &KnownVersions<M::Version>,
    ) -> Result<Snapshot<M>, RepositoryError<M>> {
        let now = SystemTime::now();
        let current = self.get(id).await?;
        let fetched = Fetched::of(&current, known).unwrap_or(Fetched::Changed(current));
        Ok(Snapshot {
            fetched,
            as_of: now.checked_sub(COMMIT_MARGIN).unwrap_or(now),
        })
    }

    /// Whether a read costs no round trip: the store is in this process's
    /// memory. A PUT's `If-Match` is then evaluated on the version before
    /// its body is parsed, in EV-1's order, so a stale write costs no
    /// parse; a store across a network keeps the precondition in the
    /// write's one statement instead. `false` unless the store says so.
    fn reads_in_process(&self) -> bool {
        false
    }

    /// [`RepositoryError::AlreadyExists`] if the id is taken.
    async fn create(&self, model: M) -> Result<M, RepositoryError<M>>;

    /// Stores a new resource with an id the store assigns (an identity or
    /// autoincrement column in SQL, the next number in memory), for models
    /// whose integer ids are `#[occ(generated)]`; `model`'s own id is
    /// ignored. Returns the stored state, with its id.
    ///
    /// The default refuses: a repository that cannot assign ids must not
    /// serve a POST without one.
    async fn create_with_new_id(&self, model: M) -> Result<M, RepositoryError<M>> {
        let _ = model;
        Err(RepositoryError::internal(
            "this repository cannot assign ids",
        ))
    }

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

    /// This repository restricted to `scope` (a tenant or owner column):
    /// every operation of the returned view carries it, so rows outside it
    /// do not exist, and writes that would put a row outside it are
    /// refused ([`RepositoryError::Invalid`]).
    ///
    /// The default refuses: a repository that cannot scope must not serve
    /// a scoped route.
    fn scoped<'a>(
        &'a self,
        scope: &Scope,
    ) -> Result<Box<dyn Repository<M> + 'a>, RepositoryError<M>>
    where
        M: Serialize,
    {
        let _ = scope;
        Err(RepositoryError::internal(
            "this repository does not support row-level scopes",
        ))
    }

    /// Applies a JSON merge patch (RFC 7396) if `condition` holds,
    /// atomically (PATCH-1): the result is validated by deserializing it
    /// into `M`, and changes to the id or version are refused
    /// ([`RepositoryError::Invalid`]).
    ///
    /// The SQL repository turns a patch of top-level members into one
    /// `UPDATE` of those columns with the condition in its `WHERE` clause.
    /// The default (and the SQL repository, for what cannot be merged in
    /// SQL) is [`merge_by_swap`]: read, patch, compare-and-swap.
    async fn merge_patch(
        &self,
        id: &M::Id,
        patch: &serde_json::Value,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>>
    where
        M: Serialize + DeserializeOwned,
    {
        merge_by_swap(self, id, patch, condition).await
    }

    /// Whether this repository records idempotency keys
    /// ([`claim_key`](Repository::claim_key) works). The default: no.
    fn keeps_idempotency_keys(&self) -> bool {
        false
    }

    /// Claims `key` (in `namespace`, such as a scope) for a write whose
    /// request has `fingerprint`: see [`crate::idempotency`] for the
    /// protocol. The memory repository keeps keys in memory; the SQL
    /// repository in a table of its own
    /// ([`SqlRepository::with_idempotency_keys`](super::sql::SqlRepository::with_idempotency_keys)),
    /// with the response recorded in the write's transaction.
    ///
    /// The default refuses: a repository that keeps no keys must not
    /// pretend to replay.
    async fn claim_key(
        &self,
        key: &IdempotencyKey,
        namespace: &str,
        fingerprint: &Fingerprint,
    ) -> Result<Claim<'_, M>, RepositoryError<M>> {
        let _ = (key, namespace, fingerprint);
        Err(RepositoryError::internal(
            "this repository does not keep idempotency keys",
        ))
    }
}

/// A merge patch applied in the application, atomically all the same: the
/// current state is read, the condition checked on it, the patch applied,
/// and the write is a compare-and-swap on the version that was read. A
/// concurrent change between the read and the write is detected by that
/// swap; the read is then repeated (a bounded number of times) and the
/// condition checked again on the fresh state.
pub async fn merge_by_swap<M, R>(
    repo: &R,
    id: &M::Id,
    patch: &serde_json::Value,
    condition: &WriteCondition<M::Version>,
) -> Result<M, RepositoryError<M>>
where
    M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
    R: Repository<M> + ?Sized,
{
    const ATTEMPTS: usize = 8;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let current = repo.get(id).await?;
        if !condition.is_met_by(&current) {
            return Err(RepositoryError::PreconditionFailed {
                current: Box::new(current),
            });
        }
        let read_version = current.version();
        let patched = merge_patch_model(&current, patch)?;
        match repo
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

/// What claiming a key found.
pub enum Claim<'a, M>
where
    M: Versioned + Send + Sync + 'static,
{
    /// The key is this attempt's: write through it, then finish it.
    Claimed(Box<dyn KeyedWrite<M> + 'a>),
    /// The key's first request completed: its response, to send again.
    Replay(StoredResponse),
    /// Another attempt with this key is still running (409).
    InFlight,
    /// The key was used for a different request (422).
    Mismatch,
}

impl<M> fmt::Debug for Claim<'_, M>
where
    M: Versioned + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Claimed(_) => f.write_str("Claimed"),
            Self::Replay(response) => f.debug_tuple("Replay").field(response).finish(),
            Self::InFlight => f.write_str("InFlight"),
            Self::Mismatch => f.write_str("Mismatch"),
        }
    }
}

/// A claimed key: the write's repository, and the end of the write.
#[async_trait]
pub trait KeyedWrite<M>: Send + Sync
where
    M: Versioned + Send + Sync + 'static,
{
    /// The repository to write through: its statements run in the
    /// transaction that [`finish`](Self::finish) commits.
    fn repository(&self) -> &(dyn Repository<M> + '_);

    /// Records `response` for the key and commits the write with it.
    async fn finish(
        self: Box<Self>,
        response: &StoredResponse,
    ) -> Result<Finished, RepositoryError<M>>;

    /// Rolls the write back and releases the claim, so that a retry runs
    /// again (after a failure that must not be replayed, such as a 5xx).
    async fn abandon(self: Box<Self>);
}
