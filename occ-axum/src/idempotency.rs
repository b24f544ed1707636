//! `Idempotency-Key` on writes (IETF HTTP API draft "The Idempotency-Key
//! HTTP Header Field"): a retried write is applied once, and its retry
//! gets the first attempt's response.
//!
//! The generated routes do it on POST, PUT, PATCH and DELETE whenever the
//! repository keeps keys ([`Repository::keeps_idempotency_keys`]): the
//! memory repository always, the SQL repository with
//! [`with_idempotency_keys`](occ_core::repository::sql::SqlRepository::with_idempotency_keys).
//! A hand-written handler does the same with [`attempt`]: its write goes
//! to the repository, or into the claimed key's transaction, or is not run
//! at all (a replay, a refusal):
//!
//! ```
//! use std::sync::Arc;
//! use axum::extract::{Request, State};
//! use axum::response::{IntoResponse, Response};
//! use axum::routing::put;
//! use occ_axum::idempotency::attempt;
//! use occ_core::repository::{MemoryRepository, Repository};
//! use occ_core::Versioned;
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
//! struct Note { id: u64, #[version] version: u64, text: String }
//!
//! async fn write(repo: &dyn Repository<Note>, request: Request) -> Response {
//!     // … the handler's conditional write through `repo` …
//! # let _ = (repo, request);
//!     http::StatusCode::NO_CONTENT.into_response()
//! }
//!
//! async fn handler(State(notes): State<Arc<MemoryRepository<Note>>>, request: Request) -> Response {
//!     let (attempt, request) = match attempt(&*notes, request, 64 * 1024).await {
//!         Ok(attempt) => attempt,
//!         Err(answer) => return answer,
//!     };
//!     let response = write(attempt.repository(), request).await;
//!     attempt.finish(response).await
//! }
//!
//! let app: axum::Router = axum::Router::new()
//!     .route("/notes/{id}", put(handler))
//!     .with_state(Arc::new(MemoryRepository::<Note>::new()));
//! ```
//!
//! [`begin`] and [`finish`] are its two halves, for a handler that needs
//! the claim itself ([`Keyed`]).
//!
//! What a client sees:
//! - a repeat with the same key and the same request (method, URI,
//!   `Content-Type`, the precondition headers, the body) gets the recorded
//!   response, with `Idempotent-Replayed: true`, before any precondition is
//!   evaluated: a retried PUT that landed gets its 200 and `ETag`, not 412;
//! - the same key with another request: 422;
//! - the same key while its first request runs (or until the lease of a
//!   server that died holding it runs out): 409 with `Retry-After`;
//! - a value that is not an sf-string (`"…"`, at most 255 characters):
//!   400.
//!
//! 5xx answers are not recorded, and their claim is released: a retry
//! runs again. Every other answer is recorded with the write's outcome.

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, OriginalUri, Request};
use axum::response::{IntoResponse, Response};
use http::header::{
    ACCEPT_RANGES, ALLOW, CACHE_CONTROL, CONTENT_LOCATION, CONTENT_TYPE, ETAG, IF_MATCH,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE, LAST_MODIFIED, LOCATION, RETRY_AFTER,
    VARY,
};
use http::{HeaderName, HeaderValue, StatusCode};
use occ_core::idempotency::{Fingerprint, Finished, IdempotencyKey, Principal, StoredResponse};
use occ_core::repository::{Claim, KeyedWrite, Repository, RepositoryError, Scope, ScopeValue};
use occ_core::Versioned;

use crate::headers::ACCEPT_PATCH;
use crate::problem::Problem;
use crate::refusal::Refusal;

pub use crate::headers::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};

/// The headers a recorded response keeps: those that describe the
/// outcome. `Date` and the connection's own are the replay's.
const KEPT: [HeaderName; 10] = [
    ACCEPT_PATCH,
    VARY,
    CACHE_CONTROL,
    CONTENT_TYPE,
    ETAG,
    LAST_MODIFIED,
    LOCATION,
    CONTENT_LOCATION,
    ALLOW,
    ACCEPT_RANGES,
];

/// What [`begin`] made of a request.
pub enum Keyed<'a, M>
where
    M: Versioned + Send + Sync + 'static,
{
    /// No `Idempotency-Key`: handle the request as usual.
    Plain(Request),
    /// The key is this request's: write through
    /// [`claim.repository()`](KeyedWrite::repository), then [`finish`].
    Claimed(Box<dyn KeyedWrite<M> + 'a>, Request),
    /// The key's first request completed: its recorded answer, sent again
    /// without running the handler (`Idempotent-Replayed: true`).
    Replayed(Response),
    /// Refused without running the handler: a 400 (a malformed key, or
    /// one where none are kept), 409 (in progress), 413, 422 (used for
    /// another request) or 5xx problem; convert it as any other
    /// [`Refusal`].
    Refused(Refusal),
}

impl<M> std::fmt::Debug for Keyed<'_, M>
where
    M: Versioned + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plain(_) => f.write_str("Plain"),
            Self::Claimed(..) => f.write_str("Claimed"),
            Self::Replayed(response) => f.debug_tuple("Replayed").field(response).finish(),
            Self::Refused(refusal) => f.debug_tuple("Refused").field(&refusal.status()).finish(),
        }
    }
}

