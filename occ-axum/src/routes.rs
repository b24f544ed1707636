//! Generated conditional CRUD routes for any [`Versioned`] model and
//! [`Repository`].
// The handlers short-circuit with a finished `Response` on the cold path, as
// axum handlers do; boxing it would only add an allocation to refusals.
#![allow(clippy::result_large_err)]

use std::fmt::Display;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, OriginalUri, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use occ_core::repository::{Repository, RepositoryError, WriteCondition};
use occ_core::{EntityTag, Target, VersionNumber, Versioned};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::policy::{Policy, Refused};
use crate::{Problem, Tagged};

/// The media type PATCH accepts (MP-1).
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";

const ALLOW_ITEM: &str = "GET, HEAD, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_COLLECTION: &str = "GET, HEAD, POST, OPTIONS";

/// How PUT treats its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PutMode {
    /// The body is the whole new representation (RFC 9110 §9.3.4).
    #[default]
    Replace,
    /// The body holds the members to change, merged into the current
    /// representation as a JSON merge patch would be (the reference
    /// scenario: `PUT {"city":"Lyon"}` keeps the name).
    Merge,
}

/// A builder of the conditional routes of one resource collection:
///
/// | route | does |
/// | --- | --- |
/// | `GET`/`HEAD /{id}` | 200 with `ETag`; 304 on a matching `If-None-Match`; 412 on a failed `If-Match` |
/// | `PUT /{id}` | replace (or merge, [`PutMode::Merge`]) with a compare-and-swap; `If-None-Match: *` creates when [`creating_put`](ConditionalRoutes::creating_put) is on |
/// | `PATCH /{id}` | `application/merge-patch+json`, atomic |
/// | `DELETE /{id}` | 204 |
/// | `POST /` | 201 with `Location` and `ETag` |
/// | `GET /` | keyset pages: `?after=<id>&limit=<n>` |
/// | `OPTIONS` | `Allow` and `Accept-Patch`; other methods get 405 with `Allow` |
///
/// Writes without a precondition get 428 under the default policy. Every
/// error is `application/problem+json`.
///
/// ```
/// use std::sync::Arc;
/// use axum::Router;
/// use occ_axum::routes::{ConditionalRoutes, PutMode};
/// use occ_core::repository::MemoryRepository;
/// use occ_core::Versioned;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
/// #[occ(etag = "prof-{id}-v{version}")]
/// struct Profile { id: i64, #[version] version: i64, name: String, city: String }
///
/// let repo = Arc::new(MemoryRepository::<Profile>::new());
/// let app: Router = Router::new().nest(
///     "/profiles",
///     ConditionalRoutes::new(repo).put_mode(PutMode::Merge).into_router(),
/// );
/// ```
pub struct ConditionalRoutes<M, R: ?Sized> {
    config: Config<R>,
    _model: PhantomData<fn() -> M>,
}

struct Config<R: ?Sized> {
    repo: Arc<R>,
    policy: Policy,
    put_mode: PutMode,
    creating_put: bool,
    body_limit: usize,
    page_limit: u32,
}

impl<R: ?Sized> Clone for Config<R> {
    fn clone(&self) -> Self {
        Self {
            repo: self.repo.clone(),
            policy: self.policy,
            put_mode: self.put_mode,
            creating_put: self.creating_put,
            body_limit: self.body_limit,
            page_limit: self.page_limit,
        }
    }
}

impl<M, R> ConditionalRoutes<M, R>
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Serialize + Display + Clone + Send + Sync + 'static,
    R: Repository<M> + ?Sized + 'static,
{
    /// Routes over `repo`, with the defaults: preconditions required,
    /// replacing PUT that does not create, 64 KiB bodies, pages of 100.
    pub fn new(repo: Arc<R>) -> Self {
        Self {
            config: Config {
                repo,
                policy: Policy::Required,
                put_mode: PutMode::Replace,
                creating_put: false,
                body_limit: 64 * 1024,
                page_limit: 100,
            },
            _model: PhantomData,
        }
    }

    /// Whether writes must carry a precondition (default: required).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.config.policy = policy;
        self
    }

    /// How PUT treats its body (default: [`PutMode::Replace`]).
    pub fn put_mode(mut self, mode: PutMode) -> Self {
        self.config.put_mode = mode;
        self
    }

    /// Whether PUT may create a missing resource (with `If-None-Match: *`,
    /// or without precondition under [`Policy::Optional`]). Default: no, a
    /// missing resource is 404.
    pub fn creating_put(mut self, creates: bool) -> Self {
        self.config.creating_put = creates;
        self
    }

    /// The largest request body accepted, in bytes; larger ones get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    /// The largest page `GET /` returns.
    pub fn page_limit(mut self, limit: u32) -> Self {
        self.config.page_limit = limit.max(1);
        self
    }

    /// The router, to be nested under the collection's path.
    pub fn into_router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let config = self.config;
        let item: MethodRouter<Config<R>> = get(get_item::<M, R>)
            .put(put_item::<M, R>)
            .patch(patch_item::<M, R>)
            .delete(delete_item::<M, R>)
            .options(|| async { options(ALLOW_ITEM) })
            .fallback(|| async { method_not_allowed(ALLOW_ITEM) });
        let collection: MethodRouter<Config<R>> = get(list::<M, R>)
            .post(create::<M, R>)
            .options(|| async { options(ALLOW_COLLECTION) })
            .fallback(|| async { method_not_allowed(ALLOW_COLLECTION) });
        Router::new()
            .route("/", collection)
            .route("/{id}", item)
            .fallback(|| async {
                Problem::new(StatusCode::NOT_FOUND).with_detail("no resource exists at this URL")
            })
            .with_state(config)
    }
}

