//! Generated conditional CRUD routes for any [`Versioned`] model and
//! [`Repository`], each a thin handler over occ-core's
//! [`Pipeline`](occ_core::pipeline::Pipeline): one database statement per
//! request on the happy path.

use std::fmt::Display;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Extension;
use axum::Router;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use occ_core::pipeline::Rejection;
use occ_core::repository::{Repository, RepositoryError, Scope};
use occ_core::{ListKind, Policy, VersionNumber, Versioned};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{ConditionalRequest, Problem, Refusal, Tagged};

/// `Accept-Patch` (RFC 5789 §3.1).
const ACCEPT_PATCH: http::HeaderName = http::HeaderName::from_static("accept-patch");

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
    require_scope: bool,
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
            require_scope: self.require_scope,
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
                require_scope: false,
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

    /// Whether every request must carry a row-level
    /// [`Scope`] in its extensions (put there
    /// by the layer that authenticates the caller). With it, a request
    /// without one is refused (500: the service is misconfigured) rather
    /// than shown every row. A scope present in the extensions is applied
    /// either way: every statement carries it, and rows outside it are 404
    /// for every method.
    pub fn require_scope(mut self, required: bool) -> Self {
        self.config.require_scope = required;
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
            .fallback(|| async { Problem::new(StatusCode::NOT_FOUND).with_detail(NO_RESOURCE) })
            .with_state(config)
    }
}

fn options(allow: &'static str) -> Response {
    let mut response = crate::bodiless::response(StatusCode::NO_CONTENT);
    let headers = response.headers_mut();
    headers.insert(ALLOW, HeaderValue::from_static(allow));
    // PATCH-6: advertise the patch format.
    headers.insert(ACCEPT_PATCH, HeaderValue::from_static(MERGE_PATCH_JSON));
    response
}

fn method_not_allowed(allow: &'static str) -> Response {
    Problem::new(StatusCode::METHOD_NOT_ALLOWED)
        .with_detail(format!("allowed methods: {allow}"))
        .with_header(ALLOW, HeaderValue::from_static(allow))
        .into_response()
}

/// A request's conditions under the route's policy, its id from the path
/// (a path that does not parse names no resource: 404), and its body.
async fn split<Id: DeserializeOwned + Send, R: ?Sized>(
    request: Request,
    config: &Config<R>,
) -> (ConditionalRequest, Result<Id, Refusal>, HeaderMap, Body) {
    let (mut parts, body) = request.into_parts();
    let conditions = ConditionalRequest::take_from_parts(&mut parts).with_policy(config.policy);
    let id = match scope_check(config, conditions.scope()) {
        Err(refusal) => Err(refusal),
        Ok(()) => Path::<Id>::from_request_parts(&mut parts, &())
            .await
            .map(|Path(id)| id)
            .map_err(|rejection| {
                tracing::debug!(%rejection, "unparsable id");
                Refusal::from(Problem::new(StatusCode::NOT_FOUND).with_detail(NO_RESOURCE))
            }),
    };
    (conditions, id, parts.headers, body)
}

/// A route that requires a scope refuses a request without one: showing
/// every row would be the worse failure.
fn scope_check<R: ?Sized>(config: &Config<R>, scope: Option<&Scope>) -> Result<(), Refusal> {
    if config.require_scope && scope.is_none() {
        tracing::error!("a scoped route got a request without a scope in its extensions");
        return Err(Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_detail("the server could not complete the request")
            .into());
    }
    Ok(())
}

const NO_RESOURCE: &str = "no resource exists at this URL";

/// Checks the media type (415 beats 412, EV-2) for a body of `expected`.
fn require_media_type(
    headers: &HeaderMap,
    expected: &str,
    accept_patch: bool,
) -> Result<(), Refusal> {
    let ok = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected));
    if ok {
        return Ok(());
    }
    let mut response = Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        .with_detail(format!("send the body as {expected}"));
    if accept_patch {
        response = response.with_header(ACCEPT_PATCH, HeaderValue::from_static(MERGE_PATCH_JSON));
    }
    Err(response.into())
}

/// Reads the body up to the limit (413 beyond).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Problem> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
            .with_detail(format!("the body is larger than {limit} bytes"))
    })
}

/// Parses JSON: a syntax error is 400, a value of the wrong shape 422.
/// One pass: serde_json tells the two apart by the error's category.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes).map_err(|e| {
        let (status, what) = match e.classify() {
            serde_json::error::Category::Data => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "the body does not describe a valid resource",
            ),
            _ => (StatusCode::BAD_REQUEST, "the body is not valid JSON"),
        };
        Problem::new(status).with_detail(format!("{what}: {e}"))
    })
}

/// A JSON object of members to merge (PUT in merge mode).
fn parse_members(bytes: &[u8]) -> Result<serde_json::Value, Problem> {
    let members: serde_json::Value = parse_json(bytes)?;
    if members.is_object() {
        Ok(members)
    } else {
        Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
            .with_detail("the body must be a JSON object"))
    }
}

fn same_id<M: Versioned>(a: &M::Id, b: &M::Id) -> bool {
    // Tags bind ids injectively: equal tags at one version, equal ids.
    M::entity_tag_for(a, M::Version::INITIAL) == M::entity_tag_for(b, M::Version::INITIAL)
}

