//! One request, sent again unchanged until it gets an answer worth
//! returning: the loop that makes a lost answer harmless.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderValue, StatusCode};

use occ_core::repository::floor::WalPosition;
use occ_core::wire::{IDEMPOTENT_REPLAYED, READ_AFTER};

use crate::client::{Count, Inner};
use crate::error::Error;

/// A whole answer: status, headers and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) replayed: bool,
    /// An answer that says nothing of the request's outcome (a 5xx, a
    /// "still running" 409), returned because the sends ran out or the
    /// server asked for a longer wait than the policy allows: a write
    /// that got it may or may not have been applied.
    pub(crate) inconclusive: bool,
}

/// Every send of a request went unanswered.
#[derive(Debug)]
pub(crate) struct Unanswered {
    pub(crate) sends: u32,
    pub(crate) source: reqwest::Error,
}

impl<M> From<Unanswered> for Error<M> {
    fn from(e: Unanswered) -> Self {
        Error::Transport {
            sends: e.sends,
            source: e.source,
        }
    }
}

/// What to do after an answer.
enum Verdict {
    /// It is the request's answer.
    Final,
    /// It says nothing of the outcome: send again after the wait.
    Resend(Duration),
    /// It says nothing of the outcome, and asks for a longer wait than
    /// the policy allows.
    Inconclusive,
}

/// A fresh `Idempotency-Key`: a UUID (version 7) as an sf-string.
pub(crate) fn new_key() -> HeaderValue {
    let key = format!("\"{}\"", uuid::Uuid::now_v7());
    HeaderValue::from_str(&key).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

impl Inner {
    /// Sends `request`, and sends it again, unchanged (a write keeps its
    /// `Idempotency-Key`), when its answer is lost (a timeout, a broken
    /// connection, a body cut short), is a 5xx, or is a 409 or 429 with
    /// `Retry-After` (the same key still running), at most
    /// `max_sends` times in all. Returns the first other answer, or the
    /// last one.
    pub(crate) async fn send(&self, request: reqwest::Request) -> Result<Answer, Unanswered> {
        let mut sends = 0;
        let mut next = Some(request);
        while let Some(request) = next.take() {
            sends += 1;
            // A body of bytes always clones; one that does not is sent once.
            next = request
                .try_clone()
                .filter(|_| sends < self.policy.max_sends.max(1));
            self.counters.count(Count::Send);
            // The events name the request by its copy for the next send,
            // which is there whenever a request is sent again.
            let outcome = self.exchange(request).await;
            let (method, url) = match &next {
                Some(copy) => (Some(copy.method()), Some(copy.url().as_str())),
                None => (None, None),
            };
            let wait = match outcome {
                Ok(mut answer) => match self.verdict(&answer, sends) {
                    Verdict::Resend(wait) if next.is_some() => {
                        tracing::info!(
                            ?method,
                            ?url,
                            status = answer.status.as_u16(),
                            send = sends,
                            "sending the same request again"
                        );
                        wait
                    }
                    verdict => {
                        answer.inconclusive = !matches!(verdict, Verdict::Final);
                        if answer.replayed {
                            self.counters.count(Count::Replay);
                            tracing::info!(
                                ?method,
                                ?url,
                                status = answer.status.as_u16(),
                                "the answer is a replay: an earlier send had landed"
                            );
                        }
                        return Ok(answer);
                    }
                },
                Err(source) if next.is_some() && is_lost(&source) => {
                    let why = if source.is_timeout() {
                        "no answer within the timeout"
                    } else {
                        "the connection failed"
                    };
                    tracing::info!(?method, ?url, error = %source, send = sends,
                        "{why}; sending the same request again");
                    self.policy.wait(sends)
                }
                Err(source) => return Err(Unanswered { sends, source }),
            };
            self.counters.count(Count::Resend);
            tokio::time::sleep(wait).await;
        }
        unreachable!("the last send returns")
    }

    /// One send: the whole answer, or why there was none.
    async fn exchange(&self, request: reqwest::Request) -> Result<Answer, reqwest::Error> {
        let mut request = request;
        *request.timeout_mut() = Some(self.timeout);
        let response = self.http.execute(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        if let Some(position) = headers.get(READ_AFTER) {
            self.saw_position(position);
        }
        let replayed = headers
            .get(IDEMPOTENT_REPLAYED)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
        Ok(Answer {
            status,
            headers,
            body,
            replayed,
            inconclusive: false,
        })
    }

    /// Whether `answer` is the request's, or one to send again after (a
    /// 500, 502, 503 or 504: the server recorded nothing, so the write did
    /// not happen, or a resend finds out that it did; a 409 or 429 that
    /// says when to come back), and after how long: the server's
    /// `Retry-After`, never less than the policy's wait.
    fn verdict(&self, answer: &Answer, sends: u32) -> Verdict {
        let asked = answer
            .headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after_seconds)
            .map(Duration::from_secs);
        let resendable = match answer.status {
            StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => true,
            StatusCode::CONFLICT | StatusCode::TOO_MANY_REQUESTS => asked.is_some(),
            _ => false,
        };
        if !resendable {
            return Verdict::Final;
        }
        let backoff = self.policy.wait(sends);
        match asked {
            Some(asked) if asked > self.policy.max_retry_after => Verdict::Inconclusive,
            Some(asked) => Verdict::Resend(asked.max(backoff)),
            None => Verdict::Resend(backoff),
        }
    }

    /// Keeps the later of the known position and `position`: a read must
    /// not be served from before any write this client saw answered.
    fn saw_position(&self, position: &HeaderValue) {
        let mut known = self
            .read_after
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A value that does not parse never replaces one that does.
        let later = match (
            known.as_ref().and_then(wal_position),
            wal_position(position),
        ) {
            (Some(old), Some(new)) => new > old,
            (Some(_), None) => false,
            (None, _) => true,
        };
        if later {
            *known = Some(position.clone());
        }
    }

    /// The position reads send back, if a write's answer carried one.
    pub(crate) fn read_after(&self) -> Option<HeaderValue> {
        self.read_after
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The position of an `Occ-Read-After` value, for ordering two of them.
fn wal_position(value: &HeaderValue) -> Option<WalPosition> {
    value.to_str().ok()?.trim().parse().ok()
}

/// Whether `error` means the answer was lost on the way (and the same
/// request may be sent again) rather than a request that cannot be sent.
fn is_lost(error: &reqwest::Error) -> bool {
    !(error.is_builder() || error.is_redirect() || error.is_status())
}

/// `Retry-After` in seconds: delay-seconds or an HTTP date.
fn retry_after_seconds(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(SystemTime::now())
            .map_or(0, |left| left.as_secs()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fresh_sf_strings() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        let a = a.to_str().unwrap();
        assert!(
            a.starts_with('"') && a.ends_with('"') && a.len() == 38,
            "{a}"
        );
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(retry_after_seconds(" 3 "), Some(3));
        assert_eq!(
            retry_after_seconds("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(0)
        );
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        assert!(retry_after_seconds(&later).is_some_and(|s| (118..=120).contains(&s)));
        assert_eq!(retry_after_seconds("soon"), None);
    }

    #[test]
    fn positions_order_numerically() {
        let at = |s: &'static str| wal_position(&HeaderValue::from_static(s));
        assert!(at("1/0") > at("0/FFFFFFFF"));
        assert!(at("0/A") > at("0/9"));
        assert_eq!(at("nonsense"), None);
    }
}
