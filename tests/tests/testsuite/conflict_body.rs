//! A 412 carries the current representation (design decision 16): besides
//! the `ETag` header and the `current_etag` member (decision 5), the
//! problem's `current` member is the body a GET returns, so that a client
//! can merge and retry without reading again. Off per route; never on
//! HEAD (412-2), on a missing resource, or across a row-level scope
//! (decision 19).
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use occ_axum::routes::{ConditionalRoutes, PutMode};
use occ_axum::{Conditional, ConditionalRequest, Refusal, Tagged};
use occ_core::pipeline::Rejection;
use occ_core::repository::sql::SqlRepository;
use occ_core::repository::{MemoryRepository, Repository, Scope, WriteCondition};
use occ_core::Versioned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "conflict_docs", etag = "doc-{id}-v{version}")]
struct Doc {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    tenant_id: i64,
    title: String,
    // Declared after `title` on purpose: the 412 keeps the GET's member
    // order, which is not alphabetical.
    pages: i64,
}

const DDL: &str = "CREATE TABLE conflict_docs (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    tenant_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    pages BIGINT NOT NULL
)";

/// A document with a modification time, for `If-Unmodified-Since`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Versioned)]
#[occ(etag = "note-{id}-v{version}")]
struct Note {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    text: String,
    #[occ(last_modified)]
    #[serde(default)]
    updated_at: DateTime<Utc>,
}

const STALE: (&str, &str) = ("if-match", "\"doc-1-v1\"");
const JSON: (&str, &str) = ("content-type", "application/json");
const MERGE: (&str, &str) = ("content-type", "application/merge-patch+json");

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("JSON body, got {}", self.body))
    }

    /// A 412 whose `current` is `get`'s body, byte for byte, and whose
    /// `current_etag` is its `ETag` header and `get`'s.
    fn assert_conflict_with(&self, get: &Reply, what: &str) {
        assert_eq!(
            self.status,
            StatusCode::PRECONDITION_FAILED,
            "{what}: {}",
            self.body
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{what}"
        );
        let problem = self.json();
        let etag = self.header("etag").expect("ETag on the 412");
        assert_eq!(Some(etag), get.header("etag"), "{what}");
        assert_eq!(problem["current_etag"], json!(etag), "{what}");
        assert_eq!(problem["current"], get.json(), "{what}: {}", self.body);
        assert!(
            self.body.ends_with(&format!(",\"current\":{}}}", get.body)),
            "{what}: the representation as a GET sends it: {} vs {}",
            self.body,
            get.body
        );
    }

    /// A 412 with the current tag but without `current`.
    fn assert_conflict_without_current(&self, what: &str) {
        assert_eq!(
            self.status,
            StatusCode::PRECONDITION_FAILED,
            "{what}: {}",
            self.body
        );
        let problem = self.json();
        assert!(problem.get("current").is_none(), "{what}: {}", self.body);
        assert_eq!(
            problem["current_etag"].as_str(),
            self.header("etag"),
            "{what}"
        );
    }
}

/// [`occ_tests::send`], the body as text.
async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let reply = occ_tests::send(app, method, uri, headers, body).await;
    Reply {
        status: reply.status,
        body: reply.text(),
        headers: reply.headers,
    }
}

fn doc(id: i64, title: &str) -> Doc {
    Doc {
        id,
        version: 1,
        tenant_id: 1,
        title: title.into(),
        pages: 3,
    }
}

type Routes = ConditionalRoutes<Doc, MemoryRepository<Doc>>;

/// Document 1 at version 2 (written once since version 1, which `STALE`
/// names), under routes `configure` sets up.
async fn docs_app(
    configure: impl FnOnce(Routes) -> Routes,
) -> (Router, Arc<MemoryRepository<Doc>>) {
    let repo = Arc::new(MemoryRepository::new());
    let created = repo.create(doc(1, "One")).await.unwrap();
    let mut changed = created.clone();
    changed.title = "One, edited".into();
    repo.update(changed, &WriteCondition::VersionIn(vec![created.version]))
        .await
        .unwrap();
    let routes = configure(ConditionalRoutes::new(repo.clone()));
    (Router::new().nest("/docs", routes.into_router()), repo)
}

