//! How a [`SqlRepository`] with replicas routes a read: to a replica in
//! rotation that meets the read's floors, else by the [`FloorMiss`]
//! policy (see [`replicas`](super::replicas)).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::Pool;

use super::conn::Conn;
use super::dialect::Backend;
use super::error::map_error;
use super::model::SqlModel;
#[cfg(feature = "postgres")]
use super::replicas::ReplicaOptions;
use super::replicas::{bump, Attempt, FloorMiss, ReplicaStats, Replicas};
use super::repository::SqlRepository;
use crate::repository::floor::{ReadFloor, RetryAfter, WalPosition};
use crate::repository::{Fetched, KnownVersions, Page, RepositoryError, Snapshot};
use crate::versioned::{VersionNumber, Versioned};

/// The newest version the client named in `If-None-Match`, as a database
/// integer; `Some(None)` when it named versions that have no order.
fn named_floor<V: VersionNumber>(known: &KnownVersions<V>, ordered: bool) -> Option<Option<i64>> {
    match known {
        KnownVersions::Listed(versions) if !versions.is_empty() => Some(if ordered {
            versions.iter().filter_map(|v| v.to_i64()).max()
        } else {
            None
        }),
        _ => None,
    }
}

/// Whether a replica's answer to a read is at or above the versions the
/// client named.
fn meets<M: Versioned>(
    result: &Result<Snapshot<M>, RepositoryError<M>>,
    floor: Option<i64>,
) -> bool {
    let at_least = |v: M::Version| floor.is_some_and(|f| v.to_i64().is_some_and(|v| v >= f));
    match result {
        Err(RepositoryError::NotFound) => false,
        Err(_) => true,
        Ok(Snapshot {
            fetched: Fetched::Changed(model),
            ..
        }) => at_least(model.version()),
        Ok(Snapshot {
            fetched: Fetched::Unchanged { version, .. },
            ..
        }) => floor.is_none() || at_least(*version),
    }
}