fn options(allow: &'static str) -> Response {
    let mut response = crate::bodiless::response(StatusCode::NO_CONTENT);
    let headers = response.headers_mut();
    headers.insert(ALLOW, HeaderValue::from_static(allow));
    // PATCH-6: advertise the patch format.
    headers.insert("accept-patch", HeaderValue::from_static(MERGE_PATCH_JSON));
    response
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut response = Problem::new(StatusCode::METHOD_NOT_ALLOWED)
        .with_detail(format!("allowed methods: {allow}"))
        .into_response();
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

/// Splits a request into the parts a handler reads (borrowed from there,
/// where one extractor each would clone them: `HeaderMap` copies the whole
/// map), its id from the path, and its body.
async fn split<Id: DeserializeOwned + Send>(
    request: Request,
) -> (http::request::Parts, Result<Id, Response>, Body) {
    let (mut parts, body) = request.into_parts();
    let id = parse_id(Path::<Id>::from_request_parts(&mut parts, &()).await);
    (parts, id, body)
}

/// The URI as the client sent it, before nesting stripped a prefix.
fn original_uri(parts: &http::request::Parts) -> &http::Uri {
    parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |original| &original.0)
}

/// A path id that does not parse names no resource: 404, as problem details.
fn parse_id<Id: DeserializeOwned>(
    raw: Result<Path<Id>, axum::extract::rejection::PathRejection>,
) -> Result<Id, Response> {
    raw.map(|Path(id)| id).map_err(|rejection| {
        tracing::debug!(%rejection, "unparsable id");
        Problem::new(StatusCode::NOT_FOUND)
            .with_detail("no resource exists at this URL")
            .into_response()
    })
}

/// The current state: `Ok(None)` when missing, a problem when the backend
/// failed.
async fn current<M, R>(repo: &R, id: &M::Id) -> Result<Option<M>, Response>
where
    M: Versioned + Send + Sync + 'static,
    M::Id: Send + Sync,
    R: Repository<M> + ?Sized,
{
    match repo.get(id).await {
        Ok(model) => Ok(Some(model)),
        Err(RepositoryError::NotFound) => Ok(None),
        Err(other) => Err(Problem::from(other).into_response()),
    }
}

/// Evaluates the request's preconditions on `current` (PR-1). On success,
/// the current entity tag, for a response that repeats it.
fn evaluate<M: Versioned>(
    method: &Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    current: Option<&M>,
    creatable: bool,
    policy: Policy,
) -> Result<Option<EntityTag>, Response> {
    let preconditions = occ_core::Preconditions::from_headers(headers);
    let etag = current.map(Versioned::entity_tag);
    let target = match (current, &etag) {
        (Some(model), Some(etag)) => Target::of(model, etag),
        _ => Target::missing_of::<M>().creatable(creatable),
    };
    let decision = preconditions.evaluate(method, &target, policy);
    match Refused::from_decision(decision, method, uri.path(), etag.as_ref()) {
        None => Ok(etag),
        Some(refused) => Err(refused.into_response()),
    }
}

/// Checks the media type (415 beats 412, EV-2) for a body of `expected`.
fn require_media_type(
    headers: &HeaderMap,
    expected: &str,
    accept_patch: bool,
) -> Result<(), Response> {
    let ok = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected));
    if ok {
        return Ok(());
    }
    let mut response = Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        .with_detail(format!("send the body as {expected}"))
        .into_response();
    if accept_patch {
        response
            .headers_mut()
            .insert("accept-patch", HeaderValue::from_static(MERGE_PATCH_JSON));
    }
    Err(response)
}

/// Reads the body up to the limit (413 beyond).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
            .with_detail(format!("the body is larger than {limit} bytes"))
            .into_response()
    })
}