#[tokio::test]
async fn stale_if_match_put_patch_delete_412_carries_the_get_body() {
    for mode in [PutMode::Replace, PutMode::Merge] {
        let (app, repo) = docs_app(|r| r.put_mode(mode)).await;
        let before = repo.get(&1).await.unwrap();
        let get = send(&app, Method::GET, "/docs/1", &[], "").await;
        assert_eq!(get.status, StatusCode::OK);
        assert_eq!(get.header("etag"), Some("\"doc-1-v2\""));

        let put = send(
            &app,
            Method::PUT,
            "/docs/1",
            &[JSON, STALE],
            r#"{"tenant_id":1,"title":"Mine","pages":3}"#,
        )
        .await;
        put.assert_conflict_with(&get, &format!("PUT {mode:?}"));
        let patch = send(
            &app,
            Method::PATCH,
            "/docs/1",
            &[MERGE, STALE],
            r#"{"title":"Mine"}"#,
        )
        .await;
        patch.assert_conflict_with(&get, "PATCH");
        let delete = send(&app, Method::DELETE, "/docs/1", &[STALE], "").await;
        delete.assert_conflict_with(&get, "DELETE");
        // A weak tag never matches (IM-1): its own explanation, and the
        // current state all the same.
        let weak = send(
            &app,
            Method::DELETE,
            "/docs/1",
            &[("if-match", "W/\"doc-1-v2\"")],
            "",
        )
        .await;
        weak.assert_conflict_with(&get, "weak If-Match");
        // GET with a failing If-Match (IM-8).
        let read = send(&app, Method::GET, "/docs/1", &[STALE], "").await;
        read.assert_conflict_with(&get, "GET If-Match");

        assert_eq!(repo.get(&1).await.unwrap(), before, "nothing was written");
    }
}

#[tokio::test]
async fn stale_if_match_on_a_hooked_merge_carries_the_get_body() {
    // With a hook, PATCH reads, merges in the application, and swaps: the
    // general path's 412 carries the state too.
    let (app, _) = docs_app(|r| r.validate(|_| Ok(()))).await;
    let get = send(&app, Method::GET, "/docs/1", &[], "").await;
    let patch = send(
        &app,
        Method::PATCH,
        "/docs/1",
        &[MERGE, STALE],
        r#"{"title":"Mine"}"#,
    )
    .await;
    patch.assert_conflict_with(&get, "PATCH with hooks");
}

#[tokio::test]
async fn current_in_412_off_sends_the_tag_alone() {
    let (app, _) = docs_app(|r| r.current_in_412(false)).await;
    let put = send(
        &app,
        Method::PUT,
        "/docs/1",
        &[JSON, STALE],
        r#"{"tenant_id":1,"title":"Mine","pages":3}"#,
    )
    .await;
    put.assert_conflict_without_current("PUT");
    assert_eq!(put.header("etag"), Some("\"doc-1-v2\""));
    let patch = send(
        &app,
        Method::PATCH,
        "/docs/1",
        &[MERGE, STALE],
        r#"{"title":"Mine"}"#,
    )
    .await;
    patch.assert_conflict_without_current("PATCH");
    let delete = send(&app, Method::DELETE, "/docs/1", &[STALE], "").await;
    delete.assert_conflict_without_current("DELETE");
    assert!(!delete.body.contains("One, edited"), "{}", delete.body);
}

