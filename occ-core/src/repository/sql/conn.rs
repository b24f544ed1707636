//! Where a statement runs: a pooled connection, or the transaction a
//! write under an idempotency key holds; and how the repository's own
//! transactions end.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use sqlx::Pool;

use super::dialect::{Backend, Dialect};
use super::epoch::micros_since_epoch;
use super::error::map_error;
use crate::repository::{RepositoryError, COMMIT_MARGIN};
use crate::versioned::Versioned;

/// The open transaction of a write under an idempotency key, shared by
/// the views made of its repository.
pub(super) type Held<DB> = Arc<HeldTransaction<DB>>;

/// A keyed write's transaction, and the time of its first dated write.
pub(super) struct HeldTransaction<DB: sqlx::Database> {
    /// `None` once it is committed or rolled back.
    pub(super) tx: tokio::sync::Mutex<Option<sqlx::Transaction<'static, DB>>>,
    /// The earliest modification time this transaction stamped
    /// (microseconds since the epoch, on the database's clock), or
    /// `i64::MAX`: it must commit within half the
    /// [`COMMIT_MARGIN`] of it, or not at all.
    first_stamp: AtomicI64,
    /// A write succeeded in it.
    pub(super) wrote: AtomicBool,
    /// It was rolled back after a failed statement with a write of its
    /// own in it: what the handler answers may claim that write, so it
    /// must not be recorded.
    pub(super) lost_a_write: AtomicBool,
    /// Statements that land together began in it and did not end (their
    /// future was dropped: a timeout, a `select!`): part of them may be
    /// in it, so it must not commit.
    pub(super) in_group: AtomicBool,
}

impl<DB: sqlx::Database> HeldTransaction<DB> {
    pub(super) fn new(tx: sqlx::Transaction<'static, DB>) -> Arc<Self> {
        Arc::new(Self {
            tx: tokio::sync::Mutex::new(Some(tx)),
            first_stamp: AtomicI64::new(i64::MAX),
            wrote: AtomicBool::new(false),
            lost_a_write: AtomicBool::new(false),
            in_group: AtomicBool::new(false),
        })
    }

    /// Whether a write of this transaction was rolled back after a failed
    /// statement, or may be in it in part.
    pub(super) fn lost_a_write(&self) -> bool {
        self.lost_a_write.load(Ordering::SeqCst) || self.in_group.load(Ordering::SeqCst)
    }

    /// Notes a write in this transaction that stamped no time (a delete).
    pub(super) fn wrote(&self) {
        self.wrote.store(true, Ordering::SeqCst);
    }

    /// Notes a write in this transaction, and its modification time.
    fn stamped(&self, time: Option<SystemTime>) {
        self.wrote.store(true, Ordering::SeqCst);
        if let Some(time) = time {
            self.first_stamp
                .fetch_min(micros_since_epoch(time), Ordering::SeqCst);
        }
    }

    /// The latest time (milliseconds since the epoch, on the database's
    /// clock) this transaction's record may be written and still commit:
    /// `None` when it wrote no dated row.
    pub(super) fn deadline_millis(&self) -> Option<i64> {
        let first = self.first_stamp.load(Ordering::SeqCst);
        (first != i64::MAX).then(|| {
            let half = i64::try_from(COMMIT_MARGIN.as_micros() / 2).unwrap_or(i64::MAX);
            first.saturating_add(half) / 1000
        })
    }
}

/// A connection for one statement: a pooled one, or the held
/// transaction's.
pub(super) enum Conn<'a, DB: sqlx::Database> {
    Pooled(sqlx::pool::PoolConnection<DB>),
    Held {
        tx: tokio::sync::MappedMutexGuard<'a, sqlx::Transaction<'static, DB>>,
        /// The held transaction's [`HeldTransaction::in_group`].
        in_group: &'a AtomicBool,
    },
}

impl<DB: sqlx::Database> std::ops::Deref for Conn<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        match self {
            Self::Pooled(conn) => conn,
            Self::Held { tx, .. } => tx,
        }
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for Conn<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match self {
            Self::Pooled(conn) => conn,
            Self::Held { tx, .. } => tx,
        }
    }
}

