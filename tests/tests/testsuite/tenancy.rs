//! Declared tenancy (design decision 20: tenancy is declared and exact).
//! A model's `#[occ(scope)]` field is its tenant: filled from the
//! request's [`Scope`], never from the body, and every statement keys rows
//! by (scope, id). Over memory, SQLite, PostgreSQL and MariaDB/MySQL, each
//! theme below runs the same scenario and proves that:
//!
//! 1. `composite`: on a table keyed `(tenant_id, id)`, another tenant's row
//!    does not exist for any method (GET, HEAD, conditional GET, PUT,
//!    PATCH, DELETE; with its real tag, with `*`, without precondition):
//!    404 (428 for a write without precondition), never 2xx, 304 or 412,
//!    never its `ETag` or state. The same id in two tenants is two
//!    resources with their own versions, tags and tombstones.
//! 2. `global`: on a table whose ids are global, the same, and a POST or a
//!    creating PUT of an id another tenant holds is a 4xx that shows
//!    nothing of that row and changes nothing.
//! 3. `namings`: a body that names the scope, under the field's name, a
//!    serde alias, a serde rename, a `rename_all` name, or a hidden field's
//!    name, never moves a row to another tenant nor plants one there.
//! 4. `exact`: scope values compare byte for byte: `acme` is not `ACME`,
//!    `Acme`, `acme ` nor `ácme`, in MariaDB's default case-insensitive,
//!    PAD SPACE collation too, tombstones included.
//! 5. `unscoped`: without a scope nothing is served (500 problem, no data)
//!    nor done, at the routes and at the repository, and a scoped view is
//!    never scoped again to another tenant.
//!
//! Each test prints how many cross-tenant requests (and repository calls)
//! it sent and how many crossed. A response that shows or changes another
//! tenant's row fails the test at once; a wrong status that shows nothing,
//! and a crossing of version numbers, are collected and fail it at its end,
//! so that one does not hide the rest.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::fmt::Display;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::Router;
use http::{Method, Request, StatusCode};
use occ_axum::routes::ConditionalRoutes;
use occ_core::repository::sql::SqlRepository;
use occ_core::repository::{
    KnownVersions, MemoryRepository, Repository, RepositoryError, Scope, WriteCondition,
};
use occ_core::Versioned;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The tenant that owns the rows under attack.
const A: &str = "acme";
/// An id no tenant ever holds.
const NOBODYS: i64 = 987_654;
/// The other tenant.
const B: &str = "globex";

// ---------------------------------------------------------------------------
// Models and their tables (one DDL for SQLite, PostgreSQL and MariaDB:
// `VARCHAR(64)` for the tenant, which MariaDB can key, `BIGINT` ids).

/// Theme 1: keyed by `(tenant_id, id)`, the tenant hidden from the
/// representation, tombstones per tenant, merging PATCH.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(
    table = "tn_composite",
    tombstones = "tn_composite_tombstones",
    merge,
    etag = "note-{id}-v{version}"
)]
struct Note {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    #[occ(scope)]
    #[serde(skip)]
    tenant_id: String,
    body: String,
}

const COMPOSITE_DDL: [&str; 2] = [
    "CREATE TABLE tn_composite (
        tenant_id VARCHAR(64) NOT NULL,
        id BIGINT NOT NULL,
        version BIGINT NOT NULL,
        body TEXT NOT NULL,
        tenant_id_version BIGINT NOT NULL DEFAULT 0,
        body_version BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, id)
    )",
    "CREATE TABLE tn_composite_tombstones (
        tenant_id VARCHAR(64) NOT NULL,
        id BIGINT NOT NULL,
        version BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    )",
];

/// Theme 2: ids global to the table, the tenant a plain column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(
    table = "tn_global",
    tombstones = "tn_global_tombstones",
    etag = "note-{id}-v{version}"
)]
struct GlobalNote {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    #[occ(scope)]
    #[serde(skip)]
    tenant_id: String,
    body: String,
}

const GLOBAL_DDL: [&str; 2] = [
    "CREATE TABLE tn_global (
        id BIGINT PRIMARY KEY,
        version BIGINT NOT NULL,
        tenant_id VARCHAR(64) NOT NULL,
        body TEXT NOT NULL
    )",
    "CREATE TABLE tn_global_tombstones (
        tenant_id VARCHAR(64) NOT NULL,
        id BIGINT NOT NULL,
        version BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    )",
];

/// Theme 3: the scope visible, with a serde alias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "tn_alias", etag = "note-{id}-v{version}")]
struct Aliased {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    #[occ(scope)]
    #[serde(alias = "tenant")]
    tenant_id: String,
    body: String,
}

/// Theme 3: the scope's member renamed, and its column too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "tn_rename", etag = "note-{id}-v{version}")]
struct Renamed {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    #[occ(scope)]
    #[serde(rename = "tenantId")]
    #[sqlx(rename = "owner")]
    tenant_id: String,
    body: String,
}

/// Theme 3: the scope's member named by the struct's `rename_all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[serde(rename_all = "camelCase")]
#[occ(table = "tn_camel", etag = "note-{id}-v{version}")]
struct Camel {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    #[occ(scope)]
    tenant_id: String,
    body: String,
}

/// Theme 3: the scope hidden from the representation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "tn_hidden", etag = "note-{id}-v{version}")]
struct Hidden {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    #[occ(scope)]
    #[serde(skip)]
    tenant_id: String,
    body: String,
}

const NAMINGS_DDL: [&str; 4] = [
    "CREATE TABLE tn_alias (
        tenant_id VARCHAR(64) NOT NULL,
        id BIGINT NOT NULL,
        version BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    )",
    "CREATE TABLE tn_rename (
        owner VARCHAR(64) NOT NULL,
        id BIGINT NOT NULL,
        version BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (owner, id)
    )",
    "CREATE TABLE tn_camel (
        tenant_id VARCHAR(64) NOT NULL,
        id BIGINT NOT NULL,
        version BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    )",
    "CREATE TABLE tn_hidden (
        tenant_id VARCHAR(64) NOT NULL,
        id BIGINT NOT NULL,
        version BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    )",
];

/// Theme 4: keyed by `(tenant_id, id)`, with tombstones; on MariaDB the
/// tenant column has the database's default collation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(
    table = "tn_exact",
    tombstones = "tn_exact_tombstones",
    etag = "note-{id}-v{version}"
)]
struct Exact {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    #[occ(scope)]
    #[serde(skip)]
    tenant_id: String,
    body: String,
}

const EXACT_DDL: [&str; 2] = [
    "CREATE TABLE tn_exact (
        tenant_id VARCHAR(64) NOT NULL,
        id BIGINT NOT NULL,
        version BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    )",
    "CREATE TABLE tn_exact_tombstones (
        tenant_id VARCHAR(64) NOT NULL,
        id BIGINT NOT NULL,
        version BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    )",
];

/// Theme 5: served and called without a scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "tn_unscoped", etag = "note-{id}-v{version}")]
struct Unscoped {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    #[occ(scope)]
    #[serde(skip)]
    tenant_id: String,
    body: String,
}

const UNSCOPED_DDL: [&str; 1] = ["CREATE TABLE tn_unscoped (
        tenant_id VARCHAR(64) NOT NULL,
        id BIGINT NOT NULL,
        version BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (tenant_id, id)
    )"];

// ---------------------------------------------------------------------------
// Requests and answers.

const JSON: &str = "application/json";
const MERGE_PATCH: &str = "application/merge-patch+json";

