//! Row-level scope (design decision 19): two tenants, one table. Outside
//! the caller's scope a row does not exist: 404 for every method, with or
//! without its real ETag, never 412, and none of its state in a response.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use http::{Method, StatusCode};
use occ_axum::routes::ConditionalRoutes;
use occ_core::repository::sql::SqlRepository;
use occ_core::repository::{MemoryRepository, Repository, Scope};
use occ_core::Versioned;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "scoped_docs", etag = "doc-{id}-v{version}")]
struct Doc {
    id: i64,
    #[version]
    version: i64,
    tenant_id: i64,
    title: String,
}

const DDL: &str = "CREATE TABLE scoped_docs (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    tenant_id BIGINT NOT NULL,
    title TEXT NOT NULL
)";

/// What an authentication layer does: the caller's tenant, from a header
/// here, becomes the request's scope.
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

fn app<R: Repository<Doc> + 'static>(repo: Arc<R>) -> Router {
    Router::new()
        .nest(
            "/docs",
            ConditionalRoutes::new(repo)
                .require_scope(true)
                .into_router(),
        )
        .layer(middleware::from_fn(tenant))
}

struct Answer {
    status: StatusCode,
    etag: Option<String>,
    body: String,
}

/// [`occ_tests::send`] as `tenant` (the `x-tenant` header), with the tag
/// and the body as text.
async fn send(
    app: &Router,
    tenant: Option<i64>,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let tenant = tenant.map(|tenant| tenant.to_string());
    let mut all: Vec<(&str, &str)> = tenant.iter().map(|t| ("x-tenant", t.as_str())).collect();
    all.extend_from_slice(headers);
    let reply = occ_tests::send(app, method, uri, &all, body).await;
    Answer {
        status: reply.status,
        etag: reply
            .headers
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: reply.text(),
    }
}

/// Tenant 2 tries everything on tenant 1's document, with and without its
/// real ETag: 404 every time, and nothing of it leaks.
async fn two_tenants(app: &Router) {
    let json = ("content-type", "application/json");
    let created = send(
        app,
        Some(1),
        Method::POST,
        "/docs",
        &[json],
        r#"{"id":1,"version":1,"tenant_id":1,"title":"A's"}"#,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let real = created.etag.expect("ETag of the created document");
    let if_match = ("if-match", real.as_str());
    let if_none_match = ("if-none-match", real.as_str());
    let patch = ("content-type", "application/merge-patch+json");
    let put_body = r#"{"id":1,"version":1,"tenant_id":2,"title":"B's now"}"#;

    type Attempt<'a> = (Method, Vec<(&'a str, &'a str)>, &'a str);
    let attempts: [Attempt<'_>; 12] = [
        (Method::GET, vec![], ""),
        (Method::GET, vec![if_none_match], ""),
        (Method::GET, vec![if_match], ""),
        (Method::HEAD, vec![], ""),
        (Method::PUT, vec![json, if_match], put_body),
        (
            Method::PUT,
            vec![json, ("if-match", "\"doc-1-v9\"")],
            put_body,
        ),
        (Method::PUT, vec![json], put_body),
        (Method::PATCH, vec![patch, if_match], r#"{"title":"B's"}"#),
        (Method::PATCH, vec![patch], r#"{"title":"B's"}"#),
        (Method::DELETE, vec![if_match], ""),
        (Method::DELETE, vec![("if-match", "*")], ""),
        (Method::DELETE, vec![], ""),
    ];
    for (method, headers, body) in attempts {
        let answer = send(app, Some(2), method.clone(), "/docs/1", &headers, body).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{method} {headers:?}: {}",
            answer.body
        );
        assert_eq!(
            answer.etag, None,
            "{method}: no ETag of another tenant's row"
        );
        assert!(
            !answer.body.contains("doc-1-v"),
            "{method}: {}",
            answer.body
        );
    }

    // Tenant 1's document is as it was.
    let own = send(app, Some(1), Method::GET, "/docs/1", &[], "").await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.etag.as_deref(), Some(real.as_str()));
    assert!(own.body.contains("A's"), "{}", own.body);

    // Lists show only the caller's rows.
    let listed = send(app, Some(2), Method::GET, "/docs", &[], "").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(!listed.body.contains("A's"), "{}", listed.body);
    let listed = send(app, Some(1), Method::GET, "/docs", &[], "").await;
    assert!(listed.body.contains("A's"), "{}", listed.body);

    // Nobody writes into another scope: tenant 2 cannot create a row of
    // tenant 1's, nor can tenant 1 move its row to tenant 2.
    let foreign = send(
        app,
        Some(2),
        Method::POST,
        "/docs",
        &[json],
        r#"{"id":2,"version":1,"tenant_id":1,"title":"planted"}"#,
    )
    .await;
    assert_eq!(
        foreign.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        foreign.body
    );
    let moved = send(
        app,
        Some(1),
        Method::PATCH,
        "/docs/1",
        &[patch, if_match],
        r#"{"tenant_id":2}"#,
    )
    .await;
    assert_eq!(
        moved.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        moved.body
    );
    let moved = send(
        app,
        Some(1),
        Method::PUT,
        "/docs/1",
        &[json, if_match],
        put_body,
    )
    .await;
    assert_eq!(
        moved.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        moved.body
    );

    // An id taken in another scope cannot be created here either, and
    // that does not reveal the other row.
    let taken = send(
        app,
        Some(2),
        Method::POST,
        "/docs",
        &[json],
        r#"{"id":1,"version":1,"tenant_id":2,"title":"mine?"}"#,
    )
    .await;
    assert_eq!(taken.etag, None);
    assert!(!taken.body.contains("doc-1-v"), "{}", taken.body);

    // A scoped route without a scope shows nothing.
    let unscoped = send(app, None, Method::GET, "/docs/1", &[], "").await;
    assert_eq!(unscoped.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!unscoped.body.contains("A's"));

    // Still tenant 1's, still version 1.
    let own = send(app, Some(1), Method::GET, "/docs/1", &[], "").await;
    assert_eq!(own.etag.as_deref(), Some(real.as_str()));
}

#[tokio::test]
async fn scope_two_tenants_memory() {
    two_tenants(&app(Arc::new(MemoryRepository::<Doc>::new()))).await;
}

#[tokio::test]
async fn scope_two_tenants_sqlite() {
    let (pool, _) = occ_tests::sqlite_file_pool("occ_scope").await;
    sqlx::query(DDL).execute(&pool).await.unwrap();
    two_tenants(&app(Arc::new(SqlRepository::<sqlx::Sqlite, Doc>::new(
        pool,
    ))))
    .await;
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn scope_two_tenants_postgres() {
    let Some((pool, _drop)) =
        occ_tests::postgres_schema("scope_two_tenants_postgres", "occ_scope", 4).await
    else {
        return;
    };
    sqlx::query(DDL).execute(&pool).await.unwrap();
    two_tenants(&app(Arc::new(SqlRepository::<sqlx::Postgres, Doc>::new(
        pool,
    ))))
    .await;
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn scope_two_tenants_mysql() {
    let Some((pool, _drop)) =
        occ_tests::mariadb_database("scope_two_tenants_mysql", "occ_scope", 4).await
    else {
        return;
    };
    sqlx::query(DDL).execute(&pool).await.unwrap();
    two_tenants(&app(Arc::new(SqlRepository::<sqlx::MySql, Doc>::new(pool)))).await;
}
