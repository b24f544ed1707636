//! Times as whole microseconds since the epoch: how statements bind a
//! date and read one back; and the milliseconds of key leases.

use std::time::{Duration, SystemTime};

/// `t` as whole microseconds since the epoch, rounded down (so that a
/// stored time, which has at most microseconds, is at or before `t`
/// exactly when it is at or before the result); saturated at the ends of
/// `i64`.
pub(super) fn micros_since_epoch(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_micros()).unwrap_or(i64::MAX);
            let partial = before.subsec_nanos() % 1_000 != 0;
            (-whole).saturating_sub(i64::from(partial))
        }
    }
}

/// The inverse of [`micros_since_epoch`].
pub(super) fn time_of_micros(micros: i64) -> Option<SystemTime> {
    let magnitude = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    }
}

/// Milliseconds since the epoch: the clock of key leases and expiry.
pub(super) fn epoch_millis(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The milliseconds of a duration, saturating.
pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_microseconds() {
        let at = |micros: i64| time_of_micros(micros).unwrap();
        for micros in [0, 1, 999_999, 1_700_000_000_123_456, -1, -1_500_000] {
            assert_eq!(micros_since_epoch(at(micros)), micros);
        }
    }

    #[test]
    fn microseconds_are_rounded_down() {
        let epoch = SystemTime::UNIX_EPOCH;
        let after = epoch + Duration::from_nanos(1_999);
        assert_eq!(micros_since_epoch(after), 1);
        let before = epoch - Duration::from_nanos(1_001);
        assert_eq!(micros_since_epoch(before), -2);
        assert_eq!(micros_since_epoch(epoch - Duration::from_micros(3)), -3);
    }
}