#[tokio::test]
async fn failed_if_unmodified_since_412_carries_the_get_body() {
    let repo = Arc::new(MemoryRepository::<Note>::new());
    repo.create(Note {
        id: 1,
        version: 1,
        text: "hello".into(),
        updated_at: DateTime::<Utc>::UNIX_EPOCH,
    })
    .await
    .unwrap();
    let app = Router::new().nest("/notes", ConditionalRoutes::new(repo).into_router());
    let get = send(&app, Method::GET, "/notes/1", &[], "").await;
    assert_eq!(get.status, StatusCode::OK);
    let long_ago = ("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT");
    for (method, headers, body) in [
        (Method::PUT, vec![JSON, long_ago], r#"{"text":"mine"}"#),
        (Method::PATCH, vec![MERGE, long_ago], r#"{"text":"mine"}"#),
        (Method::DELETE, vec![long_ago], ""),
    ] {
        let r = send(&app, method.clone(), "/notes/1", &headers, body).await;
        r.assert_conflict_with(&get, &format!("{method} If-Unmodified-Since"));
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .contains("If-Unmodified-Since")
                || r.json()["detail"].as_str().unwrap().contains("modified"),
            "{}",
            r.body
        );
    }
}

#[tokio::test]
async fn create_once_put_on_an_existing_resource_412_carries_the_get_body() {
    for mode in [PutMode::Replace, PutMode::Merge] {
        let (app, repo) = docs_app(|r| r.creating_put(true).put_mode(mode)).await;
        let before = repo.get(&1).await.unwrap();
        let get = send(&app, Method::GET, "/docs/1", &[], "").await;
        // Someone created it first: the create-once PUT loses the race.
        let put = send(
            &app,
            Method::PUT,
            "/docs/1",
            &[JSON, ("if-none-match", "*")],
            r#"{"tenant_id":1,"title":"Mine","pages":3}"#,
        )
        .await;
        put.assert_conflict_with(&get, &format!("PUT If-None-Match: * ({mode:?})"));
        assert_eq!(repo.get(&1).await.unwrap(), before);
    }
}

#[tokio::test]
async fn a_412_on_a_missing_resource_sends_neither_tag_nor_representation() {
    // S6: PUT with If-Match where PUT creates, and the resource is gone.
    let (app, _) = docs_app(|r| r.creating_put(true)).await;
    let put = send(
        &app,
        Method::PUT,
        "/docs/9",
        &[JSON, ("if-match", "\"doc-9-v1\"")],
        r#"{"tenant_id":1,"title":"Mine","pages":3}"#,
    )
    .await;
    assert_eq!(put.status, StatusCode::PRECONDITION_FAILED, "{}", put.body);
    assert_eq!(put.header("etag"), None);
    let problem = put.json();
    assert!(problem.get("current").is_none(), "{}", put.body);
    assert!(problem.get("current_etag").is_none(), "{}", put.body);
}

#[tokio::test]
async fn head_412_has_no_body() {
    let (app, _) = docs_app(|r| r).await;
    let head = send(&app, Method::HEAD, "/docs/1", &[STALE], "").await;
    assert_eq!(head.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(head.header("etag"), Some("\"doc-1-v2\""));
    assert_eq!(head.body, "", "412-2: no body for HEAD");
}

/// What an authentication layer does: the caller's tenant becomes the
/// request's scope.
async fn tenant(mut request: Request, next: Next) -> Response {
    if let Some(tenant) = request
        .headers()
        .get("x-tenant")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
    {
        request
            .extensions_mut()
            .insert(Scope::new("tenant_id", tenant));
    }
    next.run(request).await
}

#[tokio::test]
async fn rows_outside_the_scope_are_404_and_never_show_their_state() {
    let (_, repo) = docs_app(|r| r).await;
    let app = Router::new()
        .nest(
            "/docs",
            ConditionalRoutes::new(repo)
                .require_scope(true)
                .into_router(),
        )
        .layer(middleware::from_fn(tenant));
    let own = ("x-tenant", "1");
    let other = ("x-tenant", "2");
    let get = send(&app, Method::GET, "/docs/1", &[own], "").await;
    assert_eq!(get.status, StatusCode::OK);
    let real = get.header("etag").unwrap().to_owned();

    for if_match in ["\"doc-1-v1\"", real.as_str(), "*"] {
        for (method, headers, body) in [
            (
                Method::PUT,
                vec![JSON, other, ("if-match", if_match)],
                r#"{"tenant_id":2,"title":"B","pages":1}"#,
            ),
            (
                Method::PATCH,
                vec![MERGE, other, ("if-match", if_match)],
                r#"{"title":"B"}"#,
            ),
            (Method::DELETE, vec![other, ("if-match", if_match)], ""),
            (Method::GET, vec![other, ("if-match", if_match)], ""),
        ] {
            let r = send(&app, method.clone(), "/docs/1", &headers, body).await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{method} {if_match}: {}",
                r.body
            );
            assert_eq!(r.header("etag"), None);
            assert!(!r.body.contains("One, edited"), "{method}: {}", r.body);
            assert!(!r.body.contains("doc-1-v"), "{method}: {}", r.body);
            assert!(r.json().get("current").is_none());
        }
    }
    // In its own scope, the stale write is 412 with the state.
    let own_stale = send(&app, Method::DELETE, "/docs/1", &[own, STALE], "").await;
    own_stale.assert_conflict_with(&get, "own tenant");
}

#[tokio::test]
async fn create_once_put_on_a_row_outside_the_scope_shows_nothing() {
    for mode in [PutMode::Replace, PutMode::Merge] {
        let (_, repo) = docs_app(|r| r).await;
        let before = repo.get(&1).await.unwrap();
        let app = Router::new()
            .nest(
                "/docs",
                ConditionalRoutes::new(repo.clone())
                    .require_scope(true)
                    .creating_put(true)
                    .put_mode(mode)
                    .into_router(),
            )
            .layer(middleware::from_fn(tenant));
        let r = send(
            &app,
            Method::PUT,
            "/docs/1",
            &[JSON, ("x-tenant", "2"), ("if-none-match", "*")],
            r#"{"tenant_id":2,"title":"B","pages":1}"#,
        )
        .await;
        // Decision 20: the id is taken, which a POST says too (409), and
        // nothing more of the row is shown.
        assert_eq!(r.status, StatusCode::CONFLICT, "{mode:?}: {}", r.body);
        assert_eq!(r.header("etag"), None, "{mode:?}");
        assert!(!r.body.contains("One, edited"), "{mode:?}: {}", r.body);
        assert!(!r.body.contains("doc-1-v"), "{mode:?}: {}", r.body);
        assert_eq!(repo.get(&1).await.unwrap(), before);
        // The owner's create-once PUT is 412 with the state.
        let get = send(&app, Method::GET, "/docs/1", &[("x-tenant", "1")], "").await;
        let own = send(
            &app,
            Method::PUT,
            "/docs/1",
            &[JSON, ("x-tenant", "1"), ("if-none-match", "*")],
            r#"{"tenant_id":1,"title":"B","pages":1}"#,
        )
        .await;
        own.assert_conflict_with(&get, &format!("owner, {mode:?}"));
    }
}

type Docs = Arc<MemoryRepository<Doc>>;

/// Hand-written: delete through `ConditionalRequest`.
async fn remove(
    State(docs): State<Docs>,
    Path(id): Path<i64>,
    request: ConditionalRequest,
) -> Result<StatusCode, Refusal> {
    request.delete(&*docs, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hand-written: the handler reads, `Conditional::decide` decides.
async fn rename(
    State(docs): State<Docs>,
    Path(id): Path<i64>,
    request: Conditional<Json<Value>>,
) -> Result<Tagged<Doc>, Refusal> {
    let current = docs.get(&id).await.ok();
    let (current, Json(body)) = request.decide(current).await?;
    let mut doc =
        current.ok_or_else(|| Refusal::from(occ_axum::Problem::new(StatusCode::NOT_FOUND)))?;
    doc.title = body["title"].as_str().unwrap_or_default().to_owned();
    let read = doc.version;
    if body["race"] == json!(true) {
        // Another writer lands between this handler's read and its swap.
        let mut other = docs.get(&id).await?;
        other.pages += 1;
        docs.update(other, &WriteCondition::VersionIn(vec![read]))
            .await?;
    }
    // A write that lands between the read and this swap: 412 with the
    // state it left.
    let saved = docs
        .update(doc, &WriteCondition::VersionIn(vec![read]))
        .await
        .map_err(|e| {
            Refusal::from_rejection_with_current(Rejection::<Doc, occ_axum::Problem>::Repository(e))
        })?;
    Ok(Tagged::written(saved))
}

/// Hand-written: a merge through `Conditional`, with the representation
/// turned off.
async fn publish(
    State(docs): State<Docs>,
    Path(id): Path<i64>,
    request: Conditional<Bytes>,
) -> Result<Tagged<Doc>, Refusal> {
    request
        .current_in_412(false)
        .merge(&*docs, &id, |_| Ok(json!({ "pages": 4 })))
        .await
}

/// Hand-written: the pipeline by hand, refused with and without the
/// representation.
async fn touch(
    State(docs): State<Docs>,
    Path(id): Path<i64>,
    request: ConditionalRequest,
) -> Result<Tagged<Doc>, Refusal> {
    let current = docs.get(&id).await?;
    match request
        .pipeline()
        .decide::<Doc, occ_axum::Problem>(Some(current))
    {
        Ok(Some(doc)) => Ok(Tagged::ok(doc)),
        Ok(None) => Err(request.refuse(Rejection::<Doc, occ_axum::Problem>::NotFound)),
        Err(rejection) if request.method() == Method::POST => {
            Err(request.refuse_with_current(rejection))
        }
        Err(rejection) => Err(request.refuse(rejection)),
    }
}

#[tokio::test]
async fn hand_written_handlers_send_the_current_state_too() {
    let (routes_app, repo) = docs_app(|r| r).await;
    let read = send(&routes_app, Method::GET, "/docs/1", &[], "").await;
    let app: Router = Router::new()
        .route(
            "/docs/{id}",
            axum::routing::delete(remove).put(rename).patch(publish),
        )
        .route("/touch/{id}", axum::routing::post(touch).put(touch))
        .with_state(repo);

    let delete = send(&app, Method::DELETE, "/docs/1", &[STALE], "").await;
    delete.assert_conflict_with(&read, "ConditionalRequest::delete");
    let put = send(
        &app,
        Method::PUT,
        "/docs/1",
        &[JSON, STALE],
        r#"{"title":"Mine"}"#,
    )
    .await;
    put.assert_conflict_with(&read, "Conditional::decide");
    let raced = send(
        &app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", "\"doc-1-v2\"")],
        r#"{"title":"Mine","race":true}"#,
    )
    .await;
    assert_eq!(
        raced.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        raced.body
    );
    assert_eq!(raced.header("etag"), Some("\"doc-1-v3\""));
    assert_eq!(raced.json()["current_etag"], json!("\"doc-1-v3\""));
    assert_eq!(
        raced.json()["current"],
        json!({"id": 1, "tenant_id": 1, "title": "One, edited", "pages": 4})
    );
    // From here on, version 3 is current.
    let read = send(&routes_app, Method::GET, "/docs/1", &[], "").await;
    let patch = send(&app, Method::PATCH, "/docs/1", &[STALE], "").await;
    patch.assert_conflict_without_current("Conditional::current_in_412(false)");
    let with = send(&app, Method::POST, "/touch/1", &[STALE], "").await;
    with.assert_conflict_with(&read, "refuse_with_current");
    let without = send(&app, Method::PUT, "/touch/1", &[STALE], "").await;
    without.assert_conflict_without_current("refuse");
}

/// Document 1 at version 2 in `repo`, behind routes that create with PUT,
/// in `mode`.
async fn edited<R: Repository<Doc> + 'static>(repo: &Arc<R>, mode: PutMode) -> Router {
    let created = repo.create(doc(1, "One")).await.unwrap();
    let mut changed = created.clone();
    changed.title = "One, edited".into();
    repo.update(changed, &WriteCondition::VersionIn(vec![created.version]))
        .await
        .unwrap();
    let routes = ConditionalRoutes::new(repo.clone())
        .creating_put(true)
        .put_mode(mode);
    Router::new().nest("/docs", routes.into_router())
}

