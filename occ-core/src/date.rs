//! HTTP dates: `If-Modified-Since` / `If-Unmodified-Since` values (G-14) and
//! the `Last-Modified` a full-precision modification time is sent as.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::GetAll;
use http::HeaderValue;

/// A date precondition field as received.
///
/// The RFC says an invalid value is ignored (IMS-2, IUS-2), unlike the tag
/// lists, so the invalid case is kept only to tell it apart from absence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    /// A valid HTTP-date, in any of the three formats.
    Valid(SystemTime),
    /// Not a single valid HTTP-date: to be ignored.
    Invalid,
}

impl DateField {
    /// Parses every line of the field, or `None` if the field is absent.
    /// More than one line means more than one member: invalid (IMS-2).
    #[inline]
    pub fn from_lines(lines: GetAll<'_, HeaderValue>) -> Option<Self> {
        let mut iter = lines.iter();
        let first = iter.next()?;
        if iter.next().is_some() {
            return Some(Self::Invalid);
        }
        Some(Self::parse(first.as_bytes()))
    }

    /// Parses one field value: IMF-fixdate, RFC 850 or asctime (G-14).
    ///
    /// Case-sensitive and strict: another zone, a trailing parameter or a
    /// weekday that does not match the date make it invalid.
    pub fn parse(value: &[u8]) -> Self {
        // The clock is read only for an RFC 850 date, the one format that
        // needs it.
        Self::parse_with(value, SystemTime::now)
    }

    /// As [`parse`](Self::parse), with `now` as the origin server's clock,
    /// which decides the century of an RFC 850 two-digit year (IMS-4).
    pub fn parse_at(value: &[u8], now: SystemTime) -> Self {
        Self::parse_with(value, || now)
    }

    fn parse_with(value: &[u8], now: impl FnOnce() -> SystemTime) -> Self {
        // Surrounding whitespace is not part of the value (G-7): without
        // this, a padded RFC 850 date would skip the 50-year rule below.
        let (_, value) = crate::entity_tag::trim_ows(value);
        let mut fixdate = [0u8; 29];
        let value = match rfc850_to_fixdate(value, now, &mut fixdate) {
            Some(()) => &fixdate[..],
            None => value,
        };
        std::str::from_utf8(value)
            .ok()
            .and_then(|s| httpdate::parse_http_date(s).ok())
            .map_or(Self::Invalid, Self::Valid)
    }

    /// The date, when valid.
    pub fn valid(self) -> Option<SystemTime> {
        match self {
            Self::Valid(t) => Some(t),
            Self::Invalid => None,
        }
    }
}

/// Rewrites an RFC 850 date (`Sunday, 06-Nov-94 08:49:37 GMT`) as
/// IMF-fixdate in `out`, choosing the century by RFC 9110 §5.6.7: a year
/// more than 50 years in the future is the most recent past year with the
/// same last two digits. Returns `None` for anything else, left for
/// `httpdate` to parse or reject.
fn rfc850_to_fixdate(
    value: &[u8],
    now: impl FnOnce() -> SystemTime,
    out: &mut [u8; 29],
) -> Option<()> {
    const DAYS: [&[u8]; 7] = [
        b"Monday",
        b"Tuesday",
        b"Wednesday",
        b"Thursday",
        b"Friday",
        b"Saturday",
        b"Sunday",
    ];
    let comma = value.iter().position(|&b| b == b',')?;
    let day = DAYS.iter().find(|d| **d == &value[..comma])?;
    // ", 06-Nov-94 08:49:37 GMT"
    let rest = value.get(comma..)?;
    if rest.len() != 24 || rest[1] != b' ' || rest[4] != b'-' || rest[8] != b'-' {
        return None;
    }
    let yy = &rest[9..11];
    if !yy.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let two = u64::from(yy[0] - b'0') * 10 + u64::from(yy[1] - b'0');
    let this_year = civil_year(now());
    let mut year = this_year - this_year % 100 + two;
    if year > this_year + 50 {
        year -= 100;
    }
    if !(1000..=9999).contains(&year) {
        return None;
    }
    out[..3].copy_from_slice(&day[..3]);
    out[3..5].copy_from_slice(b", ");
    out[5..7].copy_from_slice(&rest[2..4]);
    out[7] = b' ';
    out[8..11].copy_from_slice(&rest[5..8]);
    out[11] = b' ';
    // Four digits, written in place: no allocation.
    let digits = [year / 1000, year / 100 % 10, year / 10 % 10, year % 10];
    for (octet, digit) in out[12..16].iter_mut().zip(digits) {
        *octet = b'0' + digit as u8;
    }
    out[16..29].copy_from_slice(&rest[11..24]);
    Some(())
}

