//! [`Refusal`]: every way occ stops a request, as one response type, and
//! the one place where outcomes of occ-core become HTTP statuses.

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use occ_core::pipeline::Rejection;
use occ_core::repository::floor::RetryAfter;
use occ_core::repository::RepositoryError;
use occ_core::{Failure, ListElement, Preconditions, Versioned};
use serde::Serialize;

use crate::problem::Problem;
use crate::response::NotModified;

/// Why a request was not performed: a 304, or a problem (404, 412, 422,
/// 428, 500, 503, …) as `application/problem+json`.
///
/// Handlers return `Result<_, Refusal>` and use `?` on the pipeline, on the
/// repository ([`RepositoryError`] converts) and on [`Problem`]s:
///
/// ```
/// use std::sync::Arc;
/// use axum::extract::{Path, State};
/// use occ_axum::{ConditionalRequest, Refusal, Tagged};
/// use occ_core::repository::MemoryRepository;
/// use occ_core::Versioned;
///
/// #[derive(Clone, serde::Serialize, Versioned)]
/// struct Note { id: u64, #[version] version: u64, text: String }
///
/// async fn read(
///     State(notes): State<Arc<MemoryRepository<Note>>>,
///     Path(id): Path<u64>,
///     request: ConditionalRequest,
/// ) -> Result<Tagged<Note>, Refusal> {
///     // 200, or 304 / 404 / 412, in one read.
///     request.read(&*notes, &id).await
/// }
/// ```
///
/// Each 412 and 428 is logged once, when the response is built: one
/// `tracing` event at INFO level with the method and resource (when the
/// refusal came through a [`ConditionalRequest`](crate::ConditionalRequest)),
/// the header at fault and the current entity tag.
pub struct Refusal(Box<Inner>);

struct Inner {
    kind: Kind,
    method: Option<Method>,
    resource: Option<Uri>,
    header: Option<HeaderName>,
    /// A 404 for a resource that does not exist (as opposed to a URL that
    /// names none), whose detail can name the id.
    missing: bool,
}

/// Whether the request refused with 428 could have created the resource,
/// which decides whether the answer suggests `If-None-Match: *`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Creation {
    /// The route never creates with this request (DELETE, PATCH, a PUT
    /// that does not create, a custom action).
    Never,
    /// The request is a PUT on a route that creates a missing resource
    /// (design decision 3).
    Possible,
    /// Not known here (a layer or a hand-written handler): only a PUT may
    /// create, so only a PUT is told about `If-None-Match: *`, as a
    /// possibility.
    #[default]
    Unknown,
}

enum Kind {
    NotModified(NotModified),
    Problem(Problem),
}

impl Refusal {
    fn new(kind: Kind, header: Option<HeaderName>) -> Self {
        Self(Box::new(Inner {
            kind,
            method: None,
            resource: None,
            header,
            missing: false,
        }))
    }

    /// The 404 of a resource that does not exist.
    fn missing() -> Self {
        let mut refusal: Self = Problem::no_resource().into();
        refusal.0.missing = true;
        refusal
    }

    /// Names the id in the 404 of a missing resource, so that a client
    /// can tell it from a URL that names nothing (whose detail stays "no
    /// resource exists at this URL"). Any other refusal is kept as it is.
    pub(crate) fn naming_id(mut self, id: &dyn fmt::Display) -> Self {
        if self.0.missing {
            if let Kind::Problem(problem) = self.0.kind {
                self.0.kind =
                    Kind::Problem(problem.with_detail(format!("no resource with id {id} exists")));
            }
        }
        self
    }

    /// The status this refusal answers with.
    pub fn status(&self) -> StatusCode {
        match &self.0.kind {
            Kind::NotModified(_) => StatusCode::NOT_MODIFIED,
            Kind::Problem(problem) => problem.status(),
        }
    }

    /// The problem's explanation (`detail`), if any.
    pub fn body_text(&self) -> Option<&str> {
        match &self.0.kind {
            Kind::NotModified(_) => None,
            Kind::Problem(problem) => problem.detail(),
        }
    }

