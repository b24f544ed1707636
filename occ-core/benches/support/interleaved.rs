//! Times one side of a comparison with the other interleaved: each timed
//! call to `measured` is followed by an untimed call to `other`, so that
//! both see the same state (a database's WAL and dead tuples grow with
//! every write; run one after the other, the second pays).

use std::time::{Duration, Instant};

/// The time `iters` calls of `measured` take, each followed by an untimed
/// call of `other`.
pub(crate) fn timed(measured: &dyn Fn(), other: &dyn Fn(), iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        measured();
        total += start.elapsed();
        other();
    }
    total
}
