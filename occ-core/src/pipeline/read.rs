//! The read path: a GET's representation (one statement that reads the
//! row only when the client's tags do not match), and the read-and-decide
//! of the general path.

#[cfg(feature = "tokio")]
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::entity_tag::EntityTag;
use crate::precondition::Preconditions;
use crate::repository::{Fetched, KnownVersions, Repository, RepositoryError, Snapshot};
use crate::versioned::Versioned;

use super::rejection::Rejection;
use super::request::Pipeline;

/// The representation a GET sends: the state read, its tag, and the time
/// its `Last-Modified` is rounded with ([`Snapshot::as_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Representation<M> {
    /// The current state.
    pub model: M,
    /// Its entity tag.
    pub etag: EntityTag,
    /// No later than the stamp of any write the read does not include.
    pub as_of: SystemTime,
}

/// Whether a GET decides on a state a replica may not have reached: one
/// that the client's `If-Match` or `If-Unmodified-Since` names, or is
/// newer than its `If-Modified-Since` (without `If-None-Match`, which
/// decides instead). The same test as occ-axum's `ReadFloorLayer`, for a
/// stack without it.
fn needs_primary(pre: &Preconditions) -> bool {
    pre.if_match().is_some()
        || pre.if_unmodified_since().is_some()
        || (pre.if_modified_since().is_some() && pre.if_none_match().is_none())
}

/// Runs `read` with every read going to the primary (a repository without
/// replicas has nothing else), under the request's write floor if it has
/// one.
#[cfg(feature = "tokio")]
async fn on_primary<F: std::future::Future>(read: F) -> F::Output {
    use crate::repository::floor::ReadFloor;

    let floor = ReadFloor::current();
    if floor.as_ref().is_some_and(|floor| floor.is_primary_only()) {
        return read.await;
    }
    let position = floor.and_then(|floor| floor.position());
    Arc::new(ReadFloor::new().after(position).primary_only(true))
        .scope(read)
        .await
}

/// Without the `tokio` feature there are no replicas (nor read floors):
/// every read is the primary's.
#[cfg(not(feature = "tokio"))]
async fn on_primary<F: std::future::Future>(read: F) -> F::Output {
    read.await
}

/// A store that answered "unchanged" to a read that listed no version.
fn knew_none_found_known<M: Versioned>() -> Rejection<M> {
    Rejection::Repository(RepositoryError::internal(
        "a read that knew no version found the current one known",
    ))
}

impl<'a> Pipeline<'a> {
    /// GET/HEAD: the representation and its tag, or why not. With
    /// `If-None-Match` (and no `If-Match`, nor an `If-Unmodified-Since` that
    /// applies) it is one [`Repository::read`]: a 304 reads only the
    /// version.
    pub async fn read<M, R>(&self, repo: &R, id: &M::Id) -> Result<Representation<M>, Rejection<M>>
    where
        M: Versioned + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
        M: Serialize,
    {
        in_scope!(self, repo, |r| self.read_in(r, id))
    }

    pub(super) async fn read_in<M, R>(
        &self,
        repo: &R,
        id: &M::Id,
    ) -> Result<Representation<M>, Rejection<M>>
    where
        M: Versioned + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
    {
        if self.preconditions().is_empty() {
            // Nothing to decide: the state as read, from any replica.
            let none = KnownVersions::Listed(Vec::new());
            let Snapshot { fetched, as_of } = repo.read(id, &none).await?;
            return match fetched {
                Fetched::Changed(model) => {
                    let etag = model.entity_tag();
                    Ok(Representation { model, etag, as_of })
                }
                Fetched::Unchanged { .. } => Err(knew_none_found_known()),
            };
        }
        let Some((known, tags)) = self.known_versions::<M>(id) else {
            // Evaluated on the state read: `If-Match` or a date. A replica's
            // state may be older than the one the client's tag or date
            // names, and a 412 from it would be wrong: read the primary.
            let none = KnownVersions::Listed(Vec::new());
            let read = repo.read(id, &none);
            let read = if needs_primary(self.preconditions()) {
                on_primary(read).await
            } else {
                read.await
            };
            let (current, as_of) = match read {
                Ok(Snapshot {
                    fetched: Fetched::Changed(model),
                    as_of,
                }) => (Some(model), Some(as_of)),
                Ok(Snapshot {
                    fetched: Fetched::Unchanged { .. },
                    ..
                }) => return Err(knew_none_found_known()),
                Err(RepositoryError::NotFound) => (None, None),
                Err(other) => return Err(Rejection::Repository(other)),
            };
            let decided =
                self.decide_tagged(current)
                    .map_err(|rejection| match (rejection, as_of) {
                        (
                            Rejection::NotModified {
                                etag,
                                last_modified,
                                ..
                            },
                            Some(as_of),
                        ) => Rejection::NotModified {
                            etag,
                            last_modified,
                            as_of,
                        },
                        (other, _) => other,
                    })?;
            return match (decided, as_of) {
                (Some((model, etag)), Some(as_of)) => Ok(Representation { model, etag, as_of }),
                _ => Err(Rejection::NotFound),
            };
        };
        let Snapshot { fetched, as_of } = repo.read(id, &known).await?;
        match fetched {
            Fetched::Changed(model) => {
                let etag = model.entity_tag();
                Ok(Representation { model, etag, as_of })
            }
            Fetched::Unchanged {
                version,
                last_modified,
            } => {
                // The client sent the current tag: copy it rather than
                // render it again.
                let etag = tags.into_iter().find(|(v, _)| *v == version).map_or_else(
                    || M::entity_tag_for(id, version),
                    |(_, tag)| tag.to_entity_tag(),
                );
                Err(Rejection::NotModified {
                    etag,
                    last_modified,
                    as_of,
                })
            }
        }
    }

    /// The general path, for handlers that write on their own: reads the
    /// resource and evaluates the preconditions on it (PR-1). `Ok(Some)` to
    /// proceed with a compare-and-swap on that state's version, `Ok(None)`
    /// when the resource is missing and the request may create it.
    pub async fn check<M, R, B>(&self, repo: &R, id: &M::Id) -> Result<Option<M>, Rejection<M, B>>
    where
        M: Versioned + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
        M: Serialize,
    {
        in_scope!(self, repo, |r| self.check_in(r, id))
    }

    pub(super) async fn check_in<M, R, B>(
        &self,
        repo: &R,
        id: &M::Id,
    ) -> Result<Option<M>, Rejection<M, B>>
    where
        M: Versioned + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
    {
        let current = match repo.get(id).await {
            Ok(model) => Some(model),
            Err(RepositoryError::NotFound) => None,
            Err(other) => return Err(Rejection::Repository(other)),
        };
        self.decide(current)
    }
}
