//! Idempotency keys: a retried write applied once (IETF HTTP API draft
//! "The Idempotency-Key HTTP Header Field").
//!
//! A client whose write timed out cannot tell whether it was applied: a
//! retry with the same `If-Match` gets 412 when the first attempt landed,
//! and "I changed it" looks like "someone else changed it". With an
//! `Idempotency-Key`, the first attempt records its response in the same
//! transaction as its write; a retry with the same key and the same
//! request gets that response again (before any precondition is
//! evaluated), and the write happens once.
//!
//! The protocol, for every store ([`Repository::claim_key`]):
//!
//! 1. **Claim**: one statement records the key with the request's
//!    [`Fingerprint`], an owner token and a lease. A key recorded with a
//!    response is [`Claim::Replay`]; with another fingerprint,
//!    [`Claim::Mismatch`]; claimed by an attempt whose lease has not run
//!    out, [`Claim::InFlight`]. A key past its time to live, or a claim
//!    whose lease ran out without a response (its attempt died), is taken
//!    over.
//! 2. **Write**: through [`KeyedWrite::repository`], whose statements run
//!    in one transaction.
//! 3. **Finish**: the response is recorded (only while the owner token is
//!    still the key's) and the transaction committed, or rolled back when
//!    another attempt took the key over ([`Finished::Superseded`]). A
//!    failure is [`KeyedWrite::abandon`]ed: rolled back and the claim
//!    released, so that a retry runs again.
//!
//! [`Repository::claim_key`]: crate::repository::Repository::claim_key
//! [`Claim::Replay`]: crate::repository::Claim::Replay
//! [`Claim::Mismatch`]: crate::repository::Claim::Mismatch
//! [`Claim::InFlight`]: crate::repository::Claim::InFlight
//! [`KeyedWrite::repository`]: crate::repository::KeyedWrite::repository
//! [`KeyedWrite::abandon`]: crate::repository::KeyedWrite::abandon

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// The longest key accepted, in characters: keys are UUIDs or similar.
pub const MAX_KEY_LEN: usize = 255;

/// The value of an `Idempotency-Key` header: an RFC 8941 sf-string
/// (`"8e03978e-40d5-43e8-bc93-6894a57f9324"`), unescaped.
///
/// ```
/// use occ_core::idempotency::IdempotencyKey;
///
/// let key = IdempotencyKey::parse(br#""8e03978e-40d5""#).unwrap();
/// assert_eq!(key.as_str(), "8e03978e-40d5");
/// assert!(IdempotencyKey::parse(b"8e03978e").is_err()); // a token, not a string
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

/// Why an `Idempotency-Key` value was refused (400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidKey(&'static str);

impl fmt::Display for InvalidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidKey {}

impl IdempotencyKey {
    /// Parses a header value: one sf-string (RFC 8941 §3.3.3), without
    /// parameters, of 1 to [`MAX_KEY_LEN`] characters. Surrounding spaces
    /// are allowed, as in any field value.
    pub fn parse(value: &[u8]) -> Result<Self, InvalidKey> {
        let value = value.trim_ascii();
        let Some(inner) = value
            .strip_prefix(b"\"")
            .and_then(|rest| rest.strip_suffix(b"\""))
            .filter(|_| value.len() >= 2)
        else {
            return Err(InvalidKey(
                "an Idempotency-Key is a quoted string (RFC 8941 sf-string), such as \"a1b2c3\"",
            ));
        };
        let mut key = String::with_capacity(inner.len());
        let mut bytes = inner.iter();
        while let Some(&b) = bytes.next() {
            match b {
                b'\\' => match bytes.next() {
                    Some(&escaped @ (b'"' | b'\\')) => key.push(char::from(escaped)),
                    _ => {
                        return Err(InvalidKey(
                            "an Idempotency-Key may escape only `\"` and `\\` with a backslash",
                        ))
                    }
                },
                b'"' => {
                    return Err(InvalidKey(
                        "an Idempotency-Key is one quoted string, without parameters",
                    ))
                }
                0x20..=0x7e => key.push(char::from(b)),
                _ => {
                    return Err(InvalidKey(
                        "an Idempotency-Key holds printable ASCII characters only",
                    ))
                }
            }
        }
        Self::new(key)
    }

    /// A key from its unescaped text.
    pub fn new(key: impl Into<String>) -> Result<Self, InvalidKey> {
        let key = key.into();
        if key.is_empty() {
            return Err(InvalidKey("an Idempotency-Key may not be empty"));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(InvalidKey(
                "an Idempotency-Key may be at most 255 characters long",
            ));
        }
        if !key.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(InvalidKey(
                "an Idempotency-Key holds printable ASCII characters only",
            ));
        }
        Ok(Self(key))
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name under which a store records the key: a SHA-256 of the
    /// namespace (a scope, so that two tenants' keys never meet) and the
    /// key, in hex. Fixed-length, whatever the key.
    pub fn stored_name(&self, namespace: &str) -> String {
        let mut hasher = Sha256::new();
        field(&mut hasher, namespace.as_bytes());
        field(&mut hasher, self.0.as_bytes());
        hex(&hasher.finalize())
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({:?})", self.0)
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The caller a request's idempotency keys belong to, as the layer that
/// authenticated it names it (a user id, an API client): put it in the
/// request's extensions beside the [`Scope`](crate::repository::Scope),
/// and two callers' keys never meet, even within one tenant.
///
/// ```
/// use occ_core::idempotency::Principal;
///
/// let caller = Principal::new("user-42");
/// assert_eq!(caller.as_str(), "user-42");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal(String);

impl Principal {
    /// The caller named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The caller's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What makes two requests "the same request" for a key: a SHA-256 over
/// the parts added, each length-prefixed so that no two lists of parts
/// collide by concatenation.
///
/// ```
/// use occ_core::idempotency::Fingerprint;
///
/// let a = Fingerprint::builder().part(b"PUT").part(b"/notes/1").part(br#"{"a":1}"#).finish();
/// let b = Fingerprint::builder().part(b"PUT").part(b"/notes/1").part(br#"{"a":2}"#).finish();
/// assert_ne!(a, b);
/// assert_eq!(a.to_hex().len(), 64);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

/// Builds a [`Fingerprint`].
#[derive(Clone, Default)]
pub struct FingerprintBuilder(Sha256);

impl fmt::Debug for FingerprintBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintBuilder")
    }
}

impl Fingerprint {
    /// A builder with no part yet.
    pub fn builder() -> FingerprintBuilder {
        FingerprintBuilder::default()
    }

