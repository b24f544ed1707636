//! The profiles service of the reference scenario, shared by the
//! `profiles` example and the tests that replay the scenario.
#![forbid(unsafe_code)]

pub mod contacts;
pub mod document;
pub mod page;
pub mod users;

use std::sync::Arc;

use axum::Router;
use occ_axum::routes::{ConditionalRoutes, PutMode};
use occ_core::idempotency::KeyPolicy;
use occ_core::repository::sql::{
    idempotency_table, sqlite_pool, Dialect, MySqlRepository, PgRepository, ReplicaOptions,
    SqlModel, SqliteRepository,
};
use occ_core::repository::{Repository, RepositoryError};
use occ_core::Versioned;
use serde::{Deserialize, Serialize};
use sqlx::error::BoxDynError;
use sqlx::{AssertSqlSafe, FromRow};

/// A profile: `GET /profiles/42` gives `ETag: "prof-42-v7"` and
/// `{"id":42,"name":"Ava","city":"Paris"}`. The version travels in the
/// ETag, not in the body.
///
/// `#[occ(table = "profiles")]` maps it to the `profiles` table (columns
/// named after the fields) for the SQL repositories: no SQL to write.
/// `tombstones = "profile_tombstones"` keeps the last version of every
/// deleted profile ([`TOMBSTONES_SCHEMA`]), so that a profile deleted and
/// created again continues after it and no tag is ever reused for an id.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromRow, Versioned, utoipa::ToSchema,
)]
#[occ(
    table = "profiles",
    tombstones = "profile_tombstones",
    etag = "prof-{id}-v{version}"
)]
pub struct Profile {
    /// The id.
    pub id: i64,
    /// The version, bumped by every write.
    #[version]
    #[serde(skip)]
    pub version: i64,
    /// The name.
    pub name: String,
    /// The city.
    pub city: String,
}

/// The schema, valid on SQLite, PostgreSQL and MariaDB/MySQL (whose
/// `TEXT` columns cannot be keys: the key is a `BIGINT`).
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS profiles (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    city TEXT NOT NULL
)";

/// The tombstone table of [`Profile`]: the last version of each deleted
/// id. Valid on SQLite, PostgreSQL and MariaDB/MySQL.
pub const TOMBSTONES_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS profile_tombstones (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
)";

/// The repository behind the routes, whichever the database.
pub type Profiles = dyn Repository<Profile>;

/// Opens `database_url` (a `sqlite:`, `postgres:` or `mysql:` URL; MariaDB
/// is `mysql:` too, or `mariadb:`), creates the schema if needed, checks
/// that the table fits the model (a wrong schema fails here, naming the
/// column), and seeds profile 42 (Ava, Paris) at version 7 when the table
/// is empty, so the reference scenario replays verbatim.
pub async fn connect(database_url: &str) -> Result<Arc<Profiles>, BoxDynError> {
    let repo = open::<Profile>(
        database_url,
        &Tables {
            postgres: &[SCHEMA, TOMBSTONES_SCHEMA],
            mysql: &[SCHEMA, TOMBSTONES_SCHEMA],
            sqlite: &[SCHEMA, TOMBSTONES_SCHEMA],
            keys: "profile_idempotency_keys",
            lock: 4_242_007,
        },
    )
    .await?;
    seed(&*repo).await?;
    Ok(repo)
}

/// One model's `CREATE TABLE IF NOT EXISTS` statements on each database
/// (its table, and its tombstone table if it has one), run in order, and
/// the key of the PostgreSQL advisory lock under which they are run.
#[derive(Debug, Clone, Copy)]
pub struct Tables {
    /// On PostgreSQL.
    pub postgres: &'static [&'static str],
    /// On MariaDB and MySQL.
    pub mysql: &'static [&'static str],
    /// On SQLite.
    pub sqlite: &'static [&'static str],
    /// The table of the model's idempotency keys, created with the
    /// others ([`idempotency_table`]).
    pub keys: &'static str,
    /// `CREATE TABLE IF NOT EXISTS` is not safe against itself in
    /// PostgreSQL: servers starting together take turns on this lock.
    pub lock: i64,
}

