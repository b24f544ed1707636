//! How often, and after how long, the client tries again.

use std::time::Duration;

/// The bounds of the client's two kinds of retry, with the field names
/// of the server side's `occ_core::repository::RetryPolicy`.
///
/// - **Conflicts**: an [`update`](crate::Resource::update) or
///   [`patch`](crate::Resource::patch) refused with 412 applies its change
///   again to the state the refusal carries, at most
///   [`max_attempts`](Self::max_attempts) times in all. Each attempt is a
///   new logical write, with a new `Idempotency-Key`.
/// - **Lost answers**: a request whose answer does not arrive (a timeout,
///   a broken connection), is a 500, 502, 503 or 504, or is a 409 or 429
///   with `Retry-After`
///   (a send of the same key still running) is sent again unchanged, with
///   the same key, at most [`max_sends`](Self::max_sends) times in all:
///   the server applies it once and replays its answer.
///
/// Waits are exponential with full jitter (a uniform draw between zero and
/// the bound), so that writers who collided once spread out rather than
/// collide again. A `Retry-After` is waited for (never less than the
/// policy's own wait) up to [`max_retry_after`](Self::max_retry_after);
/// an answer that asks for longer is returned.
///
/// ```
/// use occ_client::RetryPolicy;
///
/// let patient = RetryPolicy { max_attempts: 50, ..RetryPolicy::default() };
/// # assert_eq!(patient.max_sends, 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts of one change in all, the first included (default 32: 16
    /// writers adding to one counter in tight loops needed at most 17; 0
    /// counts as 1).
    pub max_attempts: u32,
    /// Sends of one request in all, the first included (default 5; 0
    /// counts as 1).
    pub max_sends: u32,
    /// The bound of the first wait (default 10 ms); it doubles with every
    /// retry.
    pub initial_backoff: Duration,
    /// The largest bound a wait reaches (default 1 s).
    pub max_backoff: Duration,
    /// The longest `Retry-After` waited for (default 5 s): an answer that
    /// asks for more is returned rather than sent again early.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 32,
            max_sends: 5,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry `retry` (1 for the first): a uniform draw up
    /// to `initial_backoff · 2^(retry-1)`, capped at `max_backoff`.
    pub(crate) fn wait(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(20);
        let bound = self
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_stay_within_their_bound() {
        let policy = RetryPolicy {
            max_backoff: Duration::from_millis(70),
            ..RetryPolicy::default()
        };
        for retry in 1..40 {
            let bound = Duration::from_millis(10 * (1 << (retry - 1).min(3)))
                .min(Duration::from_millis(70));
            for _ in 0..50 {
                assert!(policy.wait(retry) <= bound, "retry {retry}");
            }
        }
    }

    #[test]
    fn waits_are_jittered() {
        let policy = RetryPolicy::default();
        let waits: std::collections::HashSet<_> = (0..20).map(|_| policy.wait(5)).collect();
        assert!(waits.len() > 10, "{waits:?}");
    }
}
