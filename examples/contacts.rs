//! A table the service cannot change, adopted as it is: `contacts` has no
//! version column (another team owns its schema), so its validator is a
//! content hash of the row
//! ([`content_hash`]). On PostgreSQL and MariaDB
//! the database computes it, in the read and in the write's own `UPDATE`
//! ([`content_hash_sql`], [`content_condition_sql`]); on SQLite, which
//! has no hash function, the row is read, hashed and written in one `BEGIN
//! IMMEDIATE` transaction.
//!
//! `GET /contacts/{id}` answers 200 with its strong `ETag`, or 304; `PUT
//! /contacts/{id}` replaces the name and the call count under `If-Match`;
//! `POST /contacts/{id}/call` counts a call, under `If-Match` too.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use occ_axum::{ConditionalRequest, Tagged};
use occ_core::repository::sql::{content_condition_sql, content_hash_sql, Dialect};
use occ_core::repository::WriteCondition;
use occ_core::{content_hash, Versioned};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::users::AppError;

/// A contact. Its `#[version]` is the content hash of the row, read with
/// it and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Versioned)]
#[occ(etag = "contact-{id}-h{hash}")]
pub struct Contact {
    /// The id.
    pub id: i64,
    /// The content hash, in the ETag only.
    #[version]
    #[serde(skip)]
    pub hash: i64,
    /// The name.
    pub name: String,
    /// Calls counted.
    pub calls: i64,
}

/// The table, on every backend: no version column.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS contacts (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    calls BIGINT NOT NULL
)";

/// The columns the hash covers: all that the representation shows.
const COLUMNS: [&str; 3] = ["id", "name", "calls"];

/// The service's contacts: the pool, its dialect, and the database's hash
/// expression (`None` on SQLite).
#[derive(Clone)]
pub struct Contacts {
    pool: AnyPool,
    dialect: Dialect,
    hash: Option<String>,
}

/// A change a write makes.
enum Change {
    /// Sets the name and the count.
    Replace { name: String, calls: i64 },
    /// Counts one call.
    Call,
}

impl Contacts {
    /// Contacts in the database of `pool`, which speaks `dialect`; creates
    /// the table if needed.
    pub async fn new(pool: AnyPool, dialect: Dialect) -> Result<Self, sqlx::Error> {
        sqlx::query(SCHEMA).execute(&pool).await?;
        let hash = content_hash_sql(dialect, &COLUMNS);
        Ok(Self {
            pool,
            dialect,
            hash,
        })
    }

    /// The `n`th placeholder of this dialect.
    fn param(&self, n: usize) -> String {
        self.dialect.placeholder(n)
    }

    /// Stores a contact.
    pub async fn insert(&self, id: i64, name: &str) -> Result<(), sqlx::Error> {
        let (a, b) = (self.param(1), self.param(2));
        let sql = format!("INSERT INTO contacts (id, name, calls) VALUES ({a}, {b}, 0)");
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(name.to_owned())
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// `SELECT id, name, calls[, <hash> AS hash] FROM contacts WHERE id = ?`.
    fn select(&self) -> String {
        let hash = self
            .hash
            .as_deref()
            .map(|hash| format!(", {hash} AS hash"))
            .unwrap_or_default();
        format!(
            "SELECT id, name, calls{hash} FROM contacts WHERE id = {}",
            self.param(1)
        )
    }

    /// The contact in `row`, with its hash: the database's, or computed
    /// here where the database has none.
    fn contact(&self, row: &AnyRow) -> Result<Contact, sqlx::Error> {
        let mut contact = Contact {
            id: row.try_get("id")?,
            hash: 0,
            name: row.try_get("name")?,
            calls: row.try_get("calls")?,
        };
        contact.hash = match self.hash {
            Some(_) => row.try_get("hash")?,
            None => content_hash(&contact).map_err(|e| sqlx::Error::Decode(e.into()))?,
        };
        Ok(contact)
    }

    /// The contact, or `None`.
    pub async fn read(&self, id: i64) -> Result<Option<Contact>, sqlx::Error> {
        let row = sqlx::query(AssertSqlSafe(self.select()))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| self.contact(&row)).transpose()
    }