/// Opens `database_url` (a `sqlite:`, `postgres:` or `mysql:` URL; MariaDB
/// is `mysql:` too, or `mariadb:`), creates the table if needed and checks
/// that it fits the model (a wrong schema fails here, naming the column).
/// On PostgreSQL, reads go to the replicas of `DATABASE_REPLICA_URLS`
/// when it is set ([`replica_pools`]).
pub async fn open<M>(
    database_url: &str,
    tables: &Tables,
) -> Result<Arc<dyn Repository<M>>, BoxDynError>
where
    M: SqlModel<sqlx::Sqlite> + SqlModel<sqlx::Postgres> + SqlModel<sqlx::MySql>,
    SqliteRepository<M>: Repository<M>,
    PgRepository<M>: Repository<M>,
    MySqlRepository<M>: Repository<M>,
{
    Ok(if database_url.starts_with("postgres") {
        occ_core::repository::sql::refuse_session_sharing_pooler(database_url).await?;
        let pool = sqlx::PgPool::connect(database_url).await?;
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(tables.lock)
            .execute(&mut *tx)
            .await?;
        for ddl in tables.postgres {
            sqlx::query(*ddl).execute(&mut *tx).await?;
        }
        for ddl in idempotency_table(Dialect::Postgres, tables.keys) {
            sqlx::query(AssertSqlSafe(ddl)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let repo = PgRepository::<M>::new(pool)
            .with_idempotency_keys(tables.keys, key_policy()?)
            .with_replicas(replica_pools()?, ReplicaOptions::new());
        repo.verify().await?;
        Arc::new(repo)
    } else if database_url.starts_with("mysql:") || database_url.starts_with("mariadb:") {
        let pool = sqlx::MySqlPool::connect(database_url).await?;
        // MariaDB and MySQL hold a metadata lock for the DDL: servers
        // starting together see the table created once, and the others'
        // `IF NOT EXISTS` only warns.
        for ddl in tables.mysql {
            sqlx::query(*ddl).execute(&pool).await?;
        }
        for ddl in idempotency_table(Dialect::MySql, tables.keys) {
            sqlx::query(AssertSqlSafe(ddl)).execute(&pool).await?;
        }
        let repo =
            MySqlRepository::<M>::new(pool).with_idempotency_keys(tables.keys, key_policy()?);
        repo.verify().await?;
        Arc::new(repo)
    } else {
        let pool = sqlite_pool(database_url).await?;
        for ddl in tables.sqlite {
            sqlx::query(*ddl).execute(&pool).await?;
        }
        for ddl in idempotency_table(Dialect::Sqlite, tables.keys) {
            sqlx::query(AssertSqlSafe(ddl)).execute(&pool).await?;
        }
        let repo =
            SqliteRepository::<M>::new(pool).with_idempotency_keys(tables.keys, key_policy()?);
        repo.verify().await?;
        Arc::new(repo)
    })
}

/// The read replicas named by `DATABASE_REPLICA_URLS` (comma-separated
/// `postgres://…` URLs; none when it is unset or empty), connected lazily
/// so that a replica down at startup is only out of rotation, with a
/// connection wait of one second.
pub fn replica_pools() -> Result<Vec<sqlx::PgPool>, BoxDynError> {
    let urls = std::env::var("DATABASE_REPLICA_URLS").unwrap_or_default();
    urls.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            sqlx::postgres::PgPoolOptions::new()
                .acquire_timeout(std::time::Duration::from_secs(1))
                .connect_lazy(url)
                .map_err(|e| format!("DATABASE_REPLICA_URLS: {e}").into())
        })
        .collect()
}