    /// The headers this refusal answers with: a 304's `ETag`,
    /// `Last-Modified`, `Vary` and `Cache-Control`; a problem's
    /// `Content-Type`, current `ETag`, `Cache-Control`, `Retry-After`,
    /// `Allow` or `Accept-Patch`. For an application that answers in its
    /// own error format and must keep them; one that keeps occ's format
    /// wraps the refusal and renders it unchanged:
    ///
    /// ```
    /// use axum::response::{IntoResponse, Response};
    /// use http::{header, StatusCode};
    /// use occ_axum::{NotModified, Refusal};
    /// use occ_core::EntityTag;
    ///
    /// /// The application's errors, occ's refusals among them.
    /// enum AppError {
    ///     Forbidden,
    ///     Occ(Refusal),
    /// }
    ///
    /// impl From<Refusal> for AppError {
    ///     fn from(refusal: Refusal) -> Self {
    ///         Self::Occ(refusal)
    ///     }
    /// }
    ///
    /// impl IntoResponse for AppError {
    ///     fn into_response(self) -> Response {
    ///         match self {
    ///             Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden").into_response(),
    ///             // The app's own body, occ's status and headers.
    ///             Self::Occ(refusal) if refusal.status() != StatusCode::NOT_MODIFIED => {
    ///                 let detail = refusal.body_text().unwrap_or_default().to_owned();
    ///                 (refusal.status(), refusal.headers(), format!("error: {detail}"))
    ///                     .into_response()
    ///             }
    ///             // Or occ's own answer, unchanged.
    ///             Self::Occ(refusal) => refusal.into_response(),
    ///         }
    ///     }
    /// }
    ///
    /// let tag = EntityTag::strong("note-1-v3").unwrap();
    /// let refusal = Refusal::from(NotModified::new(Some(tag)));
    /// assert_eq!(refusal.headers()[header::ETAG], "\"note-1-v3\"");
    /// let response = AppError::from(refusal).into_response();
    /// assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    /// assert_eq!(response.headers()[header::ETAG], "\"note-1-v3\"");
    /// ```
    pub fn headers(&self) -> http::HeaderMap {
        let response = match &self.0.kind {
            Kind::NotModified(not_modified) => not_modified.clone().into_response(),
            Kind::Problem(problem) => problem.clone().into_response(),
        };
        response.into_parts().0.headers
    }

    /// The problem, unless this is a 304.
    pub fn problem(&self) -> Option<&Problem> {
        match &self.0.kind {
            Kind::NotModified(_) => None,
            Kind::Problem(problem) => Some(problem),
        }
    }

    /// Names the request in the log event of a 412 or 428 (nothing else is
    /// logged, so nothing else keeps it).
    pub(crate) fn for_request(mut self, method: &Method, resource: &Uri) -> Self {
        if self.0.header.is_some() {
            self.0.method = Some(method.clone());
            self.0.resource = Some(resource.clone());
        }
        self
    }

    /// Leaves the body out, for a response to HEAD (412-2).
    fn for_head(mut self, head: bool) -> Self {
        if let Kind::Problem(problem) = self.0.kind {
            self.0.kind = Kind::Problem(problem.for_head(head));
        }
        self
    }

    /// 428, naming `If-Match` as the header to send, and
    /// `If-None-Match: *` where the request could create the resource.
    pub(crate) fn precondition_required(method: &Method, creation: Creation) -> Self {
        Self::new(
            Kind::Problem(precondition_required_for(method, creation)),
            Some(http::header::IF_MATCH),
        )
    }

