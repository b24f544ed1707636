//! A table that does not fit its model: `verify()` names the column at
//! startup, and a request that meets it anyway is a 500 problem that names
//! no SQL (PD-11), not a 503 "retry later".
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use http::StatusCode;
use http_body_util::BodyExt;
use occ_axum::routes::ConditionalRoutes;
use occ_core::repository::sql::SqlRepository;
use occ_core::repository::Repository;
use occ_core::Versioned;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "schema_docs")]
struct Doc {
    id: i64,
    #[version]
    version: i64,
    title: String,
    summary: String,
}

/// The `summary` column is missing.
const DDL: &str = "CREATE TABLE schema_docs (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    title TEXT NOT NULL
)";
const ROW: &str = "INSERT INTO schema_docs (id, version, title) VALUES (1, 1, 'One')";

async fn wrong_schema<R: Repository<Doc> + 'static>(repo: Arc<R>) {
    let app = Router::new().nest("/docs", ConditionalRoutes::new(repo).into_router());
    let response = app
        .oneshot(Request::get("/docs/1").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body).to_lowercase();
    for leak in ["summary", "select", "column", "retry"] {
        assert!(!body.contains(leak), "the problem names `{leak}`: {body}");
    }
}

#[tokio::test]
async fn schema_mistake_sqlite_is_named_by_verify_and_500_on_requests() {
    let (pool, _) = occ_tests::sqlite_file_pool("occ_schema").await;
    sqlx::query(DDL).execute(&pool).await.unwrap();
    sqlx::query(ROW).execute(&pool).await.unwrap();
    let repo = SqlRepository::<sqlx::Sqlite, Doc>::new(pool);
    let error = repo.verify().await.expect_err("a column is missing");
    assert_eq!(error.column(), Some("summary"), "{error}");
    assert!(error.to_string().contains("summary"), "{error}");
    wrong_schema(Arc::new(repo)).await;
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn schema_mistake_postgres_is_named_by_verify_and_500_on_requests() {
    let Some((pool, _drop)) =
        occ_tests::postgres_schema("schema_mistake_postgres", "occ_schema", 2).await
    else {
        return;
    };
    sqlx::query(DDL).execute(&pool).await.unwrap();
    sqlx::query(ROW).execute(&pool).await.unwrap();
    let repo = SqlRepository::<sqlx::Postgres, Doc>::new(pool);
    let error = repo.verify().await.expect_err("a column is missing");
    assert_eq!(error.column(), Some("summary"), "{error}");
    wrong_schema(Arc::new(repo)).await;
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn schema_mistake_mysql_is_named_by_verify_and_500_on_requests() {
    let Some((pool, _drop)) =
        occ_tests::mariadb_database("schema_mistake_mysql", "occ_schema", 2).await
    else {
        return;
    };
    sqlx::query(DDL).execute(&pool).await.unwrap();
    sqlx::query(ROW).execute(&pool).await.unwrap();
    let repo = SqlRepository::<sqlx::MySql, Doc>::new(pool);
    let error = repo.verify().await.expect_err("a column is missing");
    assert_eq!(error.column(), Some("summary"), "{error}");
    wrong_schema(Arc::new(repo)).await;
}

#[tokio::test]
async fn a_fitting_schema_verifies() {
    let (pool, _) = occ_tests::sqlite_file_pool("occ_schema_ok").await;
    sqlx::query(
        "CREATE TABLE schema_docs (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, \
         title TEXT NOT NULL, summary TEXT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    SqlRepository::<sqlx::Sqlite, Doc>::new(pool)
        .verify()
        .await
        .unwrap();
}

/// A hand-written mapping whose lists that pair with `DATA_COLUMNS` by
/// position have another length: `verify()` refuses it, naming the list,
/// rather than merging strictly and naming conflicts by column without a
/// word. (The derive writes the lists together.)
macro_rules! unpaired_model {
    ($name:ident, $list:ident: $ty:ty = $value:expr) => {
        #[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, Versioned)]
        struct $name {
            id: i64,
            #[version]
            version: i64,
            title: String,
            summary: String,
        }

        impl occ_core::repository::sql::SqlModel<sqlx::Sqlite> for $name {
            const TABLE: &'static str = "schema_docs";
            const ID_COLUMN: &'static str = "id";
            const VERSION_COLUMN: &'static str = "version";
            const DATA_COLUMNS: &'static [&'static str] = &["title", "summary"];
            const $list: $ty = $value;

            fn bind_id(
                id: &i64,
                args: &mut sqlx::sqlite::SqliteArguments,
            ) -> Result<(), sqlx::error::BoxDynError> {
                use sqlx::Arguments;
                args.add(*id)
            }

            fn bind_data(
                &self,
                args: &mut sqlx::sqlite::SqliteArguments,
            ) -> Result<(), sqlx::error::BoxDynError> {
                use sqlx::Arguments;
                args.add(self.title.clone())?;
                args.add(self.summary.clone())
            }
        }
    };
}

unpaired_model!(OneCompanion, FIELD_VERSION_COLUMNS: Option<&'static [&'static str]> = Some(&["title_version"]));
unpaired_model!(ThreeMembers, DATA_MEMBERS: &'static [&'static str] = &["title", "summary", "extra"]);

#[tokio::test]
async fn verify_refuses_lists_that_do_not_pair_with_the_data_columns() {
    let (pool, _) = occ_tests::sqlite_file_pool("occ_schema_unpaired").await;
    sqlx::query(
        "CREATE TABLE schema_docs (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, \
         title TEXT NOT NULL, summary TEXT NOT NULL, title_version BIGINT NOT NULL DEFAULT 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let error = SqlRepository::<sqlx::Sqlite, OneCompanion>::new(pool.clone())
        .verify()
        .await
        .expect_err("one companion for two columns");
    let text = error.to_string();
    assert!(
        text.contains("1 `SqlModel::FIELD_VERSION_COLUMNS` for its 2"),
        "{text}"
    );
    let error = SqlRepository::<sqlx::Sqlite, ThreeMembers>::new(pool)
        .verify()
        .await
        .expect_err("three members for two columns");
    let text = error.to_string();
    assert!(
        text.contains("3 `SqlModel::DATA_MEMBERS` for its 2"),
        "{text}"
    );
}
