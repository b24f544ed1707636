//! A tower layer that sets the precondition policy of a router and sees
//! that its unconditional writes get 428.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::{header, Request};
use occ_core::Policy;
use tower_layer::Layer;
use tower_service::Service;

use crate::refusal::Refusal;

/// Sets [`Policy::Required`] for every request of a router of hand-written
/// handlers, so that every unsafe request (PUT, PATCH, DELETE, POST, …:
/// core's [`Policy::requires_precondition`]) that carries none of
/// `If-Match`, `If-None-Match` and `If-Unmodified-Since` is answered
/// `428 Precondition Required` (problem details, design decision 2).
///
/// By default the 428 comes from occ's extractors
/// ([`ConditionalRequest`](crate::ConditionalRequest),
/// [`Conditional`](crate::Conditional)) where the handler evaluates the
/// preconditions: after its own authorization and lookups, so a caller
/// without access gets the handler's 403 and a missing resource its 404,
/// never a 428 that says the resource is there (EV-2). A handler on such
/// a router that writes without ever building one of them is a
/// misconfiguration: the layer logs it (an error, once per process),
/// since the write has happened.
///
/// For handlers that never use occ's extractors,
/// [`before_handlers`](Self::before_handlers) answers 428 before the
/// handler runs, as a gateway would.
///
/// The layer cannot know whether a resource has a modification date, so
/// `If-Unmodified-Since` lets a request through; the handler's own
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
///     .layer(RequirePreconditionsLayer::new().before_handlers());
/// let app: Router = Router::new().route("/notes", post(create)).merge(items);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RequirePreconditionsLayer {
    early: bool,
}

impl RequirePreconditionsLayer {
    /// The layer: 428 where the handler evaluates the preconditions.
    pub fn new() -> Self {
        Self::default()
    }

    /// 428 before the handler runs, for handlers that do not use occ's
    /// extractors (it then precedes their 403 and 404).
    pub fn before_handlers(mut self) -> Self {
        self.early = true;
        self
    }
}

impl<S> Layer<S> for RequirePreconditionsLayer {
    type Service = RequirePreconditions<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequirePreconditions {
            inner,
            early: self.early,
        }
    }
}

/// Set by occ's extractors when they read a request's preconditions: the
/// layer then knows the handler evaluated them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Consulted(Arc<AtomicBool>);

impl Consulted {
    pub(crate) fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn marked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The service of [`RequirePreconditionsLayer`].
#[derive(Debug, Clone)]
pub struct RequirePreconditions<S> {
    inner: S,
    early: bool,
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
        let unconditional = is_unconditional_write(&request);
        if unconditional && self.early {
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
        // Watched only where the handler must refuse it.
        let consulted = unconditional.then(Consulted::default);
        if let Some(consulted) = &consulted {
            request.extensions_mut().insert(consulted.clone());
        }
        ResponseFuture {
            kind: Kind::Inner {
                future: self.inner.call(request),
                consulted,
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
        Inner { #[pin] future: F, consulted: Option<Consulted> },
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
            KindProjection::Inner { future, consulted } => {
                let result = std::task::ready!(future.poll(cx));
                if let (Ok(response), Some(consulted)) = (&result, consulted.as_ref()) {
                    if response.status().is_success() && !consulted.marked() {
                        unguarded_write();
                    }
                }
                Poll::Ready(result)
            }
            KindProjection::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled again after it was ready: an empty 500 rather than
                // a panic.
                None => Poll::Ready(Ok(http::StatusCode::INTERNAL_SERVER_ERROR.into_response())),
            },
        }
    }
}

/// Logs, once per process, a write without a precondition that a handler
/// behind the layer let through without occ's extractors.
fn unguarded_write() {
    static LOGGED: AtomicBool = AtomicBool::new(false);
    if !LOGGED.swap(true, Ordering::Relaxed) {
        tracing::error!(
            "a write without a precondition succeeded behind RequirePreconditionsLayer, whose \
             handler never evaluated the preconditions: use occ's ConditionalRequest or \
             Conditional in the handler, or RequirePreconditionsLayer::new().before_handlers()"
        );
    }
}
