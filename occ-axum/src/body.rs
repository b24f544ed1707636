//! Request bodies: read within a limit, and drained when a request is
//! refused, so that a refusal leaves the connection usable (design
//! decision 25).
//!
//! A body left unread when the answer goes out makes the server close the
//! connection (it cannot find where the next request starts), and a client
//! that sent its body after its headers, as many do, finds its next
//! request on that connection failing. So every refusal reads the body it
//! did not need, up to [`DRAINED`] bytes; a larger one is left, with the
//! connection.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http::StatusCode;
use http_body::{Body as _, Frame, SizeHint};

use crate::problem::Problem;

/// The most of a refused request's body that is read and dropped.
pub(crate) const DRAINED: usize = 2 * 1024 * 1024;

/// The body, up to `limit` bytes: 413 beyond (after draining up to
/// [`DRAINED`] more), 400 if it cannot be read.
pub(crate) async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, Problem> {
    // One frame, the usual case, is kept as it came: no copy.
    let mut first: Option<Bytes> = None;
    let mut joined: Option<Vec<u8>> = None;
    let mut read = 0;
    while let Some(frame) = next_frame(&mut body).await {
        let Ok(frame) = frame else {
            return Err(
                Problem::new(StatusCode::BAD_REQUEST).with_detail("the body could not be read")
            );
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        read += data.len();
        if read > limit {
            drain(body).await;
            return Err(Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                .with_detail(format!("the body is larger than {limit} bytes")));
        }
        match (&first, &mut joined) {
            (None, _) => first = Some(data),
            (Some(first), None) => {
                let mut all = Vec::with_capacity(first.len() + data.len());
                all.extend_from_slice(first);
                all.extend_from_slice(&data);
                joined = Some(all);
            }
            (Some(_), Some(all)) => all.extend_from_slice(&data),
        }
    }
    Ok(joined.map(Bytes::from).or(first).unwrap_or_default())
}

/// Reads and drops what is left of a refused request's body, up to
/// [`DRAINED`] bytes.
pub(crate) async fn drain(mut body: Body) {
    let mut left = DRAINED;
    while let Some(Ok(frame)) = next_frame(&mut body).await {
        if let Ok(data) = frame.into_data() {
            match left.checked_sub(data.len()) {
                Some(rest) => left = rest,
                None => return,
            }
        }
    }
}

async fn next_frame(body: &mut Body) -> Option<Result<Frame<Bytes>, axum::Error>> {
    std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
}

/// A request body an extractor reads while the handler keeps a hold on
/// what it leaves: after the extractor refuses (a 415 before reading, a
/// 413 half way), the rest is drained.
#[derive(Clone)]
pub(crate) struct Kept(Arc<Mutex<Option<Body>>>);

impl Kept {
    /// `body`, kept.
    pub(crate) fn new(body: Body) -> Self {
        Self(Arc::new(Mutex::new(Some(body))))
    }

    /// A body that reads from the kept one.
    pub(crate) fn reader(&self) -> Body {
        Body::new(self.clone())
    }

    /// Drains what the extractor left.
    pub(crate) async fn drain(self) {
        let rest = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(rest) = rest {
            drain(rest).await;
        }
    }
}

impl http_body::Body for Kept {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match guard.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}