/// One request, kept whole so that a failure shows it.
#[derive(Debug, Clone)]
struct Req {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Req {
    fn new(method: Method, uri: impl Into<String>) -> Self {
        Self {
            method,
            uri: uri.into(),
            headers: Vec::new(),
            body: String::new(),
        }
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn with_body(self, media_type: &str, body: &Value) -> Self {
        let mut this = self.header("content-type", media_type);
        this.body = body.to_string();
        this
    }

    fn if_match(self, tag: &str) -> Self {
        self.header("if-match", tag)
    }

    fn if_none_match(self, tag: &str) -> Self {
        self.header("if-none-match", tag)
    }
}

fn item(id: i64) -> String {
    format!("/notes/{id}")
}

fn get(id: i64) -> Req {
    Req::new(Method::GET, item(id))
}

fn head(id: i64) -> Req {
    Req::new(Method::HEAD, item(id))
}

fn post(body: &Value) -> Req {
    Req::new(Method::POST, "/notes").with_body(JSON, body)
}

fn put(id: i64, body: &Value) -> Req {
    Req::new(Method::PUT, item(id)).with_body(JSON, body)
}

fn patch(id: i64, body: &Value) -> Req {
    Req::new(Method::PATCH, item(id)).with_body(MERGE_PATCH, body)
}

fn delete(id: i64) -> Req {
    Req::new(Method::DELETE, item(id))
}

fn list() -> Req {
    Req::new(Method::GET, "/notes")
}

/// A JSON object of these members, in this order (a later one of the
/// same name replaces an earlier one).
fn obj(members: &[(&str, Value)]) -> Value {
    Value::Object(
        members
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
    )
}

/// The tag of note `id` at `version`, as the `ETag` header carries it.
fn tag(id: i64, version: i64) -> String {
    format!("\"note-{id}-v{version}\"")
}

/// The version a `"note-<id>-v<n>"` tag names.
fn version_of(tag: Option<&str>) -> i64 {
    tag.and_then(|t| t.trim_matches('"').rsplit_once("-v"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("not a note tag: {tag:?}"))
}

/// A tag without its quotes: what must not appear in another tenant's
/// answer.
fn bare(tag: &str) -> &str {
    tag.trim_matches('"')
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    etag: Option<String>,
    content_type: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("a JSON body, got {self:?}"))
    }
}

/// Sends `req` through `app` in process, with `scope` in its extensions,
/// as the layer that authenticated the caller puts it there.
async fn send(app: &Router, scope: Option<Scope>, req: &Req) -> Answer {
    let mut request = Request::builder()
        .method(req.method.clone())
        .uri(req.uri.as_str());
    if let Some(scope) = scope {
        request = request.extension(scope);
    }
    for (name, value) in &req.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(Body::from(req.body.clone())).unwrap();
    let reply = occ_tests::send_request(app, request).await;
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    Answer {
        status: reply.status,
        etag: header("etag"),
        content_type: header("content-type"),
        body: reply.text(),
    }
}

/// The conditional routes of `repo` at `/notes`, creating PUT on.
fn routes<M, R>(repo: Arc<R>, merging: bool) -> Router
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Serialize + Display + Clone + 'static,
    R: Repository<M> + 'static,
{
    Router::new().nest(
        "/notes",
        ConditionalRoutes::<M, R>::new(repo)
            .creating_put(true)
            .merging(merging)
            .into_router(),
    )
}

// ---------------------------------------------------------------------------
// The harness: requests as a tenant, counted when they aim at another's.

/// The cross-tenant requests of one test.
///
/// A response that shows or changes another tenant's row fails the test
/// at once. Two kinds of failure are collected instead, so that one of
/// them does not hide what the rest of the scenario would find, and fail
/// the test at its end ([`report`](Attempts::report)): a wrong status that
/// shows nothing (a 4xx or 5xx other than the one expected, without
/// `ETag` or state), and a crossing of versions (one tenant's writes
/// moving another's version numbers).
struct Attempts {
    backend: &'static str,
    theme: &'static str,
    sent: AtomicUsize,
    crossings: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Attempts {
    fn new(backend: &'static str, theme: &'static str) -> Self {
        Self {
            backend,
            theme,
            sent: AtomicUsize::new(0),
            crossings: AtomicUsize::new(0),
            failures: Mutex::new(Vec::new()),
        }
    }

    fn count(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// A wrong status that showed nothing.
    fn wrong_status(&self, failure: String) {
        self.failures.lock().unwrap().push(failure);
    }

    /// A crossing that showed no state but changed another tenant's.
    fn crossed(&self, failure: String) {
        self.crossings.fetch_add(1, Ordering::Relaxed);
        self.failures.lock().unwrap().push(failure);
    }

    /// At the end of a test: the count, then the failures collected.
    fn report(&self) {
        let sent = self.sent.load(Ordering::Relaxed);
        let crossings = self.crossings.load(Ordering::Relaxed);
        assert!(
            sent > 0,
            "{} {}: no attempt was sent",
            self.backend,
            self.theme
        );
        println!(
            "tenancy {}: {sent} cross-tenant attempts, {crossings} crossings ({})",
            self.backend, self.theme
        );
        let failures = self.failures.lock().unwrap();
        assert!(
            failures.is_empty(),
            "{} {}: {} failures:\n{}",
            self.backend,
            self.theme,
            failures.len(),
            failures.join("\n")
        );
    }
}

/// One model's routes, as seen by tenants.
struct Api<'a> {
    attempts: &'a Attempts,
    app: Router,
    /// The scope's column, which the `Scope` names.
    column: &'static str,
    /// The scope's member in the representation, if it shows.
    member: Option<&'static str>,
    label: &'static str,
}

impl<'a> Api<'a> {
    fn new(attempts: &'a Attempts, app: Router, label: &'static str) -> Self {
        Self {
            attempts,
            app,
            column: "tenant_id",
            member: None,
            label,
        }
    }

    fn ctx(&self) -> String {
        format!(
            "{} {} ({})",
            self.attempts.backend, self.attempts.theme, self.label
        )
    }

    fn scope(&self, tenant: &str) -> Scope {
        Scope::new(self.column, tenant.to_owned())
    }

    /// `req` as `tenant`, on its own rows.
    async fn by(&self, tenant: &str, req: &Req) -> Answer {
        send(&self.app, Some(self.scope(tenant)), req).await
    }

    /// `req` as `tenant`, aimed at another tenant's rows: counted.
    async fn cross(&self, tenant: &str, req: &Req) -> Answer {
        self.attempts.count();
        self.by(tenant, req).await
    }

    /// `req` as `tenant` on its own rows, which must answer `status`.
    async fn expect(&self, tenant: &str, req: &Req, status: StatusCode) -> Answer {
        let answer = self.by(tenant, req).await;
        assert_eq!(
            answer.status,
            status,
            "{}: as {tenant:?}, {req:?}: {answer:?}",
            self.ctx()
        );
        answer
    }

    /// [`expect`](Self::expect), and the answer's `ETag` is `tag`.
    async fn expect_tag(&self, tenant: &str, req: &Req, status: StatusCode, tag: &str) -> Answer {
        let answer = self.expect(tenant, req, status).await;
        assert_eq!(
            answer.etag.as_deref(),
            Some(tag),
            "{}: as {tenant:?}, {req:?}: {answer:?}",
            self.ctx()
        );
        answer
    }

    /// `tenant`'s row `id` is at `tag` and holds `body`.
    async fn assert_row(&self, tenant: &str, id: i64, tag: &str, body: &str) {
        let got = self.by(tenant, &get(id)).await;
        assert_eq!(
            (got.status, got.etag.as_deref()),
            (StatusCode::OK, Some(tag)),
            "{}: {tenant:?}'s note {id} changed: {got:?}",
            self.ctx()
        );
        assert_eq!(
            got.json()["body"],
            json!(body),
            "{}: {tenant:?}'s note {id} changed: {got:?}",
            self.ctx()
        );
        self.assert_member(tenant, &got.json(), &format!("{tenant:?}'s note {id}"));
    }

    /// The representation shows `tenant` as its scope, or no scope at all
    /// when the member is hidden.
    fn assert_member(&self, tenant: &str, representation: &Value, what: &str) {
        match self.member {
            Some(member) => assert_eq!(
                representation[member],
                json!(tenant),
                "{}: {what} is not {tenant:?}'s: {representation}",
                self.ctx()
            ),
            None => assert!(
                representation
                    .as_object()
                    .is_some_and(|o| o.keys().all(|k| ["id", "body", "etag"].contains(&&**k))),
                "{}: {what} shows its hidden scope: {representation}",
                self.ctx()
            ),
        }
    }

    /// An answer to `tenant` about another tenant's row: one of `allowed`,
    /// no `ETag`, none of `secrets`.
    fn assert_hidden(
        &self,
        tenant: &str,
        req: &Req,
        answer: &Answer,
        allowed: &[StatusCode],
        secrets: &[&str],
    ) {
        let failure = format!(
            "{}: as {tenant:?}, {req:?} on another tenant's row: expected one of {allowed:?}, got {answer:?}",
            self.ctx()
        );
        // A success or a 304 is a crossing: stop here.
        assert!(
            allowed.contains(&answer.status)
                || answer.status.is_client_error()
                || answer.status.is_server_error(),
            "{failure}"
        );
        assert_eq!(
            answer.etag,
            None,
            "{}: as {tenant:?}, {req:?}: an ETag of another tenant's row: {answer:?}",
            self.ctx()
        );
        for secret in secrets {
            assert!(
                !answer.body.contains(secret),
                "{}: as {tenant:?}, {req:?}: {secret:?} of another tenant's row shows: {answer:?}",
                self.ctx()
            );
        }
        if !allowed.contains(&answer.status) {
            self.attempts.wrong_status(failure);
        }
    }

    /// Every method, as `tenant`, on note `id`, which `tenant` does not
    /// hold and another tenant holds at `tag` with `secrets` in its
    /// state: 404 (or 428 for a write without precondition), no `ETag`,
    /// nothing of the row.
    async fn battery(
        &self,
        tenant: &str,
        id: i64,
        tag: &str,
        secrets: &[&str],
        bodies: Bodies<'_>,
    ) {
        let (put_body, patch_body) = (bodies.put, bodies.patch);
        let missing = &[StatusCode::NOT_FOUND][..];
        let unconditional = &[StatusCode::NOT_FOUND, StatusCode::PRECONDITION_REQUIRED][..];
        // A body naming the scope may be refused as such (422) before the
        // row is looked for; that shows nothing either.
        let named = &[StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY][..];
        let named_unconditional = &[
            StatusCode::NOT_FOUND,
            StatusCode::PRECONDITION_REQUIRED,
            StatusCode::UNPROCESSABLE_ENTITY,
        ][..];
        let (write, write_unconditional) = if bodies.name_scope {
            (named, named_unconditional)
        } else {
            (missing, unconditional)
        };
        // Where PUT creates, `If-Match` on a row the caller does not hold
        // is the 412 that an id nobody holds gets (design decision 19):
        // checked below to be that very answer.
        let put_if_match = &[
            StatusCode::NOT_FOUND,
            StatusCode::PRECONDITION_FAILED,
            StatusCode::UNPROCESSABLE_ENTITY,
        ][..];
        let tries = [
            (get(id), missing),
            (get(id).if_none_match(tag), missing),
            (get(id).if_none_match("*"), missing),
            (get(id).if_match(tag), missing),
            (head(id), missing),
            (head(id).if_none_match(tag), missing),
            (put(id, put_body).if_match(tag), put_if_match),
            (put(id, put_body).if_match("*"), put_if_match),
            (put(id, put_body), write_unconditional),
            (patch(id, patch_body).if_match(tag), write),
            (patch(id, patch_body).if_match("*"), write),
            (patch(id, patch_body), write_unconditional),
            (delete(id).if_match(tag), missing),
            (delete(id).if_match("*"), missing),
            (delete(id), unconditional),
        ];
        for (req, allowed) in tries {
            let answer = self.cross(tenant, &req).await;
            self.assert_hidden(tenant, &req, &answer, allowed, secrets);
        }
        for if_match in [tag, "*"] {
            let answer = self
                .cross(tenant, &put(id, put_body).if_match(if_match))
                .await;
            let nobody = self
                .by(tenant, &put(NOBODYS, put_body).if_match(if_match))
                .await;
            assert_eq!(
                (answer.status, &answer.body),
                (nobody.status, &nobody.body),
                "{}: as {tenant:?}, PUT If-Match {if_match} on another tenant's note {id} is not \
                 what an id nobody holds gets",
                self.ctx()
            );
        }
    }

