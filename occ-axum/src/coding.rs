//! A tower layer that keeps validators right under response compression:
//! each content coding gets its own strong entity tag, and preconditions
//! accept the tag of any coding of the same state.
//!
//! A compressed and an identity `200` of one state are different
//! representations, so one strong tag for both is wrong (RFC 9110
//! §8.8.3): a cache or a range request could splice their bytes. Tagging
//! each coding apart (`"doc-1-r3-gzip"`, as Apache does) is right, but
//! then a client holding the gzip tag must still be able to write: the
//! state is the same. This layer, put outside tower-http's
//! `CompressionLayer`, does both, and mends what compression does to
//! bodiless answers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::Response;
use http::header::{CONTENT_ENCODING, ETAG, IF_MATCH, IF_NONE_MATCH, VARY};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

/// The content codings whose tags this layer tells apart.
const CODINGS: [&str; 4] = ["gzip", "br", "zstd", "deflate"];

/// Gives each content coding of a response its own strong `ETag`, and lets
/// `If-Match` and `If-None-Match` name a state by the tag of any of its
/// codings. Put it **outside** tower-http's `CompressionLayer` (added after
/// it, in axum's order):
///
/// - a compressed response's strong tag gets the coding as a suffix
///   (`"doc-1-r3"` sent as gzip is `"doc-1-r3-gzip"`); weak tags, which
///   may be shared by equivalent representations, are left as they are;
/// - in `If-Match` and `If-None-Match`, a tag with such a suffix names the
///   same state as the tag without it (a tag of another state still
///   matches nothing);
/// - `204` and `304` carry no `Content-Encoding` (they have no content to
///   encode), a `304` keeps `Vary: accept-encoding` as the `200` has it,
///   and its `ETag` is the one the client holds, of whichever coding.
///
/// An entity-tag template whose tags may themselves end in `-gzip`, `-br`,
/// `-zstd` or `-deflate` (one ending in an id a client chose) would be
/// read as that coding's: end templates with the version.
///
/// ```
/// use axum::Router;
/// use occ_axum::CodingTagsLayer;
///
/// # fn routes() -> Router { Router::new() }
/// let app: Router = routes()
///     // .layer(tower_http::compression::CompressionLayer::new())
///     .layer(CodingTagsLayer::new());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CodingTagsLayer {
    _private: (),
}

impl CodingTagsLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for CodingTagsLayer {
    type Service = CodingTags<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CodingTags { inner }
    }
}

/// The service of [`CodingTagsLayer`].
#[derive(Debug, Clone)]
pub struct CodingTags<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for CodingTags<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = CodingTagsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        strip_codings(request.headers_mut(), &IF_MATCH);
        let held = strip_codings(request.headers_mut(), &IF_NONE_MATCH);
        CodingTagsFuture {
            future: self.inner.call(request),
            held,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`CodingTags`].
    pub struct CodingTagsFuture<F> {
        #[pin]
        future: F,
        // The client's `If-None-Match` tags as sent, when any named a
        // coding: a 304 answers with the one it holds.
        held: Option<Vec<HeaderValue>>,
    }
}

impl<F, E> Future for CodingTagsFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.future.poll(cx))?;
        let status = response.status();
        let headers = response.headers_mut();
        if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            headers.remove(CONTENT_ENCODING);
            if status == StatusCode::NOT_MODIFIED {
                add_vary_accept_encoding(headers);
                if let Some(held) = this.held.as_deref() {
                    answer_with_held_tag(headers, held);
                }
            }
        } else if let Some(coding) = headers
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| CODINGS.iter().find(|c| v.trim().eq_ignore_ascii_case(c)))
        {
            let tagged = headers.get(ETAG).and_then(|etag| with_coding(etag, coding));
            if let Some(tagged) = tagged {
                headers.insert(ETAG, tagged);
            }
        }
        Poll::Ready(Ok(response))
    }
}

/// Rewrites every line of `name` without coding suffixes; returns the
/// lines as sent when any tag had one.
fn strip_codings(headers: &mut HeaderMap, name: &http::HeaderName) -> Option<Vec<HeaderValue>> {
    if !headers
        .get_all(name)
        .iter()
        .any(|line| tags(line.as_bytes()).any(|(_, _, coding)| coding.is_some()))
    {
        return None;
    }
    let sent: Vec<HeaderValue> = headers.get_all(name).iter().cloned().collect();
    headers.remove(name);
    for line in &sent {
        let bytes = line.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut copied = 0;
        for (_, close, coding) in tags(bytes) {
            if let Some(coding) = coding {
                // Up to the suffix, then from the closing quote on.
                out.extend_from_slice(&bytes[copied..close - coding.len() - 1]);
                copied = close;
            }
        }
        out.extend_from_slice(&bytes[copied..]);
        if let Ok(value) = HeaderValue::from_bytes(&out) {
            headers.append(name, value);
        }
    }
    Some(sent)
}

