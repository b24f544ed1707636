//! An existing service that keeps its own SQL and adopts occ: hand-written
//! axum handlers over `sqlx::Any` (SQLite, PostgreSQL or MariaDB, chosen
//! by the URL), the application's own error type, and occ's building
//! blocks for the rules: the request's preconditions evaluated on the row
//! read ([`Pipeline::decide`](occ_core::pipeline::Pipeline::decide)), their
//! condition in the handler's own `UPDATE`
//! ([`condition_sql`]), and a
//! write that touched no row explained by reading again
//! ([`Pipeline::swap`](occ_core::pipeline::Pipeline::swap)).
//!
//! `GET /users/{id}` answers 200 with its `ETag`, or 304; `PUT
//! /users/{id}` replaces the name and the visit count under `If-Match`
//! (428 without it, 412 with the current state when it is stale);
//! `POST /users/{id}/visit` counts a visit, under `If-Match` too. The
//! same service serves a table without a version column
//! ([`contacts`](crate::contacts)).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::StatusCode;
use occ_axum::{ConditionalRequest, Refusal, Tagged};
use occ_core::repository::sql::{condition_sql, Dialect};
use occ_core::repository::WriteCondition;
use occ_core::Versioned;
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::contacts::Contacts;

/// A user, as the service already had it: its table has a `version`
/// column, bumped by every write (occ's derive only describes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Versioned)]
#[occ(etag = "user-{id}-v{version}")]
pub struct User {
    /// The id.
    pub id: i64,
    /// The version, in the ETag only.
    #[version]
    #[serde(skip)]
    pub version: i64,
    /// The name.
    pub name: String,
    /// Visits counted.
    pub visits: i64,
}

/// The table, on every backend.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS users (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    visits BIGINT NOT NULL
)";

/// The service's state: its pool, and which dialect it speaks.
#[derive(Clone)]
pub struct Users {
    pool: AnyPool,
    dialect: Dialect,
}

impl Users {
    /// Connects to `url` (`sqlite:`, `postgres:`, `mysql:`) and creates
    /// the table if needed.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("postgres") {
            Dialect::Postgres
        } else if url.starts_with("mysql") || url.starts_with("mariadb") {
            Dialect::MySql
        } else {
            Dialect::Sqlite
        };
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await?;
        sqlx::query(SCHEMA).execute(&pool).await?;
        Ok(Self { pool, dialect })
    }

    /// The pool, for other tables of the same database.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The dialect the database speaks.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The `n`th placeholder of this dialect.
    fn param(&self, n: usize) -> String {
        self.dialect.placeholder(n)
    }

    /// Stores a user at version 1.
    pub async fn insert(&self, id: i64, name: &str) -> Result<(), sqlx::Error> {
        let (a, b) = (self.param(1), self.param(2));
        let sql = format!("INSERT INTO users (id, version, name, visits) VALUES ({a}, 1, {b}, 0)");
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(name.to_owned())
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// The user, or `None`.
    pub async fn read(&self, id: i64) -> Result<Option<User>, sqlx::Error> {
        let sql = format!(
            "SELECT id, version, name, visits FROM users WHERE id = {}",
            self.param(1)
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(User {
                id: row.try_get("id")?,
                version: row.try_get("version")?,
                name: row.try_get("name")?,
                visits: row.try_get("visits")?,
            })
        })
        .transpose()
    }

    /// `UPDATE users SET <column = value…>, <expression>, version =
    /// version + 1 WHERE id = ? AND <condition>`: the state written, or
    /// `None` when no row matched.
    async fn write(
        &self,
        id: i64,
        set: &[(&str, SetValue)],
        expression: Option<&str>,
        condition: &WriteCondition<i64>,
    ) -> Result<Option<User>, sqlx::Error> {
        let mut assignments: Vec<String> = set
            .iter()
            .enumerate()
            .map(|(i, (column, _))| format!("{column} = {}", self.param(i + 1)))
            .collect();
        assignments.extend(expression.map(str::to_owned));
        assignments.push("version = version + 1".to_owned());
        let before = set.len() + 1;
        // The request's preconditions, in this statement.
        let check = condition_sql(self.dialect, condition, "version", None, before);
        let sql = format!(
            "UPDATE users SET {} WHERE id = {} AND {}",
            assignments.join(", "),
            self.param(before),
            check.text
        );
        let mut tx = self.pool.begin().await?;
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (_, value) in set {
            query = match value {
                SetValue::Int(v) => query.bind(*v),
                SetValue::Text(v) => query.bind(v.clone()),
            };
        }
        query = query.bind(id);
        for bind in check.binds {
            query = query.bind(bind);
        }
        let done = query.execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        // The state written, in the same transaction (MariaDB has no
        // `UPDATE … RETURNING`).
        let sql = format!(
            "SELECT id, version, name, visits FROM users WHERE id = {}",
            self.param(1)
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let user = User {
            id: row.try_get("id")?,
            version: row.try_get("version")?,
            name: row.try_get("name")?,
            visits: row.try_get("visits")?,
        };
        tx.commit().await?;
        Ok(Some(user))
    }
}

