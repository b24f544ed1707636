//! Editable lists (design decision 18): every item of `GET /collection`
//! carries its entity tag in an `etag` member, the tag a GET of the item
//! sends, so a client writes an item straight from the list; the page has
//! a weak ETag of its own, computed from its items' tags, its parameters
//! and the scope, and answers a matching `If-None-Match` with 304
//! (INM-1, 304-2 … 304-5). Over memory and SQLite, and PostgreSQL and
//! MariaDB/MySQL where `OCC_TEST_POSTGRES_URL` / `OCC_TEST_MYSQL_URL` are set.
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
use occ_tests::{send, Db, DropOnExit, Reply};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "list_docs", etag = "doc-{id}-v{version}")]
struct Doc {
    id: i64,
    #[version]
    version: i64,
    tenant_id: i64,
    title: String,
}

const DDL: &str = "CREATE TABLE list_docs (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    tenant_id BIGINT NOT NULL,
    title TEXT NOT NULL
)";

/// The caller's tenant, from a header, becomes the request's scope (as
/// an authentication layer would put it there); without the header the
/// request has no scope and sees every row.
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
        .nest("/docs", ConditionalRoutes::new(repo).into_router())
        .layer(middleware::from_fn(tenant))
}

/// Assertions these tests make on a reply.
trait Checks {
    fn etag(&self) -> String;
    fn items(&self) -> Vec<Value>;
    fn ids(&self) -> Vec<i64>;
}

impl Checks for Reply {
    fn etag(&self) -> String {
        self.header("etag").expect("an ETag").to_owned()
    }
    fn items(&self) -> Vec<Value> {
        self.json()["items"].as_array().expect("items").clone()
    }
    fn ids(&self) -> Vec<i64> {
        self.items()
            .iter()
            .map(|item| item["id"].as_i64().unwrap())
            .collect()
    }
}

async fn get(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Reply {
    send(app, Method::GET, uri, headers, "").await
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// Creates documents through the routes.
async fn post(app: &Router, id: i64, tenant: i64, title: &str) {
    let body = json!({"id": id, "tenant_id": tenant, "title": title}).to_string();
    let r = send(app, Method::POST, "/docs", &[JSON], &body).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
}

/// Documents 1, 2 and 4 of tenant 1, 3 of tenant 2.
async fn seed(app: &Router) {
    post(app, 1, 1, "One").await;
    post(app, 2, 1, "Two").await;
    post(app, 3, 2, "Three").await;
    post(app, 4, 1, "Four").await;
}

/// A 304 as 304-2 … 304-5 and decision 9 say: the ETag, nothing else of
/// the representation, no body.
fn assert_not_modified(r: &Reply, etag: &str) {
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.header("etag"), Some(etag));
    assert!(r.body.is_empty(), "304-4: no body");
    assert_eq!(r.header("content-type"), None, "304-3");
    assert_eq!(r.header("content-length"), None, "304-5");
}

// ---- the checks, each run over every backend below ----

async fn decision_18_items_carry_the_etag_of_their_get(app: Served) {
    seed(&app).await;
    let list = get(&app, "/docs", &[]).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.header("content-type"), Some("application/json"));
    assert_eq!(list.ids(), vec![1, 2, 3, 4]);
    for item in list.items() {
        let id = item["id"].as_i64().unwrap();
        let one = get(&app, &format!("/docs/{id}"), &[]).await;
        assert_eq!(item["etag"], json!(one.etag()), "item {id}");
        // Apart from the member, the item is what a GET of it shows.
        let mut without = item.clone();
        without.as_object_mut().unwrap().remove("etag");
        assert_eq!(without, one.json(), "item {id}");
    }
    // The item's own members keep the order of its GET; the tag comes last.
    let one = get(&app, "/docs/1", &[]).await;
    let text = String::from_utf8(list.body.clone()).unwrap();
    let own = String::from_utf8(one.body.clone()).unwrap();
    let own = own.strip_suffix('}').unwrap();
    assert!(
        text.contains(&format!(r#"{own},"etag":"\"doc-1-v1\""}}"#)),
        "{text}"
    );
}

async fn decision_18_put_patch_delete_with_an_items_etag_need_no_get(app: Served) {
    seed(&app).await;
    let items = get(&app, "/docs", &[]).await.items();
    let tag = |n: usize| items[n]["etag"].as_str().unwrap().to_owned();

    let (first, second, third) = (tag(0), tag(1), tag(2));
    let put = send(
        &app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", first.as_str())],
        r#"{"tenant_id":1,"title":"One, renamed"}"#,
    )
    .await;
    assert_eq!(
        put.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&put.body)
    );
    assert_eq!(put.etag(), "\"doc-1-v2\"");
    // The tag from the list is now stale, as a GET's would be.
    let again = send(
        &app,
        Method::PUT,
        "/docs/1",
        &[JSON, ("if-match", first.as_str())],
        r#"{"tenant_id":1,"title":"lost update"}"#,
    )
    .await;
    assert_eq!(again.status, StatusCode::PRECONDITION_FAILED);

    let patch = send(
        &app,
        Method::PATCH,
        "/docs/2",
        &[
            ("content-type", "application/merge-patch+json"),
            ("if-match", second.as_str()),
        ],
        r#"{"title":"Two, patched"}"#,
    )
    .await;
    assert_eq!(patch.status, StatusCode::OK);

    let delete = send(
        &app,
        Method::DELETE,
        "/docs/3",
        &[("if-match", third.as_str())],
        "",
    )
    .await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);

    let list = get(&app, "/docs", &[]).await;
    assert_eq!(list.ids(), vec![1, 2, 4]);
    assert_eq!(list.items()[0]["title"], json!("One, renamed"));
    assert_eq!(list.items()[0]["etag"], json!("\"doc-1-v2\""));
}

