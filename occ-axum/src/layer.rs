//! A tower layer that sets the precondition policy of a router and answers
//! 428 to its unconditional writes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::{header, Request};
use occ_core::Policy;
use tower_layer::Layer;
use tower_service::Service;

use crate::Refusal;

/// Sets [`Policy::Required`] for every request of a router of hand-written
/// handlers, and answers `428 Precondition Required` (problem details) to
/// every unsafe request (PUT, PATCH, DELETE, POST, …: core's
/// [`Policy::requires_precondition`]) that carries none of `If-Match`,
/// `If-None-Match` and `If-Unmodified-Since`, before it reaches a handler
/// (design decision 2). The extractors
/// ([`ConditionalRequest`](crate::ConditionalRequest),
/// [`Conditional`](crate::Conditional)) read the policy it sets, so the
/// layer and the handlers agree.
///
/// The layer cannot know whether a resource has a modification date, so
/// `If-Unmodified-Since` lets a request through here; the handler's own
/// evaluation still decides. Nor can it know which POST creates a new
/// member of a collection, which needs no precondition: put such routes
/// outside the layer (`Router::merge` a router without it). The generated
/// routes enforce their policy themselves and do not need this layer.
///
/// ```
/// use axum::{routing::{post, put}, Router};
/// use occ_axum::RequirePreconditionsLayer;
///
/// async fn replace() {}
/// async fn create() {}
///
/// let items: Router = Router::new()
///     .route("/notes/{id}", put(replace))
///     .layer(RequirePreconditionsLayer::new());
/// let app: Router = Router::new().route("/notes", post(create)).merge(items);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RequirePreconditionsLayer {
    _private: (),
}

impl RequirePreconditionsLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for RequirePreconditionsLayer {
    type Service = RequirePreconditions<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequirePreconditions { inner }
    }
}

/// The service of [`RequirePreconditionsLayer`].
#[derive(Debug, Clone)]
pub struct RequirePreconditions<S> {
    inner: S,
}

fn is_unconditional_write<B>(request: &Request<B>) -> bool {
    let headers = request.headers();
    Policy::Required.requires_precondition(request.method())
        && !headers.contains_key(header::IF_MATCH)
        && !headers.contains_key(header::IF_NONE_MATCH)
        && !headers.contains_key(header::IF_UNMODIFIED_SINCE)
}

impl<S, B> Service<Request<B>> for RequirePreconditions<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if is_unconditional_write(&request) {
            // The layer cannot tell whether the handler behind it creates.
            let refusal =
                Refusal::precondition_required(request.method(), crate::refusal::Creation::Unknown)
                    .for_request(request.method(), request.uri());
            return ResponseFuture {
                kind: Kind::Refused {
                    response: Some(refusal.into_response()),
                },
            };
        }
        request.extensions_mut().insert(Policy::Required);
        ResponseFuture {
            kind: Kind::Inner {
                future: self.inner.call(request),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RequirePreconditions`]: the inner service's,
    /// or the 428, without boxing.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProjection]
    enum Kind<F> {
        Inner { #[pin] future: F },
        Refused { response: Option<Response> },
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Inner { future } => future.poll(cx),
            KindProjection::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled again after it was ready: an empty 500 rather than
                // a panic.
                None => Poll::Ready(Ok(http::StatusCode::INTERNAL_SERVER_ERROR.into_response())),
            },
        }
    }
}
