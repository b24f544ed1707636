//! Generated conditional CRUD routes for any [`Versioned`] model and
//! [`Repository`], each a thin handler over occ-core's
//! [`Pipeline`](occ_core::pipeline::Pipeline): one database statement per
//! request on the happy path.

use std::fmt::Display;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Extension;
use axum::Router;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use occ_core::pipeline::Rejection;
use occ_core::repository::{Repository, RepositoryError, Scope};
use occ_core::{IdSource, ListKind, Policy, VersionNumber, Versioned};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::headers::{ACCEPT_PATCH, JSON};
use crate::idempotency::Keyed;
use crate::refusal::Creation;
use crate::{ConditionalRequest, Problem, Refusal, Tagged};

pub use crate::headers::MERGE_PATCH_JSON;

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
/// | `GET`/`HEAD /` | keyset pages: `?after=<id>&limit=<n>` (any other parameter is 400), each item with its tag in an `etag` member, the page with a weak `ETag`; 304 on a matching `If-None-Match` |
/// | `OPTIONS` | `Allow`, and `Accept-Patch` on `/{id}`; other methods get 405 with `Allow` |
///
/// Writes without a precondition get 428 under the default policy. Every
/// error is `application/problem+json`. A 412 on a resource that exists
/// carries its current `ETag` and, unless
/// [`current_in_412`](ConditionalRoutes::current_in_412) is off, its
/// current representation in the `current` member.
///
/// Ids (design decision 12): `PUT` and `PATCH` take the id from the URL,
/// so the body may leave it out, and a body that names another id is 422.
/// A replacing `PUT` body may leave out the version too: the server owns
/// it. `POST /` creates with the id the body names or, for a model whose
/// id is `#[occ(generated)]`, with one the server makes (a version 7 UUID)
/// or the store assigns (an integer); the body then names none, unless the
/// model allows it (`#[occ(generated(client_may_choose))]`). An id in the
/// URL that does not parse as the model's id is 400.
///
/// Application code can fill and check every new state before it is
/// written: [`before_write`](ConditionalRoutes::before_write) and
/// [`validate`](ConditionalRoutes::validate).
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
    config: Config<M, R>,
}

/// A check of a new state ([`ConditionalRoutes::validate`]).
type Validate<M> = Arc<dyn Fn(&M) -> Result<(), String> + Send + Sync>;

/// A change to a new state ([`ConditionalRoutes::before_write`]).
type BeforeWrite<M> = Arc<dyn Fn(&mut M) + Send + Sync>;

/// A check of a new state against the one it replaces
/// ([`ConditionalRoutes::validate_transition`]).
type Transition<M> = Arc<dyn Fn(Option<&M>, &M) -> Result<(), String> + Send + Sync>;

struct Config<M, R: ?Sized> {
    repo: Arc<R>,
    policy: Policy,
    put_mode: PutMode,
    creating_put: bool,
    body_limit: usize,
    page_limit: u32,
    require_scope: bool,
    current_in_412: bool,
    merging: bool,
    etag_member: Option<&'static str>,
    /// Whether the repository keeps idempotency keys (read once: the
    /// description and the routes agree).
    #[cfg_attr(not(feature = "openapi"), allow(dead_code))]
    keeps_keys: bool,
    validate: Option<Validate<M>>,
    before_write: Option<BeforeWrite<M>>,
    transition: Option<Transition<M>>,
}

impl<M, R: ?Sized> Clone for Config<M, R> {
    fn clone(&self) -> Self {
        Self {
            repo: self.repo.clone(),
            policy: self.policy,
            put_mode: self.put_mode,
            creating_put: self.creating_put,
            body_limit: self.body_limit,
            page_limit: self.page_limit,
            require_scope: self.require_scope,
            current_in_412: self.current_in_412,
            merging: self.merging,
            etag_member: self.etag_member,
            keeps_keys: self.keeps_keys,
            validate: self.validate.clone(),
            before_write: self.before_write.clone(),
            transition: self.transition.clone(),
        }
    }
}

impl<M, R: ?Sized> Config<M, R> {
    fn has_hooks(&self) -> bool {
        self.validate.is_some() || self.before_write.is_some() || self.transition.is_some()
    }

    /// Runs the hooks on a new state, replacing `current` (`None`: a
    /// create): `before_write` first, so that `validate` and
    /// `validate_transition` check what will be written. A refusal is the
    /// body's fault (422), reported after the preconditions (EV-1).
    fn prepare(&self, current: Option<&M>, model: &mut M) -> Result<(), Problem> {
        if let Some(fill) = &self.before_write {
            fill(model);
        }
        let refused = |why| Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(why);
        if let Some(check) = &self.validate {
            check(model).map_err(refused)?;
        }
        match &self.transition {
            Some(check) => check(current, model).map_err(refused),
            None => Ok(()),
        }
    }

    /// Whether a PUT on these routes could create (what a 428 suggests).
    fn put_creation(&self) -> Creation {
        if self.creating_put {
            Creation::Possible
        } else {
            Creation::Never
        }
    }
}

/// What the OpenAPI description of the routes depends on
/// ([`crate::openapi`]).
#[cfg(feature = "openapi")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) policy: Policy,
    pub(crate) put_mode: PutMode,
    pub(crate) creating_put: bool,
    pub(crate) body_limit: usize,
    pub(crate) page_limit: u32,
    pub(crate) current_in_412: bool,
    pub(crate) merging: bool,
    pub(crate) etag_member: Option<&'static str>,
    /// The repository keeps idempotency keys: writes take `Idempotency-Key`.
    pub(crate) keeps_keys: bool,
}