    /// `tenant`'s list, which must show none of `foreign`: its items.
    async fn list(&self, tenant: &str, foreign: &[&str]) -> Vec<Value> {
        let req = list();
        let answer = self.cross(tenant, &req).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{}: as {tenant:?}, {req:?}: {answer:?}",
            self.ctx()
        );
        for secret in foreign {
            assert!(
                !answer.body.contains(secret),
                "{}: {tenant:?}'s list shows {secret:?} of another tenant: {answer:?}",
                self.ctx()
            );
        }
        let items = answer.json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("{}: a page, got {answer:?}", self.ctx()));
        for listed in &items {
            self.assert_member(tenant, listed, &format!("an item of {tenant:?}'s list"));
        }
        items
    }

    /// A refusal of an id another tenant holds: a 4xx with no `ETag` and
    /// none of `secrets`; or, where ids are per tenant (`may_create`), a
    /// 201 that made the caller's own resource.
    fn assert_taken(
        &self,
        tenant: &str,
        req: &Req,
        answer: &Answer,
        may_create: bool,
        secrets: &[&str],
    ) {
        if may_create && answer.status == StatusCode::CREATED {
            for secret in secrets {
                assert!(
                    !answer.body.contains(secret),
                    "{}: as {tenant:?}, {req:?}: {secret:?} shows: {answer:?}",
                    self.ctx()
                );
            }
            return;
        }
        assert!(
            answer.status.is_client_error(),
            "{}: as {tenant:?}, {req:?} of an id another tenant holds: expected a 4xx, got {answer:?}",
            self.ctx()
        );
        self.assert_hidden(tenant, req, answer, &[answer.status], secrets);
    }
}

/// The bodies of the writes of a [`Api::battery`].
#[derive(Clone, Copy)]
struct Bodies<'b> {
    put: &'b Value,
    patch: &'b Value,
    /// Whether they name the scope (as the row's owner's).
    name_scope: bool,
}

impl<'b> Bodies<'b> {
    /// The same body for PUT and PATCH, naming no scope.
    fn plain(body: &'b Value) -> Self {
        Self {
            put: body,
            patch: body,
            name_scope: false,
        }
    }
}