impl<DB: sqlx::Database> Conn<'_, DB> {
    /// Begins statements that land together: a transaction of the
    /// repository's own on a pooled connection; in a keyed write, the
    /// held transaction itself, without a savepoint (two round trips
    /// less). There, an error after one of the group's statements landed
    /// is a database error, and [`recover`](super::SqlRepository::recover)
    /// rolls the whole held transaction back; a group that never reaches
    /// [`settle`] (its future dropped) leaves the held transaction
    /// unable to commit. Either way none of the group lands without the
    /// rest.
    pub(super) async fn atomic(&mut self) -> Result<Atomic<'_, DB>, sqlx::Error> {
        match self {
            Self::Pooled(conn) => sqlx::Connection::begin(&mut **conn).await.map(Atomic::Own),
            Self::Held { tx, in_group } => {
                in_group.store(true, Ordering::SeqCst);
                Ok(Atomic::Held {
                    conn: &mut ***tx,
                    in_group,
                })
            }
        }
    }
}

/// Statements that land together (see [`Conn::atomic`]); ended by
/// [`settle`].
pub(super) enum Atomic<'c, DB: sqlx::Database> {
    Own(sqlx::Transaction<'c, DB>),
    Held {
        conn: &'c mut DB::Connection,
        in_group: &'c AtomicBool,
    },
}

impl<DB: sqlx::Database> std::ops::Deref for Atomic<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        match self {
            Self::Own(tx) => tx,
            Self::Held { conn, .. } => conn,
        }
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for Atomic<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match self {
            Self::Own(tx) => tx,
            Self::Held { conn, .. } => conn,
        }
    }
}

/// A written row, its time noted in the held transaction (if any), which
/// must commit soon after it.
pub(super) fn stamped<DB: sqlx::Database, M: Versioned>(held: Option<&Held<DB>>, written: M) -> M {
    if let Some(held) = held {
        held.stamped(written.last_modified());
    }
    written
}

/// Ends statements that land together: a transaction of the
/// repository's own is committed when `result` is `Ok`, rolled back at
/// once otherwise (a refusal included: it wrote nothing). A dropped
/// transaction is rolled back only when its connection is next used, and
/// until then the idle connection would hold the row locks of its failed
/// statement (MariaDB keeps them), making the next writer of the row
/// wait. The held transaction of a keyed write goes on: its end is the
/// key's record (or, after a failed statement, `recover`'s rollback).
pub(super) async fn settle<DB: sqlx::Database, T, M>(
    atomic: Atomic<'_, DB>,
    result: Result<T, RepositoryError<M>>,
) -> Result<T, RepositoryError<M>> {
    let tx = match atomic {
        Atomic::Own(tx) => tx,
        Atomic::Held { in_group, .. } => {
            // Ended: a failed statement is `recover`'s.
            in_group.store(false, Ordering::SeqCst);
            return result;
        }
    };
    match result {
        Ok(value) => {
            tx.commit().await.map_err(map_error)?;
            Ok(value)
        }
        Err(error) => {
            if let Err(e) = tx.rollback().await {
                tracing::warn!(error = %e, "a failed write's transaction did not roll back cleanly");
            }
            Err(error)
        }
    }
}

/// Begins the transaction a keyed write holds.
pub(super) async fn begin_held<DB: Backend>(
    pool: &Pool<DB>,
) -> Result<sqlx::Transaction<'static, DB>, sqlx::Error> {
    match DB::DIALECT {
        // Take the write lock now: a deferred transaction that reads
        // first could not upgrade under a concurrent writer.
        Dialect::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        // Each statement sees the latest commits, as it does outside a
        // transaction (PostgreSQL's default): under InnoDB's REPEATABLE
        // READ, a read after a missed swap would see the snapshot of the
        // first, and report or retry from a stale state.
        Dialect::MySql => {
            pool.begin_with("SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION")
                .await
        }
        Dialect::Postgres => pool.begin().await,
    }
}