    /// Writes `change` to contact `id` where `condition` holds on its
    /// hash: the state written, or `None` when it touched no row.
    async fn write(
        &self,
        id: i64,
        change: &Change,
        condition: &WriteCondition<i64>,
    ) -> Result<Option<Contact>, sqlx::Error> {
        let (set, before) = match change {
            Change::Replace { .. } => (
                format!("name = {}, calls = {}", self.param(1), self.param(2)),
                2,
            ),
            Change::Call => ("calls = calls + 1".to_owned(), 0),
        };
        let mut sql = format!(
            "UPDATE contacts SET {set} WHERE id = {}",
            self.param(before + 1)
        );
        // The condition on the hash in the `UPDATE` itself; on SQLite,
        // checked on the row read in this transaction, which holds the
        // database's write lock from its first statement.
        let check = content_condition_sql(self.dialect, condition, &COLUMNS, before + 1);
        let mut tx = match &check {
            Some(check) => {
                sql = format!("{sql} AND {}", check.text);
                self.pool.begin().await?
            }
            None => self.pool.begin_with("BEGIN IMMEDIATE").await?,
        };
        if check.is_none() {
            let row = sqlx::query(AssertSqlSafe(self.select()))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let current = row.map(|row| self.contact(&row)).transpose()?;
            if !current.is_some_and(|current| condition.is_met_by(&current)) {
                tx.rollback().await?;
                return Ok(None);
            }
        }
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Change::Replace { name, calls } = change {
            query = query.bind(name.clone()).bind(*calls);
        }
        query = query.bind(id);
        for bind in check.into_iter().flat_map(|check| check.binds) {
            query = query.bind(bind);
        }
        if query.execute(&mut *tx).await?.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        // The state written and its new hash, in the same transaction.
        let row = sqlx::query(AssertSqlSafe(self.select()))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let contact = self.contact(&row)?;
        tx.commit().await?;
        Ok(Some(contact))
    }

    /// `change`, under the request's preconditions.
    async fn change(
        &self,
        id: i64,
        request: &ConditionalRequest,
        change: Change,
    ) -> Result<Tagged<Contact>, AppError> {
        let written = request
            .pipeline()
            .swap(
                &id,
                || self.read(id),
                |condition| {
                    let change = &change;
                    async move { self.write(id, change, &condition).await }
                },
            )
            .await?;
        written
            .map(Tagged::written)
            .map_err(|rejection| request.refuse_with_current(rejection).into())
    }
}

async fn read_contact(
    State(contacts): State<Arc<Contacts>>,
    Path(id): Path<i64>,
    request: ConditionalRequest,
) -> Result<Tagged<Contact>, AppError> {
    let current = contacts.read(id).await?;
    match request
        .pipeline()
        .decide::<Contact, occ_axum::Problem>(current)
    {
        Ok(Some(contact)) => Ok(Tagged::ok(contact)),
        Ok(None) => Err(request
            .refuse(occ_core::pipeline::Rejection::<Contact>::NotFound)
            .into()),
        Err(rejection) => Err(request.refuse(rejection).into()),
    }
}

/// The body of a `PUT`.
#[derive(Deserialize)]
pub struct Replace {
    /// The new name.
    pub name: String,
    /// The new call count.
    pub calls: i64,
}

async fn replace_contact(
    State(contacts): State<Arc<Contacts>>,
    Path(id): Path<i64>,
    request: ConditionalRequest,
    Json(body): Json<Replace>,
) -> Result<Tagged<Contact>, AppError> {
    let change = Change::Replace {
        name: body.name,
        calls: body.calls,
    };
    contacts.change(id, &request, change).await
}

async fn call(
    State(contacts): State<Arc<Contacts>>,
    Path(id): Path<i64>,
    request: ConditionalRequest,
) -> Result<Tagged<Contact>, AppError> {
    contacts.change(id, &request, Change::Call).await
}

/// The contacts' routes.
pub fn app(contacts: Arc<Contacts>) -> Router {
    Router::new()
        .route("/contacts/{id}", get(read_contact).put(replace_contact))
        .route("/contacts/{id}/call", post(call))
        .with_state(contacts)
}
