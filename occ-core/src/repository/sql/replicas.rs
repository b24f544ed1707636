//! Read replicas beside the primary (PostgreSQL streaming replicas): which
//! one serves a read, the floors a read must not fall below, and the health
//! that takes a replica out of rotation and brings it back.
//!
//! A read ([`Repository::read`](crate::repository::Repository::read),
//! `list`) goes to the next replica in rotation, unless:
//!
//! - the request's [`ReadFloor`](crate::repository::floor::ReadFloor) names a write position the replica has not
//!   replayed (`pg_last_wal_replay_lsn()`, remembered per replica and asked
//!   again, one statement, only when the remembered one is behind);
//! - the replica's row is older than a version the client named in
//!   `If-None-Match`, or missing while the client named one; a 304 is sent
//!   from a replica only when the replica's version is the newest the
//!   client named. Versions that are content hashes have no order
//!   ([`ReplicaOptions::unordered_versions`]): then any mismatch on the
//!   replica is a miss;
//! - the request's floor is [`primary_only`](crate::repository::floor::ReadFloor::primary_only).
//!
//! A miss is answered by the [`FloorMiss`] policy: the primary (default),
//! the replica after a bounded wait, or 503 with `Retry-After`. Reads with
//! no tag and no floor are served by replicas as they are: up to the
//! replicas' lag behind the primary old.
//!
//! Writes, [`Repository::get`](crate::repository::Repository::get) (the
//! read of a read-modify-write), the reads that explain a refused write,
//! and everything in a keyed write's transaction run on the primary.

use std::collections::VecDeque;
use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::Pool;

use crate::repository::floor::{CommitPosition, WalPosition};

type BoxError = Box<dyn Error + Send + Sync>;

/// What a read does when the replica it was given is behind its floor
/// (the client's tag, or a write position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FloorMiss {
    /// Read from the primary (the default).
    Primary,
    /// Ask the replica again, for up to this long, then read from the
    /// primary.
    Wait(Duration),
    /// Refuse: [`RepositoryError::Unavailable`](crate::repository::RepositoryError::Unavailable) with a [`RetryAfter`](crate::repository::floor::RetryAfter)
    /// source (occ-axum: 503 with `Retry-After`), as Kubernetes answers a
    /// consistent read its cache cannot serve yet.
    Unavailable {
        /// The `Retry-After` sent.
        retry_after: Duration,
    },
}

/// How a repository uses its replicas.
#[derive(Debug, Clone)]
pub struct ReplicaOptions {
    pub(super) on_miss: FloorMiss,
    pub(super) ordered: bool,
    max_lag: Duration,
    check_every: Duration,
    pub(super) acquire_timeout: Duration,
}

impl Default for ReplicaOptions {
    fn default() -> Self {
        Self {
            on_miss: FloorMiss::Primary,
            ordered: true,
            max_lag: Duration::from_secs(5),
            check_every: Duration::from_secs(1),
            acquire_timeout: Duration::from_secs(1),
        }
    }
}

impl ReplicaOptions {
    /// The defaults: a miss reads the primary; versions are counters; a
    /// replica more than 5 s behind is out of rotation; health checked at
    /// most every second; a replica connection not had within 1 s is a
    /// replica down.
    pub fn new() -> Self {
        Self::default()
    }

    /// What a read behind its floor does.
    pub fn on_floor_miss(mut self, policy: FloorMiss) -> Self {
        self.on_miss = policy;
        self
    }

    /// The model's versions have no order (content hashes,
    /// [`content_hash`](crate::content_hash)): a replica cannot tell an
    /// older row from a newer one, so every read whose `If-None-Match`
    /// names a version the replica does not have goes by the
    /// [`FloorMiss`] policy.
    pub fn unordered_versions(mut self) -> Self {
        self.ordered = false;
        self
    }

    /// A replica that has not replayed what the primary had written this
    /// long ago is out of rotation until it has.
    pub fn max_lag(mut self, lag: Duration) -> Self {
        self.max_lag = lag;
        self
    }

    /// How often replicas' health is checked, at most (lazily: on reads).
    pub fn check_every(mut self, every: Duration) -> Self {
        self.check_every = every;
        self
    }

    /// How long a read waits for a replica's connection (and a health
    /// check for its answer) before the replica counts as down.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }
}

/// Where a repository's reads went, since it was built (its scoped and
/// keyed views count with it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicaStats {
    /// Reads a replica answered.
    pub replica_reads: u64,
    /// Reads the primary answered because the replica was behind the
    /// floor (after a wait, under [`FloorMiss::Wait`]).
    pub primary_after_miss: u64,
    /// Reads the primary answered because no replica was in rotation.
    pub primary_no_replica: u64,
    /// Reads the primary answered because the request asked for it
    /// ([`ReadFloor::primary_only`](crate::repository::floor::ReadFloor::primary_only)).
    pub primary_by_request: u64,
    /// Reads that waited for a replica ([`FloorMiss::Wait`]).
    pub waits: u64,
    /// Reads refused under [`FloorMiss::Unavailable`].
    pub refused: u64,
    /// Times a replica was taken out of rotation.
    pub taken_out: u64,
    /// Replicas in rotation now.
    pub in_rotation: usize,
}