async fn decision_18_page_etag_is_weak_and_stable(app: Router, twin: Router) {
    seed(&app).await;
    let first = get(&app, "/docs?limit=3", &[]).await;
    let tag = first.etag();
    assert!(tag.starts_with("W/\"") && tag.ends_with('"'), "{tag}");
    assert_eq!(get(&app, "/docs?limit=3", &[]).await.etag(), tag);
    // Another instance of the service over the same data: the same tag,
    // and it validates the first one's.
    let other = get(&twin, "/docs?limit=3", &[]).await;
    assert_eq!(other.etag(), tag);
    assert_eq!(other.body, first.body);
    assert_not_modified(
        &get(&twin, "/docs?limit=3", &[("if-none-match", &tag)]).await,
        &tag,
    );
}

async fn inm_1_r304_2_to_5_a_current_page_tag_gives_304(app: Served) {
    seed(&app).await;
    let tag = get(&app, "/docs", &[]).await.etag();
    assert_not_modified(&get(&app, "/docs", &[("if-none-match", &tag)]).await, &tag);
    // Weak comparison (INM-1): the strong form of the tag matches too.
    let strong = tag.trim_start_matches("W/").to_owned();
    assert_not_modified(
        &get(&app, "/docs", &[("if-none-match", &strong)]).await,
        &tag,
    );
    // INM-4, INM-7: a list matches when any of its tags does.
    let several = format!("\"other\", {tag}");
    assert_not_modified(
        &get(&app, "/docs", &[("if-none-match", &several)]).await,
        &tag,
    );
    // INM-3: `*` matches any page.
    assert_not_modified(&get(&app, "/docs", &[("if-none-match", "*")]).await, &tag);
    // Another tag, or a malformed field (INM-5), gets the whole page.
    for other in ["W/\"0000000000000000\"", "\"unquoted"] {
        let r = get(&app, "/docs", &[("if-none-match", other)]).await;
        assert_eq!(r.status, StatusCode::OK, "{other}");
        assert_eq!(r.etag(), tag);
        assert_eq!(r.ids(), vec![1, 2, 3, 4]);
    }
}