/// Parses JSON: a syntax error is 400, a value of the wrong shape 422.
/// One pass: serde_json tells the two apart by the error's category.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(bytes).map_err(|e| {
        let (status, what) = match e.classify() {
            serde_json::error::Category::Data => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "the body does not describe a valid resource",
            ),
            _ => (StatusCode::BAD_REQUEST, "the body is not valid JSON"),
        };
        Problem::new(status)
            .with_detail(format!("{what}: {e}"))
            .into_response()
    })
}

fn same_id<M: Versioned>(a: &M::Id, b: &M::Id) -> bool {
    // Tags bind ids injectively: equal tags at one version, equal ids.
    M::entity_tag_for(a, M::Version::INITIAL) == M::entity_tag_for(b, M::Version::INITIAL)
}

fn location(uri: &http::Uri, id: &impl Display) -> Option<HeaderValue> {
    let path = uri.path().trim_end_matches('/');
    let id = occ_core::EntityTagBuilder::strong().value(id).finish();
    // The builder percent-encodes anything outside visible ASCII.
    let encoded = String::from_utf8_lossy(id.opaque()).into_owned();
    HeaderValue::from_str(&format!("{path}/{encoded}")).ok()
}

async fn get_item<M, R>(State(config): State<Config<R>>, request: Request) -> Response
where
    M: Versioned + Serialize + Send + Sync + 'static,
    M::Id: DeserializeOwned + Send + Sync,
    R: Repository<M> + ?Sized,
{
    let (parts, id, _) = split::<M::Id>(request).await;
    let (method, headers, uri) = (&parts.method, &parts.headers, original_uri(&parts));
    let result = async {
        let id = id?;
        let current = current::<M, R>(&config.repo, &id).await?;
        let etag = evaluate(method, uri, headers, current.as_ref(), false, config.policy)?;
        match (current, etag) {
            (Some(model), Some(etag)) => {
                Ok(Tagged::ok(model).with_entity_tag(etag).into_response())
            }
            // `evaluate` answers 404 for a missing resource on GET.
            _ => Err(Problem::new(StatusCode::NOT_FOUND).into_response()),
        }
    };
    result.await.unwrap_or_else(|response| response)
}

async fn put_item<M, R>(State(config): State<Config<R>>, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Display + Send + Sync,
    R: Repository<M> + ?Sized,
{
    let (parts, id, body) = split::<M::Id>(request).await;
    let (method, headers, uri) = (&parts.method, &parts.headers, original_uri(&parts));
    let result = async {
        let id = id?;
        require_media_type(headers, "application/json", false)?;
        let current = current::<M, R>(&config.repo, &id).await?;
        evaluate(
            method,
            uri,
            headers,
            current.as_ref(),
            config.creating_put,
            config.policy,
        )?;
        let bytes = read_body(body, config.body_limit).await?;
        match current {
            Some(current) => {
                let next: M = match config.put_mode {
                    PutMode::Replace => parse_json(&bytes)?,
                    PutMode::Merge => {
                        let patch: serde_json::Value = parse_json(&bytes)?;
                        if !patch.is_object() {
                            return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                                .with_detail("the body must be a JSON object")
                                .into_response());
                        }
                        occ_core::repository::merge_patch_model(&current, &patch)
                            .map_err(|e| Problem::from(e).into_response())?
                    }
                };
                if !same_id::<M>(next.id(), &id) {
                    return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                        .with_detail("the id in the body differs from the id in the URL")
                        .into_response());
                }
                // Compare-and-swap on the version the preconditions were
                // evaluated against: a concurrent write in between is 412.
                let condition = WriteCondition::VersionIn(vec![current.version()]);
                let saved = config
                    .repo
                    .update(next, &condition)
                    .await
                    .map_err(|e| write_error(e, method, uri))?;
                Ok(Tagged::written(saved).into_response())
            }
            None => {
                let mut created: M = parse_json(&bytes)?;
                if !same_id::<M>(created.id(), &id) {
                    return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                        .with_detail("the id in the body differs from the id in the URL")
                        .into_response());
                }
                created.set_version(M::Version::INITIAL);
                let saved = config
                    .repo
                    .create(created)
                    .await
                    .map_err(|e| write_error(e, method, uri))?;
                Ok(match HeaderValue::from_str(uri.path()).ok() {
                    Some(location) => Tagged::created(saved, location).into_response(),
                    None => Tagged::written(saved).into_response(),
                })
            }
        }
    };
    result.await.unwrap_or_else(|response| response)
}

/// A refused write: 412 carries the current tag, and the event is traced.
fn write_error<M: Versioned>(
    error: RepositoryError<M>,
    method: &Method,
    uri: &http::Uri,
) -> Response {
    if let RepositoryError::PreconditionFailed { current } = &error {
        tracing::info!(
            method = %method,
            resource = uri.path(),
            current = %current.entity_tag(),
            "precondition failed: a concurrent write came first"
        );
    }
    Problem::from(error).into_response()
}