/// A replica's state as a health check reads it.
struct ReplicaState {
    in_recovery: bool,
    replayed: WalPosition,
}

/// The PostgreSQL statements of replica health and positions, on the
/// pools themselves (whatever the repository's generic backend).
#[async_trait]
trait Probe: Send + Sync {
    async fn replica(&self, index: usize) -> Result<ReplicaState, BoxError>;
    async fn replayed(&self, index: usize) -> Result<WalPosition, BoxError>;
    async fn primary(&self) -> Result<WalPosition, BoxError>;
}

pub(super) struct Replica<DB: sqlx::Database> {
    pub(super) pool: Pool<DB>,
    healthy: AtomicBool,
    /// The highest replay position seen on it.
    replayed: AtomicU64,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) replica_reads: AtomicU64,
    pub(super) primary_after_miss: AtomicU64,
    pub(super) primary_no_replica: AtomicU64,
    pub(super) primary_by_request: AtomicU64,
    pub(super) waits: AtomicU64,
    pub(super) refused: AtomicU64,
    taken_out: AtomicU64,
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A repository's replicas, shared by its clones and views.
pub(super) struct Replicas<DB: sqlx::Database> {
    pub(super) replicas: Vec<Replica<DB>>,
    pub(super) options: ReplicaOptions,
    probe: Arc<dyn Probe>,
    commit: Arc<dyn CommitPosition>,
    next: AtomicUsize,
    pub(super) counters: Counters,
    checked_once: AtomicBool,
    checking: AtomicBool,
    last_check: Mutex<Option<Instant>>,
    /// The primary's write positions at recent checks, oldest first.
    samples: Mutex<VecDeque<(Instant, WalPosition)>>,
}

/// Clears a flag when dropped.
struct Release<'a>(&'a AtomicBool);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// How one replica did with one read.
pub(super) enum Attempt<T> {
    Served(T),
    Behind,
    Down,
}

impl<DB: sqlx::Database> Replicas<DB> {
    fn in_rotation(&self) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.healthy.load(Ordering::Relaxed))
            .count()
    }

    pub(super) fn stats(&self) -> ReplicaStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ReplicaStats {
            replica_reads: get(&c.replica_reads),
            primary_after_miss: get(&c.primary_after_miss),
            primary_no_replica: get(&c.primary_no_replica),
            primary_by_request: get(&c.primary_by_request),
            waits: get(&c.waits),
            refused: get(&c.refused),
            taken_out: get(&c.taken_out),
            in_rotation: self.in_rotation(),
        }
    }

    pub(super) fn commit_position(&self) -> Arc<dyn CommitPosition> {
        self.commit.clone()
    }

    /// The next replica in rotation, if any.
    pub(super) fn pick(&self) -> Option<usize> {
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| self.replicas[i].healthy.load(Ordering::Relaxed))
    }

    pub(super) fn set_health(&self, index: usize, healthy: bool, why: &str) {
        let was = self.replicas[index]
            .healthy
            .swap(healthy, Ordering::Relaxed);
        if was && !healthy {
            bump(&self.counters.taken_out);
            tracing::warn!(
                replica = index,
                reason = why,
                "a read replica is out of rotation"
            );
        } else if !was && healthy {
            tracing::info!(replica = index, "a read replica is in rotation");
        }
    }

    /// Whether replica `index` has replayed `position`: by what was seen
    /// on it before, else by asking it (one statement).
    pub(super) async fn reached(
        &self,
        index: usize,
        position: WalPosition,
    ) -> Result<bool, BoxError> {
        let replica = &self.replicas[index];
        if replica.replayed.load(Ordering::Relaxed) >= position.get() {
            return Ok(true);
        }
        let replayed =
            tokio::time::timeout(self.options.acquire_timeout, self.probe.replayed(index))
                .await
                .map_err(|_| "the replica's replay position: timed out")??;
        replica
            .replayed
            .fetch_max(replayed.get(), Ordering::Relaxed);
        Ok(replayed >= position)
    }
}

