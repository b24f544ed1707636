//! Read-your-writes across read replicas: a write's response hands the
//! client the primary's write position after the commit, and a later read
//! that sends it back is served only by a replica that has replayed that
//! far (or by the primary).
//!
//! [`ReadFloorLayer`] runs each request under an occ-core
//! [`ReadFloor`]: the position the request carries, in the
//! [`READ_AFTER`] header or the [`READ_AFTER_COOKIE`] cookie (the later of
//! the two), is the floor of every read the request makes through a
//! repository with replicas
//! ([`SqlRepository::with_replicas`](occ_core::repository::sql::SqlRepository::with_replicas));
//! and when the request wrote through one, its response carries the
//! primary's position taken after the handler returned, so after the
//! commit: in the `Occ-Read-After` header, for API clients to send back,
//! and in a `Set-Cookie` (`Path=/`, `HttpOnly`, `SameSite=Lax`, for
//! [`COOKIE_MAX_AGE`]) that browsers send back by themselves.
//!
//! A GET or HEAD with `If-Match`, `If-Unmodified-Since` or
//! `If-Modified-Since` (without `If-None-Match`) reads the primary: the
//! repository cannot check those on a replica's answer.
//!
//! ```
//! use axum::Router;
//! use occ_axum::ReadFloorLayer;
//!
//! let app: Router = Router::new().layer(ReadFloorLayer::new());
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::Response;
use http::{header, HeaderMap, HeaderValue, Method, Request};
use occ_core::repository::floor::{ReadFloor, WalPosition};
use tower_layer::Layer;
use tower_service::Service;

pub use occ_core::wire::READ_AFTER;

/// The cookie that carries the same position for browsers.
pub const READ_AFTER_COOKIE: &str = "occ_read_after";

/// How long browsers keep the cookie: past it, replicas have long caught
/// up (a replica further behind is out of rotation at 5 s by default).
pub const COOKIE_MAX_AGE: Duration = Duration::from_secs(60);

/// Sets each request's [`ReadFloor`] from its `Occ-Read-After` header or
/// cookie, and hands out the position after a write; see the
/// [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadFloorLayer {
    no_cookie: bool,
}

impl ReadFloorLayer {
    /// The layer: header and cookie.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands out the position in the header only, without `Set-Cookie`
    /// (an API no browser calls). A cookie a request sends is still read.
    pub fn without_cookie(mut self) -> Self {
        self.no_cookie = true;
        self
    }
}

impl<S> Layer<S> for ReadFloorLayer {
    type Service = ReadFloorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReadFloorService {
            inner,
            no_cookie: self.no_cookie,
        }
    }
}

/// The service of [`ReadFloorLayer`].
#[derive(Debug, Clone)]
pub struct ReadFloorService<S> {
    inner: S,
    no_cookie: bool,
}

/// The position a request carries: the later of its header and cookie.
pub fn carried_position(headers: &HeaderMap) -> Option<WalPosition> {
    let from_header = headers
        .get_all(&READ_AFTER)
        .iter()
        .filter_map(|v| v.to_str().ok()?.parse().ok())
        .max();
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == READ_AFTER_COOKIE)
                .then(|| value.trim_matches('"').parse().ok())
                .flatten()
        })
        .max();
    from_header.max(from_cookie)
}

/// Whether a GET or HEAD decides on a state the repository cannot check
/// on a replica's answer.
fn needs_primary(method: &Method, headers: &HeaderMap) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && (headers.contains_key(header::IF_MATCH)
            || headers.contains_key(header::IF_UNMODIFIED_SINCE)
            || (headers.contains_key(header::IF_MODIFIED_SINCE)
                && !headers.contains_key(header::IF_NONE_MATCH)))
}

fn hand_out(response: &mut Response, position: WalPosition, cookie: bool) {
    let text = position.to_string();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&text) {
        headers.insert(READ_AFTER, value);
    }
    if cookie {
        let set = format!(
            "{READ_AFTER_COOKIE}={text}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
            COOKIE_MAX_AGE.as_secs()
        );
        if let Ok(value) = HeaderValue::from_str(&set) {
            headers.append(header::SET_COOKIE, value);
        }
    }
}

impl<S, B> Service<Request<B>> for ReadFloorService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let floor = Arc::new(
            ReadFloor::new()
                .after(carried_position(request.headers()))
                .primary_only(needs_primary(request.method(), request.headers())),
        );
        // The clone that was made ready is the one that serves.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let cookie = !self.no_cookie;
        Box::pin(async move {
            let mut response = Arc::clone(&floor)
                .scope(async move { inner.call(request).await })
                .await?;
            if floor.wrote() {
                if let Some(position) = floor.position_after_commit().await {
                    hand_out(&mut response, position, cookie);
                }
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_later_of_header_and_cookie_is_the_floor() {
        let mut headers = HeaderMap::new();
        assert_eq!(carried_position(&headers), None);
        headers.insert(READ_AFTER, HeaderValue::from_static("0/16"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; occ_read_after=1/0; c=d"),
        );
        assert_eq!(carried_position(&headers), Some(WalPosition::new(1 << 32)));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("occ_read_after=junk"),
        );
        assert_eq!(carried_position(&headers), Some(WalPosition::new(0x16)));
    }

    #[test]
    fn gets_that_decide_on_the_state_read_the_primary() {
        let mut headers = HeaderMap::new();
        assert!(!needs_primary(&Method::GET, &headers));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"a\""));
        headers.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert!(!needs_primary(&Method::GET, &headers));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("\"a\""));
        assert!(needs_primary(&Method::HEAD, &headers));
        assert!(!needs_primary(&Method::PUT, &headers));
    }
}