#[cfg(feature = "openapi")]
impl<M, R: ?Sized> ConditionalRoutes<M, R> {
    /// The settings the OpenAPI description depends on.
    pub(crate) fn shape(&self) -> Shape {
        let config = &self.config;
        Shape {
            policy: config.policy,
            put_mode: config.put_mode,
            creating_put: config.creating_put,
            body_limit: config.body_limit,
            page_limit: config.page_limit,
            current_in_412: config.current_in_412,
            merging: config.merging,
            etag_member: config.etag_member,
            keeps_keys: config.keeps_keys,
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
    /// replacing PUT that does not create, 64 KiB bodies, pages of 100, no
    /// hooks, the current representation in every 412, each list item's
    /// tag in its `etag` member.
    pub fn new(repo: Arc<R>) -> Self {
        Self {
            config: Config {
                repo: repo.clone(),
                policy: Policy::Required,
                put_mode: PutMode::Replace,
                creating_put: false,
                body_limit: 64 * 1024,
                page_limit: 100,
                require_scope: false,
                current_in_412: true,
                merging: false,
                etag_member: Some("etag"),
                keeps_keys: repo.keeps_idempotency_keys(),
                validate: None,
                before_write: None,
                transition: None,
            },
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
    /// missing resource is 404. The body of a creating PUT is the whole
    /// new representation, in [`PutMode::Merge`] too (a merge into nothing
    /// is the body itself); its id comes from the URL.
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
    /// either way: every statement carries it, and rows outside it are
    /// answered as missing ones.
    ///
    /// A model that declares its scope (`#[occ(scope)]`, design decision
    /// 20) needs no such setting: its routes always refuse a request
    /// without a scope. The layer is a few lines of axum:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use axum::extract::Request;
    /// use axum::middleware::{self, Next};
    /// use axum::response::Response;
    /// use http::StatusCode;
    /// use occ_axum::routes::ConditionalRoutes;
    /// use occ_core::idempotency::Principal;
    /// use occ_core::repository::{MemoryRepository, Scope};
    /// use occ_core::Versioned;
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
    /// struct Note {
    ///     id: u64,
    ///     #[version]
    ///     #[serde(skip)]
    ///     version: u64,
    ///     #[occ(scope)]
    ///     #[serde(skip)]
    ///     tenant_id: String,
    ///     text: String,
    /// }
    ///
    /// /// The caller's tenant (from a header here; from a verified token in a
    /// /// real service) becomes the request's scope, the caller its principal.
    /// async fn tenant(mut request: Request, next: Next) -> Result<Response, StatusCode> {
    ///     let tenant = request
    ///         .headers()
    ///         .get("x-tenant")
    ///         .and_then(|v| v.to_str().ok())
    ///         .map(str::to_owned)
    ///         .ok_or(StatusCode::UNAUTHORIZED)?;
    ///     request.extensions_mut().insert(Principal::new(format!("user-of-{tenant}")));
    ///     request.extensions_mut().insert(Scope::new("tenant_id", tenant));
    ///     Ok(next.run(request).await)
    /// }
    ///
    /// let repo = Arc::new(MemoryRepository::<Note>::new());
    /// let app: axum::Router = axum::Router::new()
    ///     .nest("/notes", ConditionalRoutes::new(repo).into_router())
    ///     .layer(middleware::from_fn(tenant));
    /// ```
    pub fn require_scope(mut self, required: bool) -> Self {
        self.config.require_scope = required;
        self
    }

    /// Whether a 412 carries the resource's current representation
    /// (default: yes, design decision 16).
    ///
    /// A 412 on a resource that exists always carries its current `ETag`,
    /// in the header and the `current_etag` member (design decision 5).
    /// With this on, its problem+json body also has a `current` member:
    /// the representation exactly as a GET returns it, so that a client
    /// can merge its change into it and retry with the tag, without a GET.
    /// Turn it off where a client whose precondition failed should not be
    /// sent the state. A 412 to HEAD has no body (412-2); a resource
    /// deleted meanwhile sends neither tag nor representation; a row
    /// outside the caller's [`Scope`] is 404, never 412.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use axum::body::Body;
    /// use http::{Request, StatusCode};
    /// use http_body_util::BodyExt;
    /// use occ_axum::routes::ConditionalRoutes;
    /// use occ_core::repository::{MemoryRepository, Repository};
    /// use occ_core::Versioned;
    /// use tower::ServiceExt;
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
    /// struct Profile { id: i64, #[version] version: i64, name: String }
    ///
    /// let repo = Arc::new(MemoryRepository::<Profile>::new());
    /// repo.create(Profile { id: 1, version: 1, name: "Ava".into() }).await.unwrap();
    /// let app: axum::Router = ConditionalRoutes::new(repo).current_in_412(false).into_router();
    ///
    /// let stale = Request::delete("/1").header("if-match", "\"0\"").body(Body::empty()).unwrap();
    /// let response = app.oneshot(stale).await.unwrap();
    /// assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    /// let body = response.into_body().collect().await.unwrap().to_bytes();
    /// let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    /// assert!(problem["current_etag"].is_string());
    /// assert!(problem.get("current").is_none());
    /// # });
    /// ```
    pub fn current_in_412(mut self, send: bool) -> Self {
        self.config.current_in_412 = send;
        self
    }

    /// Merging of disjoint edits (design decision 16), off by default
    /// (strict). With it on, a PATCH (or a merging PUT) whose `If-Match`
    /// names one older version of the resource still succeeds when none
    /// of the members it sets changed after that version: 200 with the new
    /// `ETag` and the merged representation. When one did, 412 with a
    /// `conflicts` member naming them, besides `current_etag` and
    /// `current`. `If-Match: *`, `If-None-Match` and the date preconditions
    /// keep their strict meaning. In SQL it needs a model with per-member
    /// versions (`#[occ(table = "…", merge)]`); without them a write stays
    /// strict. On routes with [`validate`](Self::validate) or
    /// [`before_write`](Self::before_write) hooks the merged state is read
    /// and passed through the hooks first, and the members it changes are
    /// written under the same condition (two statements).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use axum::body::Body;
    /// use http::{Request, StatusCode};
    /// use http_body_util::BodyExt;
    /// use occ_axum::routes::ConditionalRoutes;
    /// use occ_core::repository::{MemoryRepository, Repository};
    /// use occ_core::Versioned;
    /// use tower::ServiceExt;
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
    /// #[occ(etag = "d-{id}-v{version}")]
    /// struct Doc { id: i64, #[version] version: i64, title: String, body: String }
    ///
    /// let repo = Arc::new(MemoryRepository::<Doc>::new());
    /// repo.create(Doc { id: 1, version: 1, title: "a".into(), body: "b".into() }).await.unwrap();
    /// let app: axum::Router = ConditionalRoutes::new(repo).merging(true).into_router();
    /// let patch = |json: &'static str| {
    ///     Request::patch("/1")
    ///         .header("if-match", "\"d-1-v1\"")
    ///         .header("content-type", "application/merge-patch+json")
    ///         .body(Body::from(json))
    ///         .unwrap()
    /// };
    ///
    /// // Both from version 1: disjoint members merge.
    /// let first = app.clone().oneshot(patch(r#"{"title":"t"}"#)).await.unwrap();
    /// assert_eq!(first.status(), StatusCode::OK);
    /// let second = app.clone().oneshot(patch(r#"{"body":"x"}"#)).await.unwrap();
    /// assert_eq!(second.status(), StatusCode::OK);
    /// assert_eq!(second.headers()["etag"], "\"d-1-v3\"");
    ///
    /// // The title changed after version 1: 412 naming it.
    /// let third = app.oneshot(patch(r#"{"title":"u"}"#)).await.unwrap();
    /// assert_eq!(third.status(), StatusCode::PRECONDITION_FAILED);
    /// let body = third.into_body().collect().await.unwrap().to_bytes();
    /// let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    /// assert_eq!(problem["conflicts"], serde_json::json!(["title"]));
    /// assert_eq!(problem["current"]["body"], "x");
    /// # });
    /// ```
    pub fn merging(mut self, merging: bool) -> Self {
        self.config.merging = merging;
        self
    }

    /// The member of each item of `GET /` that carries the item's entity
    /// tag (design decision 18), default `etag` (as Google's AIP-154
    /// names it); `None` adds no member.
    ///
    /// The member holds the item's `ETag` exactly as a GET of the item
    /// sends it (quotes included, `"doc-1-v3"`), so a client can send it
    /// as `If-Match` to PUT, PATCH or DELETE the item straight from the
    /// list. It is appended after the item's own members, which keep the
    /// text a GET shows. An item that is not a JSON object gets no member.
    /// An item that has a member of that name already keeps its own: it is
    /// never overwritten nor duplicated, and the first such page logs a
    /// warning; give another name (`Some("_etag")`) for such a model.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use axum::body::Body;
    /// use http::Request;
    /// use http_body_util::BodyExt;
    /// use occ_axum::routes::ConditionalRoutes;
    /// use occ_core::repository::{MemoryRepository, Repository};
    /// use occ_core::Versioned;
    /// use tower::ServiceExt;
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
    /// #[occ(etag = "note-{id}-v{version}")]
    /// struct Note { id: i64, #[version] version: i64, etag: String }
    ///
    /// let repo = Arc::new(MemoryRepository::<Note>::new());
    /// repo.create(Note { id: 1, version: 2, etag: "mine".into() }).await.unwrap();
    /// let app: axum::Router = ConditionalRoutes::new(repo)
    ///     .list_etag_member(Some("_etag"))
    ///     .into_router();
    ///
    /// let response = app.oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
    /// let body = response.into_body().collect().await.unwrap().to_bytes();
    /// assert_eq!(
    ///     body,
    ///     r#"{"items":[{"id":1,"version":2,"etag":"mine","_etag":"\"note-1-v2\""}]}"#
    /// );
    /// # });
    /// ```
    pub fn list_etag_member(mut self, member: Option<&'static str>) -> Self {
        self.config.etag_member = member;
        self
    }

    /// Checks every new state before it is written: `Err(message)`
    /// refuses the request with 422, `message` as the problem's `detail`,
    /// and nothing is written.
    ///
    /// The check sees the whole state that would be stored, after
    /// [`before_write`](Self::before_write): the body of a POST or of a
    /// replacing PUT, and the merged result of a PATCH or a merging PUT.
    /// Its refusal is an error of the body, so a failed precondition is
    /// still answered first (412 before 422, EV-1). A PATCH or merging PUT
    /// on routes with a hook takes the general path, since the merged
    /// result only exists once merged in the application: a read, then a
    /// compare-and-swap on the version read
    /// ([`Pipeline::merge_with`](occ_core::pipeline::Pipeline::merge_with)),
    /// two statements instead of one.
    ///
    /// The check may run more than once for one request (a merge is
    /// repeated when another write lands between its read and its swap),
    /// so it should have no side effects. Given more than once, every
    /// check runs, in the order given.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use axum::body::Body;
    /// use http::{Request, StatusCode};
    /// use occ_axum::routes::ConditionalRoutes;
    /// use occ_core::repository::MemoryRepository;
    /// use occ_core::Versioned;
    /// use tower::ServiceExt;
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
    /// struct Profile { id: i64, #[version] version: i64, name: String }
    ///
    /// let repo = Arc::new(MemoryRepository::<Profile>::new());
    /// let app: axum::Router = ConditionalRoutes::new(repo)
    ///     .validate(|p: &Profile| match p.name.is_empty() {
    ///         true => Err("a profile needs a name".into()),
    ///         false => Ok(()),
    ///     })
    ///     .into_router();
    ///
    /// let post = Request::post("/")
    ///     .header("content-type", "application/json")
    ///     .body(Body::from(r#"{"id":1,"name":""}"#))
    ///     .unwrap();
    /// let response = app.oneshot(post).await.unwrap();
    /// assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    /// # });
    /// ```
    pub fn validate<F>(mut self, check: F) -> Self
    where
        F: Fn(&M) -> Result<(), String> + Send + Sync + 'static,
    {
        self.config.validate = Some(match self.config.validate.take() {
            None => Arc::new(check),
            Some(first) => Arc::new(move |model: &M| {
                first(model)?;
                check(model)
            }),
        });
        self
    }

    /// Fills or normalises every new state before it is checked
    /// ([`validate`](Self::validate)) and written: a trimmed name, a
    /// lower-cased email, a field derived from others.
    ///
    /// It runs where `validate` does, on the whole state that will be
    /// stored: the body of a POST or of a replacing PUT, and the merged
    /// result of a PATCH or a merging PUT (the general path: a read, then
    /// a compare-and-swap on the version read). On a POST whose id the
    /// store assigns, it runs before the id is known (the id is a
    /// placeholder then). It may run more than once for one request, so it
    /// should only compute from the state it is given. Given more than
    /// once, every change runs, in the order given.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use axum::body::Body;
    /// use http::{Request, StatusCode};
    /// use occ_axum::routes::ConditionalRoutes;
    /// use occ_core::repository::{MemoryRepository, Repository};
    /// use occ_core::Versioned;
    /// use tower::ServiceExt;
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
    /// struct Profile { id: i64, #[version] version: i64, name: String }
    ///
    /// let repo = Arc::new(MemoryRepository::<Profile>::new());
    /// let app: axum::Router = ConditionalRoutes::new(repo.clone())
    ///     .before_write(|p: &mut Profile| p.name = p.name.trim().to_owned())
    ///     .into_router();
    ///
    /// let post = Request::post("/")
    ///     .header("content-type", "application/json")
    ///     .body(Body::from(r#"{"id":1,"name":"  Ava "}"#))
    ///     .unwrap();
    /// let response = app.oneshot(post).await.unwrap();
    /// assert_eq!(response.status(), StatusCode::CREATED);
    /// assert_eq!(repo.get(&1).await.unwrap().name, "Ava");
    /// # });
    /// ```
    pub fn before_write<F>(mut self, fill: F) -> Self
    where
        F: Fn(&mut M) + Send + Sync + 'static,
    {
        self.config.before_write = Some(match self.config.before_write.take() {
            None => Arc::new(fill),
            Some(first) => Arc::new(move |model: &mut M| {
                first(model);
                fill(model);
            }),
        });
        self
    }

    /// Checks every write against the state it replaces: `current` is the
    /// stored state (`None` for a create), `next` the state to be written
    /// (after [`before_write`](Self::before_write) and
    /// [`validate`](Self::validate)). A refusal is a 422 with its text as
    /// the detail, after the preconditions. For what one state cannot say
    /// alone: a status that moves only forward, a member only an action
    /// may set.
    ///
    /// It runs on every write path: POST and a creating PUT (`None`), a
    /// replacing PUT, a PATCH and a merging PUT. With it, those writes
    /// read first and swap on the version read (two statements instead of
    /// one); a swap that loses a race reads and checks again, so the hook
    /// always judges the state the write replaces and no update is lost.
    /// DELETE does not run it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use axum::body::Body;
    /// use http::{Request, StatusCode};
    /// use occ_axum::routes::ConditionalRoutes;
    /// use occ_core::repository::{MemoryRepository, Repository};
    /// use occ_core::Versioned;
    /// use tower::ServiceExt;
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
    /// #[occ(etag = "o-{id}-v{version}")]
    /// struct Order { id: i64, #[version] version: i64, status: u8 }
    ///
    /// let repo = Arc::new(MemoryRepository::<Order>::new());
    /// repo.create(Order { id: 1, version: 1, status: 2 }).await.unwrap();
    /// let app: axum::Router = ConditionalRoutes::new(repo.clone())
    ///     .validate_transition(|current: Option<&Order>, next: &Order| match current {
    ///         Some(current) if next.status < current.status => {
    ///             Err("an order's status only moves forward".into())
    ///         }
    ///         _ => Ok(()),
    ///     })
    ///     .into_router();
    ///
    /// let back = Request::put("/1")
    ///     .header("content-type", "application/json")
    ///     .header("if-match", "\"o-1-v1\"")
    ///     .body(Body::from(r#"{"id":1,"status":1}"#))
    ///     .unwrap();
    /// let response = app.oneshot(back).await.unwrap();
    /// assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    /// assert_eq!(repo.get(&1).await.unwrap().status, 2);
    /// # });
    /// ```
    pub fn validate_transition<F>(mut self, check: F) -> Self
    where
        F: Fn(Option<&M>, &M) -> Result<(), String> + Send + Sync + 'static,
    {
        self.config.transition = Some(match self.config.transition.take() {
            None => Arc::new(check),
            Some(first) => Arc::new(move |current: Option<&M>, next: &M| {
                first(current, next)?;
                check(current, next)
            }),
        });
        self
    }

    /// The router, to be nested under the collection's path.
    ///
    /// An action of its own sits beside the generated routes, on the same
    /// repository, with the same preconditions (`Conditional`: 428 without
    /// one, 412 with the current state on a stale tag, one statement):
    ///
    /// ```
    /// use std::sync::Arc;
    /// use axum::body::Bytes;
    /// use axum::extract::{Path, State};
    /// use axum::routing::post;
    /// use axum::Router;
    /// use occ_axum::routes::ConditionalRoutes;
    /// use occ_axum::{Conditional, Refusal, Tagged};
    /// use occ_core::repository::MemoryRepository;
    /// use occ_core::Versioned;
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
    /// struct Doc { id: u64, #[version] #[serde(skip)] version: u64, text: String, published: bool }
    ///
    /// type Docs = Arc<MemoryRepository<Doc>>;
    ///
    /// /// `POST /docs/{id}/publish` with `If-Match`: sets the one member
    /// /// only this action may set.
    /// async fn publish(State(docs): State<Docs>, Path(id): Path<u64>, request: Conditional<Bytes>)
    ///     -> Result<Tagged<Doc>, Refusal> {
    ///     request.merge(&*docs, &id, |_| Ok(serde_json::json!({ "published": true }))).await
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use occ_core::repository::Repository;
    /// # use tower::ServiceExt;
    /// let docs = Docs::default();
    /// # docs.create(Doc { id: 1, version: 1, text: "one".into(), published: false }).await.unwrap();
    /// let app: Router = Router::new()
    ///     .nest("/docs", ConditionalRoutes::new(docs.clone()).into_router())
    ///     .route("/docs/{id}/publish", post(publish))
    ///     .with_state(docs.clone());
    /// # let request = |uri: &str| http::Request::post(uri).header("if-match", "\"1-v1\"")
    /// #     .body(axum::body::Body::empty()).unwrap();
    /// # let published = app.clone().oneshot(request("/docs/1/publish")).await.unwrap();
    /// # assert_eq!(published.status(), http::StatusCode::OK);
    /// # assert!(docs.get(&1).await.unwrap().published);
    /// # let stale = app.oneshot(request("/docs/1/publish")).await.unwrap();
    /// # assert_eq!(stale.status(), http::StatusCode::PRECONDITION_FAILED);
    /// # });
    /// ```
    pub fn into_router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let config = self.config;
        let item: MethodRouter<Config<M, R>> = get(get_item::<M, R>)
            .put(put_item::<M, R>)
            .patch(patch_item::<M, R>)
            .delete(delete_item::<M, R>)
            .options(|| async { options(ALLOW_ITEM, true) })
            .fallback(|| async { method_not_allowed(ALLOW_ITEM) });
        let collection: MethodRouter<Config<M, R>> = get(list::<M, R>)
            .post(create_item::<M, R>)
            .options(|| async { options(ALLOW_COLLECTION, false) })
            .fallback(|| async { method_not_allowed(ALLOW_COLLECTION) });
        Router::new()
            .route("/", collection)
            .route("/{id}", item)
            .fallback(|| async { Problem::no_resource() })
            .with_state(config)
    }
}

/// OPTIONS: `Allow`, and `Accept-Patch` where PATCH is allowed (the
/// item; the collection takes no PATCH, so it advertises no patch format).
fn options(allow: &'static str, patch: bool) -> Response {
    let mut response = crate::bodiless::response(StatusCode::NO_CONTENT);
    let headers = response.headers_mut();
    headers.insert(ALLOW, HeaderValue::from_static(allow));
    if patch {
        // PATCH-6: advertise the patch format.
        headers.insert(ACCEPT_PATCH, HeaderValue::from_static(MERGE_PATCH_JSON));
    }
    response
}

fn method_not_allowed(allow: &'static str) -> Response {
    Problem::new(StatusCode::METHOD_NOT_ALLOWED)
        .with_detail(format!("allowed methods: {allow}"))
        .with_header(ALLOW, HeaderValue::from_static(allow))
        .into_response()
}

/// A request's conditions under the route's policy, its id from the path,
/// and its body.
async fn split<M, R: ?Sized>(
    request: Request,
    config: &Config<M, R>,
) -> (ConditionalRequest, Result<M::Id, Refusal>, HeaderMap, Body)
where
    M: Versioned,
    M::Id: DeserializeOwned + Display + Send,
{
    let (mut parts, body) = request.into_parts();
    let conditions = ConditionalRequest::take_from_parts(&mut parts)
        .with_policy(config.policy)
        .current_in_412(config.current_in_412);
    let id = match scope_check(config, conditions.scope()) {
        Err(refusal) => Err(refusal),
        Ok(()) => match Path::<M::Id>::from_request_parts(&mut parts, &()).await {
            Ok(Path(id)) => match unusable_id(&id) {
                None => Ok(id),
                Some(why) => Err(Problem::new(StatusCode::BAD_REQUEST)
                    .with_detail(format!("the id in the URL is not valid: {why}"))
                    .into()),
            },
            Err(rejection) => Err(invalid_id(rejection)),
        },
    };
    (conditions, id, parts.headers, body)
}

/// Why no resource may have an id that reads as `id` does: an empty id
/// (its `Location` would be the collection's) or one with control
/// characters (which no URL or header shows as they are). Read through
/// `Display` without allocating: it runs on every item request.
fn unusable_id(id: &impl Display) -> Option<&'static str> {
    use std::fmt::Write as _;
    #[derive(Default)]
    struct Seen {
        any: bool,
        control: bool,
    }
    impl std::fmt::Write for Seen {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.any |= !s.is_empty();
            self.control |= s.chars().any(char::is_control);
            Ok(())
        }
    }
    let mut seen = Seen::default();
    let _ = write!(seen, "{id}");
    if !seen.any {
        Some("an id cannot be empty")
    } else if seen.control {
        Some("an id cannot contain control characters")
    } else {
        None
    }
}

/// An id in the URL that does not parse is the client's error (400,
/// design decision 12): such a URL cannot name a resource, and saying so
/// is more use than a 404 that reads like a missing one.
fn invalid_id(rejection: PathRejection) -> Refusal {
    let why = match &rejection {
        PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
            // The route and the id type disagree: the service's bug.
            ErrorKind::WrongNumberOfParameters { .. } | ErrorKind::UnsupportedType { .. } => None,
            kind => Some(kind.to_string()),
        },
        _ => None,
    };
    match why {
        Some(why) => Problem::new(StatusCode::BAD_REQUEST)
            .with_detail(format!("the id in the URL is not valid: {why}"))
            .into(),
        None => {
            tracing::error!(%rejection, "the route's id cannot be extracted");
            Problem::internal_error().into()
        }
    }
}