async fn patch_item<M, R>(State(config): State<Config<R>>, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Send + Sync,
    R: Repository<M> + ?Sized,
{
    let (parts, id, body) = split::<M::Id>(request).await;
    let (method, headers, uri) = (&parts.method, &parts.headers, original_uri(&parts));
    let result = async {
        let id = id?;
        require_media_type(headers, MERGE_PATCH_JSON, true)?;
        let current = current::<M, R>(&config.repo, &id).await?;
        evaluate(method, uri, headers, current.as_ref(), false, config.policy)?;
        let Some(current) = current else {
            return Err(Problem::new(StatusCode::NOT_FOUND).into_response());
        };
        let bytes = read_body(body, config.body_limit).await?;
        let patch: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            Problem::new(StatusCode::BAD_REQUEST)
                .with_detail(format!("the merge patch is not valid JSON: {e}"))
                .into_response()
        })?;
        let patched = occ_core::repository::merge_patch_model(&current, &patch)
            .map_err(|e| Problem::from(e).into_response())?;
        let condition = WriteCondition::VersionIn(vec![current.version()]);
        let saved = config
            .repo
            .update(patched, &condition)
            .await
            .map_err(|e| write_error(e, method, uri))?;
        Ok(Tagged::written(saved).into_response())
    };
    result.await.unwrap_or_else(|response| response)
}

async fn delete_item<M, R>(State(config): State<Config<R>>, request: Request) -> Response
where
    M: Versioned + Send + Sync + 'static,
    M::Id: DeserializeOwned + Send + Sync,
    R: Repository<M> + ?Sized,
{
    let (parts, id, _) = split::<M::Id>(request).await;
    let (method, headers, uri) = (&parts.method, &parts.headers, original_uri(&parts));
    let result = async {
        let id = id?;
        let current = current::<M, R>(&config.repo, &id).await?;
        evaluate(method, uri, headers, current.as_ref(), false, config.policy)?;
        let Some(current) = current else {
            return Err(Problem::new(StatusCode::NOT_FOUND).into_response());
        };
        let condition = WriteCondition::VersionIn(vec![current.version()]);
        config
            .repo
            .delete(&id, &condition)
            .await
            .map_err(|e| write_error(e, method, uri))?;
        Ok(crate::bodiless::response(StatusCode::NO_CONTENT))
    };
    result.await.unwrap_or_else(|response| response)
}

async fn create<M, R>(State(config): State<Config<R>>, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
    M::Id: Display + Send + Sync,
    R: Repository<M> + ?Sized,
{
    let (parts, body) = request.into_parts();
    let (method, headers, uri) = (&parts.method, &parts.headers, original_uri(&parts));
    let result = async {
        require_media_type(headers, "application/json", false)?;
        // The target is the collection, which has no representation of its
        // own: If-Match is false (IM-3) and `If-None-Match: *` holds. No
        // precondition is required of POST.
        evaluate::<M>(method, uri, headers, None, true, Policy::Optional)?;
        let bytes = read_body(body, config.body_limit).await?;
        let mut model: M = parse_json(&bytes)?;
        model.set_version(M::Version::INITIAL);
        let saved = config.repo.create(model).await.map_err(|e| match e {
            RepositoryError::AlreadyExists { .. } => Problem::new(StatusCode::CONFLICT)
                .with_detail("a resource with this id exists already")
                .into_response(),
            other => write_error(other, method, uri),
        })?;
        Ok(match location(uri, saved.id()) {
            Some(location) => Tagged::created(saved, location).into_response(),
            None => Tagged::written(saved).into_response(),
        })
    };
    result.await.unwrap_or_else(|response| response)
}

/// `GET /?after=<id>&limit=<n>`.
#[derive(Debug, Deserialize)]
#[serde(bound = "Id: DeserializeOwned")]
struct ListQuery<Id> {
    after: Option<Id>,
    limit: Option<u32>,
}

/// One page of the collection.
#[derive(Debug, Serialize)]
struct ListPage<M, Id> {
    items: Vec<M>,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after: Option<Id>,
}

async fn list<M, R>(
    State(config): State<Config<R>>,
    query: Result<Query<ListQuery<M::Id>>, axum::extract::rejection::QueryRejection>,
) -> Response
where
    M: Versioned + Serialize + Send + Sync + 'static,
    M::Id: DeserializeOwned + Serialize + Send + Sync,
    R: Repository<M> + ?Sized,
{
    let Query(query) = match query {
        Ok(q) => q,
        Err(rejection) => return Problem::from(rejection).into_response(),
    };
    let limit = query
        .limit
        .unwrap_or(config.page_limit)
        .clamp(1, config.page_limit);
    match config.repo.list(query.after.as_ref(), limit).await {
        Ok(page) => axum::Json(ListPage {
            items: page.items,
            next_after: page.next_after,
        })
        .into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
