//! The client: where the service is, how patient to be, what it remembers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderValue;
use reqwest::Url;

use crate::cache::Cache;
use crate::retry::RetryPolicy;

/// A client of one service: its base URL, a connection pool, the retry
/// policy, and the validator cache its resources share. Cheap to clone:
/// clones share all of it.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// # #[derive(Debug, serde::Serialize, serde::Deserialize, occ_core::Versioned)]
/// # #[occ(etag = "prof-{id}-v{version}")]
/// # struct Profile { id: i64, #[version] #[serde(skip)] version: i64, city: String }
/// let client = occ_client::Client::new("http://127.0.0.1:3000")?;
/// let profiles = client.resource::<Profile>("/profiles");
/// let moved = profiles.update(&42, |p| p.city = "Lyon".into()).await?;
/// assert_eq!(moved.city, "Lyon");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) timeout: Duration,
    pub(crate) policy: RetryPolicy,
    pub(crate) cache: Cache,
    pub(crate) counters: Counters,
    /// The latest `Occ-Read-After` position a write's answer carried:
    /// reads send it back, so that a replica that has not seen this
    /// client's writes does not answer them.
    pub(crate) read_after: Mutex<Option<HeaderValue>>,
}

impl Client {
    /// A client of the service at `base` (`http://host:port`, or with a
    /// path prefix), with the default settings of [`ClientBuilder`].
    pub fn new(base: &str) -> Result<Self, BuildError> {
        Self::builder(base).build()
    }

    /// A builder for a client of the service at `base`.
    pub fn builder(base: &str) -> ClientBuilder {
        ClientBuilder {
            base: base.to_owned(),
            http: None,
            timeout: Duration::from_secs(10),
            policy: RetryPolicy::default(),
            cache_capacity: 1024,
        }
    }

    /// What the client has done so far.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }
}

/// Settings of a [`Client`].
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    base: String,
    http: Option<reqwest::Client>,
    timeout: Duration,
    policy: RetryPolicy,
    cache_capacity: usize,
}

impl ClientBuilder {
    /// How long one send waits for its whole answer before it counts as
    /// lost and is sent again (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How many resources the validator cache remembers (default 1024;
    /// 0 turns it off: every read and every write's first attempt then
    /// starts with a full GET).
    pub fn cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// Sends through this reqwest client (its pool, proxies, TLS and
    /// default headers); [`timeout`](Self::timeout) still applies per send.
    /// Build it with `redirect(reqwest::redirect::Policy::none())`, as the
    /// default one is: a write redirected would be sent again elsewhere,
    /// or as a `GET`.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The client; fails on a base URL that is not an absolute `http` or
    /// `https` URL, and on `https` without the `rustls` feature (unless a
    /// reqwest client of the caller's is given).
    pub fn build(self) -> Result<Client, BuildError> {
        let base = Url::parse(&self.base)
            .map_err(|e| BuildError(format!("the base URL {:?}: {e}", self.base)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(BuildError(format!(
                "the base URL {:?} is not an http or https URL",
                self.base
            )));
        }
        let http = match self.http {
            Some(http) => http,
            None => {
                if base.scheme() == "https" && !cfg!(feature = "rustls") {
                    return Err(BuildError(format!(
                        "the base URL {:?} needs TLS: enable occ-client's `rustls` feature, \
                         or pass a reqwest client with TLS to `http_client`",
                        self.base
                    )));
                }
                // A write redirected would be sent again elsewhere, or as
                // a GET without its body (301, 302): answers are the
                // caller's to follow.
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| BuildError(format!("the HTTP client: {e}")))?
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                timeout: self.timeout,
                policy: self.policy,
                cache: Cache::new(self.cache_capacity),
                counters: Counters::default(),
                read_after: Mutex::new(None),
            }),
        })
    }
}

/// Why a [`Client`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

/// What a [`Client`] has done since it was built, all its clones counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests sent, every resend included.
    pub sends: u64,
    /// Sends of a request whose earlier answer was lost, a 5xx, or a
    /// "still running" 409: the same request, with the same key.
    pub resends: u64,
    /// Answers that were replays (`Idempotent-Replayed: true`).
    pub replays: u64,
    /// Reads answered 304 and served from the cache.
    pub not_modified: u64,
    /// Reads served from the cache without a request (within `max-age`).
    pub fresh: u64,
    /// 412s after which a change was applied again to the current state.
    pub conflicts: u64,
    /// Writes that succeeded.
    pub committed: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    sends: AtomicU64,
    resends: AtomicU64,
    replays: AtomicU64,
    not_modified: AtomicU64,
    fresh: AtomicU64,
    conflicts: AtomicU64,
    committed: AtomicU64,
}

/// The counter a [`Counters::count`] adds to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Count {
    Send,
    Resend,
    Replay,
    NotModified,
    Fresh,
    Conflict,
    Committed,
}

impl Counters {
    pub(crate) fn count(&self, what: Count) {
        let counter = match what {
            Count::Send => &self.sends,
            Count::Resend => &self.resends,
            Count::Replay => &self.replays,
            Count::NotModified => &self.not_modified,
            Count::Fresh => &self.fresh,
            Count::Conflict => &self.conflicts,
            Count::Committed => &self.committed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Stats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            sends: load(&self.sends),
            resends: load(&self.resends),
            replays: load(&self.replays),
            not_modified: load(&self.not_modified),
            fresh: load(&self.fresh),
            conflicts: load(&self.conflicts),
            committed: load(&self.committed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_is_its_path_under_the_base() {
        let client = Client::new("http://127.0.0.1:3000").unwrap();
        let profiles = client.resource::<()>("/profiles");
        assert_eq!(
            profiles.collection.as_str(),
            "http://127.0.0.1:3000/profiles"
        );
        let client = Client::new("http://example.test/api/v1/").unwrap();
        let docs = client.resource::<()>("documents/");
        assert_eq!(
            docs.collection.as_str(),
            "http://example.test/api/v1/documents"
        );
    }

    #[test]
    fn only_http_urls_are_bases() {
        assert!(Client::new("127.0.0.1:3000").is_err());
        assert!(Client::new("mailto:a@example.test").is_err());
        assert!(Client::new("ftp://example.test").is_err());
        assert_eq!(
            Client::new("https://example.test").is_ok(),
            cfg!(feature = "rustls"),
            "https needs the rustls feature"
        );
    }
}
