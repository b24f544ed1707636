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
/// never stored; `#[serde(default)]` lets clients leave it out). `merge`
/// keeps the revision that last wrote each column in `<column>_version`,
/// so that the routes merge disjoint edits (design decision 16).
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, FromRow, Versioned, utoipa::ToSchema,
)]
#[occ(
    table = "documents",
    tombstones = "document_tombstones",
    merge,
    etag = "doc-{id}-r{revision}"
)]
pub struct Document {
    /// The id, assigned by the server.
    #[occ(generated)]
    pub id: Uuid,
    /// The revision, bumped by every write; it travels in the ETag.
    #[version]
    #[sqlx(rename = "rev")]
    #[serde(skip)]
    pub revision: i32,
    /// The title: not blank (surrounding spaces are trimmed).
    #[schema(pattern = r"\S")]
    pub title: String,
    /// The text.
    pub body: String,
    /// Comma-separated tags, if any.
    pub tags: Option<String>,
    /// When it was last written, by the database's clock.
    #[occ(last_modified)]
    #[serde(default)]
    #[schema(read_only)]
    pub updated_at: DateTime<Utc>,
}

/// The table on PostgreSQL.
pub const POSTGRES_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS documents (
    id UUID PRIMARY KEY,
    rev INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT,
    title_version BIGINT NOT NULL DEFAULT 0,
    body_version BIGINT NOT NULL DEFAULT 0,
    tags_version BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL
)";

/// The table on MariaDB or MySQL (sqlx stores a UUID as 16 bytes there).
pub const MYSQL_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS documents (
    id BINARY(16) PRIMARY KEY,
    rev INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT,
    title_version BIGINT NOT NULL DEFAULT 0,
    body_version BIGINT NOT NULL DEFAULT 0,
    tags_version BIGINT NOT NULL DEFAULT 0,
    updated_at DATETIME(6) NOT NULL
)";

/// The table on SQLite (UUIDs as 16-byte blobs, times as ISO 8601 text).
pub const SQLITE_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS documents (
    id BLOB PRIMARY KEY,
    rev INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT,
    title_version BIGINT NOT NULL DEFAULT 0,
    body_version BIGINT NOT NULL DEFAULT 0,
    tags_version BIGINT NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
)";

/// The tombstone table on PostgreSQL: the last revision of each deleted
/// document, so that one created again under its id (a creating `PUT`)
/// continues after it.
pub const POSTGRES_TOMBSTONES: &str = "CREATE TABLE IF NOT EXISTS document_tombstones (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL
)";

/// The tombstone table on MariaDB or MySQL.
pub const MYSQL_TOMBSTONES: &str = "CREATE TABLE IF NOT EXISTS document_tombstones (
    id BINARY(16) PRIMARY KEY,
    version BIGINT NOT NULL
)";

/// The tombstone table on SQLite.
pub const SQLITE_TOMBSTONES: &str = "CREATE TABLE IF NOT EXISTS document_tombstones (
    id BLOB PRIMARY KEY,
    version BIGINT NOT NULL
)";

/// The repository behind the routes, whichever the database.
pub type Documents = dyn Repository<Document>;

/// Opens `database_url` (`sqlite:`, `postgres:` or `mysql:`/`mariadb:`),
/// creates the table if needed and checks that it fits the model.
pub async fn connect(database_url: &str) -> Result<Arc<Documents>, BoxDynError> {
    let tables = crate::Tables {
        postgres: &[POSTGRES_SCHEMA, POSTGRES_TOMBSTONES],
        mysql: &[MYSQL_SCHEMA, MYSQL_TOMBSTONES],
        sqlite: &[SQLITE_SCHEMA, SQLITE_TOMBSTONES],
        keys: "document_idempotency_keys",
        lock: 4_242_008,
    };
    crate::open::<Document>(database_url, &tables).await
}

/// The service: `/documents` with required preconditions, `POST` assigning
/// ids, `PUT` replacing the whole document and `PATCH` taking a JSON merge
/// patch, merging disjoint edits: a `PATCH` from an older revision
/// succeeds when none of the members it sets changed since (design
/// decision 16). Titles are trimmed, and a document without one is
/// refused (422) before anything is written.
///
/// `GET /openapi.json` describes it (OpenAPI 3.1).
pub fn app(repo: Arc<Documents>) -> Router {
    let documents = ConditionalRoutes::<Document, Documents>::new(repo)
        .merging(true)
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
        });
    let mut spec = documents.openapi("/documents");
    spec.info.title = "documents".into();
    spec.info.description = Some("Documents with server-assigned ids and dates".into());
    Router::new()
        .nest("/documents", documents.into_router())
        .route(
            "/openapi.json",
            axum::routing::get(move || std::future::ready(axum::Json(spec.clone()))),
        )
        .fallback(|| async {
            occ_axum::Problem::new(axum::http::StatusCode::NOT_FOUND)
                .with_detail("no resource exists at this URL")
        })
        // Read-your-writes across replicas (`DATABASE_REPLICA_URLS`): the
        // `Occ-Read-After` header and cookie.
        .layer(occ_axum::ReadFloorLayer::new())
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
    crate::serve(listen_addr, app(repo), on_listening, shutdown).await
}