async fn im_1_if_match_on_a_page_compares_strongly(app: Served) {
    seed(&app).await;
    let tag = get(&app, "/docs", &[]).await.etag();
    // A weak tag never passes If-Match (IM-1): 412 with the page's tag.
    let r = get(&app, "/docs", &[("if-match", &tag)]).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(r.etag(), tag);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let r = get(&app, "/docs", &[("if-match", "*")]).await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn decision_18_page_tag_changes_on_update_delete_and_insert(app: Served) {
    seed(&app).await;
    let mut seen = vec![];
    let mut tag = get(&app, "/docs", &[]).await.etag();
    seen.push(tag.clone());

    let mut check_changed = |r: Reply, tag: &mut String, what: &str| {
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{what}: the old tag gets the page"
        );
        let new = r.etag();
        assert!(!seen.contains(&new), "{what}: a new tag, got {new}");
        seen.push(new.clone());
        *tag = new;
        r
    };

    // Update an item of the page.
    let item = get(&app, "/docs/2", &[]).await.etag();
    let r = send(
        &app,
        Method::PATCH,
        "/docs/2",
        &[
            ("content-type", "application/merge-patch+json"),
            ("if-match", &item),
        ],
        r#"{"title":"Two, again"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = get(&app, "/docs", &[("if-none-match", &tag)]).await;
    let r = check_changed(r, &mut tag, "update");
    assert_eq!(r.items()[1]["title"], json!("Two, again"));

    // Delete one.
    let item = get(&app, "/docs/3", &[]).await.etag();
    let r = send(&app, Method::DELETE, "/docs/3", &[("if-match", &item)], "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = get(&app, "/docs", &[("if-none-match", &tag)]).await;
    assert_eq!(check_changed(r, &mut tag, "delete").ids(), vec![1, 2, 4]);

    // Insert one before the first item, then one after the last.
    post(&app, 0, 1, "Zero").await;
    let r = get(&app, "/docs", &[("if-none-match", &tag)]).await;
    assert_eq!(check_changed(r, &mut tag, "insert").ids(), vec![0, 1, 2, 4]);
    post(&app, 5, 1, "Five").await;
    let r = get(&app, "/docs", &[("if-none-match", &tag)]).await;
    assert_eq!(
        check_changed(r, &mut tag, "append").ids(),
        vec![0, 1, 2, 4, 5]
    );

    // The new tag is current again.
    assert_not_modified(&get(&app, "/docs", &[("if-none-match", &tag)]).await, &tag);
}

async fn decision_18_page_parameters_change_the_tag(app: Served) {
    seed(&app).await;
    let mut tags = vec![];
    for uri in [
        "/docs",
        "/docs?limit=4",
        "/docs?limit=3",
        "/docs?after=1",
        "/docs?after=1&limit=3",
        "/docs?after=0",
    ] {
        let r = get(&app, uri, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        let tag = r.etag();
        assert!(!tags.contains(&tag), "{uri}: {tag} already seen");
        tags.push(tag);
    }
    // A limit above the route's maximum is applied as the maximum: the
    // same page, the same tag.
    assert_eq!(get(&app, "/docs?limit=100000", &[]).await.etag(), tags[0]);
    // The tag of one page does not validate another.
    let r = get(&app, "/docs?limit=3", &[("if-none-match", &tags[0])]).await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn decision_18_head_is_get_without_the_body(app: Served) {
    seed(&app).await;
    let full = get(&app, "/docs?limit=2", &[]).await;
    let head = send(&app, Method::HEAD, "/docs?limit=2", &[], "").await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.etag(), full.etag());
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert!(head.body.is_empty());
    let tag = full.etag();
    let r = send(
        &app,
        Method::HEAD,
        "/docs?limit=2",
        &[("if-none-match", &tag)],
        "",
    )
    .await;
    assert_not_modified(&r, &tag);
}

async fn decision_18_scope_changes_the_tag_and_hides_other_tenants(app: Served) {
    seed(&app).await;
    let everyone = get(&app, "/docs", &[]).await;
    let one = get(&app, "/docs", &[("x-tenant", "1")]).await;
    let two = get(&app, "/docs", &[("x-tenant", "2")]).await;
    assert_eq!(one.ids(), vec![1, 2, 4]);
    assert_eq!(two.ids(), vec![3]);
    assert!(!String::from_utf8_lossy(&two.body).contains("doc-1-v"));
    let (all, t1, t2) = (everyone.etag(), one.etag(), two.etag());
    assert!(all != t1 && all != t2 && t1 != t2);
    // A tenant's tag is not current for another tenant nor for everyone.
    let r = get(&app, "/docs", &[("x-tenant", "2"), ("if-none-match", &t1)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.ids(), vec![3]);
    assert_eq!(
        get(&app, "/docs", &[("if-none-match", &t1)]).await.status,
        StatusCode::OK
    );
    assert_not_modified(
        &get(&app, "/docs", &[("x-tenant", "1"), ("if-none-match", &t1)]).await,
        &t1,
    );
    // Two scopes with the same (here: no) items still have their own tags.
    let empty_7 = get(&app, "/docs", &[("x-tenant", "7")]).await;
    let empty_8 = get(&app, "/docs", &[("x-tenant", "8")]).await;
    assert!(empty_7.ids().is_empty() && empty_8.ids().is_empty());
    assert_ne!(empty_7.etag(), empty_8.etag());
    // An update in tenant 2 leaves tenant 1's page current.
    let item = two.items()[0]["etag"].as_str().unwrap().to_owned();
    let r = send(
        &app,
        Method::PATCH,
        "/docs/3",
        &[
            ("x-tenant", "2"),
            ("content-type", "application/merge-patch+json"),
            ("if-match", &item),
        ],
        r#"{"title":"Three, edited"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_not_modified(
        &get(&app, "/docs", &[("x-tenant", "1"), ("if-none-match", &t1)]).await,
        &t1,
    );
    let r = get(&app, "/docs", &[("x-tenant", "2"), ("if-none-match", &t2)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.etag(), t2);
}

// ---- backends ----

async fn memory() -> Router {
    app(Arc::new(MemoryRepository::<Doc>::new()))
}

async fn sqlite() -> Router {
    sqlite_pair().await.0
}

/// Two services over one SQLite file, each with its own pool.
async fn sqlite_pair() -> (Router, Router) {
    let (pool, url) = occ_tests::sqlite_file_pool("occ_lists").await;
    sqlx::query(DDL).execute(&pool).await.unwrap();
    let twin = occ_core::repository::sql::sqlite_pool(&url).await.unwrap();
    (
        app(Arc::new(SqlRepository::<sqlx::Sqlite, Doc>::new(pool))),
        app(Arc::new(SqlRepository::<sqlx::Sqlite, Doc>::new(twin))),
    )
}

/// The service of one test on one backend, and the guard that drops its
/// schema or database when the test ends, even on a panic. The checks
/// use it as the `Router` it derefs to.
struct Served {
    app: Router,
    _cleanup: Option<DropOnExit>,
}

impl std::ops::Deref for Served {
    type Target = Router;

    fn deref(&self) -> &Router {
        &self.app
    }
}

impl Served {
    /// Backend `db` for the test `test`; `None` when its URL is unset.
    async fn open(db: Db, test: &str) -> Option<Self> {
        let (app, cleanup) = match db {
            Db::Memory => (memory().await, None),
            Db::Sqlite => (sqlite().await, None),
            Db::Postgres => {
                let (pool, cleanup) = occ_tests::postgres_schema(test, "occ_lists", 4).await?;
                sqlx::query(DDL).execute(&pool).await.unwrap();
                let repo = SqlRepository::<sqlx::Postgres, Doc>::new(pool);
                (app(Arc::new(repo)), Some(cleanup))
            }
            Db::MariaDb => {
                let (pool, cleanup) = occ_tests::mariadb_database(test, "occ_lists", 4).await?;
                sqlx::query(DDL).execute(&pool).await.unwrap();
                let repo = SqlRepository::<sqlx::MySql, Doc>::new(pool);
                (app(Arc::new(repo)), Some(cleanup))
            }
        };
        Some(Self {
            app,
            _cleanup: cleanup,
        })
    }
}

occ_tests::on_every_backend!(by backend: [memory, sqlite, postgres, mysql] Served =>
    decision_18_items_carry_the_etag_of_their_get,
    decision_18_put_patch_delete_with_an_items_etag_need_no_get,
    inm_1_r304_2_to_5_a_current_page_tag_gives_304,
    im_1_if_match_on_a_page_compares_strongly,
    decision_18_page_tag_changes_on_update_delete_and_insert,
    decision_18_page_parameters_change_the_tag,
    decision_18_head_is_get_without_the_body,
    decision_18_scope_changes_the_tag_and_hides_other_tenants,
);

#[tokio::test]
async fn decision_18_page_etag_is_weak_and_stable_memory() {
    // Two services, two stores, the same data.
    let (app, twin) = (memory().await, memory().await);
    seed(&twin).await;
    decision_18_page_etag_is_weak_and_stable(app, twin).await;
}

#[tokio::test]
async fn decision_18_page_etag_is_weak_and_stable_sqlite() {
    let (app, twin) = sqlite_pair().await;
    decision_18_page_etag_is_weak_and_stable(app, twin).await;
}

// ---- item shapes ----

/// A model whose member for the tag is taken by its own `etag` field.
#[derive(Debug, Clone, Serialize, Deserialize, Versioned)]
#[occ(etag = "note-{id}-v{version}")]
struct Note {
    id: i64,
    #[version]
    version: i64,
    etag: String,
}

#[tokio::test]
async fn decision_18_a_member_named_etag_is_never_overwritten() {
    let repo = Arc::new(MemoryRepository::<Note>::new());
    repo.create(Note {
        id: 1,
        version: 1,
        etag: "the model's own".into(),
    })
    .await
    .unwrap();
    let serve = |member| {
        Router::new().nest(
            "/notes",
            ConditionalRoutes::new(repo.clone())
                .list_etag_member(member)
                .into_router(),
        )
    };
    // The default member is taken: the item keeps its own, once.
    let default = serve(Some("etag"));
    let r = get(&default, "/notes", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.items(),
        vec![json!({"id":1,"version":1,"etag":"the model's own"})]
    );
    assert_eq!(
        String::from_utf8_lossy(&r.body).matches("\"etag\"").count(),
        1
    );
    assert!(r.etag().starts_with("W/"));
    // Another name carries the tag; the item's own member is untouched.
    let renamed = serve(Some("_etag"));
    let r = get(&renamed, "/notes", &[]).await;
    let one = get(&renamed, "/notes/1", &[]).await;
    assert_eq!(r.items()[0]["_etag"], json!(one.etag()));
    assert_eq!(r.items()[0]["etag"], json!("the model's own"));
    // None: no member at all, the page still tagged.
    let none = serve(None);
    let r = get(&none, "/notes", &[]).await;
    assert_eq!(
        r.items(),
        vec![json!({"id":1,"version":1,"etag":"the model's own"})]
    );
    assert_not_modified(
        &get(&none, "/notes", &[("if-none-match", &r.etag())]).await,
        &r.etag(),
    );
}

/// A model that serializes as a JSON array, not an object.
#[derive(Debug, Clone, Serialize, Deserialize, Versioned)]
#[serde(into = "PairRow", from = "PairRow")]
struct Pair {
    id: i64,
    #[version]
    version: i64,
    name: String,
}

#[derive(Serialize, Deserialize)]
struct PairRow(i64, i64, String);

impl From<Pair> for PairRow {
    fn from(p: Pair) -> Self {
        Self(p.id, p.version, p.name)
    }
}

impl From<PairRow> for Pair {
    fn from(PairRow(id, version, name): PairRow) -> Self {
        Self { id, version, name }
    }
}

#[tokio::test]
async fn decision_18_an_item_that_is_not_an_object_gets_no_member() {
    let repo = Arc::new(MemoryRepository::<Pair>::new());
    for id in [1, 2] {
        repo.create(Pair {
            id,
            version: 1,
            name: format!("p{id}"),
        })
        .await
        .unwrap();
    }
    let app = Router::new().nest("/pairs", ConditionalRoutes::new(repo).into_router());
    let r = get(&app, "/pairs", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    // Each item exactly as its GET shows it; the page still has its tag.
    assert_eq!(r.items(), vec![json!([1, 1, "p1"]), json!([2, 1, "p2"])]);
    assert_eq!(get(&app, "/pairs/1", &[]).await.json(), json!([1, 1, "p1"]));
    let tag = r.etag();
    assert!(tag.starts_with("W/"));
    assert_not_modified(&get(&app, "/pairs", &[("if-none-match", &tag)]).await, &tag);
}