/// A route that requires a scope refuses a request without one: showing
/// every row would be the worse failure. A model with a declared scope
/// (`#[occ(scope)]`) always requires one.
fn scope_check<M: Versioned, R: ?Sized>(
    config: &Config<M, R>,
    scope: Option<&Scope>,
) -> Result<(), Refusal> {
    if scope.is_some() || !(config.require_scope || M::SCOPE_COLUMN.is_some()) {
        return Ok(());
    }
    // Once per process: every request of the route fails the same way.
    static LOGGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let column = M::SCOPE_COLUMN.unwrap_or("its scope column");
    if !LOGGED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::error!(
            "a scoped route got a request without a `Scope` in its extensions: add the layer that authenticates the caller and inserts `occ_core::repository::Scope::new(\"{column}\", …)` in front of the routes"
        );
    }
    Err(Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        .with_detail("the service is misconfigured: this route needs the caller's scope, and its authentication layer did not provide one")
        .into())
}

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

/// Parses JSON text: anything that is not one JSON value is 400.
fn parse_value(bytes: &[u8]) -> Result<Value, Problem> {
    let mut value = serde_json::from_slice(bytes).map_err(|e| {
        Problem::new(StatusCode::BAD_REQUEST)
            .with_detail(format!("the body is not valid JSON: {e}"))
    })?;
    whole_numbers(&mut value);
    Ok(value)
}

