//! Hooks over the transition (`validate_transition`): a status that only
//! moves forward and a member only an action may set, enforced on every
//! write path (POST, creating and replacing PUT, PATCH), on memory,
//! SQLite, PostgreSQL and MariaDB; and under contention, writers whose
//! hook reads first lose no update and an `If-Match: *` is never refused
//! for a race it did not lose.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use http::{Method, StatusCode};
use occ_axum::routes::ConditionalRoutes;
use occ_axum::{ConditionalRequest, Refusal, Tagged};
use occ_core::repository::sql::SqlRepository;
use occ_core::repository::{MemoryRepository, Repository};
use occ_tests::{send, Db, DropOnExit, Reply};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, occ_core::Versioned)]
#[occ(table = "tr_orders", etag = "order-{id}-v{version}")]
struct Order {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    /// 0 pending, 1 paid, 2 shipped: only forward, one step at a time.
    status: i32,
    /// Set by `POST /orders/{id}/publish` only.
    #[serde(default)]
    published_at: Option<String>,
    count: i64,
}

const ORDERS: &str = "CREATE TABLE tr_orders (id BIGINT PRIMARY KEY, version BIGINT NOT NULL,
    status INTEGER NOT NULL, published_at VARCHAR(64), count BIGINT NOT NULL)";

fn check(current: Option<&Order>, next: &Order) -> Result<(), String> {
    let Some(current) = current else {
        return match (next.status, &next.published_at) {
            (0, None) => Ok(()),
            _ => Err("an order starts pending and unpublished".into()),
        };
    };
    if next.status != current.status && next.status != current.status + 1 {
        return Err(format!(
            "status {} cannot follow status {}",
            next.status, current.status
        ));
    }
    if next.published_at != current.published_at {
        return Err("published_at is set by the publish action only".into());
    }
    // The counter of the contention test (order 7) moves by one on every
    // write; the others' counts never move.
    let step = i64::from(next.id == COUNTER);
    if next.count != current.count + step {
        return Err(format!("the count moves from {} by {step}", current.count));
    }
    Ok(())
}

type Orders = dyn Repository<Order>;

/// The order whose count the contention test increments.
const COUNTER: i64 = 7;

/// The action beside the generated routes: sets what the hook forbids
/// the others to set.
async fn publish(
    State(repo): State<Arc<Orders>>,
    Path(id): Path<i64>,
    request: ConditionalRequest,
) -> Result<Tagged<Order>, Refusal> {
    let patch = json!({"published_at": "2026-12-07T00:00:00Z"});
    request.merge(&*repo, &id, Ok(patch)).await
}

fn app(repo: Arc<Orders>) -> Router {
    let routes = ConditionalRoutes::<Order, Orders>::new(repo.clone())
        .creating_put(true)
        .validate_transition(check)
        .into_router();
    Router::new()
        .nest("/orders", routes)
        .route("/orders/{id}/publish", post(publish).with_state(repo))
}