/// The Gregorian year of `t` (UTC), from days since the epoch.
fn civil_year(t: SystemTime) -> u64 {
    let days = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    // Howard Hinnant's days_from_civil inverse, for non-negative days.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + u64::from(month <= 2)
}

/// Truncates to whole seconds, the resolution of HTTP-date (IMS-6).
fn to_second(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        // Before 1970: HTTP-date cannot express it anyway; compare as is.
        Err(_) => t,
    }
}

/// The `Last-Modified` to send for a modification at `modified` (kept at
/// full precision), when the response leaves at `now` (design decision 13,
/// docs/design.md).
///
/// HTTP dates are whole seconds, and preconditions compare them with the
/// full-precision time (`modified <= date` passes `If-Unmodified-Since`).
/// Once the clock has passed the second of the modification, every later
/// write is later than the second's end: the date sent is that end, so the
/// current state passes and no later one does. Before then, a write still
/// to come in the same second could not be told from this one: the date
/// sent is the last whole second strictly before the modification, which
/// no state passes, so a date-only client must read again (a second later)
/// before its write can succeed. Never later than `now` (RFC 9110
/// §8.8.2.1), and never a lost update.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use occ_core::date::http_last_modified;
///
/// let write = UNIX_EPOCH + Duration::from_millis(10_300); // 10.3 s
/// // Sent within that second: rounded down.
/// let soon = UNIX_EPOCH + Duration::from_millis(10_900);
/// assert_eq!(http_last_modified(write, soon), UNIX_EPOCH + Duration::from_secs(10));
/// // Once the clock is past 11 s: rounded up.
/// let later = UNIX_EPOCH + Duration::from_millis(11_200);
/// assert_eq!(http_last_modified(write, later), UNIX_EPOCH + Duration::from_secs(11));
/// ```
pub fn http_last_modified(modified: SystemTime, now: SystemTime) -> SystemTime {
    if modified > now {
        // A time ahead of this clock (a store's times never go back, even
        // when a clock does): any earlier date passes no state.
        return to_second(now);
    }
    let floor = to_second(modified);
    let whole = floor == modified;
    let ceil = if whole {
        floor
    } else {
        floor + Duration::from_secs(1)
    };
    if now > ceil {
        ceil
    } else if whole {
        floor.checked_sub(Duration::from_secs(1)).unwrap_or(floor)
    } else {
        floor
    }
}

/// Formats a time as IMF-fixdate, the only format a sender may generate
/// (G-15), for `Last-Modified`.
///
/// `None` for a time HTTP-date cannot express: before 1970 or after 9999.
pub fn fmt_http_date(t: SystemTime) -> Option<String> {
    const YEAR_10000: u64 = 253_402_300_800;
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
    (secs < YEAR_10000).then(|| httpdate::fmt_http_date(t))
}

