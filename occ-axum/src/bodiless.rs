//! The body of 204 and 304 responses.
//!
//! axum's router fills in `Content-Length` from a body's exact size hint,
//! so an ordinary empty body gets `Content-Length: 0`. RFC 9110 forbids that
//! on 204 (§8.6) and on a 304 whose 200 would not be empty (304-5). A body
//! that is empty but does not promise its size leaves the header out, and
//! hyper still writes nothing for these statuses.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};

struct Bodiless;

impl http_body::Body for Bodiless {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        true
    }

    fn size_hint(&self) -> SizeHint {
        // Deliberately inexact: see the module comment.
        SizeHint::default()
    }
}

/// An empty body for which no `Content-Length` is generated.
pub(crate) fn body() -> Body {
    Body::new(Bodiless)
}

/// A response with `status` and a [`body`] that adds no `Content-Length`.
pub(crate) fn response(status: axum::http::StatusCode) -> axum::response::Response {
    let mut response = axum::response::Response::new(body());
    *response.status_mut() = status;
    response
}
