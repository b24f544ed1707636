//! One SQL repository, generic over the sqlx database: SQLite (feature
//! `sqlite`), PostgreSQL (`postgres`) and MariaDB/MySQL (`mysql`).
//!
//! A conditional write is one statement that carries the request's
//! precondition in its `WHERE` clause and returns the row it wrote:
//!
//! ```sql
//! UPDATE "profiles" SET "name" = $1, "city" = $2, "version" = "version" + 1
//!  WHERE "id" = $3 AND "version" < 9223372036854775807 AND "version" IN ($4)
//!  RETURNING "id", "version", "name", "city"
//! ```
//!
//! Only when it touches no row does one read tell 404 from 412 and return
//! the current state for the 412. MariaDB has no `UPDATE … RETURNING`: there
//! the write and the read of its result run in one transaction.
//!
//! The model describes its table with [`SqlModel`], usually derived:
//! `#[occ(table = "profiles")]` on a `#[derive(Versioned, sqlx::FromRow)]`
//! struct. Versions are stored as `BIGINT` (`i64`). With
//! `#[occ(tombstones = "profile_tombstones")]` a deleted id's last version
//! is kept, so that the id created again continues after it
//! ([`SqlModel::TOMBSTONE_TABLE`]); without, versions restart after a
//! delete.

// Lower modules first: each uses only modules above it in this list.
mod execute;

mod dialect;
mod epoch;
mod error;
mod model;
#[cfg(feature = "postgres")]
mod pooler;
#[cfg(feature = "sqlite")]
mod sqlite;

mod key_table;
mod own;
mod schema;
mod statements;

mod conn;
mod replicas;
mod repository;

mod bind;
mod read;
mod route;
mod verify;
mod write;

mod contract;
mod keys;

pub use dialect::{Backend, Dialect};
pub use key_table::idempotency_table;
pub use keys::{KeyedTransaction, OwnClaim};
pub use model::{ColumnDecl, ColumnFit, MemberBinding, SqlModel};
pub use own::{
    condition_sql, content_condition_sql, content_hash_sql, stamp_sql, statement_time_sql,
    ConditionSql,
};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use pooler::{refuse_session_sharing_pooler, PoolerError};
pub use replicas::{FloorMiss, ReplicaOptions, ReplicaStats};
#[cfg(feature = "mysql")]
pub use repository::MySqlRepository;
#[cfg(feature = "postgres")]
pub use repository::PgRepository;
pub use repository::SqlRepository;
#[cfg(feature = "sqlite")]
pub use repository::SqliteRepository;
pub use schema::{add_merge_columns, add_version_column, create_table, version_triggers};
#[cfg(feature = "sqlite")]
pub use sqlite::sqlite_pool;
pub use verify::SchemaError;

#[doc(hidden)]
pub use sqlx;
