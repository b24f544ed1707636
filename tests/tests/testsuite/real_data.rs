//! Real data through the generated routes, on memory, SQLite, PostgreSQL
//! and MariaDB (design decision 21): ids no resource may have, values a
//! column cannot hold, a row the model cannot read, a patch that sets
//! nothing, and the schema checks and migrations that keep merging honest.
//! Never a 5xx for the client's data, never a partial write, never a list
//! broken by one row.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::Arc;

use axum::Router;
use http::{Method, StatusCode};
use occ_axum::routes::ConditionalRoutes;
use occ_core::repository::sql::{add_merge_columns, SqlRepository};
use occ_core::repository::{MemoryRepository, Repository};
use occ_core::Versioned;
use occ_tests::{send, Db, DropOnExit, Reply};
use serde::{Deserialize, Serialize};

/// Text ids (slugs), a bounded text column and an optional one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "rd_articles", etag = "art-{id}-v{version}")]
struct Article {
    id: String,
    #[version]
    #[serde(skip)]
    version: i64,
    /// `VARCHAR(16)` where the database enforces it.
    title: String,
    body: Option<String>,
}

const ARTICLES: &str = "CREATE TABLE rd_articles (
    id VARCHAR(64) PRIMARY KEY,
    version BIGINT NOT NULL,
    title VARCHAR(16),
    body TEXT
)";

/// The same table with merging: the companions that `add_merge_columns`
/// adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "rd_articles", etag = "art-{id}-v{version}", merge)]
struct MergedArticle {
    id: String,
    #[version]
    #[serde(skip)]
    version: i64,
    title: String,
    body: Option<String>,
}

/// One backend: the routes, and what the test may do to the table behind
/// them.
struct Backend {
    name: &'static str,
    app: Router,
    /// The same routes with a `validate` hook (PATCH then merges in the
    /// application).
    hooked: Router,
    sql: Option<Database>,
    _cleanup: Option<DropOnExit>,
}

/// The table's database, for statements the test runs itself.
enum Database {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    MariaDb(sqlx::MySqlPool),
}

impl Database {
    async fn execute(&self, statement: &str) {
        let sql = || sqlx::AssertSqlSafe(statement.to_owned());
        match self {
            Self::Sqlite(pool) => sqlx::query(sql()).execute(pool).await.map(drop),
            Self::Postgres(pool) => sqlx::query(sql()).execute(pool).await.map(drop),
            Self::MariaDb(pool) => sqlx::query(sql()).execute(pool).await.map(drop),
        }
        .unwrap_or_else(|e| panic!("{statement:?}: {e}"));
    }
}

fn routes<R: Repository<Article> + 'static>(repo: Arc<R>) -> Router {
    Router::new().nest(
        "/articles",
        ConditionalRoutes::<Article, R>::new(repo)
            .creating_put(true)
            .into_router(),
    )
}

fn hooked<R: Repository<Article> + 'static>(repo: Arc<R>) -> Router {
    Router::new().nest(
        "/articles",
        ConditionalRoutes::<Article, R>::new(repo)
            .creating_put(true)
            .validate(|_| Ok(()))
            .into_router(),
    )
}

impl Backend {
    /// Backend `db` for the test `test`; `None` when its URL is unset.
    async fn open(db: Db, test: &str) -> Option<Self> {
        match db {
            Db::Memory => Some(Self::memory()),
            Db::Sqlite => Some(Self::sqlite(test).await),
            Db::Postgres => Self::postgres(test).await,
            Db::MariaDb => Self::mariadb(test).await,
        }
    }

    fn memory() -> Self {
        let repo = Arc::new(MemoryRepository::<Article>::new());
        Self {
            name: "memory",
            app: routes(repo.clone()),
            hooked: hooked(repo),
            sql: None,
            _cleanup: None,
        }
    }

    async fn sqlite(test: &str) -> Self {
        let (pool, _) = occ_tests::sqlite_file_pool(test).await;
        let sql = Database::Sqlite(pool.clone());
        sql.execute(ARTICLES).await;
        let repo = SqlRepository::<sqlx::Sqlite, Article>::new(pool);
        repo.verify().await.expect("the table fits");
        let repo = Arc::new(repo);
        Self {
            name: "sqlite",
            app: routes(repo.clone()),
            hooked: hooked(repo),
            sql: Some(sql),
            _cleanup: None,
        }
    }