/// The lifetimes of idempotency keys: the defaults (24 hours, a lease of
/// 10 seconds), or a lease of `OCC_IDEMPOTENCY_LEASE_MS` milliseconds.
pub fn key_policy() -> Result<KeyPolicy, BoxDynError> {
    let mut policy = KeyPolicy::default();
    if let Ok(ms) = std::env::var("OCC_IDEMPOTENCY_LEASE_MS") {
        let ms: u64 = ms
            .parse()
            .map_err(|e| format!("OCC_IDEMPOTENCY_LEASE_MS {ms:?}: {e}"))?;
        policy.lease = std::time::Duration::from_millis(ms);
    }
    Ok(policy)
}

/// Inserts profile 42 at version 7 if the table is empty.
pub async fn seed(repo: &Profiles) -> Result<(), BoxDynError> {
    let page = repo.list(None, 1).await.map_err(|e| e.to_string())?;
    if page.items.is_empty() {
        let ava = Profile {
            id: 42,
            version: 7,
            name: "Ava".into(),
            city: "Paris".into(),
        };
        match repo.create(ava).await {
            Ok(_) | Err(RepositoryError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.to_string().into()),
        }
    }
    Ok(())
}

/// The service: conditional routes for profiles at `/profiles`, where PUT
/// merges a partial body (the reference scenario) and creates a missing
/// profile once (design decision 3): `PUT /profiles/43` with
/// `If-None-Match: *` and a whole profile (its id may be left out: the URL
/// names it) is 201 with `Location` and `ETag: "prof-43-v1"`; the same PUT
/// again is 412, and so is `If-Match` on a profile that does not exist
/// (S6).
///
/// `GET /openapi.json` describes it (OpenAPI 3.1).
pub fn app(repo: Arc<Profiles>) -> Router {
    let profiles = ConditionalRoutes::<Profile, Profiles>::new(repo)
        .put_mode(PutMode::Merge)
        .creating_put(true);
    let mut spec = profiles.openapi("/profiles");
    spec.info.title = "profiles".into();
    spec.info.description = Some("The profiles of the reference scenario".into());
    Router::new()
        .nest("/profiles", profiles.into_router())
        .route(
            "/openapi.json",
            axum::routing::get(move || std::future::ready(axum::Json(spec.clone()))),
        )
        .merge(page::router())
        .fallback(|| async {
            occ_axum::Problem::new(axum::http::StatusCode::NOT_FOUND)
                .with_detail("no resource exists at this URL")
        })
}