impl<DB: sqlx::Database> Replicas<DB>
where
    Pool<DB>: Send + Sync + 'static,
{
    // Built only by the PostgreSQL constructor.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    fn new(
        pools: Vec<Pool<DB>>,
        options: ReplicaOptions,
        probe: Arc<dyn Probe>,
        commit: Arc<dyn CommitPosition>,
    ) -> Self {
        Self {
            replicas: pools
                .into_iter()
                .map(|pool| Replica {
                    pool,
                    healthy: AtomicBool::new(false),
                    replayed: AtomicU64::new(0),
                })
                .collect(),
            options,
            probe,
            commit,
            next: AtomicUsize::new(0),
            counters: Counters::default(),
            checked_once: AtomicBool::new(false),
            checking: AtomicBool::new(false),
            last_check: Mutex::new(None),
            samples: Mutex::new(VecDeque::new()),
        }
    }

    /// Checks health now if it never was (the reads that come meanwhile
    /// find no replica in rotation and go to the primary); in the
    /// background when the last check is older than
    /// [`ReplicaOptions::check_every`].
    pub(super) async fn keep_checked(self: &Arc<Self>) {
        let first = !self.checked_once.load(Ordering::Acquire);
        let due = first
            || self
                .last_check
                .lock()
                .map(|last| last.is_none_or(|t| t.elapsed() >= self.options.check_every))
                .unwrap_or(false);
        if !due
            || self
                .checking
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if first {
            // Released also when the read is dropped mid-check.
            let _checking = Release(&self.checking);
            self.check().await;
        } else {
            let this = Arc::clone(self);
            tokio::spawn(async move {
                let _checking = Release(&this.checking);
                this.check().await;
            });
        }
    }

    /// One health check of every replica: reachable, still in recovery
    /// (not promoted), and no further behind than
    /// [`ReplicaOptions::max_lag`]: it must have replayed what the primary
    /// had written that long ago.
    async fn check(&self) {
        let now = Instant::now();
        if let Ok(mut last) = self.last_check.lock() {
            *last = Some(now);
        }
        let timeout = self.options.acquire_timeout;
        let max_lag = self.options.max_lag;
        let threshold = match tokio::time::timeout(timeout, self.probe.primary()).await {
            Ok(Ok(position)) => self.samples.lock().ok().and_then(|mut samples| {
                samples.push_back((now, position));
                // Keep the newest sample at least `max_lag` old, and those after it.
                while samples.len() > 1 && now.duration_since(samples[1].0) >= max_lag {
                    samples.pop_front();
                }
                samples
                    .front()
                    .filter(|(at, _)| now.duration_since(*at) >= max_lag)
                    .map(|(_, p)| *p)
            }),
            _ => None,
        };
        for index in 0..self.replicas.len() {
            match tokio::time::timeout(timeout, self.probe.replica(index)).await {
                Ok(Ok(state)) => {
                    self.replicas[index]
                        .replayed
                        .fetch_max(state.replayed.get(), Ordering::Relaxed);
                    if !state.in_recovery {
                        self.set_health(index, false, "not in recovery (promoted)");
                    } else if threshold.is_some_and(|t| state.replayed < t) {
                        self.set_health(index, false, "lagging past the bound");
                    } else {
                        self.set_health(index, true, "");
                    }
                }
                Ok(Err(_)) | Err(_) => self.set_health(index, false, "unreachable"),
            }
        }
        self.checked_once.store(true, Ordering::Release);
    }
}

/// The health and position statements, on PostgreSQL.
#[cfg(feature = "postgres")]
struct PgProbe {
    primary: sqlx::PgPool,
    replicas: Vec<sqlx::PgPool>,
}

#[cfg(feature = "postgres")]
impl PgProbe {
    fn replica_pool(&self, index: usize) -> Result<&sqlx::PgPool, BoxError> {
        self.replicas
            .get(index)
            .ok_or_else(|| "no such replica".into())
    }
}

#[cfg(feature = "postgres")]
fn position(text: Option<String>) -> Result<WalPosition, BoxError> {
    Ok(text.ok_or("no WAL position (not a standby)")?.parse()?)
}

#[cfg(feature = "postgres")]
#[async_trait]
impl Probe for PgProbe {
    async fn replica(&self, index: usize) -> Result<ReplicaState, BoxError> {
        let (in_recovery, replayed): (bool, Option<String>) =
            sqlx::query_as("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
                .fetch_one(self.replica_pool(index)?)
                .await?;
        Ok(ReplicaState {
            in_recovery,
            replayed: if in_recovery {
                position(replayed)?
            } else {
                WalPosition::new(0)
            },
        })
    }

    async fn replayed(&self, index: usize) -> Result<WalPosition, BoxError> {
        position(
            sqlx::query_scalar("SELECT pg_last_wal_replay_lsn()::text")
                .fetch_one(self.replica_pool(index)?)
                .await?,
        )
    }

    async fn primary(&self) -> Result<WalPosition, BoxError> {
        // The insert position: past every record inserted, committed or
        // not written yet (synchronous_commit = off).
        position(
            sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
                .fetch_one(&self.primary)
                .await?,
        )
    }
}

#[cfg(feature = "postgres")]
#[async_trait]
impl CommitPosition for PgProbe {
    async fn current(&self) -> Result<WalPosition, BoxError> {
        self.primary().await
    }
}

#[cfg(feature = "postgres")]
impl Replicas<sqlx::Postgres> {
    /// The replicas `pools` of `primary`.
    pub(super) fn postgres(
        primary: sqlx::PgPool,
        pools: Vec<sqlx::PgPool>,
        options: ReplicaOptions,
    ) -> Self {
        let probe = Arc::new(PgProbe {
            primary,
            replicas: pools.clone(),
        });
        Self::new(pools, options, probe.clone(), probe)
    }
}
