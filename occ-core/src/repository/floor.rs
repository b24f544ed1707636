//! The read floor of one request: the write position a read must not be
//! older than, carried from a write's response back into a later read, and
//! the position a write of this request left behind.
//!
//! A repository that reads from replicas ([`SqlRepository::with_replicas`](super::sql::SqlRepository::with_replicas))
//! asks the floor of the task it runs in ([`ReadFloor::scope`]): a read
//! with a floor is served only by a replica that has replayed at least that
//! far. The repository also notes its writes there, so that whoever set
//! the floor can ask, once the request's writes are committed, for the
//! position to hand to the client ([`ReadFloor::position_after_commit`]).
//! occ-axum's `ReadFloorLayer` does both for a router: the position
//! travels in the `Occ-Read-After` header and the `occ_read_after` cookie.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

/// A position in a PostgreSQL primary's write-ahead log (an LSN), written
/// as PostgreSQL writes a `pg_lsn`: two hexadecimal halves, `16/B374D848`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WalPosition(u64);

impl WalPosition {
    /// The position with this 64-bit value.
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// Its 64-bit value.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for WalPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// A text that is not a `pg_lsn` (`hex/hex`, each half at most 8 digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidWalPosition;

impl fmt::Display for InvalidWalPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a WAL position (expected two hexadecimal halves, as 16/B374D848)")
    }
}

impl Error for InvalidWalPosition {}

impl FromStr for WalPosition {
    type Err = InvalidWalPosition;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (high, low) = s.trim().split_once('/').ok_or(InvalidWalPosition)?;
        let half = |h: &str| {
            if h.is_empty() || h.len() > 8 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(InvalidWalPosition);
            }
            u64::from_str_radix(h, 16).map_err(|_| InvalidWalPosition)
        };
        Ok(Self((half(high)? << 32) | half(low)?))
    }
}

/// Where a repository's writes go, asked for its current write position
/// once they are committed.
#[async_trait]
pub(crate) trait CommitPosition: Send + Sync {
    /// The position of the end of the write-ahead log now.
    async fn current(&self) -> Result<WalPosition, Box<dyn Error + Send + Sync>>;
}

tokio::task_local! {
    static FLOOR: Arc<ReadFloor>;
}

/// One request's read floor: the write position its reads must not be
/// older than, whether its reads must go to the primary, and the primary
/// its writes went to. Set for a future with [`scope`](ReadFloor::scope);
/// repositories read it from the task.
#[derive(Default)]
pub struct ReadFloor {
    after: Option<WalPosition>,
    primary_only: bool,
    written: Mutex<Option<Arc<dyn CommitPosition>>>,
}

impl fmt::Debug for ReadFloor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadFloor")
            .field("after", &self.after)
            .field("primary_only", &self.primary_only)
            .field("wrote", &self.wrote())
            .finish()
    }
}

impl ReadFloor {
    /// No floor: reads may be served by any replica in rotation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads must see every write up to `position` (a position a write's
    /// response handed out), or go to the primary.
    pub fn after(mut self, position: Option<WalPosition>) -> Self {
        self.after = position;
        self
    }

    /// Every read goes to the primary: for requests whose outcome depends
    /// on a state the repository cannot check on a replica (a GET with
    /// `If-Match` or a date precondition).
    pub fn primary_only(mut self, yes: bool) -> Self {
        self.primary_only = yes;
        self
    }

    /// Runs `future` with this floor as its task's: the reads and writes
    /// of repositories inside it see it.
    pub async fn scope<F: Future>(self: Arc<Self>, future: F) -> F::Output {
        FLOOR.scope(self, future).await
    }

    /// The floor of the running task, if one is set.
    pub fn current() -> Option<Arc<ReadFloor>> {
        FLOOR.try_with(Arc::clone).ok()
    }

    /// The position reads must reach.
    pub fn position(&self) -> Option<WalPosition> {
        self.after
    }

    /// Whether reads must go to the primary.
    pub fn is_primary_only(&self) -> bool {
        self.primary_only
    }

    /// Whether a repository noted a write of this request.
    pub fn wrote(&self) -> bool {
        self.written.lock().map(|w| w.is_some()).unwrap_or(false)
    }

    /// Notes a successful write on a primary that has replicas.
    #[cfg_attr(not(feature = "sqlx"), allow(dead_code))]
    pub(crate) fn note_write(source: Arc<dyn CommitPosition>) {
        let _ = FLOOR.try_with(|floor| {
            if let Ok(mut written) = floor.written.lock() {
                *written = Some(source);
            }
        });
    }

    /// After the request's writes are committed: the primary's write
    /// position now, which every one of them precedes; `None` when no
    /// write was noted, or the position could not be read (logged).
    pub async fn position_after_commit(&self) -> Option<WalPosition> {
        let source = self.written.lock().ok()?.clone()?;
        match source.current().await {
            Ok(position) => Some(position),
            Err(error) => {
                tracing::warn!(%error, "the primary's write position after a write could not be read; the response carries no read floor");
                None
            }
        }
    }
}

/// The source of [`RepositoryError::Unavailable`](super::RepositoryError::Unavailable)
/// when the answer is worth asking again after a known time: a replica
/// behind the request's floor under [`FloorMiss::Unavailable`](super::sql::FloorMiss::Unavailable).
/// occ-axum answers it 503 with `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    /// When to ask again.
    pub after: Duration,
    /// Why, for logs.
    pub reason: &'static str,
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; retry after {:?}", self.reason, self.after)
    }
}

impl Error for RetryAfter {}

#[cfg(test)]
mod tests {
    use super::WalPosition;

    #[test]
    fn positions_read_and_print_as_postgres_writes_them() {
        let p: WalPosition = "16/B374D848".parse().unwrap();
        assert_eq!(p.get(), (0x16 << 32) | 0xB374_D848);
        assert_eq!(p.to_string(), "16/B374D848");
        assert!("0/0".parse::<WalPosition>().unwrap() < p);
        for bad in ["", "16", "/1", "1/", "x/1", "1/123456789", "1/-2"] {
            assert!(bad.parse::<WalPosition>().is_err(), "{bad}");
        }
    }
}