/// Takes a number written with a fraction or an exponent that is a whole
/// number (`42.0`, `1e3`) as the integer it is, as JSON Schema does, so
/// that an integer member accepts it (a float member accepts the integer
/// all the same). Only within ±2^53, where a float holds every integer
/// (RFC 8259 §6): beyond, one float stands for several integers, and such
/// a number is left for the model to refuse.
fn whole_numbers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            const EXACT: f64 = 9_007_199_254_740_992.0;
            let Some(float) = number.as_f64().filter(|_| number.is_f64()) else {
                return;
            };
            if float.fract() == 0.0 && (-EXACT..=EXACT).contains(&float) {
                *value = Value::from(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(members) => members.values_mut().for_each(whole_numbers),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// Reads a model from valid JSON: a value of the wrong shape is 422.
fn model_from<M: DeserializeOwned>(value: Value) -> Result<M, Problem> {
    serde_path_to_error::deserialize(value).map_err(|e: serde_path_to_error::Error<_>| {
        // The member it failed at, where it was one: `pages: invalid type …`.
        let why = match e.path().to_string().as_str() {
            "." => e.inner().to_string(),
            path => format!("`{path}`: {}", e.inner()),
        };
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(format!(
            "the body does not describe a valid resource: {why}"
        ))
    })
}

/// A JSON object of members to merge (PUT in merge mode).
fn require_object(members: Value) -> Result<Value, Problem> {
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

fn id_differs() -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
        .with_detail("the id in the body differs from the id in the URL")
}

/// The version a new representation gets, as JSON.
fn initial_version<M: Versioned>() -> Option<Value> {
    M::Version::INITIAL.to_i64().map(Value::from)
}

/// Completes a whole representation sent for the resource at `id`: the
/// URL names the resource, so the body need not repeat its id, and the
/// server owns the version, so the body need not carry one. Only members
/// the derive could name are filled; otherwise the body must be complete
/// (and the version it carries is ignored all the same).
fn fill_owned_members<M: Versioned>(value: &mut Value, id: &M::Id)
where
    M::Id: Serialize,
{
    let Value::Object(object) = value else {
        return;
    };
    if let Some(member) = M::MEMBERS.id {
        if !object.contains_key(member) {
            if let Ok(id) = serde_json::to_value(id) {
                object.insert(member.to_owned(), id);
            }
        }
    }
    if let (Some(member), Some(version)) = (M::MEMBERS.version, initial_version::<M>()) {
        object.entry(member).or_insert(version);
    }
}

/// The whole representation from a PUT body, for the resource at `id`.
fn model_for_put<M>(value: Value, id: &M::Id) -> Result<M, Problem>
where
    M: Versioned + DeserializeOwned,
    M::Id: Serialize,
{
    let mut value = value;
    fill_owned_members::<M>(&mut value, id);
    let model: M = model_from(value)?;
    if same_id::<M>(model.id(), id) {
        Ok(model)
    } else {
        Err(id_differs())
    }
}

/// Members to merge into the resource at `id` (PATCH, merging PUT): an id
/// among them must be the URL's (422 otherwise) and is then dropped, since
/// it changes nothing. A `null` id is left for the merge to refuse (a
/// patch cannot remove the id).
fn members_for<M>(patch: Value, id: &M::Id) -> Result<Value, Problem>
where
    M: Versioned,
    M::Id: DeserializeOwned,
{
    let Some(member) = M::MEMBERS.id else {
        return Ok(patch);
    };
    let Value::Object(mut members) = patch else {
        return Ok(patch);
    };
    match members.get(member) {
        None | Some(Value::Null) => {}
        Some(given) => match M::Id::deserialize(given) {
            Ok(given) if same_id::<M>(&given, id) => {
                members.remove(member);
            }
            Ok(_) => return Err(id_differs()),
            Err(e) => {
                return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                    .with_detail(format!("the id in the body is not valid: {e}")))
            }
        },
    }
    Ok(Value::Object(members))
}

fn location(uri: &http::Uri, id: &impl Display) -> Option<HeaderValue> {
    let path = uri.path().trim_end_matches('/');
    let id = occ_core::EntityTagBuilder::strong().value(id).finish();
    // The builder percent-encodes anything outside visible ASCII.
    let encoded = String::from_utf8_lossy(id.opaque()).into_owned();
    HeaderValue::from_str(&format!("{path}/{encoded}")).ok()
}

async fn get_item<M, R>(State(config): State<Config<M, R>>, request: Request) -> Response
where
    M: Versioned + Serialize + Send + Sync + 'static,
    M::Id: DeserializeOwned + Display + Send + Sync,
    R: Repository<M> + ?Sized,
{
    let (conditions, id, _, _) = split::<M, R>(request, &config).await;
    let result = async {
        let id = id?;
        conditions
            .read(&*config.repo, &id)
            .await
            .map_err(|refusal| refusal.naming_id(&id))
    };
    result.await.into_response()
}

/// Runs a write handler `$run(&config, repo, request)` under the
/// request's `Idempotency-Key`, if it has one the repository can keep:
/// through the claimed key's repository, with the response recorded.
macro_rules! keyed {
    ($config:ident, $request:ident, $run:ident) => {
        match crate::idempotency::begin(&*$config.repo, $request, $config.body_limit).await {
            Keyed::Plain(request) => $run(&$config, &*$config.repo, request).await,
            Keyed::Claimed(claim, request) => {
                let response = $run(&$config, claim.repository(), request).await;
                crate::idempotency::finish(claim, response).await
            }
            Keyed::Replayed(response) => response,
            Keyed::Refused(refusal) => refusal.into_response(),
        }
    };
}

async fn put_item<M, R>(State(config): State<Config<M, R>>, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Serialize + Display + Send + Sync,
    R: Repository<M> + ?Sized,
{
    keyed!(config, request, put)
}

async fn put<M, R, Q>(config: &Config<M, R>, repo: &Q, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Serialize + Display + Send + Sync,
    R: Send + Sync + ?Sized,
    Q: Repository<M> + ?Sized,
{
    let (conditions, id, headers, body) = split::<M, R>(request, config).await;
    // Read before any refusal: a body left unread costs the connection.
    let body = crate::body::read_body(body, config.body_limit).await;
    let result = async {
        let id = id?;
        require_media_type(&headers, JSON, false)?;
        let create_once = config.creating_put
            && conditions
                .preconditions()
                .if_none_match()
                .is_some_and(|list| list.check() == Ok(ListKind::Any));
        let written = if config.put_mode == PutMode::Merge && !create_once {
            merge_put(config, repo, &conditions, &id, body).await
        } else if config.transition.is_some() {
            // The hook judges the state replaced: read it first.
            let model = body.and_then(|bytes| parsed_state::<M>(&bytes, &id));
            let hooks = |current: Option<&M>, model: &mut M| config.prepare(current, model);
            conditions
                .replace_with(repo, &id, model, config.creating_put, hooks)
                .await
        } else {
            let model = body.and_then(|bytes| new_state(config, &bytes, &id));
            conditions
                .replace(repo, &id, model, config.creating_put)
                .await
        };
        written.map_err(|refusal| refusal.naming_id(&id))
    };
    result.await.into_response()
}

/// The state a replacing or creating PUT body describes, through the
/// hooks (as a create's: a transition hook is run by `replace_with`).
fn new_state<M, R: ?Sized>(config: &Config<M, R>, body: &[u8], id: &M::Id) -> Result<M, Problem>
where
    M: Versioned + DeserializeOwned,
    M::Id: Serialize,
{
    let mut model = parsed_state::<M>(body, id)?;
    config.prepare(None, &mut model)?;
    Ok(model)
}

/// The state a PUT body describes, before the hooks.
fn parsed_state<M>(body: &[u8], id: &M::Id) -> Result<M, Problem>
where
    M: Versioned + DeserializeOwned,
    M::Id: Serialize,
{
    // A complete body reads in one pass; filling in the members the URL
    // and the server own (and telling 400 from 422) needs a JSON value
    // first, which only an incomplete or a bad body pays for.
    match serde_json::from_slice::<M>(body) {
        Ok(model) if same_id::<M>(model.id(), id) => Ok(model),
        Ok(_) => Err(id_differs()),
        Err(_) => model_for_put::<M>(parse_value(body)?, id),
    }
}

/// PUT in merge mode: the body's members merged into the resource. On
/// routes that create, a missing resource is created from the body when
/// the preconditions allow it (design decision 3): merged into nothing,
/// the members are the whole representation.
async fn merge_put<M, R, Q>(
    config: &Config<M, R>,
    repo: &Q,
    conditions: &ConditionalRequest,
    id: &M::Id,
    body: Result<Bytes, Problem>,
) -> Result<Tagged<M>, Refusal>
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Serialize + Send + Sync,
    R: Send + Sync + ?Sized,
    Q: Repository<M> + ?Sized,
{
    // Only a miss needs the body again, and only where PUT creates: the
    // bytes are shared, so keeping them costs nothing on the happy path.
    let spare = config.creating_put.then(|| body.clone());
    let members = body
        .and_then(|bytes| parse_value(&bytes))
        .and_then(require_object)
        .and_then(|members| members_for::<M>(members, id));
    match merge_members(config, repo, conditions, id, members).await {
        Ok(saved) => Ok(Tagged::written(saved)),
        Err(Rejection::NotFound) => match spare {
            // The merge path never creates: the replacing path evaluates
            // the preconditions against the missing resource (S6, S7).
            Some(body) => {
                let model = body.and_then(|bytes| new_state(config, &bytes, id));
                conditions.replace(repo, id, model, true).await
            }
            None => Err(conditions.refuse_as(Rejection::<M, Problem>::NotFound, Creation::Never)),
        },
        Err(rejection) => Err(conditions.refuse_as(rejection, config.put_creation())),
    }
}

/// Merges members into the resource at `id`: one statement without
/// hooks; with hooks, the merged result goes through them before a
/// compare-and-swap ([`Pipeline::merge_with`](occ_core::pipeline::Pipeline::merge_with)).
async fn merge_members<M, R, Q>(
    config: &Config<M, R>,
    repo: &Q,
    conditions: &ConditionalRequest,
    id: &M::Id,
    patch: Result<Value, Problem>,
) -> Result<M, Rejection<M, Problem>>
where
    M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
    M::Id: Send + Sync,
    R: Send + Sync + ?Sized,
    Q: Repository<M> + ?Sized,
{
    let pipeline = conditions.pipeline().merging(config.merging);
    if config.has_hooks() {
        let hooks = |current: &M, model: &mut M| config.prepare(Some(current), model);
        pipeline.merge_with(repo, id, patch, hooks).await
    } else {
        pipeline.merge(repo, id, patch).await
    }
}

async fn patch_item<M, R>(State(config): State<Config<M, R>>, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Display + Send + Sync,
    R: Repository<M> + ?Sized,
{
    keyed!(config, request, patch)
}

async fn patch<M, R, Q>(config: &Config<M, R>, repo: &Q, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Display + Send + Sync,
    R: Send + Sync + ?Sized,
    Q: Repository<M> + ?Sized,
{
    let (conditions, id, headers, body) = split::<M, R>(request, config).await;
    // Read before any refusal: a body left unread costs the connection.
    let body = crate::body::read_body(body, config.body_limit).await;
    let result = async {
        let id = id?;
        require_media_type(&headers, MERGE_PATCH_JSON, true)?;
        let patch = body
            .and_then(|bytes| {
                let mut patch = serde_json::from_slice::<Value>(&bytes).map_err(|e| {
                    Problem::new(StatusCode::BAD_REQUEST)
                        .with_detail(format!("the merge patch is not valid JSON: {e}"))
                })?;
                whole_numbers(&mut patch);
                Ok(patch)
            })
            .and_then(|patch| members_for::<M>(patch, &id));
        merge_members(config, repo, &conditions, &id, patch)
            .await
            .map(Tagged::written)
            .map_err(|rejection| {
                conditions
                    .refuse_as(rejection, Creation::Never)
                    .naming_id(&id)
            })
    };
    result.await.into_response()
}

async fn delete_item<M, R>(State(config): State<Config<M, R>>, request: Request) -> Response
where
    M: Versioned + Serialize + Send + Sync + 'static,
    M::Id: DeserializeOwned + Display + Send + Sync,
    R: Repository<M> + ?Sized,
{
    keyed!(config, request, delete)
}

async fn delete<M, R, Q>(config: &Config<M, R>, repo: &Q, request: Request) -> Response
where
    M: Versioned + Serialize + Send + Sync + 'static,
    M::Id: DeserializeOwned + Display + Send + Sync,
    R: Send + Sync + ?Sized,
    Q: Repository<M> + ?Sized,
{
    let (conditions, id, _, body) = split::<M, R>(request, config).await;
    // A DELETE has no use for a body, but one left unread costs the
    // connection.
    crate::body::drain(body).await;
    let result = async {
        let id = id?;
        conditions
            .delete(repo, &id)
            .await
            .map_err(|refusal| refusal.naming_id(&id))?;
        Ok::<_, Refusal>(crate::bodiless::response(StatusCode::NO_CONTENT))
    };
    result.await.into_response()
}

/// Where a POST's new resource gets its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NewId {
    /// The body holds it (the client's, or one the server generated).
    InBody,
    /// The store assigns it ([`Repository::create_with_new_id`]).
    FromStore,
}

/// Completes a POST body as `M::ID_SOURCE` says (design decision 12):
/// the version is the server's; an id the server generates is put in; an
/// id the client may not choose is refused (422).
fn fill_new<M>(body: &mut Value) -> Result<NewId, Problem>
where
    M: Versioned,
    M::Id: Serialize,
{
    let Value::Object(object) = body else {
        // Not an object: deserializing it says what is wrong (422).
        return Ok(NewId::InBody);
    };
    if let (Some(member), Some(version)) = (M::MEMBERS.version, initial_version::<M>()) {
        object.entry(member).or_insert(version);
    }
    let (IdSource::Generated { client_may_choose }, Some(member)) = (M::ID_SOURCE, M::MEMBERS.id)
    else {
        return Ok(NewId::InBody);
    };
    if object.get(member).is_some_and(|id| !id.is_null()) {
        return if client_may_choose {
            Ok(NewId::InBody)
        } else {
            Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(format!(
                "ids of this collection are assigned by the server: send the body without `{member}`"
            )))
        };
    }
    match M::generate_id().map(|id| serde_json::to_value(&id)) {
        Some(Ok(id)) => {
            object.insert(member.to_owned(), id);
            Ok(NewId::InBody)
        }
        Some(Err(e)) => {
            tracing::error!(error = %e, "a generated id does not serialize");
            Err(Problem::internal_error())
        }
        None => {
            // A placeholder, so that the body deserializes: the store
            // ignores it and assigns the id.
            object.insert(member.to_owned(), Value::from(0));
            Ok(NewId::FromStore)
        }
    }
}

async fn create_item<M, R>(State(config): State<Config<M, R>>, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
    M::Id: Serialize + Display + Send + Sync,
    R: Repository<M> + ?Sized,
{
    keyed!(config, request, create)
}

async fn create<M, R, Q>(config: &Config<M, R>, repo: &Q, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
    M::Id: Serialize + Display + Send + Sync,
    R: Send + Sync + ?Sized,
    Q: Repository<M> + ?Sized,
{
    let (mut parts, body) = request.into_parts();
    // The target is the collection, which has no representation of its
    // own: If-Match is false (IM-3) and `If-None-Match: *` holds. A POST
    // that creates needs no precondition (design decision 2).
    let conditions = ConditionalRequest::take_from_parts(&mut parts).with_policy(Policy::Optional);
    // Read before any refusal: a body left unread costs the connection.
    let bytes = crate::body::read_body(body, config.body_limit).await;
    let result = async {
        scope_check(config, conditions.scope())?;
        require_media_type(&parts.headers, JSON, false)?;
        conditions
            .pipeline()
            .creatable(true)
            .decide::<M, Problem>(None)
            .map_err(|rejection| conditions.refuse(rejection))?;
        let bytes = bytes?;
        let mut body = parse_value(&bytes)?;
        let new_id = fill_new::<M>(&mut body)?;
        let mut model: M = model_from(body)?;
        if new_id == NewId::InBody {
            if let Some(why) = unusable_id(model.id()) {
                return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                    .with_detail(why)
                    .into());
            }
        }
        model.set_version(M::Version::INITIAL);
        config.prepare(None, &mut model)?;
        let created = match (conditions.scope(), new_id) {
            (Some(scope), new_id) => match repo.scoped(scope) {
                Ok(scoped) if new_id == NewId::FromStore => scoped.create_with_new_id(model).await,
                Ok(scoped) => scoped.create(model).await,
                Err(e) => Err(e),
            },
            (None, NewId::FromStore) => repo.create_with_new_id(model).await,
            (None, NewId::InBody) => repo.create(model).await,
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

/// `GET /?after=<id>&limit=<n>`. Any other parameter is 400, naming it:
/// a filter or sort the list does not know would otherwise be ignored
/// silently, and its client would take the page for what it asked.
#[derive(Debug, Deserialize)]
#[serde(bound = "Id: DeserializeOwned", deny_unknown_fields)]
struct ListQuery<Id> {
    after: Option<Id>,
    limit: Option<u32>,
}

async fn list<M, R>(
    State(config): State<Config<M, R>>,
    method: http::Method,
    headers: HeaderMap,
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
    // One statement: the page is read once, and its tag computed from it.
    let page = match &scope {
        Some(scope) => match config.repo.scoped(scope) {
            Ok(scoped) => scoped.list(query.after.as_ref(), limit).await,
            Err(e) => Err(e),
        },
        None => config.repo.list(query.after.as_ref(), limit).await,
    };
    let page = match page {
        Ok(page) => page,
        Err(e) => return Refusal::from(e).into_response(),
    };
    match crate::Listing::new(page, query.after.as_ref(), limit) {
        Ok(listing) => listing
            .scope(scope.as_ref())
            .item_tags(config.etag_member)
            .respond(&method, &headers),
        Err(error) => unserializable(&error),
    }
}

fn unserializable(error: &serde_json::Error) -> Response {
    tracing::error!(%error, "cannot serialize a page of the collection");
    Problem::internal_error().into_response()
}
