//! Generated conditional CRUD routes for any [`Versioned`] model and
//! [`Repository`], each a thin handler over occ-core's
//! [`Pipeline`](occ_core::pipeline::Pipeline): one database statement per
//! request on the happy path.

use std::fmt::Display;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use http::header::ALLOW;
use http::{HeaderValue, StatusCode};
use occ_core::repository::Repository;
use occ_core::{Policy, Versioned};
use serde::de::DeserializeOwned;
use serde::Serialize;

use self::collection::create_item;
use self::item::{delete_item, get_item, patch_item, put_item};
use self::list::list;
use self::settings::Config;
pub(crate) use self::settings::Settings;
use crate::headers::ACCEPT_PATCH;
use crate::problem::Problem;

pub use self::settings::PutMode;
pub use crate::headers::MERGE_PATCH_JSON;

mod collection;
mod item;
mod json;
mod list;
mod request;
mod settings;

const ALLOW_ITEM: &str = "GET, HEAD, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_COLLECTION: &str = "GET, HEAD, POST, OPTIONS";

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

#[cfg(feature = "openapi")]
impl<M, R: ?Sized> ConditionalRoutes<M, R> {
    /// The settings the OpenAPI description depends on.
    pub(crate) fn settings(&self) -> Settings {
        self.config.settings
    }
}

impl<M, R> ConditionalRoutes<M, R>
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Serialize + Display + Clone + 'static,
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
                settings: Settings {
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
                },
                validate: None,
                before_write: None,
                transition: None,
            },
        }
    }

    /// Whether writes must carry a precondition (default: required).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.config.settings.policy = policy;
        self
    }

    /// How PUT treats its body (default: [`PutMode::Replace`]).
    pub fn put_mode(mut self, mode: PutMode) -> Self {
        self.config.settings.put_mode = mode;
        self
    }

    /// Whether PUT may create a missing resource (with `If-None-Match: *`,
    /// or without precondition under [`Policy::Optional`]). Default: no, a
    /// missing resource is 404. The body of a creating PUT is the whole
    /// new representation, in [`PutMode::Merge`] too (a merge into nothing
    /// is the body itself); its id comes from the URL.
    pub fn creating_put(mut self, creates: bool) -> Self {
        self.config.settings.creating_put = creates;
        self
    }

    /// The largest request body accepted, in bytes; larger ones get 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.settings.body_limit = bytes;
        self
    }

    /// The largest page `GET /` returns.
    pub fn page_limit(mut self, limit: u32) -> Self {
        self.config.settings.page_limit = limit.max(1);
        self
    }

    /// Whether every request must carry a row-level
    /// [`Scope`](occ_core::repository::Scope) in its extensions (put there
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
        self.config.settings.require_scope = required;
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
    /// outside the caller's [`Scope`](occ_core::repository::Scope) is 404, never 412.
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
        self.config.settings.current_in_412 = send;
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
        self.config.settings.merging = merging;
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
        self.config.settings.etag_member = member;
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
        let item: MethodRouter<Arc<Config<M, R>>> = get(get_item::<M, R>)
            .put(put_item::<M, R>)
            .patch(patch_item::<M, R>)
            .delete(delete_item::<M, R>)
            .options(|| async { options(ALLOW_ITEM, true) })
            .fallback(|| async { method_not_allowed(ALLOW_ITEM) });
        let collection: MethodRouter<Arc<Config<M, R>>> = get(list::<M, R>)
            .post(create_item::<M, R>)
            .options(|| async { options(ALLOW_COLLECTION, false) })
            .fallback(|| async { method_not_allowed(ALLOW_COLLECTION) });
        Router::new()
            .route("/", collection)
            .route("/{id}", item)
            .fallback(|| async { Problem::no_resource() })
            .with_state(Arc::new(config))
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
