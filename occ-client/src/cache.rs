//! The client's validator cache: the last state it knows of each resource,
//! with its tag.
//!
//! An entry is used in two ways. A read sends its tag in `If-None-Match`
//! and is answered from the entry on 304, so an entry is never served
//! without the server confirming it (unless the server gave it a
//! `max-age` that has not run out). A write starts from the entry without
//! reading: its `If-Match` makes a stale entry safe, since a 412 brings the
//! current state at the cost of the round trip a read would have taken.
//! That is why a write's own answer is kept although it says `no-store`
//! (which keeps it out of shared caches, design decision 6): it is what the
//! next write needs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::header::{AGE, CACHE_CONTROL};
use http::HeaderMap;
use occ_core::{EntityTag, Versioned};
use serde::de::DeserializeOwned;

use crate::tagged::Tagged;

/// A known state: the representation's JSON and its validators.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) etag: EntityTag,
    pub(crate) last_modified: Option<SystemTime>,
    pub(crate) body: Bytes,
    /// Until when the server said it may be used without asking.
    fresh_until: Option<Instant>,
    used: Instant,
}

impl Entry {
    pub(crate) fn new(etag: EntityTag, last_modified: Option<SystemTime>, body: Bytes) -> Self {
        Self {
            etag,
            last_modified,
            body,
            fresh_until: None,
            used: Instant::now(),
        }
    }

    /// Fresh for the `max-age` of `headers` (less their `Age`), when they
    /// allow storing at all.
    pub(crate) fn fresh_for(mut self, headers: &HeaderMap) -> Self {
        self.fresh_until = max_age(headers).map(|age| Instant::now() + age);
        self
    }

    /// The state it holds, if it still reads as an `M`.
    pub(crate) fn state<M>(&self) -> Result<Tagged<M>, serde_json::Error>
    where
        M: Versioned + DeserializeOwned,
    {
        Tagged::decode(self.body.clone(), self.etag.clone(), self.last_modified)
    }

    /// Whether it may be served without asking the server.
    pub(crate) fn is_fresh(&self) -> bool {
        self.fresh_until.is_some_and(|until| Instant::now() < until)
    }
}

/// Whether `headers` forbid storing a read's answer (`no-store`).
pub(crate) fn forbids_storing(headers: &HeaderMap) -> bool {
    directives(headers).any(|(name, _)| name.eq_ignore_ascii_case("no-store"))
}

/// `max-age` less `Age`, unless `no-cache` asks for revalidation.
fn max_age(headers: &HeaderMap) -> Option<std::time::Duration> {
    let mut max_age = None;
    for (name, value) in directives(headers) {
        if name.eq_ignore_ascii_case("no-cache") {
            return None;
        }
        if name.eq_ignore_ascii_case("max-age") {
            max_age = value.and_then(|v| v.trim_matches('"').parse::<u64>().ok());
        }
    }
    let age = headers
        .get(AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    max_age
        .and_then(|max| max.checked_sub(age))
        .filter(|left| *left > 0)
        .map(std::time::Duration::from_secs)
}

/// The `Cache-Control` directives: name and value.
fn directives(headers: &HeaderMap) -> impl Iterator<Item = (&str, Option<&str>)> {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|directive| match directive.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (directive.trim(), None),
        })
}

/// Entries by URL, at most `capacity` of them: when full, the one used
/// least recently goes.
#[derive(Debug)]
pub(crate) struct Cache {
    entries: Mutex<HashMap<String, Entry>>,
    capacity: usize,
}

impl Cache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere while the lock was held left a map, not a
        // broken invariant: keep using it.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The entry of `url`, marked as used.
    pub(crate) fn get(&self, url: &str) -> Option<Entry> {
        let mut entries = self.entries();
        let entry = entries.get_mut(url)?;
        entry.used = Instant::now();
        Some(entry.clone())
    }

    /// Keeps `entry` for `url`.
    pub(crate) fn put(&self, url: &str, entry: Entry) {
        self.put_if(url, entry, |_| true);
    }

    /// Keeps `entry` for `url` unless the entry there changed since a read
    /// that sent `sent` (the tag in its `If-None-Match`, or none): a slow
    /// read must not put back a state older than a write's answer that
    /// arrived meanwhile.
    pub(crate) fn put_unless_changed(&self, url: &str, entry: Entry, sent: Option<&EntityTag>) {
        self.put_if(url, entry, |there| {
            there.map(|e| &e.etag).map(EntityTag::as_bytes) == sent.map(EntityTag::as_bytes)
        });
    }

    fn put_if(&self, url: &str, entry: Entry, keep: impl FnOnce(Option<&Entry>) -> bool) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries();
        if !keep(entries.get(url)) {
            return;
        }
        if !entries.contains_key(url) && entries.len() >= self.capacity {
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(url, _)| url.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(url.to_owned(), entry);
    }

    /// Forgets `url`.
    pub(crate) fn remove(&self, url: &str) {
        self.entries().remove(url);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn entry(tag: &str) -> Entry {
        Entry::new(
            EntityTag::strong(tag).unwrap(),
            None,
            Bytes::from_static(b"{}"),
        )
    }

    #[test]
    fn keeps_at_most_its_capacity_and_drops_the_least_used() {
        let cache = Cache::new(2);
        cache.put("a", entry("a"));
        std::thread::sleep(std::time::Duration::from_millis(2));
        cache.put("b", entry("b"));
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(cache.get("a").is_some());
        cache.put("c", entry("c"));
        assert!(cache.get("b").is_none());
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
    }

    #[test]
    fn a_read_does_not_put_back_what_a_write_replaced() {
        let cache = Cache::new(4);
        let (v1, v2) = (entry("v1"), entry("v2"));
        cache.put("a", v1.clone());
        // A read sent with v1's tag; a write's answer (v2) arrives first.
        cache.put("a", v2);
        cache.put_unless_changed("a", v1.clone(), Some(&v1.etag));
        assert_eq!(cache.get("a").unwrap().etag.as_bytes(), b"\"v2\"");
        // A read sent with no tag, while the entry stayed absent.
        cache.put_unless_changed("b", v1.clone(), None);
        assert!(cache.get("b").is_some());
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let cache = Cache::new(0);
        cache.put("a", entry("a"));
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn max_age_makes_an_entry_fresh_and_no_cache_does_not() {
        let mut headers = HeaderMap::new();
        assert!(!entry("a").fresh_for(&headers).is_fresh());
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        assert!(entry("a").fresh_for(&headers).is_fresh());
        headers.insert(AGE, HeaderValue::from_static("60"));
        assert!(!entry("a").fresh_for(&headers).is_fresh());
        headers.remove(AGE);
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("max-age=60, no-cache"),
        );
        assert!(!entry("a").fresh_for(&headers).is_fresh());
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("No-Store"));
        assert!(forbids_storing(&headers));
    }
}