struct Backend {
    name: &'static str,
    app: Router,
    _cleanup: Option<DropOnExit>,
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
        Self {
            name: "memory",
            app: app(Arc::new(MemoryRepository::<Order>::new())),
            _cleanup: None,
        }
    }

    async fn sqlite(test: &str) -> Self {
        let (pool, _) = occ_tests::sqlite_file_pool(test).await;
        sqlx::query(ORDERS).execute(&pool).await.unwrap();
        let repo = SqlRepository::<sqlx::Sqlite, Order>::new(pool);
        repo.verify().await.unwrap();
        Self {
            name: "sqlite",
            app: app(Arc::new(repo)),
            _cleanup: None,
        }
    }

    async fn postgres(test: &str) -> Option<Self> {
        let (pool, cleanup) = occ_tests::postgres_schema(test, "occ_tr", 8).await?;
        sqlx::query(ORDERS).execute(&pool).await.unwrap();
        let repo = SqlRepository::<sqlx::Postgres, Order>::new(pool);
        repo.verify().await.unwrap();
        Some(Self {
            name: "postgres",
            app: app(Arc::new(repo)),
            _cleanup: Some(cleanup),
        })
    }

    async fn mariadb(test: &str) -> Option<Self> {
        let (pool, cleanup) = occ_tests::mariadb_database(test, "occ_tr", 8).await?;
        sqlx::query(ORDERS).execute(&pool).await.unwrap();
        let repo = SqlRepository::<sqlx::MySql, Order>::new(pool);
        repo.verify().await.unwrap();
        Some(Self {
            name: "mariadb",
            app: app(Arc::new(repo)),
            _cleanup: Some(cleanup),
        })
    }

    async fn send(&self, method: Method, uri: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        send(&self.app, method, uri, headers, body).await
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");
const MERGE_PATCH: (&str, &str) = ("content-type", "application/merge-patch+json");

occ_tests::on_every_backend!(Backend =>
    a_status_machine_holds_on_every_write_path,
    an_action_only_member_is_refused_elsewhere,
    contended_writers_through_the_hook_lose_nothing,
);

fn order(id: i64, status: i32, count: i64) -> String {
    json!({"id": id, "status": status, "count": count}).to_string()
}

async fn a_status_machine_holds_on_every_write_path(b: Backend) {
    // Creates: POST and a creating PUT start pending.
    let r = b
        .send(Method::POST, "/orders", &[JSON], &order(1, 1, 0))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}: {r:?}",
        b.name
    );
    let r = b
        .send(Method::POST, "/orders", &[JSON], &order(1, 0, 0))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}: {r:?}", b.name);
    let r = b
        .send(
            Method::PUT,
            "/orders/2",
            &[JSON, ("if-none-match", "*")],
            &order(2, 2, 0),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}: {r:?}",
        b.name
    );
    assert_eq!(
        b.send(Method::GET, "/orders/2", &[], "").await.status,
        StatusCode::NOT_FOUND
    );
    // A replacing PUT may not skip a step, and may take one.
    let tag = "\"order-1-v1\"";
    let r = b
        .send(
            Method::PUT,
            "/orders/1",
            &[JSON, ("if-match", tag)],
            &order(1, 2, 0),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}: {r:?}",
        b.name
    );
    assert!(r.text().contains("cannot follow"), "{}", r.text());
    let r = b
        .send(
            Method::PUT,
            "/orders/1",
            &[JSON, ("if-match", tag)],
            &order(1, 1, 0),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
    // A PATCH may not go back.
    let tag = "\"order-1-v2\"";
    let r = b
        .send(
            Method::PATCH,
            "/orders/1",
            &[MERGE_PATCH, ("if-match", tag)],
            r#"{"status":0}"#,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}: {r:?}",
        b.name
    );
    let r = b
        .send(
            Method::PATCH,
            "/orders/1",
            &[MERGE_PATCH, ("if-match", tag)],
            r#"{"status":2}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
    assert_eq!(r.json()["status"], 2);
    // The preconditions come first: a stale tag is 412 whatever the body.
    let r = b
        .send(
            Method::PATCH,
            "/orders/1",
            &[MERGE_PATCH, ("if-match", tag)],
            r#"{"status":9}"#,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::PRECONDITION_FAILED,
        "{}: {r:?}",
        b.name
    );
}

async fn an_action_only_member_is_refused_elsewhere(b: Backend) {
    let r = b
        .send(Method::POST, "/orders", &[JSON], &order(1, 0, 0))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}: {r:?}", b.name);
    let mut forged: serde_json::Value = serde_json::from_str(&order(1, 0, 0)).unwrap();
    forged["published_at"] = json!("1999-01-01");
    let r = b
        .send(
            Method::PUT,
            "/orders/1",
            &[JSON, ("if-match", "*")],
            &forged.to_string(),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}: {r:?}",
        b.name
    );
    let r = b
        .send(
            Method::PATCH,
            "/orders/1",
            &[MERGE_PATCH, ("if-match", "*")],
            r#"{"published_at":"1999-01-01"}"#,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}: {r:?}",
        b.name
    );
    // The action sets it.
    let r = b
        .send(
            Method::POST,
            "/orders/1/publish",
            &[("if-match", "\"order-1-v1\"")],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
    assert_eq!(r.json()["published_at"], "2026-12-07T00:00:00Z");
    // And a replacing PUT that keeps it passes.
    let mut kept = r.json();
    kept["status"] = json!(1);
    let r = b
        .send(
            Method::PUT,
            "/orders/1",
            &[JSON, ("if-match", "\"order-1-v2\"")],
            &kept.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {r:?}", b.name);
}

/// 4 writers × 25 increments of one counter, each a GET and a PUT of the
/// count plus one with `If-Match: *`, through a hook that allows only
/// `+1` over the state it replaces: the hook reads first, a lost race
/// reads and judges again. Every write is acknowledged (200) or refused
/// by the hook (422, its count stale); never 412 (`*` still holds); the
/// counter ends at the acknowledged writes.
async fn contended_writers_through_the_hook_lose_nothing(b: Backend) {
    const WRITERS: usize = 4;
    const WRITES: usize = 25;
    let r = b
        .send(Method::POST, "/orders", &[JSON], &order(COUNTER, 0, 0))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}: {r:?}", b.name);
    let app = b.app.clone();
    let acknowledged = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let (app, acknowledged, refused) = (app.clone(), acknowledged.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..WRITES {
                let read = send(&app, Method::GET, "/orders/7", &[], "").await;
                let n = read.json()["count"].as_i64().unwrap();
                let w = send(
                    &app,
                    Method::PUT,
                    "/orders/7",
                    &[JSON, ("if-match", "*")],
                    &order(7, 0, n + 1),
                )
                .await;
                match w.status {
                    StatusCode::OK => acknowledged.fetch_add(1, Ordering::Relaxed),
                    StatusCode::UNPROCESSABLE_ENTITY => refused.fetch_add(1, Ordering::Relaxed),
                    other => panic!("{other}: {w:?}"),
                };
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let end = b.send(Method::GET, "/orders/7", &[], "").await.json();
    let acked = acknowledged.load(Ordering::Relaxed);
    println!(
        "{}: {WRITERS} writers x {WRITES} increments through the hook: {acked} acknowledged, {} refused by it, counter {}",
        b.name,
        refused.load(Ordering::Relaxed),
        end["count"]
    );
    assert_eq!(
        end["count"].as_u64().unwrap(),
        acked,
        "{}: lost updates",
        b.name
    );
    assert!(acked > 0);
}