/// The whole representation from a PUT body, for the resource at `id`.
fn parse_model<M: Versioned + DeserializeOwned>(bytes: &[u8], id: &M::Id) -> Result<M, Problem> {
    let model: M = parse_json(bytes)?;
    if same_id::<M>(model.id(), id) {
        Ok(model)
    } else {
        Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
            .with_detail("the id in the body differs from the id in the URL"))
    }
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
    let (conditions, id, _, _) = split::<M::Id, R>(request, &config).await;
    let result = async { conditions.read(&*config.repo, &id?).await };
    result.await.into_response()
}

async fn put_item<M, R>(State(config): State<Config<R>>, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Display + Send + Sync,
    R: Repository<M> + ?Sized,
{
    let (conditions, id, headers, body) = split::<M::Id, R>(request, &config).await;
    let result = async {
        let id = id?;
        require_media_type(&headers, "application/json", false)?;
        let bytes = read_body(body, config.body_limit).await;
        let create_once = config.creating_put
            && conditions
                .preconditions()
                .if_none_match()
                .is_some_and(|list| list.check() == Ok(ListKind::Any));
        let repo = &*config.repo;
        if config.put_mode == PutMode::Merge && !create_once {
            let members = bytes.and_then(|b| parse_members(&b));
            return conditions.merge(repo, &id, members).await;
        }
        let model = bytes.and_then(|b| parse_model::<M>(&b, &id));
        conditions
            .replace(repo, &id, model, config.creating_put)
            .await
    };
    result.await.into_response()
}

async fn patch_item<M, R>(State(config): State<Config<R>>, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Send + Sync,
    R: Repository<M> + ?Sized,
{
    let (conditions, id, headers, body) = split::<M::Id, R>(request, &config).await;
    let result = async {
        let id = id?;
        require_media_type(&headers, MERGE_PATCH_JSON, true)?;
        let patch = read_body(body, config.body_limit).await.and_then(|bytes| {
            serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| {
                Problem::new(StatusCode::BAD_REQUEST)
                    .with_detail(format!("the merge patch is not valid JSON: {e}"))
            })
        });
        conditions.merge(&*config.repo, &id, patch).await
    };
    result.await.into_response()
}

async fn delete_item<M, R>(State(config): State<Config<R>>, request: Request) -> Response
where
    M: Versioned + Serialize + Send + Sync + 'static,
    M::Id: DeserializeOwned + Send + Sync,
    R: Repository<M> + ?Sized,
{
    let (conditions, id, _, _) = split::<M::Id, R>(request, &config).await;
    let result = async {
        conditions.delete(&*config.repo, &id?).await?;
        Ok::<_, Refusal>(crate::bodiless::response(StatusCode::NO_CONTENT))
    };
    result.await.into_response()
}

async fn create<M, R>(State(config): State<Config<R>>, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
    M::Id: Display + Send + Sync,
    R: Repository<M> + ?Sized,
{
    let (mut parts, body) = request.into_parts();
    // The target is the collection, which has no representation of its
    // own: If-Match is false (IM-3) and `If-None-Match: *` holds. A POST
    // that creates needs no precondition (design decision 2).
    let conditions = ConditionalRequest::take_from_parts(&mut parts).with_policy(Policy::Optional);
    let result = async {
        scope_check(&config, conditions.scope())?;
        require_media_type(&parts.headers, "application/json", false)?;
        conditions
            .pipeline()
            .creatable(true)
            .decide::<M, Problem>(None)
            .map_err(|rejection| conditions.refuse(rejection))?;
        let bytes = read_body(body, config.body_limit).await?;
        let mut model: M = parse_json(&bytes)?;
        model.set_version(M::Version::INITIAL);
        let created = match conditions.scope() {
            Some(scope) => match config.repo.scoped(scope) {
                Ok(scoped) => scoped.create(model).await,
                Err(e) => Err(e),
            },
            None => config.repo.create(model).await,
        };
        let saved = created.map_err(|e| match e {
            RepositoryError::AlreadyExists { .. } => Refusal::from(
                Problem::new(StatusCode::CONFLICT)
                    .with_detail("a resource with this id exists already"),
            ),
            other => conditions.refuse(Rejection::<M, Problem>::Repository(other)),
        })?;
        Ok::<_, Refusal>(match location(conditions.uri(), saved.id()) {
            Some(location) => Tagged::created(saved, location),
            None => Tagged::written(saved),
        })
    };
    result.await.into_response()
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
    scope: Option<Extension<Scope>>,
    query: Result<Query<ListQuery<M::Id>>, axum::extract::rejection::QueryRejection>,
) -> Response
where
    M: Versioned + Serialize + Send + Sync + 'static,
    M::Id: DeserializeOwned + Serialize + Send + Sync,
    R: Repository<M> + ?Sized,
{
    let scope = scope.map(|Extension(scope)| scope);
    if let Err(refusal) = scope_check(&config, scope.as_ref()) {
        return refusal.into_response();
    }
    let Query(query) = match query {
        Ok(q) => q,
        Err(rejection) => return Problem::from(rejection).into_response(),
    };
    let limit = query
        .limit
        .unwrap_or(config.page_limit)
        .clamp(1, config.page_limit);
    let page = match &scope {
        Some(scope) => match config.repo.scoped(scope) {
            Ok(scoped) => scoped.list(query.after.as_ref(), limit).await,
            Err(e) => Err(e),
        },
        None => config.repo.list(query.after.as_ref(), limit).await,
    };
    match page {
        Ok(page) => axum::Json(ListPage {
            items: page.items,
            next_after: page.next_after,
        })
        .into_response(),
        Err(e) => Refusal::from(e).into_response(),
    }
}