/// Reads a write's `Idempotency-Key` and claims it in `repo`: the body is
/// read (up to `body_limit` bytes, 413 beyond) to fingerprint the request,
/// and given back in the request to handle.
pub async fn begin<'a, M, R>(repo: &'a R, request: Request, body_limit: usize) -> Keyed<'a, M>
where
    M: Versioned + Send + Sync + 'static,
    R: Repository<M> + ?Sized,
{
    let mut values = request.headers().get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Keyed::Plain(request);
    };
    if values.next().is_some() {
        return answer(bad_key("send one Idempotency-Key"));
    }
    let key = match IdempotencyKey::parse(value.as_bytes()) {
        Ok(key) => key,
        Err(why) => return answer(bad_key(why.to_string())),
    };
    if !repo.keeps_idempotency_keys() {
        // A client that sends a key has asked for exactly-once: refused
        // plainly rather than ignored (a retry would apply it twice).
        return answer(bad_key(
            "this route keeps no Idempotency-Key: it cannot promise that a retry is applied once; send the request without one",
        ));
    }
    let (parts, body) = request.into_parts();
    let bytes = match crate::body::read_body(body, body_limit).await {
        Ok(bytes) => bytes,
        Err(too_large) => return answer(too_large),
    };
    let fingerprint = fingerprint(&parts, &bytes);
    let namespace = namespace_of(&parts);
    match repo.claim_key(&key, &namespace, &fingerprint).await {
        Ok(Claim::Claimed(claim)) => {
            Keyed::Claimed(claim, Request::from_parts(parts, Body::from(bytes)))
        }
        Ok(Claim::Replay(stored)) => {
            tracing::debug!(key = %key, status = stored.status, "idempotent response replayed");
            Keyed::Replayed(replay(stored))
        }
        Ok(Claim::InFlight) => answer(
            Problem::new(StatusCode::CONFLICT)
                .with_detail("a request with this Idempotency-Key is in progress: retry later")
                .with_header(RETRY_AFTER, HeaderValue::from_static("1")),
        ),
        Ok(Claim::Mismatch) => answer(Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(
            "this Idempotency-Key was used for a different request: use a new key for a new request",
        )),
        Err(e) => answer(unavailable(&e)),
    }
}

/// A write to run once per `Idempotency-Key`, made by [`attempt`]: on the
/// repository when the request has no key, or in the claimed key's
/// transaction; then [`Attempt::finish`] with its response.
pub struct Attempt<'a, M: Versioned> {
    repo: &'a dyn Repository<M>,
    claim: Option<Box<dyn KeyedWrite<M> + 'a>>,
}