/// A value a `SET` clause binds.
enum SetValue {
    Int(i64),
    Text(String),
}

/// The service's own error type: occ's refusals among its errors.
pub enum AppError {
    /// The database failed.
    Database(sqlx::Error),
    /// occ refused the request (304, 404, 412, 428, …), rendered as occ
    /// renders it.
    Occ(Refusal),
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        Self::Occ(refusal)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            Self::Database(error) => {
                tracing::error!(%error, "database error");
                (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response()
            }
            Self::Occ(refusal) => refusal.into_response(),
        }
    }
}

async fn read_user(
    State(users): State<Arc<Users>>,
    Path(id): Path<i64>,
    request: ConditionalRequest,
) -> Result<Tagged<User>, AppError> {
    let current = users.read(id).await?;
    // 304, 404 or 412, evaluated on the row read.
    match request
        .pipeline()
        .decide::<User, occ_axum::Problem>(current)
    {
        Ok(Some(user)) => Ok(Tagged::ok(user)),
        Ok(None) => Err(request
            .refuse(occ_core::pipeline::Rejection::<User>::NotFound)
            .into()),
        Err(rejection) => Err(request.refuse(rejection).into()),
    }
}

/// The body of a `PUT`.
#[derive(Deserialize)]
pub struct Replace {
    /// The new name.
    pub name: String,
    /// The new visit count.
    pub visits: i64,
}

async fn replace_user(
    State(users): State<Arc<Users>>,
    Path(id): Path<i64>,
    request: ConditionalRequest,
    Json(body): Json<Replace>,
) -> Result<Tagged<User>, AppError> {
    let set = [
        ("name", SetValue::Text(body.name)),
        ("visits", SetValue::Int(body.visits)),
    ];
    let written = request
        .pipeline()
        .swap(
            &id,
            || users.read(id),
            |condition| {
                let (users, set) = (&users, &set);
                async move { users.write(id, set, None, &condition).await }
            },
        )
        .await?;
    written
        .map(Tagged::written)
        .map_err(|rejection| request.refuse_with_current(rejection).into())
}

async fn visit(
    State(users): State<Arc<Users>>,
    Path(id): Path<i64>,
    request: ConditionalRequest,
) -> Result<Tagged<User>, AppError> {
    let written = request
        .pipeline()
        .swap(
            &id,
            || users.read(id),
            |condition| {
                let users = &users;
                async move {
                    users
                        .write(id, &[], Some("visits = visits + 1"), &condition)
                        .await
                }
            },
        )
        .await?;
    written
        .map(Tagged::written)
        .map_err(|rejection| request.refuse_with_current(rejection).into())
}

/// Opens the database, seeds user 1 and contact 1 if missing, and serves
/// both until `shutdown`.
pub async fn run(
    listen_addr: &str,
    database_url: &str,
    on_listening: impl FnOnce(std::net::SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), sqlx::error::BoxDynError> {
    let users = Users::connect(database_url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    if users.read(1).await?.is_none() {
        users.insert(1, "Ava").await?;
    }
    let contacts = Contacts::new(users.pool().clone(), users.dialect()).await?;
    if contacts.read(1).await?.is_none() {
        contacts.insert(1, "Ava").await?;
    }
    let app = app(Arc::new(users)).merge(crate::contacts::app(Arc::new(contacts)));
    crate::serve(listen_addr, app, on_listening, shutdown).await
}

/// The service.
pub fn app(users: Arc<Users>) -> Router {
    Router::new()
        .route("/users/{id}", get(read_user).put(replace_user))
        .route("/users/{id}/visit", post(visit))
        .with_state(users)
}