impl<DB, M> SqlRepository<DB, M>
where
    DB: Backend,
    M: SqlModel<DB>,
    M::Id: Clone,
{
    /// Where this repository's reads went: `None` without replicas.
    pub fn replica_stats(&self) -> Option<ReplicaStats> {
        self.replicas.as_ref().map(|r| r.stats())
    }

    /// The connection of a read: from replica `from` (within the acquire
    /// timeout), or the repository's own.
    pub(super) async fn read_conn(
        &self,
        from: Option<&Pool<DB>>,
    ) -> Result<Conn<'_, DB>, RepositoryError<M>> {
        let (Some(pool), Some(replicas)) = (from, &self.replicas) else {
            return self.conn().await;
        };
        match tokio::time::timeout(replicas.options.acquire_timeout, pool.acquire()).await {
            Ok(Ok(conn)) => Ok(Conn::Pooled(conn)),
            Ok(Err(e)) => Err(map_error(e)),
            Err(_) => Err(RepositoryError::unavailable(
                "no connection to the replica within the acquire timeout",
            )),
        }
    }

    /// Notes a successful write in the request's [`ReadFloor`], so that
    /// its response can carry the primary's position after the commit;
    /// returns what was written.
    pub(super) fn wrote(&self, written: M) -> M {
        self.note_write();
        written
    }

    /// Notes a write of this request (or the replay of one) in its
    /// [`ReadFloor`].
    pub(super) fn note_write(&self) {
        if let Some(replicas) = &self.replicas {
            ReadFloor::note_write(replicas.commit_position());
        }
    }

    /// A read through the replicas, when the repository has them and the
    /// read is not part of a keyed write.
    pub(super) async fn routed_read(
        &self,
        id: &M::Id,
        known: &KnownVersions<M::Version>,
    ) -> Result<Snapshot<M>, RepositoryError<M>> {
        let (Some(replicas), None) = (&self.replicas, &self.held) else {
            return self.sql_read(None, id, known).await;
        };
        let named = named_floor(known, replicas.options.ordered);
        let routed = self
            .through_replicas(replicas, named.is_some(), |pool| async move {
                let result = self.sql_read(Some(pool), id, known).await;
                match named {
                    Some(floor) if !meets(&result, floor) => None,
                    _ => Some(result),
                }
            })
            .await;
        match routed {
            Some(result) => result,
            None => self.sql_read(None, id, known).await,
        }
    }

    /// A page of the list through the replicas (only a write position
    /// floors it).
    pub(super) async fn routed_list(
        &self,
        after: Option<&M::Id>,
        limit: u32,
    ) -> Result<Page<M>, RepositoryError<M>> {
        let (Some(replicas), None) = (&self.replicas, &self.held) else {
            return self.sql_list(None, after, limit).await;
        };
        let routed = self
            .through_replicas(replicas, false, |pool| async move {
                Some(self.sql_list(Some(pool), after, limit).await)
            })
            .await;
        match routed {
            Some(result) => result,
            None => self.sql_list(None, after, limit).await,
        }
    }

    /// Runs `read` on a replica in rotation that has replayed the
    /// request's write position; `read` answers `None` when the replica's
    /// state is behind what the client named. `None`: the primary must
    /// read (no replica in rotation, or a miss under [`FloorMiss::Primary`]
    /// or after a [`FloorMiss::Wait`]); a refusal under
    /// [`FloorMiss::Unavailable`] is the read's error.
    async fn through_replicas<'s, T, F, Fut>(
        &'s self,
        replicas: &'s Arc<Replicas<DB>>,
        tagged: bool,
        read: F,
    ) -> Option<Result<T, RepositoryError<M>>>
    where
        F: Fn(&'s Pool<DB>) -> Fut,
        Fut: std::future::Future<Output = Option<Result<T, RepositoryError<M>>>>,
    {
        let floor = ReadFloor::current();
        if floor.as_ref().is_some_and(|f| f.is_primary_only()) {
            bump(&replicas.counters.primary_by_request);
            return None;
        }
        let position = floor.as_ref().and_then(|f| f.position());
        replicas.keep_checked().await;
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        let mut waited = false;
        loop {
            let mut attempt = Attempt::Down;
            // A replica found down is skipped for the next one in rotation.
            while let Attempt::Down = attempt {
                let Some(index) = replicas.pick() else {
                    bump(&replicas.counters.primary_no_replica);
                    tracing::debug!("no read replica in rotation: the primary reads");
                    return None;
                };
                attempt = self.attempt(replicas, index, position, &read).await;
            }
            if let Attempt::Served(result) = attempt {
                bump(&replicas.counters.replica_reads);
                return Some(result);
            }
            match replicas.options.on_miss {
                FloorMiss::Wait(bound) if started.elapsed() + pause <= bound => {
                    if !waited {
                        waited = true;
                        bump(&replicas.counters.waits);
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                FloorMiss::Primary | FloorMiss::Wait(_) => {
                    bump(&replicas.counters.primary_after_miss);
                    tracing::debug!(
                        floor = ?position,
                        tagged,
                        waited = ?started.elapsed(),
                        "a read replica is behind the read's floor: the primary reads"
                    );
                    return None;
                }
                FloorMiss::Unavailable { retry_after } => {
                    bump(&replicas.counters.refused);
                    tracing::debug!(
                        floor = ?position,
                        tagged,
                        "a read replica is behind the read's floor: refused, to be retried"
                    );
                    return Some(Err(RepositoryError::unavailable(RetryAfter {
                        after: retry_after,
                        reason: "the read replica has not reached the state this client has seen",
                    })));
                }
            }
        }
    }

    async fn attempt<'s, T, F, Fut>(
        &'s self,
        replicas: &'s Replicas<DB>,
        index: usize,
        position: Option<WalPosition>,
        read: &F,
    ) -> Attempt<Result<T, RepositoryError<M>>>
    where
        F: Fn(&'s Pool<DB>) -> Fut,
        Fut: std::future::Future<Output = Option<Result<T, RepositoryError<M>>>>,
    {
        if let Some(position) = position {
            match replicas.reached(index, position).await {
                Ok(true) => {}
                Ok(false) => return Attempt::Behind,
                Err(error) => {
                    replicas.set_health(index, false, &error.to_string());
                    return Attempt::Down;
                }
            }
        }
        match read(&replicas.replicas[index].pool).await {
            None => Attempt::Behind,
            Some(Err(RepositoryError::Unavailable(error))) => {
                replicas.set_health(index, false, &error.to_string());
                Attempt::Down
            }
            Some(result) => Attempt::Served(result),
        }
    }
}

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
impl<M> SqlRepository<sqlx::Postgres, M> {
    /// Serves reads (`read`, `list`) from these streaming
    /// replicas of the repository's pool (its primary), in rotation, under
    /// `options`. Writes, [`get`](crate::repository::Repository::get) (the
    /// read of a read-modify-write), the reads that explain a refused
    /// write and a keyed write's transaction stay on the primary. No pools:
    /// no replicas.
    ///
    /// A read is never answered from a replica older
    /// than what its client presents: the version its `If-None-Match`
    /// names (checked on the replica's answer, in the read's one
    /// statement), or the write position of the request's
    /// [`ReadFloor`] (occ-axum's `ReadFloorLayer` sets it from the
    /// `Occ-Read-After` header or cookie a write's response handed out).
    /// A replica behind either is a miss, answered by
    /// [`ReplicaOptions::on_floor_miss`]. Reads with neither are served
    /// by replicas as they are. A replica that is unreachable, promoted
    /// (`pg_is_in_recovery()` false) or behind by more than
    /// [`ReplicaOptions::max_lag`] is out of rotation until a health check
    /// finds it well; its reads go elsewhere, never to a 5xx.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use occ_core::repository::sql::{PgRepository, ReplicaOptions, SqlRepository};
    /// use occ_core::Versioned;
    ///
    /// #[derive(Versioned, sqlx::FromRow)]
    /// #[occ(table = "notes")]
    /// struct Note { id: i64, #[version] version: i64, text: String }
    ///
    /// let primary = sqlx::PgPool::connect("postgres://primary/app").await?;
    /// let replica = sqlx::PgPool::connect("postgres://replica/app").await?;
    /// let notes: PgRepository<Note> =
    ///     SqlRepository::new(primary).with_replicas(vec![replica], ReplicaOptions::new());
    /// # Ok(()) }
    /// ```
    pub fn with_replicas(mut self, replicas: Vec<sqlx::PgPool>, options: ReplicaOptions) -> Self {
        if replicas.is_empty() {
            self.replicas = None;
            return self;
        }
        self.replicas = Some(Arc::new(Replicas::postgres(
            self.pool.clone(),
            replicas,
            options,
        )));
        self
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::{meets, named_floor};
    use crate::repository::{Fetched, KnownVersions, RepositoryError, Snapshot};

    struct Item {
        id: u32,
        version: u64,
    }

    crate::testing::versioned_by_id!(Item);

    fn changed(version: u64) -> Result<Snapshot<Item>, RepositoryError<Item>> {
        Ok(Snapshot {
            fetched: Fetched::Changed(Item { id: 1, version }),
            as_of: SystemTime::UNIX_EPOCH,
        })
    }

    fn unchanged(version: u64) -> Result<Snapshot<Item>, RepositoryError<Item>> {
        Ok(Snapshot {
            fetched: Fetched::Unchanged {
                version,
                last_modified: None,
            },
            as_of: SystemTime::UNIX_EPOCH,
        })
    }

    #[test]
    fn the_floor_is_the_newest_version_named() {
        assert_eq!(named_floor::<u64>(&KnownVersions::Any, true), None);
        assert_eq!(
            named_floor::<u64>(&KnownVersions::Listed(vec![]), true),
            None
        );
        let named = KnownVersions::Listed(vec![3, 5, 4]);
        assert_eq!(named_floor(&named, true), Some(Some(5)));
        assert_eq!(named_floor(&named, false), Some(None));
    }

    #[test]
    fn a_replica_answer_below_the_floor_is_a_miss() {
        // The client named v5.
        assert!(!meets(&changed(4), Some(5)));
        assert!(meets(&changed(5), Some(5)));
        assert!(meets(&changed(6), Some(5)));
        // A 304 only for the client's newest version.
        assert!(!meets(&unchanged(3), Some(5)));
        assert!(meets(&unchanged(5), Some(5)));
        // Missing on the replica while the client has seen it.
        assert!(!meets::<Item>(&Err(RepositoryError::NotFound), Some(5)));
        // Other errors go to the caller (an unavailable replica is taken
        // out of rotation there).
        assert!(meets::<Item>(
            &Err(RepositoryError::unavailable("down")),
            Some(5)
        ));
        // Unordered versions: only a match is accepted.
        assert!(!meets(&changed(9), None));
        assert!(meets(&unchanged(9), None));
    }
}
