//! Regression tests for failures found by the cargo-fuzz targets in `fuzz/`
//! (see `fuzz/README.md`). One test per failure, named after the rule it
//! checks; each holds the minimised input as an escaped byte string.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::IF_MODIFIED_SINCE;
use http::{HeaderMap, HeaderValue, Method};
use occ_core::{DateField, Decision, EntityTag, Policy, Preconditions, Target};

/// 2026-07-01T00:00:00Z, as the origin server's clock.
fn july_2026() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_782_864_000)
}

/// Found by the `preconditions` target (G-7, G-14, IMS-2).
///
/// With a leading space, `DateField::parse` skips its RFC 850 century rule
/// and `httpdate`'s fixed one applies ("74" is 1974), while the same date
/// without the space gets the rule of RFC 9110 §5.6.7 ("74" is 2074 until
/// the year 2100). 20 July 1974 was a Saturday and 20 July 2074 is a Friday,
/// so the padded value is a valid 1974 date and the bare one is invalid.
/// A recipient excludes surrounding whitespace before evaluating a field
/// (G-7): both must give the same answer, an invalid date that
/// If-Modified-Since ignores (IMS-2).
#[test]
fn g_7_g_14_ows_around_an_rfc850_date_keeps_the_fifty_year_rule() {
    let bare = b"Saturday, 20-Jul-74 11:52:26 GMT";
    let crash = b" Saturday, 20-Jul-74 11:52:26 GMT";
    let now = july_2026();

    assert_eq!(DateField::parse_at(bare, now), DateField::Invalid);
    for padded in [
        &crash[..],
        b"Saturday, 20-Jul-74 11:52:26 GMT\t",
        b" \tSaturday, 20-Jul-74 11:52:26 GMT ",
    ] {
        assert_eq!(
            DateField::parse_at(padded, now),
            DateField::parse_at(bare, now),
            "{}",
            padded.escape_ascii()
        );
    }
    // The same date named with the right weekday for 2074 is valid, with
    // or without OWS.
    let friday_2074 = UNIX_EPOCH + Duration::from_secs(3_299_313_146);
    for friday in [
        &b"Friday, 20-Jul-74 11:52:26 GMT"[..],
        b" Friday, 20-Jul-74 11:52:26 GMT",
    ] {
        assert_eq!(
            DateField::parse_at(friday, now),
            DateField::Valid(friday_2074),
            "{}",
            friday.escape_ascii()
        );
    }

    // Through the evaluator, as the fuzz target found it: a conditional GET
    // on a resource last modified at that 1974 instant. The invalid
    // If-Modified-Since must be ignored (200), not answered with 304.
    // (`from_headers` uses the real clock; "74" stays 2074 until 2100.)
    let mut headers = HeaderMap::new();
    headers.insert(IF_MODIFIED_SINCE, HeaderValue::from_bytes(crash).unwrap());
    let etag: EntityTag = "\"v1\"".parse().unwrap();
    let saturday_1974 = UNIX_EPOCH + Duration::from_secs(143_553_146);
    let target = Target::present(&etag).with_last_modified(Some(saturday_1974));
    let decision =
        Preconditions::from_headers(&headers).evaluate(&Method::GET, &target, Policy::Required);
    assert_eq!(decision, Decision::Proceed);
}