#[cfg(test)]
mod tests {
    #[test]
    fn last_modified_is_never_after_the_clock_and_never_passes_a_later_write() {
        let ms = |n: u64| UNIX_EPOCH + Duration::from_millis(n);
        for write in [10_000, 10_001, 10_300, 10_999] {
            for now in (write..write + 2_500).step_by(7) {
                let sent = http_last_modified(ms(write), ms(now));
                assert!(sent <= ms(now), "date after the clock: {write} {now}");
                if sent >= ms(write) {
                    // The current state passes If-Unmodified-Since; a
                    // write at any time from now on would not.
                    assert!(ms(now) > sent, "a write at {now} would pass {sent:?}");
                }
            }
            // Writers are not starved: a second and a bit later, it passes.
            assert!(http_last_modified(ms(write), ms(write + 1_001)) >= ms(write));
            // A time ahead of the clock: a date before it, not after the clock.
            let behind = ms(write - 1_500);
            assert!(http_last_modified(ms(write), behind) <= behind);
            assert!(http_last_modified(ms(write), behind) < ms(write));
        }
    }

    use super::*;

    fn at_year(year: u64) -> SystemTime {
        // 1 July of `year`, close enough for the century rule.
        let days = (year - 1970) * 36525 / 100 + 181;
        UNIX_EPOCH + Duration::from_secs(days * 86_400)
    }

    #[test]
    fn civil_year_is_exact_at_boundaries() {
        assert_eq!(civil_year(UNIX_EPOCH), 1970);
        let jan_1_2000 = UNIX_EPOCH + Duration::from_secs(946_684_800);
        assert_eq!(civil_year(jan_1_2000), 2000);
        assert_eq!(civil_year(jan_1_2000 - Duration::from_secs(1)), 1999);
        assert_eq!(civil_year(at_year(2026)), 2026);
    }

    #[test]
    fn g_14_rfc850_year_more_than_50_years_ahead_is_in_the_past() {
        let now = at_year(2026);
        let parse = |s: &str| DateField::parse_at(s.as_bytes(), now).valid();
        // 1994-11-06 was a Sunday.
        assert_eq!(
            parse("Sunday, 06-Nov-94 08:49:37 GMT"),
            DateField::parse(b"Sun, 06 Nov 1994 08:49:37 GMT").valid()
        );
        // 2076 is 50 years ahead of 2026: not more, so 2076 (a Friday on 6 Nov).
        assert_eq!(
            parse("Friday, 06-Nov-76 08:49:37 GMT"),
            DateField::parse(b"Fri, 06 Nov 2076 08:49:37 GMT").valid()
        );
        // 2077 would be 51 years ahead: 1977 (6 Nov 1977 was a Sunday).
        assert_eq!(
            parse("Sunday, 06-Nov-77 08:49:37 GMT"),
            DateField::parse(b"Sun, 06 Nov 1977 08:49:37 GMT").valid()
        );
        assert!(parse("Sunday, 06-Nov-77 08:49:37 GMT").is_some());
        assert_eq!(parse("sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse("Sunday, 06-Nov-94 08:49:37 UTC"), None);
    }

    #[test]
    fn g_14_all_three_formats() {
        let imf = DateField::parse(b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert!(imf.valid().is_some());
        assert_eq!(DateField::parse(b"Sun Nov  6 08:49:37 1994"), imf);
        assert_eq!(DateField::parse(b"Sunday, 06-Nov-94 08:49:37 GMT"), imf);
        for bad in [
            &b"Sun, 06 Nov 1994 08:49:37 UTC"[..],
            b"Sun, 06 nov 1994 08:49:37 GMT",
            b"Sun, 06 Nov 1994 08:49:37 GMT; length=12",
            b"Sun, 32 Nov 1994 08:49:37 GMT",
            b"Mon, 06 Nov 1994 08:49:37 GMT",
            b"",
            b"\xff",
        ] {
            assert_eq!(
                DateField::parse(bad),
                DateField::Invalid,
                "{}",
                bad.escape_ascii()
            );
        }
    }

    #[test]
    fn fmt_http_date_refuses_what_it_cannot_express() {
        assert_eq!(
            fmt_http_date(UNIX_EPOCH + Duration::from_secs(784_111_777)).as_deref(),
            Some("Sun, 06 Nov 1994 08:49:37 GMT")
        );
        assert_eq!(
            fmt_http_date(UNIX_EPOCH + Duration::from_secs(253_402_300_800)),
            None
        );
    }
}