    /// The 64 hex digits, as stores keep it.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl FingerprintBuilder {
    /// Adds one part (a method, a path, a header's value or its absence as
    /// an empty part, the body).
    pub fn part(mut self, bytes: &[u8]) -> Self {
        field(&mut self.0, bytes);
        self
    }

    /// The fingerprint of the parts added.
    pub fn finish(self) -> Fingerprint {
        Fingerprint(self.0.finalize().into())
    }
}

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A response as recorded for a key, and replayed: its status, the
/// headers that describe the outcome (`Content-Type`, `ETag`,
/// `Last-Modified`, `Location`), and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl StoredResponse {
    /// The headers as the JSON text stores keep: `[["etag","\"v1\""]]`.
    pub fn headers_json(&self) -> String {
        serde_json::to_string(&self.headers).unwrap_or_else(|_| "[]".to_owned())
    }

    /// A response from its stored parts; `None` when the headers are not
    /// the JSON [`headers_json`](Self::headers_json) writes.
    pub fn from_stored(status: i64, headers: &str, body: Vec<u8>) -> Option<Self> {
        Some(Self {
            status: u16::try_from(status).ok()?,
            headers: serde_json::from_str(headers).ok()?,
            body,
        })
    }
}

/// How long keys and claims live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// How long a recorded key is kept and replayed (default 24 hours);
    /// after that the key is free again, and expired keys are deleted.
    pub time_to_live: Duration,
    /// How long a claim without a response keeps other attempts out
    /// (409) before one may take it over (default 10 seconds): the time a
    /// server that died mid-request holds its keys. In SQL, an attempt
    /// still running after its lease may be superseded; its write is then
    /// rolled back, never applied twice. A lease longer than the time to
    /// live is cut to it. The memory store has no use for it: its claims
    /// die with its server.
    pub lease: Duration,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            time_to_live: Duration::from_secs(24 * 60 * 60),
            lease: Duration::from_secs(10),
        }
    }
}

/// How a [`KeyedWrite`](crate::repository::KeyedWrite) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The response is recorded with the write: retries replay it.
    Recorded,
    /// Another attempt took the key over (this one outlived its lease):
    /// this attempt's write is rolled back.
    Superseded,
}

/// A token that tells this attempt's claim from any other's: 128 bits
/// from the process's random hasher keys, a clock and a counter.
pub(crate) fn owner_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = now_nanos();
    let a = RandomState::new().hash_one((n, nanos));
    let b = RandomState::new().hash_one((nanos, n, std::process::id()));
    format!("{a:016x}{b:016x}")
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idem_sf_string_keys_parse_and_others_are_refused() {
        assert_eq!(IdempotencyKey::parse(br#""abc""#).unwrap().as_str(), "abc");
        assert_eq!(
            IdempotencyKey::parse(br#" "a\"b\\c" "#).unwrap().as_str(),
            r#"a"b\c"#
        );
        for bad in [
            &b"abc"[..],
            b"\"abc",
            b"\"\"",
            b"\"a\"b\"",
            b"\"a\\nb\"",
            b"\"abc\";p=1",
            b"\"\xc3\xa9\"",
            b"\"a\tb\"",
            b"",
        ] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("\"{}\"", "k".repeat(256));
        assert!(IdempotencyKey::parse(long.as_bytes()).is_err());
        let longest = format!("\"{}\"", "k".repeat(255));
        assert!(IdempotencyKey::parse(longest.as_bytes()).is_ok());
    }

    #[test]
    fn stored_names_differ_by_namespace_and_fingerprints_by_part_boundaries() {
        let key = IdempotencyKey::new("k").unwrap();
        assert_ne!(key.stored_name(""), key.stored_name("tenant=1"));
        assert_eq!(key.stored_name("a").len(), 64);
        let ab = Fingerprint::builder().part(b"a").part(b"b").finish();
        let a_b = Fingerprint::builder().part(b"ab").part(b"").finish();
        assert_ne!(ab, a_b);
    }

    #[test]
    fn stored_responses_round_trip_and_owner_tokens_differ() {
        let response = StoredResponse {
            status: 201,
            headers: vec![("etag".into(), "\"v1\"".into())],
            body: b"{}".to_vec(),
        };
        let back =
            StoredResponse::from_stored(201, &response.headers_json(), b"{}".to_vec()).unwrap();
        assert_eq!(back, response);
        assert_ne!(owner_token(), owner_token());
        assert_eq!(owner_token().len(), 32);
    }
}
