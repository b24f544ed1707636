//! The documents service: a table as a real application has one. Ids are
//! UUIDs the server assigns on `POST`, the version column is named
//! differently from its field, and the modification time is kept by the
//! database and sent as `Last-Modified`, so `If-Unmodified-Since` and
//! `If-Modified-Since` work beside the ETags. Shared by the `documents`
//! example and its tests.

use std::sync::Arc;

use axum::Router;
use chrono::{DateTime, Utc};
use occ_axum::routes::ConditionalRoutes;
use occ_core::repository::sql::{sqlite_pool, MySqlRepository, PgRepository, SqliteRepository};
use occ_core::repository::Repository;
use occ_core::Versioned;
use serde::{Deserialize, Serialize};
use sqlx::error::BoxDynError;
use sqlx::FromRow;
use uuid::Uuid;

/// A document. `POST /documents` with `{"title": …, "body": …}` creates
/// one with a new id; `GET /documents/{id}` gives its `ETag`
/// (`"doc-<id>-r<revision>"`) and `Last-Modified`.
///
/// The attributes are all it takes: `#[occ(generated)]` makes the server
/// assign ids (UUID v7), `#[sqlx(rename = "rev")]` names the version's
/// column for both `FromRow` and the writes, and `#[occ(last_modified)]`
/// has the database set `updated_at` on every write (a client's value is
/// never stored; `#[serde(default)]` lets clients leave it out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow, Versioned)]
#[occ(table = "documents", etag = "doc-{id}-r{revision}")]
pub struct Document {
    /// The id, assigned by the server.
    #[occ(generated)]
    pub id: Uuid,
    /// The revision, bumped by every write; it travels in the ETag.
    #[version]
    #[sqlx(rename = "rev")]
    #[serde(skip)]
    pub revision: i32,
    /// The title.
    pub title: String,
    /// The text.
    pub body: String,
    /// Comma-separated tags, if any.
    pub tags: Option<String>,
    /// When it was last written, by the database's clock.
    #[occ(last_modified)]
    #[serde(default)]
    pub updated_at: DateTime<Utc>,
}

/// The table on PostgreSQL.
pub const POSTGRES_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS documents (
    id UUID PRIMARY KEY,
    rev INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT,
    updated_at TIMESTAMPTZ NOT NULL
)";

/// The table on MariaDB or MySQL (sqlx stores a UUID as 16 bytes there).
pub const MYSQL_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS documents (
    id BINARY(16) PRIMARY KEY,
    rev INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT,
    updated_at DATETIME(6) NOT NULL
)";

/// The table on SQLite (UUIDs as 16-byte blobs, times as ISO 8601 text).
pub const SQLITE_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS documents (
    id BLOB PRIMARY KEY,
    rev INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT,
    updated_at TEXT NOT NULL
)";

/// The repository behind the routes, whichever the database.
pub type Documents = dyn Repository<Document>;

/// Opens `database_url` (`sqlite:`, `postgres:` or `mysql:`/`mariadb:`),
/// creates the table if needed and checks that it fits the model.
pub async fn connect(database_url: &str) -> Result<Arc<Documents>, BoxDynError> {
    let repo: Arc<Documents> = if database_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(database_url).await?;
        let mut tx = pool.begin().await?;
        // Servers starting together create the table once.
        sqlx::query("SELECT pg_advisory_xact_lock(4242008)")
            .execute(&mut *tx)
            .await?;
        sqlx::query(POSTGRES_SCHEMA).execute(&mut *tx).await?;
        tx.commit().await?;
        let repo = PgRepository::<Document>::new(pool);
        repo.verify().await?;
        Arc::new(repo)
    } else if database_url.starts_with("mysql:") || database_url.starts_with("mariadb:") {
        let pool = sqlx::MySqlPool::connect(database_url).await?;
        sqlx::query(MYSQL_SCHEMA).execute(&pool).await?;
        let repo = MySqlRepository::<Document>::new(pool);
        repo.verify().await?;
        Arc::new(repo)
    } else {
        let pool = sqlite_pool(database_url).await?;
        sqlx::query(SQLITE_SCHEMA).execute(&pool).await?;
        let repo = SqliteRepository::<Document>::new(pool);
        repo.verify().await?;
        Arc::new(repo)
    };
    Ok(repo)
}

/// The service: `/documents` with required preconditions, `POST` assigning
/// ids, `PUT` replacing the whole document and `PATCH` taking a JSON merge
/// patch. Titles are trimmed, and a document without one is refused (422)
/// before anything is written.
pub fn app(repo: Arc<Documents>) -> Router {
    Router::new()
        .nest(
            "/documents",
            ConditionalRoutes::<Document, Documents>::new(repo)
                .before_write(|doc: &mut Document| {
                    let trimmed = doc.title.trim();
                    if trimmed.len() != doc.title.len() {
                        doc.title = trimmed.to_owned();
                    }
                })
                .validate(|doc: &Document| {
                    if doc.title.is_empty() {
                        return Err("a document needs a title".into());
                    }
                    Ok(())
                })
                .into_router(),
        )
        .fallback(|| async {
            occ_axum::Problem::new(axum::http::StatusCode::NOT_FOUND)
                .with_detail("no resource exists at this URL")
        })
}

/// Serves the documents app on `listen_addr` over `database_url` until
/// `shutdown` completes, calling `on_listening` with the bound address.
pub async fn run(
    listen_addr: &str,
    database_url: &str,
    on_listening: impl FnOnce(std::net::SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), BoxDynError> {
    let repo = connect(database_url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let listener = tokio::net::TcpListener::bind(listen_addr)
        .await
        .map_err(|e| format!("cannot listen on {listen_addr}: {e}"))?;
    on_listening(listener.local_addr()?);
    axum::serve(listener, app(repo))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