/// The quoted tags of a list: for each, the offset of its opening quote,
/// of its closing quote, and the coding its opaque part ends with.
fn tags(bytes: &[u8]) -> impl Iterator<Item = (usize, usize, Option<&'static str>)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let open = at + bytes.get(at..)?.iter().position(|&b| b == b'"')?;
        let close = open + 1 + bytes.get(open + 1..)?.iter().position(|&b| b == b'"')?;
        at = close + 1;
        let opaque = &bytes[open + 1..close];
        let coding = CODINGS.iter().copied().find(|coding| {
            opaque.len() > coding.len() + 1
                && opaque.ends_with(coding.as_bytes())
                && opaque[opaque.len() - coding.len() - 1] == b'-'
        });
        Some((open, close, coding))
    })
}

/// `etag` with `-coding` at the end of its opaque part, when it is strong.
fn with_coding(etag: &HeaderValue, coding: &str) -> Option<HeaderValue> {
    let bytes = etag.as_bytes();
    let inner = bytes.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut out = Vec::with_capacity(bytes.len() + coding.len() + 1);
    out.push(b'"');
    out.extend_from_slice(inner);
    out.push(b'-');
    out.extend_from_slice(coding.as_bytes());
    out.push(b'"');
    HeaderValue::from_bytes(&out).ok()
}

/// The 304's `ETag`, replaced by the tag the client sent for the same
/// state, in the coding it holds; the identity tag when it sent that one
/// too (a cache that holds several serves the one it can).
fn answer_with_held_tag(headers: &mut HeaderMap, held: &[HeaderValue]) {
    let Some(etag) = headers.get(ETAG) else {
        return;
    };
    let current = etag.as_bytes();
    let plain = held.iter().any(|line| {
        let bytes = line.as_bytes();
        tags(bytes).any(|(open, close, coding)| coding.is_none() && current == &bytes[open..=close])
    });
    if plain {
        return;
    }
    for line in held {
        let bytes = line.as_bytes();
        for (open, close, coding) in tags(bytes) {
            let Some(coding) = coding else { continue };
            let stripped = &bytes[open + 1..close - coding.len() - 1];
            let weak = open >= 2 && &bytes[open - 2..open] == b"W/";
            let matches = current
                .strip_prefix(b"\"")
                .and_then(|c| c.strip_suffix(b"\""))
                .is_some_and(|c| c == stripped);
            if matches && !weak {
                if let Ok(value) = HeaderValue::from_bytes(&bytes[open..=close]) {
                    headers.insert(ETAG, value);
                }
                return;
            }
        }
    }
}

/// `Vary` with `accept-encoding` in it.
fn add_vary_accept_encoding(headers: &mut HeaderMap) {
    let present = headers.get_all(VARY).iter().any(|line| {
        line.to_str().is_ok_and(|v| {
            v.split(',').any(|field| {
                field.trim().eq_ignore_ascii_case("accept-encoding") || field.trim() == "*"
            })
        })
    });
    if !present {
        headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(value: &str) -> String {
        let mut headers = HeaderMap::new();
        headers.insert(IF_MATCH, HeaderValue::from_str(value).unwrap());
        strip_codings(&mut headers, &IF_MATCH);
        headers.get(IF_MATCH).unwrap().to_str().unwrap().to_owned()
    }

    #[test]
    fn a_coding_suffix_names_the_same_state() {
        assert_eq!(stripped(r#""doc-1-r3-gzip""#), r#""doc-1-r3""#);
        assert_eq!(stripped(r#"W/"a-br", "b", "c-zstd""#), r#"W/"a", "b", "c""#);
        // Not a suffix: left as sent.
        assert_eq!(
            stripped(r#""gzip", "-gzip", "a-gzipx""#),
            r#""gzip", "-gzip", "a-gzipx""#
        );
        assert_eq!(stripped("*"), "*");
    }

    #[test]
    fn only_strong_tags_get_a_coding() {
        let tagged = with_coding(&HeaderValue::from_static("\"v1\""), "gzip").unwrap();
        assert_eq!(tagged, "\"v1-gzip\"");
        assert!(with_coding(&HeaderValue::from_static("W/\"v1\""), "gzip").is_none());
    }
}