/// The one-statement write paths of a store: a stale PUT, PATCH and
/// DELETE, a create-once PUT on an existing row, and HEAD.
async fn conflicts_on<R: Repository<Doc> + 'static>(repo: Arc<R>, mode: PutMode) {
    let app = edited(&repo, mode).await;
    let before = repo.get(&1).await.unwrap();
    let get = send(&app, Method::GET, "/docs/1", &[], "").await;
    assert_eq!(get.header("etag"), Some("\"doc-1-v2\""));
    let body = r#"{"tenant_id":1,"title":"Mine","pages":3}"#;
    let put = send(&app, Method::PUT, "/docs/1", &[JSON, STALE], body).await;
    put.assert_conflict_with(&get, &format!("PUT {mode:?}"));
    let once = send(
        &app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-none-match", "*")],
        body,
    )
    .await;
    once.assert_conflict_with(&get, &format!("PUT If-None-Match: * {mode:?}"));
    let patch = send(
        &app,
        Method::PATCH,
        "/docs/1",
        &[MERGE, STALE],
        r#"{"title":"Mine"}"#,
    )
    .await;
    patch.assert_conflict_with(&get, "PATCH");
    let delete = send(&app, Method::DELETE, "/docs/1", &[STALE], "").await;
    delete.assert_conflict_with(&get, "DELETE");
    let head = send(&app, Method::HEAD, "/docs/1", &[STALE], "").await;
    assert_eq!(head.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(head.body, "");
    assert_eq!(repo.get(&1).await.unwrap(), before, "nothing was written");
}