    async fn postgres(test: &str) -> Option<Self> {
        let (pool, cleanup) = occ_tests::postgres_schema(test, "occ_real", 4).await?;
        let sql = Database::Postgres(pool.clone());
        sql.execute(ARTICLES).await;
        let repo = SqlRepository::<sqlx::Postgres, Article>::new(pool);
        repo.verify().await.expect("the table fits");
        let repo = Arc::new(repo);
        Some(Self {
            name: "postgres",
            app: routes(repo.clone()),
            hooked: hooked(repo),
            sql: Some(sql),
            _cleanup: Some(cleanup),
        })
    }

    async fn mariadb(test: &str) -> Option<Self> {
        let (pool, cleanup) = occ_tests::mariadb_database(test, "occ_real", 4).await?;
        let sql = Database::MariaDb(pool.clone());
        sql.execute(ARTICLES).await;
        let repo = SqlRepository::<sqlx::MySql, Article>::new(pool);
        repo.verify().await.expect("the table fits");
        let repo = Arc::new(repo);
        Some(Self {
            name: "mariadb",
            app: routes(repo.clone()),
            hooked: hooked(repo),
            sql: Some(sql),
            _cleanup: Some(cleanup),
        })
    }

    async fn send(&self, method: Method, uri: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        send(&self.app, method, uri, headers, body).await
    }

    async fn post(&self, body: &str) -> Reply {
        self.send(Method::POST, "/articles", &[JSON], body).await
    }

    async fn get(&self, id: &str) -> Reply {
        self.send(Method::GET, &format!("/articles/{id}"), &[], "")
            .await
    }

