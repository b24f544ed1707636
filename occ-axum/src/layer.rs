//! A tower layer that answers 428 to unconditional writes across a whole
//! router.

use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::{header, Method, Request};
use tower_layer::Layer;
use tower_service::Service;

use crate::policy::precondition_required;

/// Answers `428 Precondition Required` (problem details) to every PUT,
/// PATCH and DELETE that carries none of `If-Match`, `If-None-Match` and
/// `If-Unmodified-Since`, before the request reaches a handler (design
/// decision 2 of docs/design.md, for hand-written handlers that do not use
/// [`Conditional`](crate::Conditional)).
///
/// The layer cannot know whether a resource has a modification date, so
/// `If-Unmodified-Since` lets a request through here; the handler's own
/// evaluation still decides. The generated routes enforce the policy
/// themselves and do not need this layer.
///
/// ```
/// use axum::{routing::put, Router};
/// use occ_axum::RequirePreconditionsLayer;
///
/// async fn replace() {}
///
/// let app: Router = Router::new()
///     .route("/notes/{id}", put(replace))
///     .layer(RequirePreconditionsLayer::new());
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
    let write = matches!(
        *request.method(),
        Method::PUT | Method::PATCH | Method::DELETE
    );
    let headers = request.headers();
    write
        && !headers.contains_key(header::IF_MATCH)
        && !headers.contains_key(header::IF_NONE_MATCH)
        && !headers.contains_key(header::IF_UNMODIFIED_SINCE)
}

impl<S, B> Service<Request<B>> for RequirePreconditions<S>
where
    S: Service<Request<B>, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if is_unconditional_write(&request) {
            tracing::info!(
                method = %request.method(),
                resource = request.uri().path(),
                "precondition required"
            );
            let response = precondition_required().into_response();
            return Box::pin(async move { Ok(response) });
        }
        let future = self.inner.call(request);
        Box::pin(future)
    }
}