#[tokio::test]
async fn sql_412_carries_the_get_body_sqlite() {
    for mode in [PutMode::Replace, PutMode::Merge] {
        let (pool, _) = occ_tests::sqlite_file_pool("occ_conflict").await;
        sqlx::query(DDL).execute(&pool).await.unwrap();
        conflicts_on(
            Arc::new(SqlRepository::<sqlx::Sqlite, Doc>::new(pool)),
            mode,
        )
        .await;
    }
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn sql_412_carries_the_get_body_postgres() {
    for mode in [PutMode::Replace, PutMode::Merge] {
        let Some((pool, _drop)) =
            occ_tests::postgres_schema("sql_412_carries_the_get_body_postgres", "occ_conflict", 4)
                .await
        else {
            return;
        };
        sqlx::query(DDL).execute(&pool).await.unwrap();
        conflicts_on(
            Arc::new(SqlRepository::<sqlx::Postgres, Doc>::new(pool)),
            mode,
        )
        .await;
    }
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn sql_412_carries_the_get_body_mysql() {
    for mode in [PutMode::Replace, PutMode::Merge] {
        let Some((pool, _drop)) =
            occ_tests::mariadb_database("sql_412_carries_the_get_body_mysql", "occ_conflict", 4)
                .await
        else {
            return;
        };
        sqlx::query(DDL).execute(&pool).await.unwrap();
        conflicts_on(Arc::new(SqlRepository::<sqlx::MySql, Doc>::new(pool)), mode).await;
    }
}