/// The ids and bodies of a page's items, in its order.
fn rows(items: &[Value]) -> Vec<(i64, String)> {
    items
        .iter()
        .map(|i| {
            (
                i["id"].as_i64().unwrap(),
                i["body"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// 1. Composite keys.

async fn composite<R: Repository<Note> + 'static>(backend: &'static str, repo: Arc<R>) {
    let attempts = Attempts::new(backend, "composite");
    let api = Api::new(&attempts, routes::<Note, R>(repo, true), "Note");
    let planted = json!({"body": "planted by globex"});
    let bodies = Bodies::plain(&planted);
    let (created, ok) = (StatusCode::CREATED, StatusCode::OK);

    // Tenant A: note 1 by POST, written twice (v3); note 2 by creating PUT.
    api.expect_tag(
        A,
        &post(&json!({"id": 1, "body": "acme one"})),
        created,
        &tag(1, 1),
    )
    .await;
    let req = put(1, &json!({"body": "acme one, second"})).if_match(&tag(1, 1));
    api.expect_tag(A, &req, ok, &tag(1, 2)).await;
    let req = patch(1, &json!({"body": "acme one, third"})).if_match(&tag(1, 2));
    api.expect_tag(A, &req, ok, &tag(1, 3)).await;
    let req = put(2, &json!({"body": "acme two"})).if_none_match("*");
    api.expect_tag(A, &req, created, &tag(2, 1)).await;

    // Tenant B: they do not exist, whatever it sends.
    let a1 = tag(1, 3);
    api.battery(B, 1, &a1, &["acme one", bare(&a1)], bodies)
        .await;
    let a2 = tag(2, 1);
    api.battery(B, 2, &a2, &["acme two", bare(&a2)], bodies)
        .await;
    let listed = api.list(B, &["acme"]).await;
    assert!(listed.is_empty(), "{}: {listed:?}", api.ctx());
    api.assert_row(A, 1, &a1, "acme one, third").await;
    api.assert_row(A, 2, &a2, "acme two").await;

    // B makes the same ids: resources of its own, from version 1.
    let req = post(&json!({"id": 1, "body": "globex one"}));
    let b1 = api.cross(B, &req).await;
    assert_eq!(
        (b1.status, b1.etag.as_deref()),
        (created, Some(&*tag(1, 1))),
        "{}: B's own note 1: {b1:?}",
        api.ctx()
    );
    assert!(!b1.body.contains("acme"), "{}: {b1:?}", api.ctx());
    let req = put(2, &json!({"body": "globex two"})).if_none_match("*");
    let b2 = api.cross(B, &req).await;
    assert_eq!(
        (b2.status, b2.etag.as_deref()),
        (created, Some(&*tag(2, 1))),
        "{}: B's own note 2 by creating PUT: {b2:?}",
        api.ctx()
    );
    assert!(!b2.body.contains("acme"), "{}: {b2:?}", api.ctx());
    api.assert_row(A, 1, &a1, "acme one, third").await;
    api.assert_row(A, 2, &a2, "acme two").await;
    api.assert_row(B, 1, &tag(1, 1), "globex one").await;

    // A's tag names nothing of B's: B's note 1 is at v1, A's at v3.
    let req = get(1).if_none_match(&a1);
    let seen = api.cross(B, &req).await;
    assert_eq!(
        (seen.status, seen.etag.as_deref()),
        (ok, Some(&*tag(1, 1))),
        "{}: as B, {req:?}: {seen:?}",
        api.ctx()
    );
    assert!(!seen.body.contains("acme"), "{}: {seen:?}", api.ctx());
    let with_a_tag = [
        put(1, &planted).if_match(&a1),
        patch(1, &planted).if_match(&a1),
        delete(1).if_match(&a1),
    ];
    for req in &with_a_tag {
        let answer = api.cross(B, req).await;
        assert_eq!(
            (answer.status, answer.etag.as_deref()),
            (StatusCode::PRECONDITION_FAILED, Some(&*tag(1, 1))),
            "{}: as B, {req:?} on B's own note 1: {answer:?}",
            api.ctx()
        );
        assert!(!answer.body.contains("acme"), "{}: {answer:?}", api.ctx());
    }
    // And B's tag names nothing of A's.
    let not_b = json!({"body": "planted by acme"});
    let with_b_tag = [
        put(1, &not_b).if_match(&tag(1, 1)),
        patch(1, &not_b).if_match(&tag(1, 1)),
        delete(1).if_match(&tag(1, 1)),
    ];
    for req in &with_b_tag {
        let answer = api.cross(A, req).await;
        assert_eq!(
            (answer.status, answer.etag.as_deref()),
            (StatusCode::PRECONDITION_FAILED, Some(&*a1)),
            "{}: as A, {req:?} on A's own note 1: {answer:?}",
            api.ctx()
        );
        assert!(!answer.body.contains("globex"), "{}: {answer:?}", api.ctx());
    }
    // B's second POST of id 1 meets its own note, not A's.
    let again = api
        .cross(B, &post(&json!({"id": 1, "body": "globex one?"})))
        .await;
    assert!(
        again.status.is_client_error() && !again.body.contains("acme"),
        "{}: {again:?}",
        api.ctx()
    );
    api.assert_row(A, 1, &a1, "acme one, third").await;
    api.assert_row(B, 1, &tag(1, 1), "globex one").await;

    // Each list: its own two notes, nothing of the other's.
    let mine = api.list(A, &["globex"]).await;
    assert_eq!(
        rows(&mine),
        [
            (1, "acme one, third".to_owned()),
            (2, "acme two".to_owned())
        ],
        "{}",
        api.ctx()
    );
    let theirs = api.list(B, &["acme"]).await;
    assert_eq!(
        rows(&theirs),
        [(1, "globex one".to_owned()), (2, "globex two".to_owned())],
        "{}",
        api.ctx()
    );

    // Tombstones per tenant: B deletes its note 1 (v1), A its own (v3);
    // each comes back after its own last version.
    api.expect(B, &delete(1).if_match(&tag(1, 1)), StatusCode::NO_CONTENT)
        .await;
    api.assert_row(A, 1, &a1, "acme one, third").await;
    api.expect(A, &delete(1).if_match(&a1), StatusCode::NO_CONTENT)
        .await;
    api.expect(B, &get(1), StatusCode::NOT_FOUND).await;
    api.expect(A, &get(1), StatusCode::NOT_FOUND).await;
    let req = put(1, &json!({"body": "globex one, reborn"})).if_none_match("*");
    api.expect_tag(B, &req, created, &tag(1, 2)).await;
    let req = post(&json!({"id": 1, "body": "acme one, reborn"}));
    api.expect_tag(A, &req, created, &tag(1, 4)).await;
    let stale = put(1, &json!({"body": "acme, stale"})).if_match(&a1);
    api.expect_tag(A, &stale, StatusCode::PRECONDITION_FAILED, &tag(1, 4))
        .await;
    api.assert_row(B, 1, &tag(1, 2), "globex one, reborn").await;
    api.assert_row(A, 1, &tag(1, 4), "acme one, reborn").await;

    // B's note 2 deleted and made again; A's note 2 untouched.
    api.expect(B, &delete(2).if_match(&tag(2, 1)), StatusCode::NO_CONTENT)
        .await;
    api.assert_row(A, 2, &a2, "acme two").await;
    let req = post(&json!({"id": 2, "body": "globex two, reborn"}));
    api.expect_tag(B, &req, created, &tag(2, 2)).await;
    api.assert_row(A, 2, &a2, "acme two").await;

    attempts.report();
}

#[tokio::test]
async fn tenancy_composite_memory() {
    composite("memory", Arc::new(MemoryRepository::<Note>::new())).await;
}

#[tokio::test]
async fn tenancy_composite_sqlite() {
    let (pool, _file) = sqlite("occ_tenancy_composite", &COMPOSITE_DDL).await;
    let repo = SqlRepository::<sqlx::Sqlite, Note>::new(pool);
    verified("sqlite composite", repo.verify().await);
    composite("sqlite", Arc::new(repo)).await;
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn tenancy_composite_postgres() {
    let Some((pool, _schema)) = postgres("tenancy_composite_postgres", &COMPOSITE_DDL).await else {
        return;
    };
    let repo = SqlRepository::<sqlx::Postgres, Note>::new(pool);
    verified("postgres composite", repo.verify().await);
    composite("postgres", Arc::new(repo)).await;
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn tenancy_composite_mysql() {
    let Some((pool, _database)) = mysql("tenancy_composite_mysql", &COMPOSITE_DDL).await else {
        return;
    };
    let repo = SqlRepository::<sqlx::MySql, Note>::new(pool);
    verified("mysql composite", repo.verify().await);
    composite("mysql", Arc::new(repo)).await;
}

// ---------------------------------------------------------------------------
// 2. Global ids.

/// `global_ids`: the store refuses an id another tenant holds (the SQL
/// table keyed by `id` alone); memory keys by tenant and id, so there the
/// same POST may make the caller's own resource instead.
async fn global<R: Repository<GlobalNote> + 'static>(
    backend: &'static str,
    repo: Arc<R>,
    global_ids: bool,
) {
    let attempts = Attempts::new(backend, "global");
    let api = Api::new(
        &attempts,
        routes::<GlobalNote, R>(repo, false),
        "GlobalNote",
    );
    let (created, ok) = (StatusCode::CREATED, StatusCode::OK);
    let by_b = json!({"body": "planted by globex"});
    let by_a = json!({"body": "planted by acme"});

    // A: note 1 at v2, note 7 at v1.
    api.expect_tag(
        A,
        &post(&json!({"id": 1, "body": "acme one"})),
        created,
        &tag(1, 1),
    )
    .await;
    let req = patch(1, &json!({"body": "acme one, second"})).if_match(&tag(1, 1));
    api.expect_tag(A, &req, ok, &tag(1, 2)).await;
    api.expect_tag(
        A,
        &post(&json!({"id": 7, "body": "acme seven"})),
        created,
        &tag(7, 1),
    )
    .await;

    // B: they do not exist.
    let a1 = tag(1, 2);
    api.battery(B, 1, &a1, &["acme one", bare(&a1)], Bodies::plain(&by_b))
        .await;
    let a7 = tag(7, 1);
    api.battery(B, 7, &a7, &["acme seven", bare(&a7)], Bodies::plain(&by_b))
        .await;
    let listed = api.list(B, &["acme"]).await;
    assert!(listed.is_empty(), "{}: {listed:?}", api.ctx());

    // B claims A's id 7: refused, showing nothing of A's note.
    let claims = [
        put(7, &json!({"body": "globex seven"})).if_none_match("*"),
        post(&json!({"id": 7, "body": "globex seven"})),
    ];
    for req in &claims {
        let answer = api.cross(B, req).await;
        api.assert_taken(B, req, &answer, !global_ids, &["acme seven", bare(&a7)]);
        if answer.status == created {
            // Memory made the caller's own note: the next claim would
            // meet that one.
            break;
        }
    }
    api.assert_row(A, 1, &a1, "acme one, second").await;
    api.assert_row(A, 7, &a7, "acme seven").await;

    // B's notes 2 and 8: the same the other way round.
    api.expect_tag(
        B,
        &post(&json!({"id": 2, "body": "globex two"})),
        created,
        &tag(2, 1),
    )
    .await;
    api.expect_tag(
        B,
        &post(&json!({"id": 8, "body": "globex eight"})),
        created,
        &tag(8, 1),
    )
    .await;
    let b2 = tag(2, 1);
    api.battery(A, 2, &b2, &["globex two", bare(&b2)], Bodies::plain(&by_a))
        .await;
    let b8 = tag(8, 1);
    api.battery(
        A,
        8,
        &b8,
        &["globex eight", bare(&b8)],
        Bodies::plain(&by_a),
    )
    .await;
    let claims = [
        post(&json!({"id": 8, "body": "acme eight"})),
        put(8, &json!({"body": "acme eight"})).if_none_match("*"),
    ];
    for req in &claims {
        let answer = api.cross(A, req).await;
        api.assert_taken(A, req, &answer, !global_ids, &["globex eight", bare(&b8)]);
        if answer.status == created {
            // Memory made the caller's own note: the next claim would
            // meet that one.
            break;
        }
    }
    api.assert_row(B, 2, &b2, "globex two").await;
    api.assert_row(B, 8, &b8, "globex eight").await;
    api.assert_row(A, 1, &a1, "acme one, second").await;
    api.assert_row(A, 7, &a7, "acme seven").await;

    // Each list: its own notes only.
    let mine = rows(&api.list(A, &["globex"]).await);
    assert!(
        mine.iter().all(|(_, body)| body.starts_with("acme"))
            && mine.iter().any(|(id, _)| *id == 1)
            && mine.iter().any(|(id, _)| *id == 7),
        "{}: A lists {mine:?}",
        api.ctx()
    );
    let theirs = rows(&api.list(B, &["acme"]).await);
    assert!(
        theirs.iter().all(|(_, body)| body.starts_with("globex"))
            && theirs.iter().any(|(id, _)| *id == 2)
            && theirs.iter().any(|(id, _)| *id == 8),
        "{}: B lists {theirs:?}",
        api.ctx()
    );

    // A deletes note 1: the id is free, and B takes it from its own
    // version 1; A's old tags reach nothing of B's.
    api.expect(A, &delete(1).if_match(&a1), StatusCode::NO_CONTENT)
        .await;
    let req = post(&json!({"id": 1, "body": "globex one"}));
    let taken = api.cross(B, &req).await;
    assert_eq!(
        (taken.status, taken.etag.as_deref()),
        (created, Some(&*tag(1, 1))),
        "{}: as B, {req:?} of an id A deleted: {taken:?}",
        api.ctx()
    );
    assert!(!taken.body.contains("acme"), "{}: {taken:?}", api.ctx());
    let b1 = tag(1, 1);
    api.battery(A, 1, &b1, &["globex one", bare(&b1)], Bodies::plain(&by_a))
        .await;
    let old = [
        put(1, &by_a).if_match(&a1),
        patch(1, &by_a).if_match(&a1),
        delete(1).if_match(&a1),
        get(1).if_none_match(&a1),
    ];
    for req in &old {
        let answer = api.cross(A, req).await;
        // A PUT with If-Match where PUT creates: the 412 an id nobody
        // holds gets (checked to be that by the battery above).
        let allowed = if req.method == Method::PUT {
            &[StatusCode::NOT_FOUND, StatusCode::PRECONDITION_FAILED][..]
        } else {
            &[StatusCode::NOT_FOUND][..]
        };
        api.assert_hidden(A, req, &answer, allowed, &["globex"]);
    }
    api.assert_row(B, 1, &b1, "globex one").await;

    // B deletes it; A's id comes back after A's own last version.
    api.expect(B, &delete(1).if_match(&b1), StatusCode::NO_CONTENT)
        .await;
    let req = post(&json!({"id": 1, "body": "acme one, reborn"}));
    api.expect_tag(A, &req, created, &tag(1, 3)).await;
    let a1 = tag(1, 3);
    api.battery(B, 1, &a1, &["acme one", bare(&a1)], Bodies::plain(&by_b))
        .await;
    api.assert_row(A, 1, &a1, "acme one, reborn").await;

    attempts.report();
}

#[tokio::test]
async fn tenancy_global_memory() {
    global(
        "memory",
        Arc::new(MemoryRepository::<GlobalNote>::new()),
        false,
    )
    .await;
}

#[tokio::test]
async fn tenancy_global_sqlite() {
    let (pool, _file) = sqlite("occ_tenancy_global", &GLOBAL_DDL).await;
    let repo = SqlRepository::<sqlx::Sqlite, GlobalNote>::new(pool);
    verified("sqlite global", repo.verify().await);
    global("sqlite", Arc::new(repo), true).await;
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn tenancy_global_postgres() {
    let Some((pool, _schema)) = postgres("tenancy_global_postgres", &GLOBAL_DDL).await else {
        return;
    };
    let repo = SqlRepository::<sqlx::Postgres, GlobalNote>::new(pool);
    verified("postgres global", repo.verify().await);
    global("postgres", Arc::new(repo), true).await;
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn tenancy_global_mysql() {
    let Some((pool, _database)) = mysql("tenancy_global_mysql", &GLOBAL_DDL).await else {
        return;
    };
    let repo = SqlRepository::<sqlx::MySql, GlobalNote>::new(pool);
    verified("mysql global", repo.verify().await);
    global("mysql", Arc::new(repo), true).await;
}

// ---------------------------------------------------------------------------
// 3. Serde namings of the scope.

/// Every name a client might give the scope in a body.
const NAMES: [&str; 5] = ["tenant_id", "tenant", "tenantId", "owner", "tenantID"];

async fn namings<R1, R2, R3, R4>(
    backend: &'static str,
    aliased: Arc<R1>,
    renamed: Arc<R2>,
    camel: Arc<R3>,
    hidden: Arc<R4>,
) where
    R1: Repository<Aliased> + 'static,
    R2: Repository<Renamed> + 'static,
    R3: Repository<Camel> + 'static,
    R4: Repository<Hidden> + 'static,
{
    let attempts = Attempts::new(backend, "namings");
    let mut api = Api::new(&attempts, routes::<Aliased, R1>(aliased, true), "alias");
    api.member = Some("tenant_id");
    naming(&api).await;
    let mut api = Api::new(&attempts, routes::<Renamed, R2>(renamed, true), "rename");
    (api.column, api.member) = ("owner", Some("tenantId"));
    naming(&api).await;
    let mut api = Api::new(&attempts, routes::<Camel, R3>(camel, true), "rename_all");
    api.member = Some("tenantId");
    naming(&api).await;
    let api = Api::new(&attempts, routes::<Hidden, R4>(hidden, true), "skip");
    naming(&api).await;
    attempts.report();
}

impl Api<'_> {
    /// After `owner` sent `req`, naming the scope as `other`'s: `ok` (the
    /// member ignored) or 422; either way note `id`, if it exists, is
    /// `owner`'s, and `other` does not see it.
    async fn assert_not_moved(
        &self,
        (owner, other): (&str, &str),
        req: &Req,
        answer: &Answer,
        ok: StatusCode,
        id: i64,
    ) {
        assert!(
            answer.status == ok || answer.status == StatusCode::UNPROCESSABLE_ENTITY,
            "{}: as {owner:?}, {req:?}: expected {ok} (the scope member ignored) or 422, got {answer:?}",
            self.ctx()
        );
        if answer.status == ok {
            assert!(
                !answer.body.contains(other),
                "{}: as {owner:?}, {req:?}: the answer names {other:?}: {answer:?}",
                self.ctx()
            );
            self.assert_member(owner, &answer.json(), &format!("the answer to {req:?}"));
            let mine = self.by(owner, &get(id)).await;
            assert_eq!(
                (mine.status, &mine.etag),
                (StatusCode::OK, &answer.etag),
                "{}: after {req:?}, {owner:?}'s note {id}: {mine:?}",
                self.ctx()
            );
            assert!(!mine.body.contains(other), "{}: {mine:?}", self.ctx());
            self.assert_member(owner, &mine.json(), &format!("{owner:?}'s note {id}"));
        }
        let theirs = self.cross(other, &get(id)).await;
        self.assert_hidden(other, &get(id), &theirs, &[StatusCode::NOT_FOUND], &[owner]);
    }

    /// The current tag of `tenant`'s note `id`.
    async fn current(&self, tenant: &str, id: i64) -> String {
        let got = self.expect(tenant, &get(id), StatusCode::OK).await;
        got.etag
            .clone()
            .unwrap_or_else(|| panic!("{}: no ETag: {got:?}", self.ctx()))
    }

    /// A body holding `body` and, when the scope shows, the scope's member
    /// as `tenant` (what the model's own representation would carry).
    fn own_body(&self, body: &str, tenant: &str) -> Vec<(&'static str, Value)> {
        let mut members = vec![("body", json!(body))];
        if let Some(member) = self.member {
            members.push((member, json!(tenant)));
        }
        members
    }
}

/// One model: every write of A names the scope as B's, under every name,
/// alone or beside the model's own member; every write of B names A's.
async fn naming(api: &Api<'_>) {
    let (created, ok) = (StatusCode::CREATED, StatusCode::OK);
    let mut seed = api.own_body("acme one", A);
    seed.push(("id", json!(1)));
    let first = api
        .expect_tag(A, &post(&obj(&seed)), created, &tag(1, 1))
        .await;
    api.assert_member(A, &first.json(), "the created note 1");

    let mut next = 100;
    for name in NAMES {
        // The name alone, and beside the model's own member naming A.
        let mut variants = vec![vec![(name, json!(B))]];
        if api.member.is_some_and(|m| m != name) {
            let mut both = api.own_body("", A);
            both.retain(|(member, _)| *member != "body");
            both.push((name, json!(B)));
            variants.push(both);
        }
        for scope_members in variants {
            let with = |members: &[(&'static str, Value)]| {
                let mut all = members.to_vec();
                all.extend(scope_members.iter().cloned());
                obj(&all)
            };
            next += 1;
            let body = format!("acme {next}");
            let req = post(&with(&[("id", json!(next)), ("body", json!(body))]));
            let answer = api.cross(A, &req).await;
            api.assert_not_moved((A, B), &req, &answer, created, next)
                .await;

            next += 1;
            let body = format!("acme {next}");
            let req = put(next, &with(&[("body", json!(body))])).if_none_match("*");
            let answer = api.cross(A, &req).await;
            api.assert_not_moved((A, B), &req, &answer, created, next)
                .await;

            let current = api.current(A, 1).await;
            let body = format!("acme one, put naming {name}");
            let req = put(1, &with(&[("body", json!(body))])).if_match(&current);
            let answer = api.cross(A, &req).await;
            api.assert_not_moved((A, B), &req, &answer, ok, 1).await;

            let current = api.current(A, 1).await;
            let req = patch(1, &with(&[])).if_match(&current);
            let answer = api.cross(A, &req).await;
            api.assert_not_moved((A, B), &req, &answer, ok, 1).await;

            let current = api.current(A, 1).await;
            let body = format!("acme one, patch naming {name}");
            let req = patch(1, &with(&[("body", json!(body))])).if_match(&current);
            let answer = api.cross(A, &req).await;
            api.assert_not_moved((A, B), &req, &answer, ok, 1).await;
        }
    }
    // Every name at once.
    let everywhere: Vec<(&'static str, Value)> = NAMES.iter().map(|n| (*n, json!(B))).collect();
    next += 1;
    let mut members = everywhere.clone();
    members.extend([("id", json!(next)), ("body", json!(format!("acme {next}")))]);
    let req = post(&obj(&members));
    let answer = api.cross(A, &req).await;
    api.assert_not_moved((A, B), &req, &answer, created, next)
        .await;
    let current = api.current(A, 1).await;
    let req = patch(1, &obj(&everywhere)).if_match(&current);
    let answer = api.cross(A, &req).await;
    api.assert_not_moved((A, B), &req, &answer, ok, 1).await;

    // B reaches nothing of A's note, even naming A.
    let current = api.current(A, 1).await;
    let mut as_a = api.own_body("planted by globex", A);
    as_a.extend(NAMES.iter().map(|n| (*n, json!(A))));
    let as_a = obj(&as_a);
    let claims_a = obj(&api.own_body("planted by globex", A));
    let bodies = Bodies {
        put: &claims_a,
        patch: &claims_a,
        name_scope: api.member.is_some(),
    };
    api.battery(B, 1, &current, &["acme", bare(&current)], bodies)
        .await;
    let bodies = Bodies {
        put: &claims_a,
        patch: &as_a,
        name_scope: true,
    };
    api.battery(B, 1, &current, &["acme", bare(&current)], bodies)
        .await;

    // B's writes naming A make B's own notes, which A does not see.
    for name in NAMES {
        next += 1;
        let members = [
            ("id", json!(next)),
            ("body", json!(format!("globex {next}"))),
            (name, json!(A)),
        ];
        let req = post(&obj(&members));
        let answer = api.cross(B, &req).await;
        api.assert_not_moved((B, A), &req, &answer, created, next)
            .await;
    }

    // Each list: its own notes, nothing of the other's.
    let mine = rows(&api.list(A, &["globex"]).await);
    assert!(
        mine.iter().any(|(id, _)| *id == 1) && mine.iter().all(|(_, b)| b.starts_with("acme")),
        "{}: A lists {mine:?}",
        api.ctx()
    );
    let theirs = rows(&api.list(B, &["acme"]).await);
    assert!(
        theirs.iter().all(|(_, b)| b.starts_with("globex")),
        "{}: B lists {theirs:?}",
        api.ctx()
    );
    let now = api.current(A, 1).await;
    assert_eq!(now, current, "{}: B's attempts changed A's note", api.ctx());
}

#[tokio::test]
async fn tenancy_namings_memory() {
    namings(
        "memory",
        Arc::new(MemoryRepository::<Aliased>::new()),
        Arc::new(MemoryRepository::<Renamed>::new()),
        Arc::new(MemoryRepository::<Camel>::new()),
        Arc::new(MemoryRepository::<Hidden>::new()),
    )
    .await;
}

#[tokio::test]
async fn tenancy_namings_sqlite() {
    let (pool, _file) = sqlite("occ_tenancy_namings", &NAMINGS_DDL).await;
    let aliased = SqlRepository::<sqlx::Sqlite, Aliased>::new(pool.clone());
    verified("sqlite alias", aliased.verify().await);
    let renamed = SqlRepository::<sqlx::Sqlite, Renamed>::new(pool.clone());
    verified("sqlite rename", renamed.verify().await);
    let camel = SqlRepository::<sqlx::Sqlite, Camel>::new(pool.clone());
    verified("sqlite rename_all", camel.verify().await);
    let hidden = SqlRepository::<sqlx::Sqlite, Hidden>::new(pool);
    verified("sqlite skip", hidden.verify().await);
    namings(
        "sqlite",
        Arc::new(aliased),
        Arc::new(renamed),
        Arc::new(camel),
        Arc::new(hidden),
    )
    .await;
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn tenancy_namings_postgres() {
    let Some((pool, _schema)) = postgres("tenancy_namings_postgres", &NAMINGS_DDL).await else {
        return;
    };
    let aliased = SqlRepository::<sqlx::Postgres, Aliased>::new(pool.clone());
    verified("postgres alias", aliased.verify().await);
    let renamed = SqlRepository::<sqlx::Postgres, Renamed>::new(pool.clone());
    verified("postgres rename", renamed.verify().await);
    let camel = SqlRepository::<sqlx::Postgres, Camel>::new(pool.clone());
    verified("postgres rename_all", camel.verify().await);
    let hidden = SqlRepository::<sqlx::Postgres, Hidden>::new(pool);
    verified("postgres skip", hidden.verify().await);
    namings(
        "postgres",
        Arc::new(aliased),
        Arc::new(renamed),
        Arc::new(camel),
        Arc::new(hidden),
    )
    .await;
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn tenancy_namings_mysql() {
    let Some((pool, _database)) = mysql("tenancy_namings_mysql", &NAMINGS_DDL).await else {
        return;
    };
    let aliased = SqlRepository::<sqlx::MySql, Aliased>::new(pool.clone());
    verified("mysql alias", aliased.verify().await);
    let renamed = SqlRepository::<sqlx::MySql, Renamed>::new(pool.clone());
    verified("mysql rename", renamed.verify().await);
    let camel = SqlRepository::<sqlx::MySql, Camel>::new(pool.clone());
    verified("mysql rename_all", camel.verify().await);
    let hidden = SqlRepository::<sqlx::MySql, Hidden>::new(pool);
    verified("mysql skip", hidden.verify().await);
    namings(
        "mysql",
        Arc::new(aliased),
        Arc::new(renamed),
        Arc::new(camel),
        Arc::new(hidden),
    )
    .await;
}

// ---------------------------------------------------------------------------
// 4. Exact comparison.

/// Tenants that a case-insensitive, accent-insensitive or PAD SPACE
/// comparison would take for `acme`.
const LOOKALIKES: [&str; 4] = ["ACME", "Acme", "acme ", "ácme"];

/// `folding_keys`: the table's key compares tenants as the database's
/// default collation does (MariaDB), so a lookalike's POST of an id `acme`
/// holds may be refused by the key rather than make its own note; it must
/// then show nothing.
async fn exact<R: Repository<Exact> + 'static>(
    backend: &'static str,
    repo: Arc<R>,
    folding_keys: bool,
) {
    let attempts = Attempts::new(backend, "exact");
    let api = Api::new(&attempts, routes::<Exact, R>(repo, false), "Exact");
    let (created, ok) = (StatusCode::CREATED, StatusCode::OK);
    let tenants: Vec<&str> = std::iter::once(A).chain(LOOKALIKES).collect();
    let body_of = |k: usize| format!("row of tenant {k}");
    let edited = |k: usize| format!("row of tenant {k}, edited");
    let planted = json!({"body": "planted by a lookalike"});

    // Each tenant k holds note 10 + k, at v2.
    for (k, tenant) in (0i64..).zip(&tenants) {
        let id = 10 + k;
        let idx = usize::try_from(k).unwrap();
        let req = post(&json!({"id": id, "body": body_of(idx)}));
        api.expect_tag(tenant, &req, created, &tag(id, 1)).await;
        let req = patch(id, &json!({"body": edited(idx)})).if_match(&tag(id, 1));
        api.expect_tag(tenant, &req, ok, &tag(id, 2)).await;
    }
    // Every tenant, on every other's note: nothing.
    for (k, _) in (0i64..).zip(&tenants) {
        let id = 10 + k;
        let held = tag(id, 2);
        let secret = body_of(usize::try_from(k).unwrap());
        for (j, tenant) in (0i64..).zip(&tenants) {
            if j != k {
                api.battery(
                    tenant,
                    id,
                    &held,
                    &[&secret, bare(&held)],
                    Bodies::plain(&planted),
                )
                .await;
            }
        }
    }
    // Each list: exactly its own note; each note as it was.
    for (k, tenant) in (0i64..).zip(&tenants) {
        let idx = usize::try_from(k).unwrap();
        let others: Vec<String> = (0..tenants.len())
            .filter(|j| *j != idx)
            .map(body_of)
            .collect();
        let others: Vec<&str> = others.iter().map(String::as_str).collect();
        let listed = rows(&api.list(tenant, &others).await);
        assert_eq!(
            listed,
            [(10 + k, edited(idx))],
            "{}: {tenant:?}'s list",
            api.ctx()
        );
        api.assert_row(tenant, 10 + k, &tag(10 + k, 2), &edited(idx))
            .await;
    }

    // The same id: acme's note 1, and each lookalike's POST of id 1.
    api.expect_tag(
        A,
        &post(&json!({"id": 1, "body": "acme one"})),
        created,
        &tag(1, 1),
    )
    .await;
    for (j, tenant) in LOOKALIKES.iter().enumerate() {
        let mine = format!("lookalike {j} one");
        let req = post(&json!({"id": 1, "body": mine}));
        let answer = api.cross(tenant, &req).await;
        if answer.status == created {
            assert_eq!(
                answer.etag.as_deref(),
                Some(&*tag(1, 1)),
                "{}: {tenant:?}'s own note 1: {answer:?}",
                api.ctx()
            );
            assert!(
                !answer.body.contains("acme one"),
                "{}: {answer:?}",
                api.ctx()
            );
            api.assert_row(tenant, 1, &tag(1, 1), &mine).await;
        } else {
            assert!(
                folding_keys,
                "{}: {tenant:?} could not make its own note 1: {req:?}: {answer:?}",
                api.ctx()
            );
            api.assert_taken(tenant, &req, &answer, false, &["acme one"]);
            let theirs = api.cross(tenant, &get(1)).await;
            api.assert_hidden(
                tenant,
                &get(1),
                &theirs,
                &[StatusCode::NOT_FOUND],
                &["acme one"],
            );
        }
        api.assert_row(A, 1, &tag(1, 1), "acme one").await;
    }

    // Tombstones: acme's note 3 (deleted at v2) is not a lookalike's, and
    // a lookalike's (deleted at v3) is not acme's.
    api.expect_tag(
        A,
        &post(&json!({"id": 3, "body": "acme three"})),
        created,
        &tag(3, 1),
    )
    .await;
    let req = patch(3, &json!({"body": "acme three, second"})).if_match(&tag(3, 1));
    api.expect_tag(A, &req, ok, &tag(3, 2)).await;
    api.expect(A, &delete(3).if_match(&tag(3, 2)), StatusCode::NO_CONTENT)
        .await;
    // A version taken from another tenant's tombstone shows none of its
    // state but moves its versions: collected, and followed, so that the
    // rest runs.
    for (j, tenant) in LOOKALIKES.iter().enumerate() {
        let req = post(&json!({"id": 3, "body": format!("lookalike {j} three")}));
        let answer = api.cross(tenant, &req).await;
        assert_eq!(
            answer.status,
            created,
            "{}: {tenant:?}, {req:?}: {answer:?}",
            api.ctx()
        );
        assert!(
            !answer.body.contains("acme three"),
            "{}: {answer:?}",
            api.ctx()
        );
        let first = version_of(answer.etag.as_deref());
        if first != 1 {
            attempts.crossed(format!(
                "{}: as {tenant:?}, {req:?} after acme deleted its note 3 at v2 and lookalikes theirs at v3: expected {}, got {answer:?}",
                api.ctx(),
                tag(3, 1)
            ));
        }
        for v in first..first + 2 {
            let body = format!("lookalike {j} three, v{}", v + 1);
            let req = patch(3, &json!({"body": body})).if_match(&tag(3, v));
            api.expect_tag(tenant, &req, ok, &tag(3, v + 1)).await;
        }
        let req = delete(3).if_match(&tag(3, first + 2));
        api.expect(tenant, &req, StatusCode::NO_CONTENT).await;
    }
    let req = post(&json!({"id": 3, "body": "acme three, reborn"}));
    let reborn = api.by(A, &req).await;
    assert_eq!(reborn.status, created, "{}: {req:?}: {reborn:?}", api.ctx());
    let a3 = reborn.etag.clone().unwrap_or_default();
    if a3 != tag(3, 3) {
        attempts.crossed(format!(
            "{}: as \"acme\", {req:?} after its own delete at v2 (and lookalikes' at v3): expected {} (after acme's own tombstone), got {reborn:?}",
            api.ctx(),
            tag(3, 3)
        ));
    }
    for tenant in LOOKALIKES {
        api.battery(
            tenant,
            3,
            &a3,
            &["acme three", bare(&a3)],
            Bodies::plain(&planted),
        )
        .await;
    }
    api.assert_row(A, 3, &a3, "acme three, reborn").await;

    attempts.report();
}

#[tokio::test]
async fn tenancy_exact_memory() {
    exact("memory", Arc::new(MemoryRepository::<Exact>::new()), false).await;
}

#[tokio::test]
async fn tenancy_exact_sqlite() {
    let (pool, _file) = sqlite("occ_tenancy_exact", &EXACT_DDL).await;
    let repo = SqlRepository::<sqlx::Sqlite, Exact>::new(pool);
    verified("sqlite exact", repo.verify().await);
    exact("sqlite", Arc::new(repo), false).await;
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn tenancy_exact_postgres() {
    let Some((pool, _schema)) = postgres("tenancy_exact_postgres", &EXACT_DDL).await else {
        return;
    };
    let repo = SqlRepository::<sqlx::Postgres, Exact>::new(pool);
    verified("postgres exact", repo.verify().await);
    exact("postgres", Arc::new(repo), false).await;
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn tenancy_exact_mysql() {
    let Some((pool, _database)) = mysql_collated("tenancy_exact_mysql", &EXACT_DDL, false).await
    else {
        return;
    };
    // The test has teeth only if the default collation folds: check that
    // it takes `ACME` and `acme ` for `acme`.
    sqlx::query("CREATE TABLE tn_probe (t VARCHAR(64) NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO tn_probe (t) VALUES ('acme')")
        .execute(&pool)
        .await
        .unwrap();
    let mut folded = Vec::new();
    for lookalike in LOOKALIKES {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tn_probe WHERE t = ?")
            .bind(lookalike)
            .fetch_one(&pool)
            .await
            .unwrap();
        if n > 0 {
            folded.push(lookalike);
        }
    }
    assert!(
        folded.contains(&"ACME") && folded.contains(&"acme "),
        "the default collation does not fold case and trailing spaces: {folded:?}"
    );
    // Such a scope column would let lookalikes share keys (and so ids and
    // tombstones): `verify()` refuses it, naming the column and the fix.
    let repo = SqlRepository::<sqlx::MySql, Exact>::new(pool.clone());
    let refused = repo
        .verify()
        .await
        .expect_err("verify refuses a folding scope column")
        .to_string();
    assert!(
        refused.contains("`tenant_id`") && refused.contains("utf8mb4_nopad_bin"),
        "{refused}"
    );
    // The fix the message names.
    for table in ["tn_exact", "tn_exact_tombstones"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} MODIFY tenant_id VARCHAR(64) CHARACTER SET utf8mb4 \
             COLLATE utf8mb4_nopad_bin NOT NULL"
        )))
        .execute(&pool)
        .await
        .unwrap();
    }
    verified("mysql exact", repo.verify().await);
    exact("mysql", Arc::new(repo), false).await;
}

// ---------------------------------------------------------------------------
// 5. No scope, and scoped views.

fn unscoped_note(id: i64, tenant: &str, body: &str) -> Unscoped {
    Unscoped {
        id,
        version: 1,
        tenant_id: tenant.to_owned(),
        body: body.to_owned(),
    }
}

/// An error that carries nothing of `acme`'s rows (one attempt, counted).
fn assert_bare_refusal<T: std::fmt::Debug>(
    (attempts, ctx): (&Attempts, &str),
    what: &str,
    result: Result<T, RepositoryError<Unscoped>>,
) {
    attempts.count();
    match result {
        Ok(value) => panic!("{ctx}: {what} without a scope succeeded: {value:?}"),
        Err(error) => {
            let shown = format!("{error:?} {error}");
            assert!(
                !shown.contains("acme one") && !shown.contains("acme two"),
                "{ctx}: {what} without a scope: {shown}"
            );
        }
    }
}

/// A view's answer about a row it does not hold: `NotFound` (or, for a
/// write that names the scope, `Invalid`), carrying nothing of it (one
/// attempt, counted).
fn assert_missing<T: std::fmt::Debug>(
    (attempts, ctx): (&Attempts, &str),
    what: &str,
    result: Result<T, RepositoryError<Unscoped>>,
    names_scope: bool,
) {
    attempts.count();
    let fits = match &result {
        Err(RepositoryError::NotFound) => true,
        Err(RepositoryError::Invalid(why)) => names_scope && !why.contains("acme"),
        _ => false,
    };
    assert!(
        fits,
        "{ctx}: globex's view, {what} on acme's note: expected NotFound, got {result:?}"
    );
}

async fn unscoped<R: Repository<Unscoped> + 'static>(backend: &'static str, repo: Arc<R>) {
    let attempts = Attempts::new(backend, "unscoped");
    let api = Api::new(
        &attempts,
        routes::<Unscoped, R>(repo.clone(), false),
        "Unscoped",
    );
    let created = StatusCode::CREATED;
    api.expect_tag(
        A,
        &post(&json!({"id": 1, "body": "acme one"})),
        created,
        &tag(1, 1),
    )
    .await;
    api.expect_tag(
        A,
        &post(&json!({"id": 2, "body": "acme two"})),
        created,
        &tag(2, 1),
    )
    .await;
    let (a1, a2) = (tag(1, 1), tag(2, 1));
    let secrets = ["acme one", "acme two", bare(&a1), bare(&a2)];

    // Without a Scope: 500 problem, nothing of the rows, nothing done.
    let change = json!({"body": "written without a scope"});
    let requests = [
        get(1),
        get(1).if_none_match(&a1),
        head(1),
        list(),
        Req::new(Method::HEAD, "/notes"),
        post(&json!({"id": 3, "body": "made without a scope"})),
        put(4, &change).if_none_match("*"),
        put(1, &change).if_match(&a1),
        put(1, &change).if_match("*"),
        patch(1, &change).if_match(&a1),
        patch(2, &change).if_match("*"),
        delete(1).if_match(&a1),
        delete(2).if_match("*"),
    ];
    for req in &requests {
        attempts.count();
        let answer = send(&api.app, None, req).await;
        api.assert_hidden(
            "(none)",
            req,
            &answer,
            &[StatusCode::INTERNAL_SERVER_ERROR],
            &secrets,
        );
        if req.method != Method::HEAD {
            assert_eq!(
                answer.content_type.as_deref(),
                Some("application/problem+json"),
                "{}: {req:?} without a scope: {answer:?}",
                api.ctx()
            );
        }
    }
    // A scope on a column the model does not declare: nothing either.
    for req in [get(1), list(), patch(1, &change).if_match(&a1)] {
        attempts.count();
        let answer = send(&api.app, Some(Scope::new("owner_id", A)), &req).await;
        assert!(
            !answer.status.is_success()
                && answer.status != StatusCode::NOT_MODIFIED
                && answer.status != StatusCode::PRECONDITION_FAILED,
            "{}: {req:?} with a scope on another column: {answer:?}",
            api.ctx()
        );
        api.assert_hidden("owner_id=acme", &req, &answer, &[answer.status], &secrets);
    }
    api.assert_row(A, 1, &a1, "acme one").await;
    api.assert_row(A, 2, &a2, "acme two").await;
    api.expect(A, &get(3), StatusCode::NOT_FOUND).await;
    api.expect(A, &get(4), StatusCode::NOT_FOUND).await;
    let listed = rows(&api.list(A, &[]).await);
    assert_eq!(
        listed,
        [(1, "acme one".to_owned()), (2, "acme two".to_owned())],
        "{}",
        api.ctx()
    );

    // At the repository, without a scope: every operation refused.
    let ctx = api.ctx();
    let condition = WriteCondition::Exists;
    let at = (&attempts, ctx.as_str());
    assert_bare_refusal(at, "get", repo.get(&1).await);
    assert_bare_refusal(
        at,
        "read",
        repo.read(&1, &KnownVersions::Listed(vec![])).await,
    );
    assert_bare_refusal(at, "list", repo.list(None, 100).await);
    assert_bare_refusal(
        at,
        "create",
        repo.create(unscoped_note(5, A, "made at the repository"))
            .await,
    );
    assert_bare_refusal(
        at,
        "update",
        repo.update(unscoped_note(1, A, "updated at the repository"), &condition)
            .await,
    );
    assert_bare_refusal(at, "delete", repo.delete(&2, &condition).await);
    assert_bare_refusal(
        at,
        "merge_patch",
        repo.merge_patch(&1, &json!({"body": "patched"}), &condition)
            .await,
    );
    assert_bare_refusal(
        at,
        "delete",
        repo.delete(&1, &WriteCondition::VersionIn(vec![1])).await,
    );
    api.assert_row(A, 1, &a1, "acme one").await;
    api.assert_row(A, 2, &a2, "acme two").await;
    api.expect(A, &get(5), StatusCode::NOT_FOUND).await;

    // A scoped view is never scoped again to another scope; to its own, it
    // is the same view.
    let acme = Scope::new("tenant_id", A);
    let view = repo.scoped(&acme).expect("a view of acme's rows");
    for other in [
        Scope::new("tenant_id", B),
        Scope::new("tenant_id", "ACME"),
        Scope::new("tenant_id", "acme "),
        Scope::new("owner_id", A),
    ] {
        attempts.count();
        let widened = view.scoped(&other);
        assert!(
            widened.is_err(),
            "{ctx}: the view of {acme:?} was scoped again to {other:?}"
        );
    }
    let same = view.scoped(&acme).expect("the same scope again");
    assert_eq!(same.get(&1).await.expect("acme's note 1").body, "acme one");
    assert_eq!(view.get(&2).await.expect("acme's note 2").body, "acme two");
    // A scope on another column: refused, or a view of nothing.
    attempts.count();
    if let Ok(elsewhere) = repo.scoped(&Scope::new("owner_id", A)) {
        assert!(
            elsewhere.get(&1).await.is_err(),
            "{ctx}: a scope on another column shows acme's note"
        );
    }

    // B's view: nothing of A's, and what it writes is its own.
    let globex = repo
        .scoped(&Scope::new("tenant_id", B))
        .expect("a view of globex's rows");
    assert_missing(at, "get", globex.get(&1).await, false);
    let read = globex.read(&1, &KnownVersions::Any).await;
    assert_missing(at, "read", read, false);
    let hijack = unscoped_note(1, A, "planted by globex");
    let updated = globex.update(hijack.clone(), &condition).await;
    assert_missing(at, "update", updated, false);
    let at_v1 = WriteCondition::VersionIn(vec![1]);
    let updated = globex.update(hijack.clone(), &at_v1).await;
    assert_missing(at, "update at v1", updated, false);
    assert_missing(at, "delete", globex.delete(&1, &condition).await, false);
    assert_missing(at, "delete at v1", globex.delete(&2, &at_v1).await, false);
    let plain = json!({"body": "planted"});
    let patched = globex.merge_patch(&1, &plain, &condition).await;
    assert_missing(at, "merge_patch", patched, false);
    // A patch naming the scope column may be refused as such.
    let naming = json!({"body": "planted", "tenant_id": B});
    let patched = globex.merge_patch(&1, &naming, &condition).await;
    assert_missing(at, "merge_patch naming the scope", patched, true);
    attempts.count();
    let page = globex.list(None, 100).await.expect("globex's list");
    assert!(
        page.items.is_empty(),
        "{ctx}: globex lists {:?}",
        page.items
    );
    attempts.count();
    match globex.create(hijack).await {
        Ok(made) => {
            assert_eq!(made.tenant_id, B, "{ctx}: globex's create made {made:?}");
            assert_eq!(
                globex.get(&1).await.expect("globex's own note 1").body,
                "planted by globex"
            );
        }
        Err(error) => assert!(
            !format!("{error:?}").contains("acme one"),
            "{ctx}: {error:?}"
        ),
    }
    assert_eq!(view.get(&1).await.expect("acme's note 1").body, "acme one");
    api.assert_row(A, 1, &a1, "acme one").await;
    api.assert_row(A, 2, &a2, "acme two").await;

    attempts.report();
}

#[tokio::test]
async fn tenancy_unscoped_memory() {
    unscoped("memory", Arc::new(MemoryRepository::<Unscoped>::new())).await;
}

#[tokio::test]
async fn tenancy_unscoped_sqlite() {
    let (pool, _file) = sqlite("occ_tenancy_unscoped", &UNSCOPED_DDL).await;
    let repo = SqlRepository::<sqlx::Sqlite, Unscoped>::new(pool);
    verified("sqlite unscoped", repo.verify().await);
    unscoped("sqlite", Arc::new(repo)).await;
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn tenancy_unscoped_postgres() {
    let Some((pool, _schema)) = postgres("tenancy_unscoped_postgres", &UNSCOPED_DDL).await else {
        return;
    };
    let repo = SqlRepository::<sqlx::Postgres, Unscoped>::new(pool);
    verified("postgres unscoped", repo.verify().await);
    unscoped("postgres", Arc::new(repo)).await;
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn tenancy_unscoped_mysql() {
    let Some((pool, _database)) = mysql("tenancy_unscoped_mysql", &UNSCOPED_DDL).await else {
        return;
    };
    let repo = SqlRepository::<sqlx::MySql, Unscoped>::new(pool);
    verified("mysql unscoped", repo.verify().await);
    unscoped("mysql", Arc::new(repo)).await;
}

// ---------------------------------------------------------------------------
// Backends: each test's tables private to it, dropped when it ends.

/// A SQLite file, removed with its journal when dropped.
struct SqliteFile(String);

impl Drop for SqliteFile {
    fn drop(&mut self) {
        let path = self.0.trim_start_matches("sqlite://");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
}

// ---------------------------------------------------------------------------
// 6. A scope value its column cannot hold.

/// Scoped by a UUID column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "tn_uuid", etag = "note-{id}-v{version}")]
struct UuidScoped {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    #[occ(scope)]
    #[serde(skip)]
    tenant_id: uuid::Uuid,
    body: String,
}

/// A scope that is no UUID is refused with a 4xx before any statement
/// (never a 500 per request); a UUID compares as a UUID, so its uppercase
/// spelling is the same tenant, and another UUID another one.
async fn uuid_scope<R: Repository<UuidScoped> + 'static>(backend: &'static str, repo: Arc<R>) {
    let app = routes::<UuidScoped, R>(repo, false);
    let tenant = "0191e3a0-7c1d-7b3e-8f00-0123456789ab";
    let scope = |value: &str| Some(Scope::new("tenant_id", value.to_owned()));
    let created = send(
        &app,
        scope(tenant),
        &post(&json!({"id": 1, "body": "mine"})),
    )
    .await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{backend}: {created:?}"
    );
    let upper = send(&app, scope(&tenant.to_uppercase()), &get(1)).await;
    assert_eq!(upper.status, StatusCode::OK, "{backend}: {upper:?}");
    let other = send(&app, scope("0191e3a0-7c1d-7b3e-8f00-0123456789ac"), &get(1)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{backend}: {other:?}");
    for req in [
        get(1),
        list(),
        post(&json!({"id": 2, "body": "x"})),
        put(1, &json!({"body": "x"})).if_match(&tag(1, 1)),
        delete(1).if_match("*"),
    ] {
        let answer = send(&app, scope("not-a-uuid"), &req).await;
        assert!(
            answer.status.is_client_error(),
            "{backend}: {req:?} with a scope that is no UUID: {answer:?}"
        );
        assert!(!answer.body.contains("mine"), "{backend}: {answer:?}");
        assert_eq!(answer.etag, None, "{backend}: {answer:?}");
    }
    let own = send(&app, scope(tenant), &get(1)).await;
    assert_eq!(own.etag.as_deref(), Some(&*tag(1, 1)), "{backend}: {own:?}");
}

#[tokio::test]
async fn tenancy_uuid_scope_memory() {
    uuid_scope("memory", Arc::new(MemoryRepository::<UuidScoped>::new())).await;
}

#[tokio::test]
async fn tenancy_uuid_scope_sqlite() {
    let ddl = [
        "CREATE TABLE tn_uuid (tenant_id BLOB NOT NULL, id BIGINT NOT NULL, \
                version BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant_id, id))",
    ];
    let (pool, _file) = sqlite("occ_tenancy_uuid", &ddl).await;
    let repo = SqlRepository::<sqlx::Sqlite, UuidScoped>::new(pool);
    verified("sqlite uuid", repo.verify().await);
    uuid_scope("sqlite", Arc::new(repo)).await;
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn tenancy_uuid_scope_postgres() {
    let ddl = [
        "CREATE TABLE tn_uuid (tenant_id UUID NOT NULL, id BIGINT NOT NULL, \
                version BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant_id, id))",
    ];
    let Some((pool, _schema)) = postgres("tenancy_uuid_scope_postgres", &ddl).await else {
        return;
    };
    let repo = SqlRepository::<sqlx::Postgres, UuidScoped>::new(pool);
    verified("postgres uuid", repo.verify().await);
    uuid_scope("postgres", Arc::new(repo)).await;
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn tenancy_uuid_scope_mysql() {
    let ddl = [
        "CREATE TABLE tn_uuid (tenant_id BINARY(16) NOT NULL, id BIGINT NOT NULL, \
                version BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant_id, id))",
    ];
    let Some((pool, _database)) = mysql("tenancy_uuid_scope_mysql", &ddl).await else {
        return;
    };
    let repo = SqlRepository::<sqlx::MySql, UuidScoped>::new(pool);
    verified("mysql uuid", repo.verify().await);
    uuid_scope("mysql", Arc::new(repo)).await;
}

async fn sqlite(prefix: &str, ddl: &[&'static str]) -> (sqlx::SqlitePool, SqliteFile) {
    let (pool, url) = occ_tests::sqlite_file_pool(prefix).await;
    let file = SqliteFile(url);
    for statement in ddl {
        sqlx::query(*statement)
            .execute(&pool)
            .await
            .expect("schema");
    }
    (pool, file)
}

async fn postgres(
    test: &str,
    ddl: &[&'static str],
) -> Option<(sqlx::PgPool, occ_tests::DropOnExit)> {
    let (pool, guard) = occ_tests::postgres_schema(test, "occ_tenancy", 4).await?;
    for statement in ddl {
        sqlx::query(*statement)
            .execute(&pool)
            .await
            .expect("schema");
    }
    Some((pool, guard))
}

/// A MariaDB database with the tables of `ddl`, whose tenant columns
/// compare byte for byte (`utf8mb4_nopad_bin`), as `verify()` requires.
async fn mysql(
    test: &str,
    ddl: &[&'static str],
) -> Option<(sqlx::MySqlPool, occ_tests::DropOnExit)> {
    mysql_collated(test, ddl, true).await
}

/// [`mysql`], or with the database's default collation when not `exact`.
async fn mysql_collated(
    test: &str,
    ddl: &[&'static str],
    exact: bool,
) -> Option<(sqlx::MySqlPool, occ_tests::DropOnExit)> {
    let (pool, guard) = occ_tests::mariadb_database(test, "occ_tenancy", 4).await?;
    for statement in ddl {
        let statement = if exact {
            statement.replace(
                "VARCHAR(64) NOT NULL",
                "VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL",
            )
        } else {
            (*statement).to_owned()
        };
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await
            .expect("schema");
    }
    Some((pool, guard))
}

/// `verify()` accepts the tables.
fn verified<E: Display>(what: &str, result: Result<(), E>) {
    if let Err(error) = result {
        panic!("{what}: verify refused the tables: {error}");
    }
}

/// Column types that fold what the collation keeps apart: `verify()`
/// refuses them for a scope column (PostgreSQL `char(n)` and `citext`,
/// MariaDB `CHAR`, which drop trailing spaces or fold case whatever the
/// collation).
#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn tenancy_verify_refuses_folding_types_postgres() {
    let ddl = [
        "CREATE TABLE tn_exact (tenant_id CHAR(8) NOT NULL, id BIGINT NOT NULL, \
         version BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (tenant_id, id))",
        "CREATE TABLE tn_exact_tombstones (tenant_id TEXT NOT NULL, id BIGINT NOT NULL, \
         version BIGINT NOT NULL, PRIMARY KEY (tenant_id, id))",
    ];
    let Some((pool, _schema)) = postgres("tenancy_verify_folding_pg", &ddl).await else {
        return;
    };
    let repo = SqlRepository::<sqlx::Postgres, Exact>::new(pool);
    let refused = repo
        .verify()
        .await
        .expect_err("char(n) refused")
        .to_string();
    assert!(
        refused.contains("`tenant_id`") && refused.contains("bpchar"),
        "{refused}"
    );
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn tenancy_verify_refuses_folding_types_mysql() {
    let ddl = [
        "CREATE TABLE tn_exact (tenant_id CHAR(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin \
         NOT NULL, id BIGINT NOT NULL, version BIGINT NOT NULL, body TEXT NOT NULL, \
         PRIMARY KEY (tenant_id, id))",
        "CREATE TABLE tn_exact_tombstones (tenant_id VARCHAR(8) CHARACTER SET utf8mb4 COLLATE \
         utf8mb4_nopad_bin NOT NULL, id BIGINT NOT NULL, version BIGINT NOT NULL, \
         PRIMARY KEY (tenant_id, id))",
    ];
    let Some((pool, _database)) = mysql_collated("tenancy_verify_folding_my", &ddl, false).await
    else {
        return;
    };
    let repo = SqlRepository::<sqlx::MySql, Exact>::new(pool);
    let refused = repo.verify().await.expect_err("CHAR refused").to_string();
    assert!(
        refused.contains("`tenant_id`") && refused.contains("CHAR"),
        "{refused}"
    );
}