    /// The one way from an outcome of the pipeline to a refusal: every
    /// other conversion (`From`, [`from_rejection`](Self::from_rejection),
    /// `ConditionalRequest::refuse` and its kin) comes here, with what it
    /// knows of the request.
    pub(crate) fn from_outcome<M, B>(rejection: Rejection<M, B>, request: Refused<'_>) -> Self
    where
        M: Versioned,
        B: Into<Problem>,
    {
        let refusal = match rejection {
            Rejection::NotModified {
                etag,
                last_modified,
                as_of,
            } => Self::new(
                Kind::NotModified(
                    NotModified::new(Some(etag))
                        .with_last_modified(last_modified)
                        .as_of(as_of),
                ),
                None,
            ),
            Rejection::NotFound => Self::missing(),
            // The 428 says what this method can send.
            Rejection::PreconditionRequired => match request.method {
                Some(method) => Self::precondition_required(method, request.creation),
                None => Self::new(
                    Kind::Problem(precondition_required()),
                    Some(http::header::IF_MATCH),
                ),
            },
            // A weak tag in `If-Match` never passes: say so (IM-1), not
            // "the resource was changed".
            Rejection::PreconditionFailed {
                failure: Failure::IfMatchMismatch,
                current,
            } if request.preconditions.is_some_and(has_weak_tag) => {
                let problem =
                    Problem::new(StatusCode::PRECONDITION_FAILED).with_detail(WEAK_IF_MATCH);
                let problem = match current {
                    Some(current) => problem.with_current_etag(current.entity_tag()),
                    None => problem,
                };
                Self::new(Kind::Problem(problem), Some(http::header::IF_MATCH))
            }
            Rejection::PreconditionFailed { failure, current } => {
                precondition_failed(&failure, current.map(|c| c.entity_tag()))
            }
            Rejection::Body(body) => body.into().into(),
            Rejection::Repository(error) => error.into(),
        };
        let refusal = refusal.with_current_text(request.current);
        match request.method {
            Some(method) => {
                let refusal = match request.resource {
                    Some(resource) => refusal.for_request(method, resource),
                    None => refusal,
                };
                refusal.for_head(*method == Method::HEAD)
            }
            None => refusal,
        }
    }

    /// Adds the current representation (JSON text) to a 412 that carries
    /// the current tag; any other refusal is kept as it is, so that a
    /// missing resource (or one outside the caller's scope, a 404) never
    /// shows one.
    fn with_current_text(mut self, current: Option<String>) -> Self {
        if let (Some(text), Kind::Problem(problem)) = (current, &mut self.0.kind) {
            if problem.status() == StatusCode::PRECONDITION_FAILED
                && problem.current_etag().is_some()
            {
                problem.set_current_text(text);
            }
        }
        self
    }

    /// [`from_rejection`](Self::from_rejection), and a 412 on a resource
    /// that exists also carries its current representation in the
    /// `current` member, as a GET would send it (design decision 16), so
    /// that the client can merge and retry without reading it again. A
    /// 412 on a missing resource carries neither tag nor representation.
    ///
    /// Use it where the model is `Serialize`; [`from_rejection`](Self::from_rejection)
    /// sends the tag alone.
    ///
    /// ```
    /// use http::StatusCode;
    /// use occ_axum::Refusal;
    /// use occ_core::pipeline::Rejection;
    /// use occ_core::{Failure, Versioned};
    ///
    /// #[derive(serde::Serialize, Versioned)]
    /// struct Note { id: u64, #[version] version: u64, text: String }
    ///
    /// let current = Note { id: 1, version: 4, text: "hi".into() };
    /// let rejection: Rejection<Note> = Rejection::PreconditionFailed {
    ///     failure: Failure::IfMatchMismatch,
    ///     current: Some(Box::new(current)),
    /// };
    /// let refusal = Refusal::from_rejection_with_current(rejection);
    /// assert_eq!(refusal.status(), StatusCode::PRECONDITION_FAILED);
    /// let problem = refusal.problem().unwrap();
    /// assert_eq!(problem.current(), Some(r#"{"id":1,"version":4,"text":"hi"}"#));
    /// ```
    pub fn from_rejection_with_current<M, B>(rejection: Rejection<M, B>) -> Self
    where
        M: Versioned + Serialize,
        B: Into<Problem>,
    {
        let current = current_text(&rejection);
        Self::from_outcome(rejection, Refused::default().with_current(current))
    }

    /// The refusal for an outcome of the pipeline; the body's own error
    /// becomes its problem. A 412 carries the current tag (design decision
    /// 5) but not the representation: see
    /// [`from_rejection_with_current`](Self::from_rejection_with_current).
    pub fn from_rejection<M, B>(rejection: Rejection<M, B>) -> Self
    where
        M: Versioned,
        B: Into<Problem>,
    {
        Self::from_outcome(rejection, Refused::default())
    }
}

/// What a refusal may say of the request it refuses; a conversion without
/// a request (`From`, [`Refusal::from_rejection`]) knows none of it.
#[derive(Debug, Default)]
pub(crate) struct Refused<'a> {
    /// The method: a 428 suggests what it can send, HEAD gets no body.
    pub(crate) method: Option<&'a Method>,
    /// The target, for the log event of a 412 or 428.
    pub(crate) resource: Option<&'a Uri>,
    /// The preconditions, to explain a 412 on a weak tag.
    pub(crate) preconditions: Option<&'a Preconditions>,
    /// Whether the request could have created the resource.
    pub(crate) creation: Creation,
    /// The current representation as JSON text, for a 412 that names it.
    pub(crate) current: Option<String>,
}