/// Serves the profiles app on `listen_addr` over `database_url` until
/// `shutdown` completes: opens the database first (see [`connect`]), then
/// binds, then calls `on_listening` with the bound address (useful with a
/// port of 0).
pub async fn run(
    listen_addr: &str,
    database_url: &str,
    on_listening: impl FnOnce(std::net::SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), BoxDynError> {
    let repo = connect(database_url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    serve(listen_addr, app(repo), on_listening, shutdown).await
}

/// Binds `listen_addr`, calls `on_listening` with the bound address, and
/// serves `app` until `shutdown` completes; with CORS for the origin named
/// by `CORS_ORIGIN` when it is set (see [`cors`]).
pub async fn serve(
    listen_addr: &str,
    app: Router,
    on_listening: impl FnOnce(std::net::SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), BoxDynError> {
    let app = match std::env::var("CORS_ORIGIN") {
        Ok(origin) if !origin.is_empty() => {
            let app =
                with_cors(app, &origin).map_err(|e| format!("CORS_ORIGIN {origin:?}: {e}"))?;
            tracing::info!("CORS allowed for {origin}");
            app
        }
        _ => app,
    };
    let listener = tokio::net::TcpListener::bind(listen_addr)
        .await
        .map_err(|e| format!("cannot listen on {listen_addr}: {e}"))?;
    on_listening(listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// CORS for browser clients on `origin` (such as `https://app.example`):
/// they may send the precondition headers (and `Idempotency-Key`) with any
/// method of the routes, and read the validators, `Location` and
/// `Idempotent-Replayed` of the answers, which a cross-origin script cannot
/// otherwise see.
///
/// The layer answers every `OPTIONS` itself; [`with_cors`] keeps the
/// routes' own `OPTIONS` answers.
pub fn cors(origin: &str) -> Result<tower_http::cors::CorsLayer, BoxDynError> {
    use http::header::{
        CONTENT_TYPE, ETAG, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE,
        LAST_MODIFIED, LOCATION,
    };
    use http::{HeaderName, HeaderValue, Method};
    let origin = HeaderValue::from_str(origin)?;
    Ok(tower_http::cors::CorsLayer::new()
        // Only a request from this origin gets it back.
        .allow_origin(tower_http::cors::AllowOrigin::list([origin]))
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            CONTENT_TYPE,
            IF_MATCH,
            IF_NONE_MATCH,
            IF_MODIFIED_SINCE,
            IF_UNMODIFIED_SINCE,
            HeaderName::from_static("idempotency-key"),
            // A write's read floor, sent back (read replicas).
            occ_axum::read_floor::READ_AFTER,
        ])
        .expose_headers([
            ETAG,
            LAST_MODIFIED,
            LOCATION,
            occ_axum::idempotency::IDEMPOTENT_REPLAYED,
            occ_axum::read_floor::READ_AFTER,
        ])
        .max_age(std::time::Duration::from_secs(600)))
}

/// `app` with [`cors`] for `origin`, where only a preflight (`OPTIONS`
/// with `Access-Control-Request-Method`) is answered by the CORS layer:
/// any other `OPTIONS` reaches the routes, so their `Allow` and
/// `Accept-Patch` answers survive, with the origin allowed to read them.
pub fn with_cors(app: Router, origin: &str) -> Result<Router, BoxDynError> {
    use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY};
    use tower::ServiceExt as _;
    let allowed = http::HeaderValue::from_str(origin)?;
    // tower-http's layer takes every OPTIONS for a preflight.
    let with_layer = app.clone().layer(cors(origin)?);
    Ok(
        Router::new().fallback(move |request: axum::extract::Request| {
            let plain_options = request.method() == http::Method::OPTIONS
                && !request
                    .headers()
                    .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
            let from_origin = request.headers().get(ORIGIN) == Some(&allowed);
            let (service, allowed) = match plain_options {
                true => (app.clone(), allowed.clone()),
                false => (with_layer.clone(), allowed.clone()),
            };
            async move {
                let mut response = match service.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                if plain_options {
                    let headers = response.headers_mut();
                    headers.append(VARY, http::HeaderValue::from_static("origin"));
                    if from_origin {
                        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
                    }
                }
                response
            }
        }),
    )
}

/// An example's `main`: logs to stderr (`RUST_LOG`, default `info`), reads
/// `LISTEN_ADDR` and `DATABASE_URL` (with these defaults), serves until
/// Ctrl-C with `run(listen_addr, database_url, on_listening, shutdown)`,
/// and reports a failure with the URL's password redacted.
pub async fn example_main<F, Fut>(
    name: &str,
    default_addr: &str,
    default_database: &str,
    run: F,
) -> std::process::ExitCode
where
    F: FnOnce(String, String, Box<dyn FnOnce(std::net::SocketAddr) + Send>) -> Fut,
    Fut: std::future::Future<Output = Result<(), BoxDynError>>,
{
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| default_addr.into());
    let database_url = std::env::var("DATABASE_URL").unwrap_or_else(|_| default_database.into());
    let shown_url = redact(&database_url);
    let (name, shown) = (name.to_owned(), shown_url.clone());
    let on_listening = Box::new(move |bound: std::net::SocketAddr| {
        tracing::info!("{name} listening on http://{bound}, database {shown}");
    });
    match run(addr, database_url.clone(), on_listening).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The database URL may hold a password: errors name the
            // redacted form only.
            eprintln!("{}", error.to_string().replace(&database_url, &shown_url));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C: the examples' shutdown signal.
pub async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}

/// `url` without its password, for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