    /// The ids the list shows.
    async fn listed(&self) -> Vec<String> {
        let reply = self.send(Method::GET, "/articles", &[], "").await;
        assert_eq!(reply.status, StatusCode::OK, "{}: {reply:?}", self.name);
        reply.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");
const MERGE_PATCH: (&str, &str) = ("content-type", "application/merge-patch+json");

occ_tests::on_every_backend!(Backend =>
    a_422_names_the_member_with_and_without_hooks,
    ids_that_no_resource_may_have_are_refused,
    a_nul_character_is_refused_or_kept_never_a_5xx,
    a_value_too_long_for_its_column_is_422_and_writes_nothing,
    a_patch_that_sets_nothing_keeps_its_version,
);

/// A problem+json refusal with `status`.
fn assert_problem(b: &Backend, reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{}: {reply:?}", b.name);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{}: {reply:?}",
        b.name
    );
}

/// A value of the wrong type is 422 naming its member, on every write
/// path: POST, PUT, PATCH (merged in SQL, or in the application when a hook
/// is set).
async fn a_422_names_the_member_with_and_without_hooks(b: Backend) {
    let created = b.post(r#"{"id":"m","title":"t"}"#).await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{}: {created:?}",
        b.name
    );
    for app in [&b.app, &b.hooked] {
        let tag = ("if-match", "\"art-m-v1\"");
        let writes = [
            (
                Method::POST,
                "/articles",
                &[JSON][..],
                r#"{"id":"n","title":5}"#,
            ),
            (
                Method::PUT,
                "/articles/m",
                &[JSON, tag][..],
                r#"{"title":5}"#,
            ),
            (
                Method::PATCH,
                "/articles/m",
                &[MERGE_PATCH, tag][..],
                r#"{"title":5}"#,
            ),
        ];
        for (method, uri, headers, body) in writes {
            let reply = send(app, method.clone(), uri, headers, body).await;
            assert_problem(&b, &reply, StatusCode::UNPROCESSABLE_ENTITY);
            let detail = reply.json()["detail"].as_str().unwrap().to_owned();
            assert!(detail.contains("title"), "{} {method}: {detail}", b.name);
        }
    }
    assert_eq!(b.get("m").await.header("etag"), Some("\"art-m-v1\""));
}

/// An empty id would give a `Location` that names the collection; control
/// characters no URL or header shows as they are: 422 in a body, 400 in a
/// URL, and nothing is stored.
async fn ids_that_no_resource_may_have_are_refused(b: Backend) {
    for id in ["", "a\u{1}b", "line\nbreak", "tab\there", "\u{7f}"] {
        let body = serde_json::json!({"id": id, "title": "t"}).to_string();
        let reply = b.post(&body).await;
        assert_problem(&b, &reply, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply.json()["detail"].as_str().unwrap().contains("id"),
            "{}: {reply:?}",
            b.name
        );
    }
    for path in ["%01", "a%0Ab", "%7F"] {
        let put = b
            .send(
                Method::PUT,
                &format!("/articles/{path}"),
                &[JSON, ("if-none-match", "*")],
                r#"{"title":"t"}"#,
            )
            .await;
        assert_problem(&b, &put, StatusCode::BAD_REQUEST);
        assert_problem(&b, &b.get(path).await, StatusCode::BAD_REQUEST);
    }
    assert_eq!(b.listed().await, Vec::<String>::new(), "{}", b.name);
}

/// PostgreSQL cannot store NUL in text: 422 and nothing written. The
/// others store it, and it reads back as sent.
async fn a_nul_character_is_refused_or_kept_never_a_5xx(b: Backend) {
    let body = serde_json::json!({"id": "nul", "title": "t", "body": "a\u{0}b"}).to_string();
    let reply = b.post(&body).await;
    if b.name == "postgres" {
        assert_problem(&b, &reply, StatusCode::UNPROCESSABLE_ENTITY);
        assert_problem(&b, &b.get("nul").await, StatusCode::NOT_FOUND);
    } else {
        assert_eq!(reply.status, StatusCode::CREATED, "{}: {reply:?}", b.name);
        let got = b.get("nul").await;
        assert_eq!(got.status, StatusCode::OK, "{}: {got:?}", b.name);
        assert_eq!(got.json()["body"], "a\u{0}b", "{}", b.name);
        // An update with NUL too, and a key with NUL in a patch.
        let patch = b
            .send(
                Method::PATCH,
                "/articles/nul",
                &[MERGE_PATCH, ("if-match", "\"art-nul-v1\"")],
                r#"{"body":"\u0000"}"#,
            )
            .await;
        assert_eq!(patch.status, StatusCode::OK, "{}: {patch:?}", b.name);
    }
    // An existing article, patched with NUL: the same rule on the write
    // path, and on PostgreSQL its version does not move.
    let created = b.post(r#"{"id":"plain","title":"t"}"#).await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{}: {created:?}",
        b.name
    );
    let patch = b
        .send(
            Method::PATCH,
            "/articles/plain",
            &[MERGE_PATCH, ("if-match", "\"art-plain-v1\"")],
            r#"{"body":"x\u0000"}"#,
        )
        .await;
    let after = b.get("plain").await;
    if b.name == "postgres" {
        assert_problem(&b, &patch, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(after.header("etag"), Some("\"art-plain-v1\""));
    } else {
        assert_eq!(patch.status, StatusCode::OK, "{}: {patch:?}", b.name);
        assert_eq!(after.header("etag"), Some("\"art-plain-v2\""));
    }
}

/// A title longer than `VARCHAR(16)`: PostgreSQL and MariaDB refuse it
/// (422, the version unchanged); SQLite and memory keep it as sent.
async fn a_value_too_long_for_its_column_is_422_and_writes_nothing(b: Backend) {
    let created = b.post(r#"{"id":"a","title":"short"}"#).await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{}: {created:?}",
        b.name
    );
    let long = "x".repeat(40);
    let enforced = matches!(b.name, "postgres" | "mariadb");
    let put = b
        .send(
            Method::PUT,
            "/articles/a",
            &[JSON, ("if-match", "\"art-a-v1\"")],
            &serde_json::json!({"title": long}).to_string(),
        )
        .await;
    let post = b
        .post(&serde_json::json!({"id": "b", "title": long}).to_string())
        .await;
    if enforced {
        assert_problem(&b, &put, StatusCode::UNPROCESSABLE_ENTITY);
        assert_problem(&b, &post, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(b.get("a").await.header("etag"), Some("\"art-a-v1\""));
        assert_problem(&b, &b.get("b").await, StatusCode::NOT_FOUND);
    } else {
        assert_eq!(put.status, StatusCode::OK, "{}: {put:?}", b.name);
        assert_eq!(post.status, StatusCode::CREATED, "{}: {post:?}", b.name);
    }
}

/// A patch of nothing the server stores (the version's member is the
/// server's, an unchanged id is no change): 200 with the same tag, and no
/// new version that would refuse other clients' tags.
async fn a_patch_that_sets_nothing_keeps_its_version(b: Backend) {
    let created = b.post(r#"{"id":"same","title":"t"}"#).await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "{}: {created:?}",
        b.name
    );
    for patch in [r#"{}"#, r#"{"id":"same"}"#] {
        let reply = b
            .send(
                Method::PATCH,
                "/articles/same",
                &[MERGE_PATCH, ("if-match", "\"art-same-v1\"")],
                patch,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}: {patch}: {reply:?}",
            b.name
        );
        assert_eq!(reply.header("etag"), Some("\"art-same-v1\""), "{}", b.name);
    }
    // Still refused on a stale tag: nothing written is no excuse.
    let stale = b
        .send(
            Method::PATCH,
            "/articles/same",
            &[MERGE_PATCH, ("if-match", "\"art-same-v9\"")],
            "{}",
        )
        .await;
    assert_problem(&b, &stale, StatusCode::PRECONDITION_FAILED);
    assert_eq!(b.get("same").await.header("etag"), Some("\"art-same-v1\""));
}

/// A row the model cannot read (written outside occ) is a
/// 500 for that row alone: the list still answers, without it.
async fn an_unreadable_row_breaks_only_itself(b: Backend) {
    for id in ["a", "c"] {
        let created = b
            .post(&serde_json::json!({"id": id, "title": "fine"}).to_string())
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {created:?}",
            b.name
        );
    }
    // SQLite reads a NULL as an empty string; its unreadable value is
    // text where the version's integer should be.
    let unreadable = match b.name {
        "sqlite" => {
            "INSERT INTO rd_articles (id, version, title, body) VALUES ('b', 'one', 't', NULL)"
        }
        _ => "INSERT INTO rd_articles (id, version, title, body) VALUES ('b', 1, NULL, NULL)",
    };
    b.sql.as_ref().unwrap().execute(unreadable).await;
    assert_problem(&b, &b.get("b").await, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(b.listed().await, ["a", "c"], "{}", b.name);
}

#[tokio::test]
async fn an_unreadable_row_breaks_only_itself_sqlite() {
    an_unreadable_row_breaks_only_itself(Backend::sqlite("unreadable").await).await;
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn an_unreadable_row_breaks_only_itself_postgres() {
    if let Some(b) = Backend::postgres("unreadable").await {
        an_unreadable_row_breaks_only_itself(b).await;
    }
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn an_unreadable_row_breaks_only_itself_mariadb() {
    if let Some(b) = Backend::mariadb("unreadable").await {
        an_unreadable_row_breaks_only_itself(b).await;
    }
}

/// Merging turned on for a table with rows: `verify()` names the missing
/// merge column, `add_merge_columns` adds them with every member at the
/// row's version, and a stale tag then merges nothing over changes its
/// client never saw.
macro_rules! merging_turned_on_later {
    ($name:expr, $db:ty, $pool:expr, $sql:expr) => {{
        let (pool, sql) = ($pool, $sql);
        sql.execute(ARTICLES).await;
        // An article written before merging was on, at version 5.
        sql.execute(
            "INSERT INTO rd_articles (id, version, title, body) VALUES ('old', 5, 'v5 title', 'v5 body')",
        )
        .await;
        let merged = SqlRepository::<$db, MergedArticle>::new(pool);
        let error = merged
            .verify()
            .await
            .expect_err("verify passes without the merge columns")
            .to_string();
        assert!(error.contains("title_version"), "{}: {error}", $name);
        for statement in add_merge_columns::<$db, MergedArticle>() {
            sql.execute(&statement).await;
        }
        merged.verify().await.expect("the merge columns are there");
        merge_after_migration($name, Arc::new(merged)).await;
    }};
}

async fn merge_after_migration<R: Repository<MergedArticle> + 'static>(name: &str, repo: Arc<R>) {
    let app = Router::new().nest(
        "/articles",
        ConditionalRoutes::new(repo).merging(true).into_router(),
    );
    let patch = |tag: &'static str, body: &'static str| {
        let app = app.clone();
        async move {
            send(
                &app,
                Method::PATCH,
                "/articles/old",
                &[MERGE_PATCH, ("if-match", tag)],
                body,
            )
            .await
        }
    };
    // A client that saw version 3 changes the title: version 5 may have
    // changed it (it did), so 412, not a merge.
    let stale = patch("\"art-old-v3\"", r#"{"title":"from v3"}"#).await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{name}: {stale:?}"
    );
    // The current tag writes; then an edit of the other member from
    // version 5 merges, since only the title changed after it.
    let current = patch("\"art-old-v5\"", r#"{"title":"v6 title"}"#).await;
    assert_eq!(current.status, StatusCode::OK, "{name}: {current:?}");
    let disjoint = patch("\"art-old-v5\"", r#"{"body":"v7 body"}"#).await;
    assert_eq!(disjoint.status, StatusCode::OK, "{name}: {disjoint:?}");
    assert_eq!(disjoint.json()["title"], "v6 title", "{name}");
    assert_eq!(disjoint.header("etag"), Some("\"art-old-v7\""), "{name}");
}

#[tokio::test]
async fn merging_turned_on_later_sqlite() {
    let (pool, _) = occ_tests::sqlite_file_pool("merge_later").await;
    merging_turned_on_later!("sqlite", sqlx::Sqlite, pool.clone(), Database::Sqlite(pool));
}

#[tokio::test]
#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]
async fn merging_turned_on_later_postgres() {
    let Some((pool, _cleanup)) =
        occ_tests::postgres_schema("merging_turned_on_later_postgres", "occ_merge_later", 4).await
    else {
        return;
    };
    merging_turned_on_later!(
        "postgres",
        sqlx::Postgres,
        pool.clone(),
        Database::Postgres(pool)
    );
}

#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn merging_turned_on_later_mariadb() {
    let Some((pool, _cleanup)) =
        occ_tests::mariadb_database("merging_turned_on_later_mariadb", "occ_merge_later", 4).await
    else {
        return;
    };
    merging_turned_on_later!(
        "mariadb",
        sqlx::MySql,
        pool.clone(),
        Database::MariaDb(pool)
    );
}

/// A MariaDB `ENUM` column, read by a string enum.
const ORDERS: &str = "CREATE TABLE rd_orders (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    status ENUM('pending', 'paid', 'shipped') NOT NULL
)";

/// `#[derive(sqlx::Type)]` on a string enum: sqlx's MySQL type for it does
/// not accept the `ENUM` columns MariaDB describes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
enum DerivedStatus {
    Pending,
    Paid,
    Shipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "rd_orders", etag = "order-{id}-v{version}")]
struct DerivedOrder {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    status: DerivedStatus,
}

/// The recipe (README, "String enums"): sqlx's `Encode` and `Decode`
/// derives, and a `Type` that accepts what a string accepts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, sqlx::Encode, sqlx::Decode)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
enum Status {
    Pending,
    Paid,
    Shipped,
}

impl sqlx::Type<sqlx::MySql> for Status {
    fn type_info() -> sqlx::mysql::MySqlTypeInfo {
        <str as sqlx::Type<sqlx::MySql>>::type_info()
    }

    fn compatible(ty: &sqlx::mysql::MySqlTypeInfo) -> bool {
        <str as sqlx::Type<sqlx::MySql>>::compatible(ty)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "rd_orders", etag = "order-{id}-v{version}")]
struct Order {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    status: Status,
}

/// `verify()` refuses the derived enum on an `ENUM` column, naming the
/// column (its first POST would be a 500); the recipe passes `verify()`
/// and serves: created, read back, and a value outside the `ENUM` is 422.
#[tokio::test]
#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]
async fn a_string_enum_on_a_mariadb_enum_column() {
    let Some((pool, _cleanup)) =
        occ_tests::mariadb_database("a_string_enum_on_a_mariadb_enum_column", "occ_enum", 4).await
    else {
        return;
    };
    Database::MariaDb(pool.clone()).execute(ORDERS).await;

    let derived = SqlRepository::<sqlx::MySql, DerivedOrder>::new(pool.clone());
    let refused = derived
        .verify()
        .await
        .expect_err("verify refuses the derived enum")
        .to_string();
    assert!(
        refused.contains("`status`") && refused.contains("ENUM"),
        "{refused}"
    );

    let repo = SqlRepository::<sqlx::MySql, Order>::new(pool);
    repo.verify().await.expect("the recipe fits");
    let app = Router::new().nest(
        "/orders",
        ConditionalRoutes::new(Arc::new(repo)).into_router(),
    );
    let created = send(
        &app,
        Method::POST,
        "/orders",
        &[JSON],
        r#"{"id":1,"status":"paid"}"#,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let read = send(&app, Method::GET, "/orders/1", &[], "").await;
    assert_eq!(read.json()["status"], "paid", "{read:?}");
    let shipped = send(
        &app,
        Method::PATCH,
        "/orders/1",
        &[MERGE_PATCH, ("if-match", "\"order-1-v1\"")],
        r#"{"status":"shipped"}"#,
    )
    .await;
    assert_eq!(shipped.json()["status"], "shipped", "{shipped:?}");
    let unknown = send(
        &app,
        Method::PATCH,
        "/orders/1",
        &[MERGE_PATCH, ("if-match", "\"order-1-v2\"")],
        r#"{"status":"lost"}"#,
    )
    .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{unknown:?}"
    );
}