impl Refused<'_> {
    fn with_current(mut self, current: Option<String>) -> Self {
        self.current = current;
        self
    }
}

/// The current representation a rejection holds, as JSON text: only a
/// failed precondition on a resource that exists has one.
pub(crate) fn current_text<M, B>(rejection: &Rejection<M, B>) -> Option<String>
where
    M: Versioned + Serialize,
{
    let current: &M = match rejection {
        Rejection::PreconditionFailed {
            current: Some(current),
            ..
        }
        | Rejection::Repository(
            RepositoryError::PreconditionFailed { current }
            | RepositoryError::MergeConflict { current, .. }
            | RepositoryError::AlreadyExists {
                current: Some(current),
            },
        ) => current,
        _ => return None,
    };
    match serde_json::to_string(current) {
        Ok(text) => Some(text),
        Err(error) => {
            tracing::error!(%error, "cannot serialize the current representation for a 412");
            None
        }
    }
}

const WEAK_IF_MATCH: &str =
    "If-Match compares entity tags strongly, so a weak tag (W/\"…\") never \
     matches; send the strong ETag from a GET of this resource";

/// Whether `If-Match` lists a weak tag: the reason a 412 on it deserves
/// its own explanation (IM-1), not "the resource was changed".
fn has_weak_tag(preconditions: &Preconditions) -> bool {
    preconditions.if_match().is_some_and(|list| {
        list.elements()
            .any(|element| matches!(element, Ok(ListElement::Tag(tag)) if tag.is_weak()))
    })
}

const CONDITIONAL: &str =
    "this request must be conditional: send If-Match with the ETag from a GET of this resource";

/// The 428 answer (428-1 … 428-3) where only `If-Match` fits: says which
/// header to send and where to get the tag, and must not be stored.
pub(crate) fn precondition_required() -> Problem {
    Problem::new(StatusCode::PRECONDITION_REQUIRED)
        .with_detail(CONDITIONAL)
        .no_store()
}

/// The 428 answer for a request with `method`: `If-None-Match: *` is
/// suggested only where it could create the resource (design decision 3);
/// on DELETE, PATCH or a PUT that cannot create it would only earn a 404
/// or 412.
pub(crate) fn precondition_required_for(method: &Method, creation: Creation) -> Problem {
    let detail = match (creation, *method == Method::PUT) {
        (Creation::Possible, true) => Some(
            "this request must be conditional: send If-Match with the ETag from a GET of this \
             resource, or If-None-Match: * to create it only if it does not exist",
        ),
        (Creation::Unknown, true) => Some(
            "this request must be conditional: send If-Match with the ETag from a GET of this \
             resource (or, where this PUT creates resources, If-None-Match: * to create it only \
             if it does not exist)",
        ),
        _ => None,
    };
    match detail {
        Some(detail) => Problem::new(StatusCode::PRECONDITION_REQUIRED)
            .with_detail(detail)
            .no_store(),
        None => precondition_required(),
    }
}

/// The 412 answer, with the current tag when there is a resource
/// (design decision 5).
fn precondition_failed(failure: &Failure, current: Option<occ_core::EntityTag>) -> Refusal {
    let problem = Problem::new(StatusCode::PRECONDITION_FAILED).with_detail(failure.message());
    let problem = match current {
        Some(tag) => problem.with_current_etag(tag),
        None => problem,
    };
    Refusal::new(Kind::Problem(problem), Some(failure.header()))
}

impl<M: Versioned, B: Into<Problem>> From<Rejection<M, B>> for Refusal {
    fn from(rejection: Rejection<M, B>) -> Self {
        Self::from_rejection(rejection)
    }
}

impl From<Problem> for Refusal {
    fn from(problem: Problem) -> Self {
        Self::new(Kind::Problem(problem), None)
    }
}

impl From<NotModified> for Refusal {
    fn from(not_modified: NotModified) -> Self {
        Self::new(Kind::NotModified(not_modified), None)
    }
}