impl<M: Versioned> std::fmt::Debug for Attempt<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("keyed", &self.claim.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a, M> Attempt<'a, M>
where
    M: Versioned + Send + Sync + 'static,
{
    /// Where the write goes: the claimed key's transaction, or the
    /// repository.
    pub fn repository(&self) -> &(dyn Repository<M> + '_) {
        match &self.claim {
            Some(claim) => claim.repository(),
            None => self.repo,
        }
    }

    /// The write's `response`, recorded for its key ([`finish`]) when it
    /// has one.
    pub async fn finish(self, response: Response) -> Response {
        match self.claim {
            Some(claim) => finish(claim, response).await,
            None => response,
        }
    }
}

/// [`begin`] for a handler that writes the same way with a key or
/// without: the [`Attempt`] and the request to handle, or the answer to
/// send without running the write (a replay, or a 400, 409, 413, 422 or
/// 5xx refusal).
pub async fn attempt<'a, M>(
    repo: &'a dyn Repository<M>,
    request: Request,
    body_limit: usize,
) -> Result<(Attempt<'a, M>, Request), Response>
where
    M: Versioned + Send + Sync + 'static,
{
    match begin(repo, request, body_limit).await {
        Keyed::Plain(request) => Ok((Attempt { repo, claim: None }, request)),
        Keyed::Claimed(claim, request) => Ok((
            Attempt {
                repo,
                claim: Some(claim),
            },
            request,
        )),
        Keyed::Replayed(response) => Err(response),
        Keyed::Refused(refusal) => Err(refusal.into_response()),
    }
}

/// Records `response` for the claimed key with the write, and returns it.
/// A 5xx is not recorded: the write is rolled back and the claim released.
/// When the record cannot be committed, a success becomes 503 (a retry
/// with the same key finds out whether it landed); a refusal, which wrote
/// nothing, is sent unrecorded.
pub async fn finish<M>(claim: Box<dyn KeyedWrite<M> + '_>, response: Response) -> Response
where
    M: Versioned + Send + Sync + 'static,
{
    if response.status().is_server_error() {
        claim.abandon().await;
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "a response body could not be read for its record");
            claim.abandon().await;
            return Problem::internal_error().into_response();
        }
    };
    let stored = StoredResponse {
        status: parts.status.as_u16(),
        headers: KEPT
            .iter()
            .filter_map(|name| {
                let value = parts.headers.get(name)?.to_str().ok()?;
                Some((name.as_str().to_owned(), value.to_owned()))
            })
            .collect(),
        body: bytes.to_vec(),
    };
    let success = parts.status.is_success();
    match claim.finish(&stored).await {
        Ok(Finished::Recorded) => Response::from_parts(parts, Body::from(bytes)),
        Ok(Finished::Superseded) => {
            tracing::warn!("a keyed write outlived its lease and was rolled back");
            Problem::new(StatusCode::CONFLICT)
                .with_detail(
                    "another request with this Idempotency-Key took over: retry to get its answer",
                )
                .with_header(RETRY_AFTER, HeaderValue::from_static("1"))
                .into_response()
        }
        Err(e) if success => unavailable(&e).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "a refusal was sent without its idempotency record");
            Response::from_parts(parts, Body::from(bytes))
        }
    }
}

/// What makes two requests with one key "the same request": the method,
/// the path and query as the client sent them, `Content-Type`, the precondition
/// headers and the body. Other headers (`Date`, tracing, authorization
/// tokens that rotate) may differ between a request and its retry.
pub fn fingerprint(parts: &http::request::Parts, body: &[u8]) -> Fingerprint {
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |original| &original.0);
    // The path and query only: HTTP/2 puts the scheme and authority in
    // the URI, HTTP/1.1 does not, and a retry may change protocol or host.
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut fingerprint = Fingerprint::builder()
        .part(parts.method.as_str().as_bytes())
        .part(target.as_bytes());
    for name in [
        CONTENT_TYPE,
        IF_MATCH,
        IF_NONE_MATCH,
        IF_UNMODIFIED_SINCE,
        IF_MODIFIED_SINCE,
    ] {
        for value in parts.headers.get_all(&name) {
            fingerprint = fingerprint
                .part(name.as_str().as_bytes())
                .part(value.as_bytes());
        }
    }
    fingerprint.part(body).finish()
}

/// The namespace of the request's keys: its [`Scope`], its [`Principal`]
/// (both put in the extensions by the layer that authenticated it), its
/// method and its route (axum's [`MatchedPath`], such as
/// `/notes/{id}`; the path where no route matched). Keys of two tenants,
/// two callers or two routes never meet.
pub fn namespace_of(parts: &http::request::Parts) -> String {
    let scope = parts.extensions.get::<Scope>().map(|scope| {
        let value = match scope.value() {
            ScopeValue::Int(i) => serde_json::Value::from(*i),
            ScopeValue::Text(t) => serde_json::Value::from(t.as_str()),
            _ => serde_json::Value::from(scope.value().to_string()),
        };
        serde_json::json!([scope.column(), value])
    });
    let principal = parts.extensions.get::<Principal>().map(Principal::as_str);
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or(parts.uri.path(), MatchedPath::as_str);
    // JSON: no two sets of parts give one text.
    serde_json::json!({
        "scope": scope,
        "principal": principal,
        "method": parts.method.as_str(),
        "route": route,
    })
    .to_string()
}

/// A recorded response, sent again.
fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::from(Bytes::from(stored.body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    response
}

fn bad_key(detail: impl Into<std::borrow::Cow<'static, str>>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST).with_detail(detail)
}

fn unavailable<M>(error: &RepositoryError<M>) -> Problem {
    match error {
        RepositoryError::Unavailable(_) => {
            tracing::warn!(error = %error, "idempotency key store unavailable");
            Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                .with_detail("the service is unavailable: retry with the same Idempotency-Key")
                .with_header(RETRY_AFTER, HeaderValue::from_static("1"))
        }
        _ => {
            tracing::error!(error = %error, "idempotency key store failed");
            Problem::internal_error()
        }
    }
}

fn answer<M>(problem: Problem) -> Keyed<'static, M>
where
    M: Versioned + Send + Sync + 'static,
{
    Keyed::Refused(Refusal::from(problem))
}
