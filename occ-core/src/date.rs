//! `If-Modified-Since` / `If-Unmodified-Since` values (HTTP-date, G-14).

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
    pub fn from_lines(lines: GetAll<'_, HeaderValue>) -> Option<Self> {
        let mut iter = lines.iter();
        let first = iter.next()?;
        if iter.next().is_some() {
            return Some(Self::Invalid);
        }
        Some(Self::parse(first.as_bytes()))
    }

    /// Parses one field value: IMF-fixdate, RFC 850 or asctime (G-14).
    pub fn parse(value: &[u8]) -> Self {
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

/// Truncates to whole seconds, the resolution of HTTP-date (IMS-6).
pub(crate) fn to_second(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        // Before 1970: HTTP-date cannot express it anyway; compare as is.
        Err(_) => t,
    }
}

/// Formats a time as IMF-fixdate, the only format a sender may generate
/// (G-15), for `Last-Modified`.
pub fn fmt_http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}