impl<M: Versioned> From<RepositoryError<M>> for Refusal {
    /// The refusal for a repository outcome (`?` in a handler). A failed
    /// write condition is 412 with the current tag; for the current
    /// representation too, convert with
    /// `Refusal::from_rejection_with_current(Rejection::<M, Problem>::Repository(error))`
    /// ([`from_rejection_with_current`](Refusal::from_rejection_with_current)).
    fn from(error: RepositoryError<M>) -> Self {
        if matches!(error, RepositoryError::NotFound) {
            return Self::missing();
        }
        let header = matches!(
            error,
            RepositoryError::PreconditionFailed { .. } | RepositoryError::MergeConflict { .. }
        )
        .then_some(http::header::IF_MATCH);
        Self::new(Kind::Problem(error.into()), header)
    }
}

impl<M: Versioned> From<RepositoryError<M>> for Problem {
    /// The status of each repository outcome. Backend details stay in the
    /// log (PD-11): a transient failure is 503 "retry later", anything else
    /// the backend refused (a schema that does not fit the model) is 500.
    fn from(error: RepositoryError<M>) -> Self {
        match error {
            RepositoryError::NotFound => Problem::no_resource(),
            RepositoryError::PreconditionFailed { current } => {
                Problem::new(StatusCode::PRECONDITION_FAILED)
                    .with_detail(Failure::IfMatchMismatch.message())
                    .with_current_etag(current.entity_tag())
            }
            RepositoryError::MergeConflict { current, conflicts } => {
                Problem::new(StatusCode::PRECONDITION_FAILED)
                    .with_detail("members this request sets changed after the version in If-Match")
                    .with_current_etag(current.entity_tag())
                    .with_conflicts(conflicts)
            }
            RepositoryError::AlreadyExists {
                current: Some(current),
            } => Problem::new(StatusCode::PRECONDITION_FAILED)
                .with_detail("a resource with this id exists already")
                .with_current_etag(current.entity_tag()),
            // Taken outside the caller's scope: what a POST of the id says.
            RepositoryError::AlreadyExists { current: None } => Problem::new(StatusCode::CONFLICT)
                .with_detail("a resource with this id exists already"),
            RepositoryError::Invalid(why) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(why)
            }
            RepositoryError::VersionExhausted => Problem::new(StatusCode::CONFLICT)
                .with_detail("the resource's version counter is exhausted"),
            RepositoryError::Unavailable(source) => match source.downcast_ref::<RetryAfter>() {
                // A replica behind the client's floor (a read policy).
                Some(retry) => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .with_detail("the state this client has seen is not readable yet; retry later")
                    .with_header(
                        http::header::RETRY_AFTER,
                        // Whole seconds, rounded up.
                        HeaderValue::from(retry.after.as_secs_f64().ceil().max(1.0) as u64),
                    ),
                None => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .with_detail("the storage backend is unavailable; retry later"),
            },
            RepositoryError::Internal(_) => Problem::internal_error(),
            _ => Problem::new(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let Inner {
            kind,
            method,
            resource,
            header,
            missing: _,
        } = *self.0;
        match kind {
            Kind::NotModified(not_modified) => not_modified.into_response(),
            Kind::Problem(problem) => {
                log(
                    &problem,
                    method.as_ref(),
                    resource.as_ref().map(Uri::path),
                    header,
                );
                problem.into_response()
            }
        }
    }
}

/// The one event of a 412 or 428.
fn log(
    problem: &Problem,
    method: Option<&Method>,
    resource: Option<&str>,
    header: Option<HeaderName>,
) {
    let method = method.map(tracing::field::display);
    let current = problem.current_etag().map(tracing::field::display);
    match problem.status() {
        StatusCode::PRECONDITION_REQUIRED => {
            tracing::info!(method, resource, current, "precondition required");
        }
        StatusCode::PRECONDITION_FAILED => {
            let header = header.as_ref().map(tracing::field::display);
            tracing::info!(
                method,
                resource,
                header,
                current,
                "precondition failed: {}",
                problem.detail().unwrap_or_default()
            );
        }
        _ => {}
    }
}

impl fmt::Debug for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refusal")
            .field("status", &self.status())
            .field("detail", &self.body_text())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.body_text() {
            Some(detail) => write!(f, "{}: {detail}", self.status()),
            None => write!(f, "{}", self.status()),
        }
    }
}

impl std::error::Error for Refusal {}
