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

mod dialect;
mod keys;
mod own;
#[cfg(feature = "postgres")]
mod pooler;
mod schema;

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::error::{BoxDynError, ErrorKind};
use sqlx::{
    Arguments, AssertSqlSafe, ColumnIndex, Decode, Encode, Executor, FromRow, IntoArguments, Pool,
    Row, SqlStr, Type, ValueRef,
};

use super::{
    Fetched, KnownVersions, Page, Repository, RepositoryError, Scope, ScopeValue, Snapshot,
    WriteCondition, COMMIT_MARGIN,
};
use crate::idempotency::{Claim, Fingerprint, IdempotencyKey};
use crate::versioned::{VersionNumber, Versioned};

use dialect::SqlText;
pub use dialect::{Backend, Dialect};
pub use keys::{idempotency_table, KeyedTransaction, OwnClaim};
pub use own::{
    condition_sql, content_condition_sql, content_hash_sql, stamp_sql, statement_time_sql,
    ConditionSql,
};
#[cfg(feature = "postgres")]
pub use pooler::{refuse_session_sharing_pooler, PoolerError};
pub use schema::{add_merge_columns, add_version_column, create_table, version_triggers};

#[doc(hidden)]
pub use sqlx;

/// How a model maps to a table. Derived with `#[occ(table = "…")]`; the
/// row is read back with the model's `sqlx::FromRow`.
///
/// Written by hand, for a model whose columns the derive cannot name. The
/// version's column may have any name (here `rev`, as `FromRow` reads it
/// too); a modification time's column goes in
/// [`LAST_MODIFIED_COLUMN`](SqlModel::LAST_MODIFIED_COLUMN), not among the
/// data columns, and is never bound: the repository sets it from the
/// database's clock (this one needs the `chrono` feature):
///
/// ```
/// # #[cfg(feature = "chrono")]
/// # mod example {
/// use chrono::{DateTime, Utc};
/// use occ_core::repository::sql::SqlModel;
/// use occ_core::Versioned;
/// use sqlx::error::BoxDynError;
/// use sqlx::{Arguments, Database, Encode, FromRow, Type};
///
/// #[derive(Versioned, FromRow)]
/// struct Note {
///     id: i64,
///     #[version]
///     #[sqlx(rename = "rev")]
///     version: i64,
///     text: String,
///     #[occ(last_modified)]
///     #[sqlx(rename = "changed_at")]
///     changed: DateTime<Utc>,
/// }
///
/// impl<DB: Database> SqlModel<DB> for Note
/// where
///     Note: for<'r> FromRow<'r, DB::Row>,
///     i64: for<'q> Encode<'q, DB> + Type<DB>,
///     String: for<'q> Encode<'q, DB> + Type<DB>,
/// {
///     const TABLE: &'static str = "notes";
///     const ID_COLUMN: &'static str = "id";
///     const VERSION_COLUMN: &'static str = "rev";
///     const DATA_COLUMNS: &'static [&'static str] = &["text"];
///     // Set by the database on every write; `bind_data` leaves it out.
///     const LAST_MODIFIED_COLUMN: Option<&'static str> = Some("changed_at");
///
///     fn bind_id(id: &i64, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
///         args.add(*id)
///     }
///
///     fn bind_data(&self, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
///         args.add(&self.text)
///     }
/// }
///
/// # #[cfg(feature = "sqlite")]
/// # pub fn check() {
/// assert_eq!(
///     <Note as SqlModel<sqlx::Sqlite>>::LAST_MODIFIED_COLUMN,
///     Some("changed_at")
/// );
/// # }
/// # }
/// # #[cfg(all(feature = "chrono", feature = "sqlite"))]
/// # example::check();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no table mapping for `{DB}`",
    label = "`{Self}` does not implement `SqlModel<{DB}>`",
    note = "add `#[occ(table = \"…\")]` to `{Self}` (with `#[derive(Versioned, sqlx::FromRow)]`), or implement `SqlModel` by hand"
)]
pub trait SqlModel<DB: sqlx::Database>:
    Versioned + for<'r> FromRow<'r, DB::Row> + Send + Sync + Unpin + 'static
{
    /// The table name.
    const TABLE: &'static str;
    /// The id column.
    const ID_COLUMN: &'static str;
    /// The version column (`BIGINT` in the database).
    const VERSION_COLUMN: &'static str;
    /// Every other column that a write binds, in the order
    /// [`bind_data`](SqlModel::bind_data) binds them.
    const DATA_COLUMNS: &'static [&'static str];
    /// The modification-time column (`#[occ(last_modified)]`), which the
    /// repository sets from the database's clock on every write and
    /// compares with `If-Unmodified-Since` inside the write. Not among
    /// [`DATA_COLUMNS`](SqlModel::DATA_COLUMNS).
    const LAST_MODIFIED_COLUMN: Option<&'static str> = None;
    /// The tombstone table (`#[occ(tombstones = "…")]`), which keeps the
    /// last version of every deleted id so that a resource created again
    /// under that id continues after it: no entity tag is ever reused for
    /// an id (a tag from before the delete gets 412). `None` (the
    /// default): versions restart after a delete, and an old tag can match
    /// the new resource.
    ///
    /// Its columns are `id`, of the same type as the model's id column, its
    /// primary key, and `version` (`BIGINT`):
    ///
    /// ```sql
    /// -- SQLite
    /// CREATE TABLE profile_tombstones (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
    /// -- PostgreSQL
    /// CREATE TABLE profile_tombstones (id BIGINT PRIMARY KEY, version BIGINT NOT NULL);
    /// -- MariaDB/MySQL
    /// CREATE TABLE profile_tombstones (id BIGINT PRIMARY KEY, version BIGINT NOT NULL);
    /// ```
    ///
    /// A delete records the deleted row's version there atomically with the
    /// delete (PostgreSQL: in the same statement; SQLite and MariaDB/MySQL:
    /// in the same transaction), and a create with a client's id
    /// ([`Repository::create`]) takes the larger of the version given and
    /// the tombstone's plus one, in its one statement. On PostgreSQL that
    /// create also claims the id's row in the tombstone table (inserting
    /// the version before its own when there is none), so that it waits
    /// for a concurrent delete and reads the version that delete recorded:
    /// there the table holds a row for every id created with a client's
    /// id, not only deleted ones. Ids the database assigns
    /// ([`Repository::create_with_new_id`]) rely on the database never
    /// giving an id twice: an identity column, `AUTO_INCREMENT`, or SQLite's
    /// `INTEGER PRIMARY KEY AUTOINCREMENT`.
    const TOMBSTONE_TABLE: Option<&'static str> = None;
    /// Merging (`#[occ(table = "…", merge)]`, design decision 16): for
    /// each of [`DATA_COLUMNS`](SqlModel::DATA_COLUMNS), in that order, a
    /// companion column (`BIGINT NOT NULL DEFAULT 0`) holding the version
    /// that last wrote it. Every write keeps them, and
    /// [`WriteCondition::UnchangedSince`] compares the written columns'
    /// companions in the `UPDATE`'s `WHERE` clause. `None` (the default):
    /// `UnchangedSince` is strict (`VersionIn`), as it is when the list's
    /// length differs from `DATA_COLUMNS`'.
    const FIELD_VERSION_COLUMNS: Option<&'static [&'static str]> = None;
    /// The JSON member name of each of [`DATA_COLUMNS`](SqlModel::DATA_COLUMNS),
    /// in that order, to name conflicts ([`RepositoryError::MergeConflict`]).
    /// Empty (the default): the column names.
    const DATA_MEMBERS: &'static [&'static str] = &[];

    /// Binds the id.
    fn bind_id(id: &Self::Id, args: &mut DB::Arguments) -> Result<(), BoxDynError>;

    /// Binds the data columns, in the order of `DATA_COLUMNS`.
    fn bind_data(&self, args: &mut DB::Arguments) -> Result<(), BoxDynError>;

    /// Whether the field read from `column` decodes from a column of type
    /// `column_type` (by sqlx's own rule, `Type::compatible`), with the
    /// field's Rust type for the message; `None` for a column it does not
    /// know. [`SqlRepository::verify`] asks it of the id and every data
    /// column, so that a column of the wrong type fails at startup, not on
    /// the first request. The derive implements it; the default knows no
    /// column.
    fn column_type(column: &str, column_type: &DB::TypeInfo) -> Option<ColumnFit> {
        let _ = (column, column_type);
        None
    }

    /// The type the field read from `column` declares for `DB` (sqlx's
    /// `Type::type_info`), with its Rust type: what [`create_table`] writes
    /// the column as. `None` for a column it does not know. The derive
    /// implements it; the default knows no column.
    fn column_decl(column: &str) -> Option<ColumnDecl> {
        let _ = column;
        None
    }

    /// Binds a row-level scope's value for the scope's column. The derive
    /// binds it as the `#[occ(scope)]` field's own type (a UUID as the
    /// column stores UUIDs), refusing a value that does not fit; the
    /// default binds an integer as `BIGINT` and text as text.
    fn bind_scope(value: &ScopeValue, args: &mut DB::Arguments) -> Result<(), BoxDynError>
    where
        i64: for<'q> Encode<'q, DB> + Type<DB>,
        String: for<'q> Encode<'q, DB> + Type<DB>,
    {
        match value {
            ScopeValue::Int(i) => args.add(*i),
            ScopeValue::Text(t) => args.add(t.clone()),
        }
    }

    /// Binds the new value of one top-level member of a JSON merge patch
    /// for resource `id`, so that the patch becomes one `UPDATE` of just
    /// those columns. The derive implements it for models whose serde
    /// representation it understands; the default says
    /// [`MemberBinding::Unsupported`], and the repository then merges by
    /// reading and swapping on the version read.
    fn bind_member(
        id: &Self::Id,
        member: &str,
        value: &serde_json::Value,
        args: &mut DB::Arguments,
    ) -> MemberBinding {
        let _ = (id, member, value, args);
        MemberBinding::Unsupported
    }
}

/// Whether a column's type is one its field decodes from
/// ([`SqlModel::column_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnFit {
    /// The field decodes from it.
    pub fits: bool,
    /// The field's Rust type, for messages.
    pub rust_type: &'static str,
}

/// A column's type as its field declares it ([`SqlModel::column_decl`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDecl {
    /// sqlx's name of the field's SQL type for the database (`TEXT`,
    /// `INT8`, `VARCHAR`, …).
    pub sql_type: String,
    /// The field's Rust type (an `Option` is a nullable column).
    pub rust_type: &'static str,
}

/// What [`SqlModel::bind_member`] did with one member of a merge patch.
#[derive(Debug)]
pub enum MemberBinding {
    /// The value is bound as the new value of this column.
    Column(&'static str),
    /// The member needs no change: the id, given equal to the resource's.
    Unchanged,
    /// The patch is not valid for the model (the member is unknown, cannot
    /// be set, or its value does not deserialize): 422 with this message.
    Invalid(String),
    /// The member cannot be merged in SQL (a nested object, a field with
    /// custom deserialization): the repository merges in the application,
    /// still as a compare-and-swap.
    Unsupported,
    /// The value could not be encoded for the database.
    Failed(BoxDynError),
}

/// The statements of one model, built once per repository.
struct Statements {
    dialect: Dialect,
    table: &'static str,
    id: &'static str,
    version: &'static str,
    /// Every column: id, version, data, and the modification time.
    columns: Vec<&'static str>,
    /// The columns a write binds.
    data: &'static [&'static str],
    /// The modification time's column, set from the database's clock.
    last_modified: Option<&'static str>,
    /// The scope's column, which every statement carries after the id.
    scope: Option<ScopeColumn>,
    /// The tombstone table, if the model has one.
    tombstones: Option<&'static str>,
    /// The companion version column of each data column (merging).
    field_versions: Option<&'static [&'static str]>,
    /// The JSON member of each data column.
    members: &'static [&'static str],
    max_version: i64,
    select: SqlStr,
    /// `select`, and the statement's time when the model has a
    /// modification time (a GET's `Last-Modified` is rounded with it).
    select_dated: SqlStr,
    select_version: SqlStr,
    update_one: SqlStr,
    delete_one: SqlStr,
    changed_one: SqlStr,
    list_first: SqlStr,
    list_after: SqlStr,
}

/// The column of a scoped view's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScopeColumn {
    name: String,
    /// The model declares it (`#[occ(scope)]`): rows are keyed by (scope,
    /// id) everywhere, the tombstone table's included, and the column may
    /// be part of the primary key.
    declared: bool,
}

/// A column, qualified by a table alias when there is one.
fn column(sql: &mut SqlText, alias: Option<&str>, name: &str) {
    match alias {
        Some(alias) => {
            sql.qualified(alias, name);
        }
        None => {
            sql.ident(name);
        }
    }
}

/// What a write's `WHERE` clause checks besides the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    VersionIn(usize),
    VersionNotIn(usize),
    /// Merging: the version is at least the one given, and each of the
    /// first `n` written columns' companion is at most it (the version
    /// bound `n + 1` times).
    UnchangedSince(usize),
    /// The modification time is at or before a date (microseconds since
    /// the epoch, bound as one value), or unknown.
    UnmodifiedSince,
}

impl Statements {
    fn new<DB: Backend, M: SqlModel<DB>>(scope: Option<String>) -> Self {
        let scope = scope.map(|name| ScopeColumn {
            declared: M::SCOPE_COLUMN == Some(name.as_str()),
            name,
        });
        let mut columns = vec![M::ID_COLUMN, M::VERSION_COLUMN];
        columns.extend_from_slice(M::DATA_COLUMNS);
        columns.extend(M::LAST_MODIFIED_COLUMN);
        let mut st = Self {
            dialect: DB::DIALECT,
            table: M::TABLE,
            id: M::ID_COLUMN,
            version: M::VERSION_COLUMN,
            columns,
            data: M::DATA_COLUMNS,
            last_modified: M::LAST_MODIFIED_COLUMN,
            scope,
            tombstones: M::TOMBSTONE_TABLE,
            field_versions: M::FIELD_VERSION_COLUMNS
                .filter(|columns| columns.len() == M::DATA_COLUMNS.len()),
            members: M::DATA_MEMBERS,
            max_version: <M::Version as VersionNumber>::MAX_I64,
            select: SqlStr::from_static(""),
            select_dated: SqlStr::from_static(""),
            select_version: SqlStr::from_static(""),
            update_one: SqlStr::from_static(""),
            delete_one: SqlStr::from_static(""),
            changed_one: SqlStr::from_static(""),
            list_first: SqlStr::from_static(""),
            list_after: SqlStr::from_static(""),
        };
        st.select = finish(st.select_sql(false));
        let mut dated = st.sql();
        dated.push("SELECT ").idents(None, &st.columns);
        st.push_statement_time(&mut dated);
        dated.push(" FROM ").ident(st.table).push(" WHERE ");
        st.key(&mut dated, None);
        st.select_dated = finish(dated);
        let mut version = st.sql();
        version.push("SELECT ").qualified("occ_k", st.version);
        if let Some(column) = st.last_modified {
            version
                .push(", ")
                .epoch_of("occ_k", column)
                .push(" AS occ_current_modified");
        }
        st.push_statement_time(&mut version);
        version.push(" FROM ").ident(st.table).push(" occ_k WHERE ");
        st.key(&mut version, Some("occ_k"));
        st.select_version = finish(version);
        st.update_one = finish(st.update_sql(st.data, Check::VersionIn(1)));
        st.delete_one = finish(st.delete_sql(Check::VersionIn(1)));
        st.changed_one = finish(st.changed_sql(1));
        st.list_first = finish(st.list_sql(false));
        st.list_after = finish(st.list_sql(true));
        st
    }

    fn sql(&self) -> SqlText {
        SqlText::new(self.dialect)
    }

    /// `, <the statement's time> AS occ_as_of` for a model with a
    /// modification time: a read's [`Snapshot::as_of`].
    fn push_statement_time(&self, sql: &mut SqlText) {
        if self.last_modified.is_some() {
            sql.push(", ").statement_time().push(" AS occ_as_of");
        }
    }

    /// `id = ?`, and `AND scope = ?` in a scoped repository: bound by
    /// [`SqlRepository::bind_key`].
    fn key(&self, sql: &mut SqlText, alias: Option<&str>) {
        column(sql, alias, self.id);
        sql.push(" = ").param();
        if self.scope.is_some() {
            sql.push(" AND ");
            self.scope_condition(sql, alias);
        }
    }

    /// `scope = ?`, compared byte for byte whatever the column's
    /// collation: SQLite's `COLLATE BINARY` (a column may be declared
    /// `NOCASE`), and on MariaDB/MySQL, whose default collations ignore
    /// case, accents and trailing spaces, the binary strings compared too
    /// (the plain comparison first, so that the key's index is used). Its
    /// value is bound [`scope_binds`](Self::scope_binds) times. This keeps
    /// reads exact; the table's unique keys still compare with the
    /// column's collation, which `verify()` checks on PostgreSQL and
    /// MariaDB (SQLite's catalog does not say it: declare the column
    /// without `NOCASE` or `RTRIM`).
    fn scope_condition(&self, sql: &mut SqlText, alias: Option<&str>) {
        let Some(scope) = &self.scope else { return };
        column(sql, alias, &scope.name);
        sql.push(" = ").param();
        match self.dialect {
            Dialect::Sqlite => {
                sql.push(" COLLATE BINARY");
            }
            Dialect::MySql => {
                sql.push(" AND CAST(");
                column(sql, alias, &scope.name);
                sql.push(" AS BINARY) = CAST(").param().push(" AS BINARY)");
            }
            Dialect::Postgres => {}
        }
    }

    /// How many times [`scope_condition`](Self::scope_condition) binds the
    /// scope's value.
    fn scope_binds(&self) -> usize {
        match (&self.scope, self.dialect) {
            (None, _) => 0,
            (Some(_), Dialect::MySql) => 2,
            (Some(_), _) => 1,
        }
    }

    /// The declared scope's column when the tombstone table is keyed by
    /// (scope, id) too.
    fn tomb_scope(&self) -> Option<&str> {
        self.tombstones?;
        self.scope
            .as_ref()
            .filter(|s| s.declared)
            .map(|s| s.name.as_str())
    }

    /// The tombstone table's key columns: `id`, after the declared scope.
    fn tomb_key_columns(&self) -> Vec<&str> {
        self.tomb_scope().into_iter().chain(["id"]).collect()
    }

    /// `id = ?` in the tombstone table, and `AND scope = ?` (compared as
    /// [`scope_condition`](Self::scope_condition) compares it) for a
    /// declared scope: bound by [`SqlRepository::bind_tomb_key`].
    fn tomb_key(&self, sql: &mut SqlText, alias: Option<&str>) {
        column(sql, alias, "id");
        sql.push(" = ").param();
        if self.tomb_scope().is_some() {
            sql.push(" AND ");
            self.scope_condition(sql, alias);
        }
    }

    /// `SELECT <columns> FROM t WHERE id = ?`, locking the row on MySQL
    /// when `for_update`.
    fn select_sql(&self, for_update: bool) -> SqlText {
        let mut sql = self.sql();
        sql.push("SELECT ")
            .idents(None, &self.columns)
            .push(" FROM ")
            .ident(self.table)
            .push(" WHERE ");
        self.key(&mut sql, None);
        if for_update {
            sql.push(" FOR UPDATE");
        }
        sql
    }

    /// The companion version column of a data column.
    fn field_version_of(&self, column: &str) -> Option<&'static str> {
        let i = self.data.iter().position(|c| *c == column)?;
        self.field_versions.and_then(|f| f.get(i).copied())
    }

    /// The JSON member of a data column.
    fn member_of(&self, column: &str) -> String {
        self.data
            .iter()
            .position(|c| *c == column)
            .and_then(|i| self.members.get(i))
            .map_or_else(|| column.to_owned(), |m| (*m).to_owned())
    }

    /// `SELECT <columns>, <companions> FROM t WHERE id = ?`: the read that
    /// explains a merging write's miss.
    fn select_fields_sql(&self) -> SqlText {
        let mut columns = self.columns.clone();
        columns.extend(self.field_versions.unwrap_or(&[]));
        let mut sql = self.sql();
        sql.push("SELECT ")
            .idents(None, &columns)
            .push(" FROM ")
            .ident(self.table)
            .push(" WHERE ");
        self.key(&mut sql, None);
        sql
    }

    fn check_sql(&self, sql: &mut SqlText, check: Check, set: &[&str]) {
        let (op, n) = match check {
            Check::Nothing => return,
            Check::UnchangedSince(_) => {
                sql.push(" AND ").ident(self.version).push(" >= ").param();
                for column in set {
                    if let Some(companion) = self.field_version_of(column) {
                        sql.push(" AND ").ident(companion).push(" <= ").param();
                    }
                }
                return;
            }
            Check::VersionIn(n) => (" IN (", n),
            Check::VersionNotIn(n) => (" NOT IN (", n),
            Check::UnmodifiedSince => {
                // A row without a time passes, as in memory: the condition
                // is ignored when there is no modification date (RFC 9110
                // §13.1.4).
                if let Some(column) = self.last_modified {
                    sql.push(" AND (")
                        .ident(column)
                        .push(" IS NULL OR ")
                        .ident(column)
                        .push(" <= ")
                        .epoch_param()
                        .push(")");
                }
                return;
            }
        };
        sql.push(" AND ")
            .ident(self.version)
            .push(op)
            .params(n)
            .push(")");
    }

    fn returning(&self, sql: &mut SqlText) {
        if self.dialect.has_returning() {
            sql.push(" RETURNING ").idents(None, &self.columns);
        }
    }

    /// `UPDATE t SET <set> = ?, version = version + 1 WHERE id = ? AND
    /// version < max <check> RETURNING …`: values bound in that order.
    fn update_sql(&self, set: &[&str], check: Check) -> SqlText {
        let mut sql = self.sql();
        sql.push("UPDATE ").ident(self.table).push(" SET ");
        for column in set {
            sql.ident(column).push(" = ").param().push(", ");
            if let Some(companion) = self.field_version_of(column) {
                // Before `version`'s own assignment: MySQL assigns in
                // order, and this must see the old version.
                sql.ident(companion)
                    .push(" = ")
                    .ident(self.version)
                    .push(" + 1, ");
            }
        }
        if let Some(column) = self.last_modified {
            sql.ident(column).push(" = ").clock_after(column).push(", ");
        }
        sql.ident(self.version)
            .push(" = ")
            .ident(self.version)
            .push(" + 1 WHERE ");
        self.key(&mut sql, None);
        sql.push(" AND ")
            .ident(self.version)
            .push(&format!(" < {}", self.max_version));
        self.check_sql(&mut sql, check, set);
        self.returning(&mut sql);
        sql
    }

    /// `INSERT INTO t (id, version, data…, modified) VALUES (?, ?, ?…,
    /// clock)`, without the id when the database assigns it, and with
    /// `RETURNING` where there is one. `on_conflict`: a taken id inserts
    /// nothing (and returns no row) instead of failing.
    fn insert_sql(&self, with_id: bool, on_conflict: bool) -> SqlText {
        let mut sql = self.sql();
        let mut columns: Vec<&str> = Vec::with_capacity(self.columns.len());
        if with_id {
            columns.push(self.id);
        }
        columns.push(self.version);
        columns.extend_from_slice(self.data);
        let companions = self.field_versions.unwrap_or(&[]);
        columns.extend_from_slice(companions);
        columns.extend(self.last_modified);
        let tombstones = self.tombstones.filter(|_| with_id);
        if let (Some(tomb), Dialect::Postgres) = (tombstones, self.dialect) {
            // Claims the id's tombstone (the version before the given one
            // when there is none): a concurrent delete's is read once it
            // commits, not the statement's snapshot.
            let key = self.tomb_key_columns();
            sql.push("WITH occ_z AS (INSERT INTO ")
                .ident(tomb)
                .push(" AS occ_y (")
                .idents(None, &key)
                .push(", ")
                .ident("version")
                .push(") VALUES (")
                .params(key.len())
                .push(", ")
                .param()
                .push(" - 1) ON CONFLICT (")
                .idents(None, &key)
                .push(") DO UPDATE SET ")
                .ident("version")
                .push(" = ")
                .qualified("occ_y", "version")
                .push(" RETURNING ")
                .qualified("occ_y", "version")
                .push(") ");
        }
        sql.push("INSERT INTO ")
            .ident(self.table)
            .push(" (")
            .idents(None, &columns)
            .push(") VALUES (");
        if with_id {
            sql.param().push(", ");
        }
        self.version_value(&mut sql, tombstones);
        if !self.data.is_empty() {
            sql.push(", ").params(self.data.len());
        }
        // Each companion: the version the row is created with.
        for _ in companions {
            sql.push(", ");
            self.version_value(&mut sql, tombstones);
        }
        if self.last_modified.is_some() {
            sql.push(", ").clock();
        }
        sql.push(")");
        if self.dialect.has_returning() {
            if on_conflict {
                if self.scope.as_ref().is_some_and(|s| s.declared) {
                    // The key may be the id alone or (scope, id): any
                    // conflict on it is a taken id.
                    sql.push(" ON CONFLICT DO NOTHING");
                } else {
                    sql.push(" ON CONFLICT (")
                        .ident(self.id)
                        .push(") DO NOTHING");
                }
            }
            self.returning(&mut sql);
        }
        sql
    }

    /// The version an insert gives the row: the given one, or after the
    /// id's tombstone (PostgreSQL: one parameter, the version; the others
    /// with a tombstone table: the version, the id and the version).
    fn version_value(&self, sql: &mut SqlText, tombstones: Option<&str>) {
        match (tombstones, self.dialect) {
            (None, _) => {
                sql.param();
            }
            (Some(_), Dialect::Postgres) => {
                sql.push("GREATEST(")
                    .param()
                    .push(", (SELECT ")
                    .ident("version")
                    .push(" + 1 FROM occ_z))");
            }
            (Some(tomb), dialect) => {
                // The given version, or the one after the tombstone's.
                let (greatest, coalesce) = match dialect {
                    Dialect::Sqlite => ("max(", "coalesce(("),
                    _ => ("GREATEST(", "COALESCE(("),
                };
                sql.push(greatest)
                    .param()
                    .push(", ")
                    .push(coalesce)
                    .push("SELECT ")
                    .qualified("occ_z", "version")
                    .push(" + 1 FROM ")
                    .ident(tomb)
                    .push(" occ_z WHERE ");
                self.tomb_key(sql, Some("occ_z"));
                sql.push("), ").param().push("))");
            }
        }
    }

    /// `DELETE FROM t WHERE id = ? <check> RETURNING …`; on MySQL, the
    /// locking read that precedes the delete in its transaction.
    fn delete_sql(&self, check: Check) -> SqlText {
        let mut sql = self.sql();
        if let (Some(tomb), Dialect::Postgres) = (self.tombstones, self.dialect) {
            // One statement: the delete, and its version kept as the id's
            // tombstone. The tombstone's row is locked before the row to
            // delete (the subquery runs before the delete locks a row), in
            // the order a create takes them, so that the two do not
            // deadlock where the tombstone exists.
            sql.push("WITH occ_l AS (SELECT 1 FROM ")
                .ident(tomb)
                .push(" WHERE ");
            self.tomb_key(&mut sql, None);
            sql.push(" FOR UPDATE), occ_d AS (DELETE FROM ")
                .ident(self.table)
                .push(" WHERE (SELECT count(*) FROM occ_l) >= 0 AND ");
            self.key(&mut sql, None);
            self.check_sql(&mut sql, check, &[]);
            self.returning(&mut sql);
            let key = self.tomb_key_columns();
            sql.push("), occ_z AS (INSERT INTO ")
                .ident(tomb)
                .push(" AS occ_y (")
                .idents(None, &key)
                .push(", ")
                .ident("version")
                .push(") SELECT ");
            if let Some(scope) = self.tomb_scope() {
                sql.qualified("occ_d", scope).push(", ");
            }
            sql.qualified("occ_d", self.id)
                .push(", ")
                .qualified("occ_d", self.version)
                .push(" FROM occ_d ON CONFLICT (")
                .idents(None, &key)
                .push(") DO UPDATE SET ")
                .ident("version")
                .push(" = GREATEST(")
                .qualified("occ_y", "version")
                .push(", EXCLUDED.")
                .ident("version")
                .push(")) SELECT ")
                .idents(Some("occ_d"), &self.columns)
                .push(" FROM occ_d");
        } else if self.dialect.has_returning() {
            sql.push("DELETE FROM ").ident(self.table).push(" WHERE ");
            self.key(&mut sql, None);
            self.check_sql(&mut sql, check, &[]);
            self.returning(&mut sql);
        } else {
            sql = self.select_sql(false);
            self.check_sql(&mut sql, check, &[]);
            sql.push(" FOR UPDATE");
        }
        sql
    }

    /// `INSERT INTO tomb (id, version) VALUES (?, ?)`, or the larger
    /// version where the id has a tombstone already: after a delete on
    /// SQLite and MariaDB/MySQL, in its transaction.
    fn tombstone_sql(&self, tomb: &str) -> SqlText {
        let mut sql = self.sql();
        let key = self.tomb_key_columns();
        sql.push("INSERT INTO ")
            .ident(tomb)
            .push(" (")
            .idents(None, &key)
            .push(", ")
            .ident("version")
            .push(") VALUES (")
            .params(key.len() + 1)
            .push(")");
        if self.dialect == Dialect::MySql {
            sql.push(" ON DUPLICATE KEY UPDATE ")
                .ident("version")
                .push(" = GREATEST(")
                .ident("version")
                .push(", VALUES(")
                .ident("version")
                .push("))");
        } else {
            sql.push(" ON CONFLICT (")
                .idents(None, &key)
                .push(") DO UPDATE SET ")
                .ident("version")
                .push(" = max(")
                .ident("version")
                .push(", excluded.")
                .ident("version")
                .push(")");
        }
        sql
    }

    /// The current version always, the row only when its version is not
    /// one of `n` known ones: a 304 transfers no representation.
    fn changed_sql(&self, n: usize) -> SqlText {
        let mut sql = self.sql();
        sql.push("SELECT ")
            .bigint_of("occ_k", self.version)
            .push(" AS occ_current_version, ");
        if let Some(column) = self.last_modified {
            sql.epoch_of("occ_k", column)
                .push(" AS occ_current_modified, ")
                .statement_time()
                .push(" AS occ_as_of, ");
        }
        sql.idents(Some("occ_t"), &self.columns)
            .push(" FROM ")
            .ident(self.table)
            .push(" occ_k LEFT JOIN ")
            .ident(self.table)
            .push(" occ_t ON ")
            .qualified("occ_t", self.id)
            .push(" = ")
            .qualified("occ_k", self.id)
            .push(" AND ");
        if let Some(scope) = &self.scope {
            // The same row: ids may repeat across scopes.
            sql.qualified("occ_t", &scope.name)
                .push(" = ")
                .qualified("occ_k", &scope.name)
                .push(" AND ");
        }
        sql.qualified("occ_t", self.version)
            .push(" NOT IN (")
            .params(n)
            .push(") WHERE ");
        self.key(&mut sql, Some("occ_k"));
        sql
    }

    fn list_sql(&self, after: bool) -> SqlText {
        let mut sql = self.sql();
        sql.push("SELECT ")
            .idents(None, &self.columns)
            .push(" FROM ")
            .ident(self.table);
        let mut glue = " WHERE ";
        if self.scope.is_some() {
            sql.push(glue);
            self.scope_condition(&mut sql, None);
            glue = " AND ";
        }
        if after {
            sql.push(glue).ident(self.id).push(" > ").param();
        }
        sql.push(" ORDER BY ")
            .ident(self.id)
            .push(" LIMIT ")
            .param();
        sql
    }
}

impl fmt::Debug for Statements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statements")
            .field("dialect", &self.dialect)
            .field("table", &self.table)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

/// Our statements are built from identifiers quoted by [`SqlText`] and
/// placeholders only; values are always bound.
fn finish(sql: SqlText) -> SqlStr {
    sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(sql.text))
}

/// A write condition as SQL: the check and the values to bind (versions,
/// or a date as microseconds since the epoch), or `None` when no row can match
/// (an empty `If-Match` list). `dated`: the table has a modification-time
/// column to compare `UnmodifiedSince` with.
fn check_of<V: VersionNumber>(
    condition: &WriteCondition<V>,
    dated: bool,
) -> Option<(Check, Vec<i64>)> {
    // A version beyond i64 is stored nowhere: it can only fail to match,
    // so it is bound as an impossible one.
    let ints = |v: &[V]| v.iter().map(|v| v.to_i64().unwrap_or(-1)).collect();
    match condition {
        WriteCondition::VersionIn(v) if v.is_empty() => None,
        WriteCondition::VersionIn(v) => Some((Check::VersionIn(v.len()), ints(v))),
        WriteCondition::VersionNotIn(v) if v.is_empty() => Some((Check::Nothing, Vec::new())),
        WriteCondition::VersionNotIn(v) => Some((Check::VersionNotIn(v.len()), ints(v))),
        WriteCondition::UnmodifiedSince(since) if dated => {
            // At full precision, as the memory repository compares: an
            // HTTP date is whole seconds, but a date kept from a model
            // read (or a rounded `Last-Modified`) is not.
            Some((Check::UnmodifiedSince, vec![micros_since_epoch(*since)]))
        }
        WriteCondition::Unconditional
        | WriteCondition::Exists
        | WriteCondition::UnmodifiedSince(_) => Some((Check::Nothing, Vec::new())),
        // Resolved by the caller, which knows the columns written
        // (`merging_check`); strict here.
        WriteCondition::UnchangedSince(v) => Some((Check::VersionIn(1), ints(&[*v]))),
    }
}

/// `t` as whole microseconds since the epoch, rounded down (so that a
/// stored time, which has at most microseconds, is at or before `t`
/// exactly when it is at or before the result); saturated at the ends of
/// `i64`.
fn micros_since_epoch(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_micros()).unwrap_or(i64::MAX);
            let partial = before.subsec_nanos() % 1_000 != 0;
            (-whole).saturating_sub(i64::from(partial))
        }
    }
}

/// A written row, its time noted in the held transaction (if any), which
/// must commit soon after it.
fn stamped<DB: sqlx::Database, M: Versioned>(held: Option<&Held<DB>>, written: M) -> M {
    if let Some(held) = held {
        held.stamped(written.last_modified());
    }
    written
}

/// The inverse of [`micros_since_epoch`].
fn time_of_micros(micros: i64) -> Option<SystemTime> {
    let magnitude = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    }
}

/// A repository on any [`Backend`]: SQLite, PostgreSQL, MariaDB/MySQL.
///
/// Every conditional operation is one statement on its happy path
/// (MariaDB: one transaction), with the request's condition in the `WHERE`
/// clause; see the [module docs](self).
///
/// A modification time (`#[occ(last_modified)]`) is never bound: every
/// write sets it from the database's clock, and never to a time at or
/// before the one stored, so that the times of a row only grow. Its column
/// is `TIMESTAMPTZ` on PostgreSQL, `DATETIME(6)` on MariaDB/MySQL, and
/// `TEXT` on SQLite (milliseconds, as `2026-05-04T10:20:30.123Z`).
///
/// Ids the database assigns ([`Repository::create_with_new_id`]) come from
/// an identity column on PostgreSQL (`BIGINT GENERATED ALWAYS AS
/// IDENTITY`), `AUTO_INCREMENT` on MariaDB/MySQL, and `INTEGER PRIMARY KEY
/// AUTOINCREMENT` on SQLite: without `AUTOINCREMENT`, SQLite gives the
/// largest id again once its row is deleted, and the new resource would
/// have the deleted one's entity tag (same id, version 1). When clients may
/// also choose ids (`#[occ(generated(client_may_choose))]`), PostgreSQL
/// needs `GENERATED BY DEFAULT AS IDENTITY`, and its sequence does not skip
/// the ids clients took: a later assigned id can collide with one, and that
/// insert is refused as a constraint violation (the memory repository skips
/// them). Prefer UUIDs there.
///
/// **Deleted ids.** With a tombstone table
/// ([`SqlModel::TOMBSTONE_TABLE`], `#[occ(tombstones = "…")]`), a delete
/// records the deleted row's version (PostgreSQL: in the delete's own
/// statement, a writable CTE; SQLite and MariaDB/MySQL: in its
/// transaction), and a [`Repository::create`] of that id takes the larger
/// of the version given and that version plus one, in its one statement:
/// no entity tag is ever reused for an id (design decision 15). Without
/// one, versions restart after a delete: a resource created again under a
/// deleted id starts at the version given (usually 1), and a tag from
/// before the delete can match it. A delete locks the id's tombstone before
/// its row, in the order a create takes them; still, a delete and a create
/// of the same id at the same moment can deadlock (on PostgreSQL only
/// before the id has a tombstone row, on MariaDB/MySQL rarely): the
/// database aborts one of them, reported as
/// [`RepositoryError::Unavailable`] (503, worth a retry), never as a reused
/// tag.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use occ_core::repository::sql::{PgRepository, SqlRepository};
/// use occ_core::Versioned;
///
/// #[derive(Versioned, sqlx::FromRow)]
/// #[occ(table = "notes")]
/// struct Note { id: i64, #[version] version: i64, text: String }
///
/// let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
/// let notes: PgRepository<Note> = SqlRepository::new(pool);
/// notes.verify().await?; // the table has every column
/// # Ok(()) }
/// ```
pub struct SqlRepository<DB: sqlx::Database, M> {
    pool: Pool<DB>,
    /// The transaction every statement runs in, for a write under an
    /// idempotency key; `None`: each statement takes a pooled connection.
    held: Option<Held<DB>>,
    /// Where idempotency keys are kept, if they are.
    keys: Option<Arc<keys::SqlKeys>>,
    statements: Arc<Statements>,
    scope: Option<ScopeState<M>>,
    /// The statements of the last scope column asked for.
    scoped: OnceLock<Arc<Statements>>,
    _model: PhantomData<fn() -> M>,
}

/// The open transaction of a write under an idempotency key, shared by
/// the views made of its repository.
type Held<DB> = Arc<HeldTransaction<DB>>;

/// A keyed write's transaction, and the time of its first dated write.
pub(crate) struct HeldTransaction<DB: sqlx::Database> {
    /// `None` once it is committed or rolled back.
    tx: tokio::sync::Mutex<Option<sqlx::Transaction<'static, DB>>>,
    /// The earliest modification time this transaction stamped
    /// (microseconds since the epoch, on the database's clock), or
    /// `i64::MAX`: it must commit within half the
    /// [`COMMIT_MARGIN`] of it, or not at all.
    first_stamp: std::sync::atomic::AtomicI64,
    /// A write succeeded in it.
    wrote: std::sync::atomic::AtomicBool,
    /// It was rolled back after a failed statement with a write of its
    /// own in it: what the handler answers may claim that write, so it
    /// must not be recorded.
    lost_a_write: std::sync::atomic::AtomicBool,
}

impl<DB: sqlx::Database> HeldTransaction<DB> {
    pub(crate) fn new(tx: sqlx::Transaction<'static, DB>) -> Arc<Self> {
        Arc::new(Self {
            tx: tokio::sync::Mutex::new(Some(tx)),
            first_stamp: std::sync::atomic::AtomicI64::new(i64::MAX),
            wrote: std::sync::atomic::AtomicBool::new(false),
            lost_a_write: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Whether a write of this transaction was rolled back after a failed
    /// statement.
    pub(crate) fn lost_a_write(&self) -> bool {
        self.lost_a_write.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Notes a write in this transaction, and its modification time.
    fn stamped(&self, time: Option<SystemTime>) {
        self.wrote.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(time) = time {
            self.first_stamp.fetch_min(
                micros_since_epoch(time),
                std::sync::atomic::Ordering::SeqCst,
            );
        }
    }

    /// The latest time (milliseconds since the epoch, on the database's
    /// clock) this transaction's record may be written and still commit:
    /// `None` when it wrote no dated row.
    pub(crate) fn deadline_millis(&self) -> Option<i64> {
        let first = self.first_stamp.load(std::sync::atomic::Ordering::SeqCst);
        (first != i64::MAX).then(|| {
            let half = i64::try_from(COMMIT_MARGIN.as_micros() / 2).unwrap_or(i64::MAX);
            first.saturating_add(half) / 1000
        })
    }
}

/// A connection for one statement: a pooled one, or the held
/// transaction's.
enum Conn<'a, DB: sqlx::Database> {
    Pooled(sqlx::pool::PoolConnection<DB>),
    Held(tokio::sync::MappedMutexGuard<'a, sqlx::Transaction<'static, DB>>),
}

impl<DB: sqlx::Database> std::ops::Deref for Conn<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        match self {
            Self::Pooled(conn) => conn,
            Self::Held(tx) => tx,
        }
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for Conn<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match self {
            Self::Pooled(conn) => conn,
            Self::Held(tx) => tx,
        }
    }
}

/// The scope of a scoped view, and how to tell whether a model is in it.
struct ScopeState<M> {
    /// The scope; a declared scope's value as the model's field holds it.
    scope: Scope,
    /// The model declares it (`#[occ(scope)]`): writes fill the field.
    declared: bool,
    contains: fn(&Scope, &M) -> bool,
}

/// A [`SqlRepository`] on SQLite. Open the pool with [`sqlite_pool`].
#[cfg(feature = "sqlite")]
pub type SqliteRepository<M> = SqlRepository<sqlx::Sqlite, M>;

/// A [`SqlRepository`] on PostgreSQL.
#[cfg(feature = "postgres")]
pub type PgRepository<M> = SqlRepository<sqlx::Postgres, M>;

/// A [`SqlRepository`] on MariaDB or MySQL.
#[cfg(feature = "mysql")]
pub type MySqlRepository<M> = SqlRepository<sqlx::MySql, M>;

impl<DB: sqlx::Database, M> fmt::Debug for SqlRepository<DB, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlRepository")
            .field("statements", &self.statements)
            .finish_non_exhaustive()
    }
}

/// A table that does not fit its model, found by
/// [`SqlRepository::verify`].
#[derive(Debug)]
pub struct SchemaError {
    table: String,
    column: Option<&'static str>,
    problem: SchemaProblem,
}

#[derive(Debug)]
enum SchemaProblem {
    /// The database refused to read the column (or the table).
    Unreadable(sqlx::Error),
    /// The column's SQL type is not one the field decodes from.
    WrongType {
        sql_type: String,
        rust_type: &'static str,
    },
    /// The scope's column compares values that differ as equal: its
    /// collation (named) folds case, accents or trailing spaces.
    InexactScope(String),
    /// A MariaDB `UUID` column, sent as text, for a `uuid::Uuid` field,
    /// which sqlx decodes from 16 bytes only.
    TextUuid { rust_type: &'static str },
}

impl SchemaError {
    /// The column the database refused, when one was.
    pub fn column(&self) -> Option<&str> {
        self.column
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = &self.table;
        match (&self.problem, self.column) {
            (SchemaProblem::Unreadable(source), Some(column)) => write!(
                f,
                "table `{table}` cannot be read as its model: column `{column}`: {source}"
            ),
            (SchemaProblem::Unreadable(source), None) => {
                write!(f, "table `{table}` cannot be read as its model: {source}")
            }
            (
                SchemaProblem::WrongType {
                    sql_type,
                    rust_type,
                },
                column,
            ) => {
                let column = column.unwrap_or("?");
                write!(
                    f,
                    "column `{column}` of table `{table}` is `{sql_type}`, which `{rust_type}` does \
                     not decode from (sqlx's `Type::compatible`): change the column's type or the \
                     field's. A string enum on MariaDB/MySQL needs a `sqlx::Type` whose \
                     `compatible` accepts the column (see the enum recipe in occ's README)"
                )
            }
            (SchemaProblem::TextUuid { rust_type }, column) => {
                let column = column.unwrap_or("?");
                write!(
                    f,
                    "column `{column}` of table `{table}` is MariaDB's `UUID` type, which is \
                     sent as text; `{rust_type}` decodes from 16 bytes only on MariaDB/MySQL. \
                     Make the column `BINARY(16)`, or the field `uuid::fmt::Hyphenated`"
                )
            }
            (SchemaProblem::InexactScope(collation), column) => {
                let column = column.unwrap_or("?");
                write!(
                    f,
                    "the scope column `{column}` of table `{table}` compares as `{collation}`, \
                     which takes values that differ (in case, accents or trailing spaces) for one \
                     another: two tenants would share keys and rows. Make it exact, for example \
                     `ALTER TABLE {table} MODIFY {column} VARCHAR(64) CHARACTER SET utf8mb4 COLLATE \
                     utf8mb4_nopad_bin NOT NULL` on MariaDB (`utf8mb4_0900_bin` on MySQL; \
                     `utf8mb4_bin` pads spaces), a `VARBINARY` column, or on PostgreSQL a \
                     deterministic collation such as `\"C\"`"
                )
            }
        }
    }
}

impl std::error::Error for SchemaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            SchemaProblem::Unreadable(source) => Some(source),
            SchemaProblem::InexactScope(_)
            | SchemaProblem::WrongType { .. }
            | SchemaProblem::TextUuid { .. } => None,
        }
    }
}

impl<DB, M> SqlRepository<DB, M>
where
    DB: Backend,
    M: SqlModel<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
{
    /// A repository over `pool`. The table must exist; [`verify`] checks it.
    ///
    /// [`verify`]: SqlRepository::verify
    pub fn new(pool: Pool<DB>) -> Self {
        Self {
            statements: Arc::new(Statements::new::<DB, M>(None)),
            pool,
            held: None,
            keys: None,
            scope: None,
            scoped: OnceLock::new(),
            _model: PhantomData,
        }
    }

    /// The pool, for the application's own queries.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// Every column the repository reads or writes, table by table: the
    /// model's (with the merge columns), the tombstones', the keys'.
    async fn verify_columns(&self) -> Result<(), SchemaError> {
        let st = &self.statements;
        let mut columns = st.columns.clone();
        columns.extend(st.field_versions.unwrap_or(&[]));
        self.verify_table(st.table, &columns).await?;
        if let Some(tomb) = st.tombstones {
            // A declared scope keys the tombstones too.
            let columns: Vec<&'static str> = M::SCOPE_COLUMN
                .into_iter()
                .chain(["id", "version"])
                .collect();
            self.verify_table(tomb, &columns).await?;
        }
        if let Some(keys) = &self.keys {
            self.verify_table(&keys.table, &keys::COLUMNS).await?;
        }
        Ok(())
    }

    /// `table` has `columns`: all at once, then, when that fails, one at a
    /// time so that the error names the one missing.
    async fn verify_table(&self, table: &str, columns: &[&'static str]) -> Result<(), SchemaError> {
        let select = |columns: &[&str]| {
            let mut sql = self.statements.sql();
            sql.push("SELECT ")
                .idents(None, columns)
                .push(" FROM ")
                .ident(table)
                .push(" WHERE 1 = 0");
            sql.text
        };
        let read = |sql: String| async move {
            sqlx::query::<DB>(AssertSqlSafe(sql))
                .fetch_optional(&self.pool)
                .await
                .map(drop)
        };
        let Err(source) = read(select(columns)).await else {
            return Ok(());
        };
        for column in columns {
            if let Err(source) = read(select(&[column])).await {
                return Err(SchemaError {
                    table: table.to_owned(),
                    column: Some(column),
                    problem: SchemaProblem::Unreadable(source),
                });
            }
        }
        Err(SchemaError {
            table: table.to_owned(),
            column: None,
            problem: SchemaProblem::Unreadable(source),
        })
    }

    async fn fetch<'e, E>(
        executor: E,
        sql: impl sqlx::SqlSafeStr,
        args: Result<DB::Arguments, BoxDynError>,
    ) -> Result<Option<M>, RepositoryError<M>>
    where
        E: Executor<'e, Database = DB>,
    {
        let args = args.map_err(bind_error)?;
        sqlx::query_as_with::<DB, M, DB::Arguments>(sql, args)
            .fetch_optional(executor)
            .await
            .map_err(map_error)
    }

    /// The connection for the next statement: the held transaction's, or
    /// one from the pool. Hold it for one statement (or one nested
    /// transaction) only: a held transaction has one connection.
    async fn conn(&self) -> Result<Conn<'_, DB>, RepositoryError<M>> {
        match &self.held {
            None => self
                .pool
                .acquire()
                .await
                .map(Conn::Pooled)
                .map_err(map_error),
            Some(held) => tokio::sync::MutexGuard::try_map(held.tx.lock().await, Option::as_mut)
                .map(Conn::Held)
                .map_err(|_| RepositoryError::internal("the write's transaction has ended")),
        }
    }

    /// Binds what [`Statements::key`] wrote: the id, and the scope's value.
    fn bind_key(&self, args: &mut DB::Arguments, id: &M::Id) -> Result<(), BoxDynError> {
        M::bind_id(id, args)?;
        self.bind_scope(args)
    }

    /// Binds what [`Statements::scope_condition`] wrote.
    fn bind_scope(&self, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
        if let Some(state) = &self.scope {
            for _ in 0..self.statements.scope_binds() {
                M::bind_scope(state.scope.value(), args)?;
            }
        }
        Ok(())
    }

    /// Binds what [`Statements::tomb_key`] wrote: the id, and the declared
    /// scope's value.
    fn bind_tomb_key(&self, args: &mut DB::Arguments, id: &M::Id) -> Result<(), BoxDynError> {
        M::bind_id(id, args)?;
        if self.statements.tomb_scope().is_some() {
            self.bind_scope(args)?;
        }
        Ok(())
    }

    /// The declared scope's value, where the tombstone table is keyed by it.
    fn bind_tomb_scope(&self, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
        match (&self.scope, self.statements.tomb_scope()) {
            (Some(state), Some(_)) => M::bind_scope(state.scope.value(), args),
            _ => Ok(()),
        }
    }

    /// Refuses an operation without a scope on a model that declares one.
    fn require_scope(&self) -> Result<(), RepositoryError<M>> {
        match (M::SCOPE_COLUMN, &self.scope) {
            (Some(column), None) => Err(super::scope::missing_scope(column)),
            _ => Ok(()),
        }
    }

    fn key_args(&self, id: &M::Id) -> Result<DB::Arguments, BoxDynError> {
        let mut args = DB::Arguments::default();
        self.bind_key(&mut args, id)?;
        Ok(args)
    }

    /// A write of `model` in a scoped view: a declared scope's field is
    /// filled from the scope (whatever the client sent); a scope the model
    /// does not declare must already hold.
    fn scoped_model(&self, mut model: M) -> Result<M, RepositoryError<M>> {
        self.require_scope()?;
        match &self.scope {
            Some(state) if state.declared => {
                if model.set_scope_value(state.scope.value()) {
                    Ok(model)
                } else {
                    Err(RepositoryError::internal(
                        "the model refused its own declared scope's value",
                    ))
                }
            }
            Some(state) if !(state.contains)(&state.scope, &model) => Err(outside_scope()),
            _ => Ok(model),
        }
    }

    /// A write that changes nothing: the current state when `condition`
    /// holds on it, else 412 with it (or 404).
    async fn unchanged(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        let current = Self::fetch(
            &mut *self.conn().await?,
            self.statements.select.clone(),
            self.key_args(id),
        )
        .await?
        .ok_or(RepositoryError::NotFound)?;
        let met = match condition {
            // Merging: no member is set, so none can conflict; the version
            // must only have been reached.
            WriteCondition::UnchangedSince(since) if self.statements.field_versions.is_some() => {
                current.version() >= *since
            }
            _ => condition.is_met_by(&current),
        };
        if met {
            Ok(current)
        } else {
            Err(RepositoryError::PreconditionFailed {
                current: Box::new(current),
            })
        }
    }

    /// After a conditional statement touched no row: 404, or 412 with the
    /// current state, or "exhausted" when the counter is at its end.
    async fn explain_miss(&self, id: &M::Id, for_delete: bool) -> RepositoryError<M> {
        let mut conn = match self.conn().await {
            Ok(conn) => conn,
            Err(e) => return e,
        };
        match Self::fetch(
            &mut *conn,
            self.statements.select.clone(),
            self.key_args(id),
        )
        .await
        {
            Ok(None) => RepositoryError::NotFound,
            // Deleting needs no next version.
            Ok(Some(current)) if !for_delete && current.next_version().is_none() => {
                RepositoryError::VersionExhausted
            }
            Ok(Some(current)) => RepositoryError::PreconditionFailed {
                current: Box::new(current),
            },
            Err(e) => e,
        }
    }

    /// Runs an `UPDATE` built for `check`, with its values bound by
    /// `args`, and returns the row written (or explains the miss).
    async fn write(
        &self,
        id: &M::Id,
        sql: impl sqlx::SqlSafeStr,
        args: Result<DB::Arguments, BoxDynError>,
        merging: Option<(i64, &[&'static str])>,
    ) -> Result<M, RepositoryError<M>>
    where
        i64: for<'r> Decode<'r, DB> + Type<DB>,
        for<'n> &'n str: ColumnIndex<DB::Row>,
    {
        let written = if DB::DIALECT.has_returning() {
            Self::fetch(&mut *self.conn().await?, sql, args).await?
        } else {
            // MySQL: the UPDATE and the read of its result in one
            // transaction. Every successful UPDATE changes the version, so
            // a matched row is always an affected row.
            let args = args.map_err(bind_error)?;
            let mut conn = self.conn().await?;
            let mut tx = sqlx::Connection::begin(&mut *conn)
                .await
                .map_err(map_error)?;
            let written = async {
                let done = sqlx::query_with::<DB, DB::Arguments>(sql, args)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_error)?;
                if DB::rows_affected(&done) == 1 {
                    Self::fetch(&mut *tx, self.statements.select.clone(), self.key_args(id)).await
                } else {
                    Ok(None)
                }
            }
            .await;
            settle(tx, written).await?
        };
        match written {
            Some(row) => Ok(stamped(self.held.as_ref(), row)),
            None => Err(match merging {
                Some((since, set)) => self.explain_merge_miss(id, since, set).await,
                None => self.explain_miss(id, false).await,
            }),
        }
    }

    /// `UnchangedSince(since)` for a write of the columns `set`: with
    /// companion columns, the merging check and its values; `None` when
    /// the model has none (the condition is then strict).
    fn merging_check(
        &self,
        condition: &WriteCondition<M::Version>,
        set: &[&str],
    ) -> Option<(Check, Vec<i64>)> {
        let WriteCondition::UnchangedSince(since) = condition else {
            return None;
        };
        let st = &self.statements;
        st.field_versions?;
        let since = since.to_i64().unwrap_or(-1);
        let n = set
            .iter()
            .filter(|c| st.field_version_of(c).is_some())
            .count();
        Some((Check::UnchangedSince(n), vec![since; n + 1]))
    }

    /// After a merging write touched no row: 404, or the members of `set`
    /// written after `since` (a merge conflict), or 412 when none was (a
    /// version the resource has not reached, an exhausted counter).
    async fn explain_merge_miss(
        &self,
        id: &M::Id,
        since: i64,
        set: &[&'static str],
    ) -> RepositoryError<M>
    where
        i64: for<'r> Decode<'r, DB> + Type<DB>,
        for<'n> &'n str: ColumnIndex<DB::Row>,
    {
        let st = &self.statements;
        let sql = finish(st.select_fields_sql());
        let args = match self.key_args(id) {
            Ok(args) => args,
            Err(e) => return bind_error(e),
        };
        let mut conn = match self.conn().await {
            Ok(conn) => conn,
            Err(e) => return e,
        };
        let row = match sqlx::query_with::<DB, DB::Arguments>(sql, args)
            .fetch_optional(&mut *conn)
            .await
        {
            Ok(Some(row)) => row,
            Ok(None) => return RepositoryError::NotFound,
            Err(e) => return map_error(e),
        };
        let current = match M::from_row(&row) {
            Ok(current) => current,
            Err(e) => return map_error(e),
        };
        if current.next_version().is_none() {
            return RepositoryError::VersionExhausted;
        }
        let mut conflicts = Vec::new();
        for column in set {
            let Some(companion) = st.field_version_of(column) else {
                continue;
            };
            match row.try_get::<i64, _>(companion) {
                Ok(written) if written > since => conflicts.push(st.member_of(column)),
                Ok(_) => {}
                Err(e) => return map_error(e),
            }
        }
        conflicts.sort();
        if conflicts.is_empty() {
            RepositoryError::PreconditionFailed {
                current: Box::new(current),
            }
        } else {
            RepositoryError::MergeConflict {
                current: Box::new(current),
                conflicts,
            }
        }
    }

    /// Keeps the version of a row just deleted as its id's tombstone, in
    /// the delete's transaction (SQLite, MariaDB/MySQL).
    async fn record_tombstone(
        &self,
        tx: &mut sqlx::Transaction<'_, DB>,
        tomb: &str,
        deleted: &M,
    ) -> Result<(), RepositoryError<M>> {
        let version = version_arg(deleted.version())?;
        let args = (|| {
            let mut args = DB::Arguments::default();
            self.bind_tomb_scope(&mut args)?;
            M::bind_id(deleted.id(), &mut args)?;
            args.add(version)?;
            Ok(args)
        })()
        .map_err(bind_error)?;
        let sql = self.statements.tombstone_sql(tomb);
        sqlx::query_with::<DB, DB::Arguments>(AssertSqlSafe(sql.text), args)
            .execute(&mut **tx)
            .await
            .map_err(map_error)?;
        Ok(())
    }

    /// The modification time a version-only read returned, as
    /// microseconds since the epoch (`NULL` when the row has none).
    fn modified_of(&self, row: &DB::Row) -> Result<Option<SystemTime>, RepositoryError<M>>
    where
        i64: for<'r> Decode<'r, DB>,
        for<'n> &'n str: ColumnIndex<DB::Row>,
    {
        if self.statements.last_modified.is_none() {
            return Ok(None);
        }
        let micros: Option<i64> = row.try_get("occ_current_modified").map_err(map_error)?;
        Ok(micros.and_then(time_of_micros))
    }

    /// `UnmodifiedSince` on a model without a modification-time column (a
    /// hand-written [`SqlModel`] that keeps its time elsewhere): read,
    /// check, and swap on the version read. With the column, the date goes
    /// into the write's `WHERE` clause instead.
    async fn date_condition(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
    ) -> Result<WriteCondition<M::Version>, RepositoryError<M>>
    where
        M::Id: Sync,
    {
        if !matches!(condition, WriteCondition::UnmodifiedSince(_))
            || self.statements.last_modified.is_some()
        {
            return Ok(condition.clone());
        }
        let current = Self::fetch(
            &mut *self.conn().await?,
            self.statements.select.clone(),
            self.key_args(id),
        )
        .await?
        .ok_or(RepositoryError::NotFound)?;
        if condition.is_met_by(&current) {
            Ok(WriteCondition::VersionIn(vec![current.version()]))
        } else {
            Err(RepositoryError::PreconditionFailed {
                current: Box::new(current),
            })
        }
    }
}

impl<DB, M> SqlRepository<DB, M>
where
    DB: Backend,
    M: SqlModel<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
{
    /// Checks that the table exists and has every column of the model, one
    /// column at a time so that the error names the one that is missing,
    /// and that a declared scope's column (in the table and its tombstone
    /// table) compares values byte for byte: a case- or accent-insensitive
    /// or space-padding collation (MariaDB's defaults; a nondeterministic
    /// one on PostgreSQL) would let `ACME` and `acme` share keys. Call it
    /// at startup: a wrong schema then fails there, not on the first
    /// request.
    pub async fn verify(&self) -> Result<(), SchemaError> {
        self.verify_columns().await?;
        self.verify_types().await?;
        let Some(column) = M::SCOPE_COLUMN else {
            return Ok(());
        };
        let st = &self.statements;
        for table in std::iter::once(st.table).chain(st.tombstones) {
            if let Some(collation) = self.inexact_collation(table, column).await {
                return Err(SchemaError {
                    table: table.to_owned(),
                    column: Some(column),
                    problem: SchemaProblem::InexactScope(collation),
                });
            }
        }
        Ok(())
    }

    /// Each column the model reads and binds (the id and the data) has a
    /// type its field decodes from, as the database describes a statement
    /// that reads them (PostgreSQL, MariaDB/MySQL).
    async fn verify_types(&self) -> Result<(), SchemaError> {
        use sqlx::{Column, Statement, TypeInfo};
        // SQLite's declared types are affinities, not types: a column may
        // hold a value of any type, and it is the value that decodes or not.
        if DB::DIALECT == Dialect::Sqlite {
            return Ok(());
        }
        let st = &self.statements;
        let mut columns = vec![st.id];
        columns.extend_from_slice(st.data);
        let mut sql = st.sql();
        sql.push("SELECT ")
            .idents(None, &columns)
            .push(" FROM ")
            .ident(st.table)
            .push(" WHERE 1 = 0");
        let prepared = match (&self.pool)
            .prepare(sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(sql.text)))
            .await
        {
            Ok(prepared) => prepared,
            Err(source) => {
                return Err(SchemaError {
                    table: st.table.to_owned(),
                    column: None,
                    problem: SchemaProblem::Unreadable(source),
                })
            }
        };
        for (column, described) in columns.iter().zip(prepared.columns()) {
            let info = described.type_info();
            // A type the database does not name (SQLite's expressions, a
            // column declared without one) says nothing either way.
            if info.is_null() {
                continue;
            }
            let Some(ColumnFit { fits, rust_type }) = M::column_type(column, info) else {
                continue;
            };
            if !fits {
                return Err(SchemaError {
                    table: st.table.to_owned(),
                    column: Some(column),
                    problem: SchemaProblem::WrongType {
                        sql_type: info.name().to_owned(),
                        rust_type,
                    },
                });
            }
            // MariaDB's `UUID` type is sent as text, which sqlx's `Uuid`
            // (16 bytes on MySQL) does not decode, though it says it does.
            if DB::DIALECT == Dialect::MySql
                && (rust_type.ends_with("uuid::Uuid") || rust_type.ends_with("uuid::Uuid>"))
            {
                self.refuse_mariadb_uuid(column, rust_type).await?;
            }
        }
        Ok(())
    }

    /// Refuses a MariaDB `UUID` column for a `uuid::Uuid` field.
    async fn refuse_mariadb_uuid(
        &self,
        column: &'static str,
        rust_type: &'static str,
    ) -> Result<(), SchemaError> {
        let table = self.statements.table;
        let found = sqlx::query::<DB>(AssertSqlSafe(
            "SELECT DATA_TYPE AS occ_type FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?",
        ))
        .bind(table.to_owned())
        .bind(column.to_owned())
        .fetch_optional(&self.pool)
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get::<String, _>("occ_type").ok());
        match found {
            Some(sql_type) if sql_type.eq_ignore_ascii_case("uuid") => Err(SchemaError {
                table: table.to_owned(),
                column: Some(column),
                problem: SchemaProblem::TextUuid { rust_type },
            }),
            _ => Ok(()),
        }
    }

    /// The collation of `table.column` when it does not compare byte for
    /// byte; `None` when it does, or the column has none (an integer, a
    /// binary string, a UUID), or the catalog does not say (SQLite, whose
    /// columns are `BINARY` unless declared otherwise).
    async fn inexact_collation(&self, table: &str, column: &str) -> Option<String> {
        let sql = match DB::DIALECT {
            Dialect::Sqlite => return None,
            // `CHAR` drops trailing spaces whatever its collation.
            Dialect::MySql => {
                "SELECT CASE WHEN DATA_TYPE = 'char' THEN CONCAT('CHAR ', COLLATION_NAME) \
                 ELSE COLLATION_NAME END AS occ_collation FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ? \
                 AND COLLATION_NAME IS NOT NULL"
            }
            // `citext` folds case and `char(n)` drops trailing spaces, whatever
            // their (deterministic) collation.
            Dialect::Postgres => {
                "SELECT CASE WHEN t.typname IN ('citext', 'bpchar') THEN t.typname::text \
                 ELSE c.collname::text END AS occ_collation FROM pg_attribute a \
                 JOIN pg_type t ON t.oid = a.atttypid \
                 LEFT JOIN pg_collation c ON c.oid = a.attcollation \
                 WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attname = $2 \
                 AND (t.typname IN ('citext', 'bpchar') OR NOT c.collisdeterministic)"
            }
        };
        let found = sqlx::query::<DB>(AssertSqlSafe(sql))
            .bind(table.to_owned())
            .bind(column.to_owned())
            .fetch_optional(&self.pool)
            .await
            .and_then(|row| {
                row.map(|row| row.try_get::<String, _>("occ_collation"))
                    .transpose()
            });
        let collation = match found {
            Ok(collation) => collation?,
            Err(e) => {
                tracing::warn!(error = %e, table, column, "the scope column's collation could not be read");
                return None;
            }
        };
        // MySQL/MariaDB: binary and without padding (`utf8mb4_bin` pads).
        let exact = DB::DIALECT == Dialect::MySql
            && !collation.starts_with("CHAR ")
            && collation.ends_with("_bin")
            && (collation.contains("nopad") || collation.contains("0900"));
        (!exact).then_some(collation)
    }
}

impl<DB, M> SqlRepository<DB, M>
where
    DB: Backend,
    M: SqlModel<DB>,
    M::Id: Clone + Send + Sync,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    Vec<u8>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
{
    /// After a failed statement in a keyed write's transaction: the
    /// transaction is rolled back and a new one begun in its place, so
    /// that the reads that explain the failure, and the record of the
    /// refusal, still run (PostgreSQL refuses every statement of a
    /// transaction after an error; MariaDB may have rolled it back). The
    /// claim is not in it, and nothing of a refused write may land.
    async fn recover<T>(
        &self,
        result: Result<T, RepositoryError<M>>,
    ) -> Result<T, RepositoryError<M>> {
        let (
            Some(held),
            Err(
                RepositoryError::Invalid(_)
                | RepositoryError::Internal(_)
                | RepositoryError::Unavailable(_),
            ),
        ) = (&self.held, &result)
        else {
            return result;
        };
        if held.wrote.load(std::sync::atomic::Ordering::SeqCst) {
            held.lost_a_write
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        let mut held = held.tx.lock().await;
        if let Some(tx) = held.take() {
            if let Err(e) = tx.rollback().await {
                tracing::warn!(error = %e, "a keyed write's failed transaction did not roll back cleanly");
            }
            match keys::begin_held(&self.pool).await {
                Ok(tx) => *held = Some(tx),
                Err(e) => {
                    tracing::warn!(error = %e, "a keyed write's transaction could not begin again")
                }
            }
        }
        result
    }

    async fn sql_get(&self, id: &M::Id) -> Result<M, RepositoryError<M>> {
        self.require_scope()?;
        Self::fetch(
            &mut *self.conn().await?,
            self.statements.select.clone(),
            self.key_args(id),
        )
        .await?
        .ok_or(RepositoryError::NotFound)
    }

    async fn sql_read(
        &self,
        id: &M::Id,
        known: &KnownVersions<M::Version>,
    ) -> Result<Snapshot<M>, RepositoryError<M>> {
        self.require_scope()?;
        let st = &self.statements;
        let (sql, args) = match known {
            KnownVersions::Any => (st.select_version.clone(), self.key_args(id)),
            KnownVersions::Listed(v) if v.is_empty() => {
                (st.select_dated.clone(), self.key_args(id))
            }
            KnownVersions::Listed(versions) => {
                let sql = if versions.len() == 1 {
                    st.changed_one.clone()
                } else {
                    finish(st.changed_sql(versions.len()))
                };
                let args = (|| {
                    let mut args = DB::Arguments::default();
                    for v in versions {
                        args.add(v.to_i64().unwrap_or(-1))?;
                    }
                    self.bind_key(&mut args, id)?;
                    Ok(args)
                })();
                (sql, args)
            }
        };
        let now = SystemTime::now();
        let row = sqlx::query_with::<DB, DB::Arguments>(sql, args.map_err(bind_error)?)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(map_error)?
            .ok_or(RepositoryError::NotFound)?;
        let as_of = if st.last_modified.is_some() {
            let micros: i64 = row.try_get("occ_as_of").map_err(map_error)?;
            let read = time_of_micros(micros).unwrap_or(now);
            // A write stamped before this read may commit after it.
            read.checked_sub(COMMIT_MARGIN).unwrap_or(read)
        } else {
            // No `Last-Modified` to round.
            now
        };
        let fetched = match known {
            KnownVersions::Any => {
                let version: i64 = row.try_get(st.version).map_err(map_error)?;
                Fetched::Unchanged {
                    version: stored_version::<M>(version)?,
                    last_modified: self.modified_of(&row)?,
                }
            }
            KnownVersions::Listed(v) if v.is_empty() => {
                Fetched::Changed(M::from_row(&row).map_err(map_error)?)
            }
            KnownVersions::Listed(_) => {
                let current: i64 = row.try_get("occ_current_version").map_err(map_error)?;
                // The joined row is NULL exactly when a known version
                // matched. Whatever the column's integer type.
                if row.try_get_raw(st.version).map_err(map_error)?.is_null() {
                    Fetched::Unchanged {
                        version: stored_version::<M>(current)?,
                        last_modified: self.modified_of(&row)?,
                    }
                } else {
                    Fetched::Changed(M::from_row(&row).map_err(map_error)?)
                }
            }
        };
        Ok(Snapshot { fetched, as_of })
    }

    async fn sql_create(&self, model: M) -> Result<M, RepositoryError<M>> {
        let model = self.scoped_model(model)?;
        let st = &self.statements;
        let version = version_arg(model.version())?;
        let sql = st.insert_sql(true, true);
        let args = (|| {
            let mut args = DB::Arguments::default();
            let pg_tomb = st.tombstones.is_some() && DB::DIALECT == Dialect::Postgres;
            if pg_tomb {
                // The claimed tombstone: its key, and the version.
                self.bind_tomb_scope(&mut args)?;
                M::bind_id(model.id(), &mut args)?;
                args.add(version)?;
            }
            // The version expression: the version alone, or (SQLite,
            // MariaDB/MySQL) the version, the tombstone's key and the
            // version again (see `version_value`).
            let bind_version = |args: &mut DB::Arguments| -> Result<(), BoxDynError> {
                args.add(version)?;
                if st.tombstones.is_some() && !pg_tomb {
                    self.bind_tomb_key(args, model.id())?;
                    args.add(version)?;
                }
                Ok(())
            };
            M::bind_id(model.id(), &mut args)?;
            bind_version(&mut args)?;
            model.bind_data(&mut args)?;
            // Each companion column: the version expression again.
            for _ in st.field_versions.unwrap_or(&[]) {
                bind_version(&mut args)?;
            }
            Ok(args)
        })();
        let created = if DB::DIALECT.has_returning() {
            Self::fetch(&mut *self.conn().await?, AssertSqlSafe(sql.text), args).await?
        } else {
            let args = args.map_err(bind_error)?;
            let mut conn = self.conn().await?;
            let mut tx = sqlx::Connection::begin(&mut *conn)
                .await
                .map_err(map_error)?;
            match sqlx::query_with::<DB, DB::Arguments>(AssertSqlSafe(sql.text), args)
                .execute(&mut *tx)
                .await
            {
                Ok(_) => {
                    let row =
                        Self::fetch(&mut *tx, st.select.clone(), self.key_args(model.id())).await;
                    settle(tx, row).await?
                }
                Err(sqlx::Error::Database(e)) if e.kind() == ErrorKind::UniqueViolation => {
                    settle(tx, Ok::<_, RepositoryError<M>>(())).await.ok();
                    drop(conn);
                    // The primary key (MariaDB names it `'PRIMARY'`, MySQL
                    // `'<table>.PRIMARY'`): the id was taken, even if its
                    // row is deleted before the read below. Another unique
                    // constraint than the key: the client's.
                    if e.message().contains("PRIMARY'") {
                        None
                    } else {
                        match self.get(model.id()).await {
                            Ok(_) => None,
                            Err(RepositoryError::NotFound) => {
                                return Err(map_error(sqlx::Error::Database(e)))
                            }
                            Err(other) => return Err(other),
                        }
                    }
                }
                Err(e) => return settle(tx, Err(map_error(e))).await,
            }
        };
        match created {
            Some(created) => Ok(created),
            None => Err(RepositoryError::AlreadyExists {
                current: self.get(model.id()).await.ok().map(Box::new),
            }),
        }
    }

    async fn sql_create_with_new_id(&self, model: M) -> Result<M, RepositoryError<M>> {
        let model = self.scoped_model(model)?;
        let st = &self.statements;
        let version = version_arg(model.version())?;
        let sql = st.insert_sql(false, false);
        let args = (|| {
            let mut args = DB::Arguments::default();
            args.add(version)?;
            model.bind_data(&mut args)?;
            for _ in st.field_versions.unwrap_or(&[]) {
                args.add(version)?;
            }
            Ok(args)
        })();
        let created = if DB::DIALECT.has_returning() {
            Self::fetch(&mut *self.conn().await?, AssertSqlSafe(sql.text), args).await?
        } else {
            // MySQL: the id the insert got, read back in its transaction.
            let args = args.map_err(bind_error)?;
            let mut conn = self.conn().await?;
            let mut tx = sqlx::Connection::begin(&mut *conn)
                .await
                .map_err(map_error)?;
            let row = async {
                let done = sqlx::query_with::<DB, DB::Arguments>(AssertSqlSafe(sql.text), args)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_error)?;
                let id = DB::last_insert_id(&done)
                    .and_then(M::id_from_assigned)
                    .ok_or_else(|| {
                        RepositoryError::internal(
                            "the database assigned no id the model can hold: is the id column AUTO_INCREMENT?",
                        )
                    })?;
                Self::fetch(&mut *tx, st.select.clone(), self.key_args(&id)).await
            }
            .await;
            settle(tx, row).await?
        };
        created.ok_or_else(|| RepositoryError::internal("the inserted row was not returned"))
    }

    async fn sql_update(
        &self,
        model: M,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        let model = self.scoped_model(model)?;
        let st = &self.statements;
        let condition = self.date_condition(model.id(), condition).await?;
        let dated = st.last_modified.is_some();
        let merging = self.merging_check(&condition, st.data);
        let Some((check, versions)) = merging.clone().or_else(|| check_of(&condition, dated))
        else {
            return Err(self.explain_miss(model.id(), false).await);
        };
        let merging = merging.map(|(_, v)| (v[0], st.data));
        let args = (|| {
            let mut args = DB::Arguments::default();
            model.bind_data(&mut args)?;
            self.bind_key(&mut args, model.id())?;
            for v in &versions {
                args.add(*v)?;
            }
            Ok(args)
        })();
        if check == Check::VersionIn(1) {
            self.write(model.id(), st.update_one.clone(), args, None)
                .await
        } else {
            let sql = st.update_sql(st.data, check);
            self.write(model.id(), AssertSqlSafe(sql.text), args, merging)
                .await
        }
    }

    async fn sql_merge_patch(
        &self,
        id: &M::Id,
        patch: &serde_json::Value,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>>
    where
        M: Serialize + DeserializeOwned,
    {
        self.require_scope()?;
        let serde_json::Value::Object(members) = patch else {
            return super::merge_by_swap(self, id, patch, condition).await;
        };
        let dated = self.statements.last_modified.is_some();
        if matches!(condition, WriteCondition::UnmodifiedSince(_)) && !dated {
            return super::merge_by_swap(self, id, patch, condition).await;
        }
        let mut args = DB::Arguments::default();
        let mut set = Vec::with_capacity(members.len());
        for (member, value) in members {
            match M::bind_member(id, member, value, &mut args) {
                // The scope's column, under whatever member name: checked on
                // the column, never on the name. A declared scope is never
                // written by a patch (the derive ignores its member); a
                // hand-written mapping that binds it is refused.
                MemberBinding::Column(column)
                    if self.scope.as_ref().is_some_and(|state| {
                        // Column names are case-insensitive on MariaDB and SQLite.
                        state.scope.column().eq_ignore_ascii_case(column)
                            && (state.declared || !state.scope.matches_json(value))
                    }) =>
                {
                    return Err(outside_scope());
                }
                MemberBinding::Column(column) => set.push(column),
                MemberBinding::Unchanged => {}
                MemberBinding::Invalid(why) => return Err(RepositoryError::Invalid(why)),
                MemberBinding::Unsupported => {
                    return super::merge_by_swap(self, id, patch, condition).await
                }
                MemberBinding::Failed(e) => return Err(bind_error(e)),
            }
        }
        if set.is_empty() {
            // Nothing to write (only members the server keeps, or the id
            // repeated): the state as it is, if the condition holds, and
            // no new version to refuse other clients' tags.
            return self.unchanged(id, condition).await;
        }
        let merging = self.merging_check(condition, &set);
        let Some((check, versions)) = merging.clone().or_else(|| check_of(condition, dated)) else {
            return Err(self.explain_miss(id, false).await);
        };
        let merging = merging.map(|(_, v)| (v[0], set.as_slice()));
        let bound = (|| {
            self.bind_key(&mut args, id)?;
            for v in &versions {
                args.add(*v)?;
            }
            Ok(args)
        })();
        let sql = self.statements.update_sql(&set, check);
        self.write(id, AssertSqlSafe(sql.text), bound, merging)
            .await
    }

    async fn sql_delete(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        self.require_scope()?;
        let st = &self.statements;
        let condition = self.date_condition(id, condition).await?;
        let Some((check, versions)) = check_of(&condition, st.last_modified.is_some()) else {
            return Err(self.explain_miss(id, true).await);
        };
        let args = (|| {
            let mut args = DB::Arguments::default();
            if st.tombstones.is_some() && DB::DIALECT == Dialect::Postgres {
                // The tombstone's row, locked first (see `delete_sql`).
                self.bind_tomb_key(&mut args, id)?;
            }
            self.bind_key(&mut args, id)?;
            for v in &versions {
                args.add(*v)?;
            }
            Ok(args)
        })();
        let sql = if check == Check::VersionIn(1) {
            st.delete_one.clone()
        } else {
            finish(st.delete_sql(check))
        };
        let deleted = if let (Some(tomb), Dialect::Sqlite) = (st.tombstones, DB::DIALECT) {
            // SQLite: the delete and its tombstone in one transaction.
            let mut conn = self.conn().await?;
            let mut tx = sqlx::Connection::begin(&mut *conn)
                .await
                .map_err(map_error)?;
            let deleted = async {
                let deleted = Self::fetch(&mut *tx, sql, args).await?;
                if let Some(deleted) = &deleted {
                    self.record_tombstone(&mut tx, tomb, deleted).await?;
                }
                Ok(deleted)
            }
            .await;
            settle(tx, deleted).await?
        } else if DB::DIALECT.has_returning() {
            Self::fetch(&mut *self.conn().await?, sql, args).await?
        } else {
            // MySQL: lock the row if it meets the condition, then delete it,
            // in one transaction.
            let mut conn = self.conn().await?;
            let mut tx = sqlx::Connection::begin(&mut *conn)
                .await
                .map_err(map_error)?;
            let locked = async {
                if let Some(tomb) = st.tombstones {
                    // The tombstone's row first, in the order a create (whose
                    // subquery reads it with a shared lock) takes them, so that
                    // the two do not deadlock where the tombstone exists.
                    let mut lock = st.sql();
                    lock.push("SELECT ")
                        .ident("version")
                        .push(" FROM ")
                        .ident(tomb)
                        .push(" WHERE ");
                    st.tomb_key(&mut lock, None);
                    lock.push(" FOR UPDATE");
                    let mut args = DB::Arguments::default();
                    self.bind_tomb_key(&mut args, id).map_err(bind_error)?;
                    sqlx::query_with::<DB, DB::Arguments>(AssertSqlSafe(lock.text), args)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(map_error)?;
                }
                let locked = Self::fetch(&mut *tx, sql, args).await?;
                if locked.is_some() {
                    let mut delete = st.sql();
                    delete.push("DELETE FROM ").ident(st.table).push(" WHERE ");
                    st.key(&mut delete, None);
                    let args = self.key_args(id).map_err(bind_error)?;
                    sqlx::query_with::<DB, DB::Arguments>(AssertSqlSafe(delete.text), args)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_error)?;
                }
                if let (Some(tomb), Some(deleted)) = (st.tombstones, &locked) {
                    self.record_tombstone(&mut tx, tomb, deleted).await?;
                }
                Ok(locked)
            }
            .await;
            settle(tx, locked).await?
        };
        match deleted {
            Some(deleted) => Ok(deleted),
            None => Err(self.explain_miss(id, true).await),
        }
    }

    async fn sql_list(
        &self,
        after: Option<&M::Id>,
        limit: u32,
    ) -> Result<Page<M>, RepositoryError<M>> {
        self.require_scope()?;
        let st = &self.statements;
        let (sql, args) = match after {
            None => (st.list_first.clone(), Ok(DB::Arguments::default())),
            Some(_) => (st.list_after.clone(), Ok(DB::Arguments::default())),
        };
        let args = args
            .and_then(|mut args: DB::Arguments| {
                self.bind_scope(&mut args)?;
                if let Some(after) = after {
                    M::bind_id(after, &mut args)?;
                }
                args.add(i64::from(limit))?;
                Ok(args)
            })
            .map_err(bind_error)?;
        let rows = sqlx::query_with::<DB, DB::Arguments>(sql, args)
            .fetch_all(&mut *self.conn().await?)
            .await
            .map_err(map_error)?;
        let full = limit > 0 && rows.len() == usize::try_from(limit).unwrap_or(usize::MAX);
        // A row the model cannot read (written outside occ, or by a type
        // that changed) is left out and logged: it makes its own GET a
        // 500, not every list of its scope.
        let mut items = Vec::with_capacity(rows.len());
        for (position, row) in rows.iter().enumerate() {
            match M::from_row(row) {
                Ok(item) => items.push(item),
                Err(error) => tracing::error!(
                    %error,
                    table = st.table,
                    position,
                    "a listed row cannot be read as the model and is left out of the page"
                ),
            }
        }
        let next_after = if full {
            items.last().map(|m| m.id().clone())
        } else {
            None
        };
        Ok(Page { items, next_after })
    }
}

#[async_trait]
impl<DB, M> Repository<M> for SqlRepository<DB, M>
where
    DB: Backend,
    M: SqlModel<DB>,
    M::Id: Clone + Send + Sync,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i64: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    Vec<u8>: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
{
    fn keeps_idempotency_keys(&self) -> bool {
        self.keys.is_some()
    }

    async fn claim_key(
        &self,
        key: &IdempotencyKey,
        namespace: &str,
        fingerprint: &Fingerprint,
    ) -> Result<Claim<'_, M>, RepositoryError<M>> {
        match &self.keys {
            Some(keys) => self.claim_in(keys, key, namespace, fingerprint).await,
            None => Err(RepositoryError::internal(
                "this repository keeps no idempotency keys: see `with_idempotency_keys`",
            )),
        }
    }

    async fn get(&self, id: &M::Id) -> Result<M, RepositoryError<M>> {
        self.recover(self.sql_get(id).await).await
    }

    async fn get_unless(
        &self,
        id: &M::Id,
        known: &KnownVersions<M::Version>,
    ) -> Result<Fetched<M>, RepositoryError<M>> {
        self.recover(self.sql_read(id, known).await)
            .await
            .map(|snapshot| snapshot.fetched)
    }

    async fn read(
        &self,
        id: &M::Id,
        known: &KnownVersions<M::Version>,
    ) -> Result<Snapshot<M>, RepositoryError<M>> {
        self.recover(self.sql_read(id, known).await).await
    }

    async fn create(&self, model: M) -> Result<M, RepositoryError<M>> {
        self.recover(self.sql_create(model).await)
            .await
            .map(|created| stamped(self.held.as_ref(), created))
    }

    async fn create_with_new_id(&self, model: M) -> Result<M, RepositoryError<M>> {
        self.recover(self.sql_create_with_new_id(model).await)
            .await
            .map(|created| stamped(self.held.as_ref(), created))
    }

    async fn update(
        &self,
        model: M,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        self.recover(self.sql_update(model, condition).await).await
    }

    async fn merge_patch(
        &self,
        id: &M::Id,
        patch: &serde_json::Value,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>>
    where
        M: Serialize + DeserializeOwned,
    {
        self.recover(self.sql_merge_patch(id, patch, condition).await)
            .await
    }

    async fn delete(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        self.recover(self.sql_delete(id, condition).await).await
    }

    async fn list(&self, after: Option<&M::Id>, limit: u32) -> Result<Page<M>, RepositoryError<M>> {
        self.recover(self.sql_list(after, limit).await).await
    }

    fn scoped<'a>(
        &'a self,
        scope: &Scope,
    ) -> Result<Box<dyn Repository<M> + 'a>, RepositoryError<M>>
    where
        M: Serialize,
    {
        let (scope, declared) = match M::SCOPE_COLUMN {
            Some(column) => {
                let value = super::scope::declared_value::<M>(column, scope)?;
                (Scope::new(column, value), true)
            }
            None => (scope.clone(), false),
        };
        let column = scope.column();
        let statements = match (&self.scope, self.scoped.get()) {
            (Some(state), _) => {
                // A view is never scoped again to anything else: it would
                // widen, or move to another tenant.
                super::scope::same_scope(&state.scope, &scope)?;
                self.statements.clone()
            }
            (None, Some(cached))
                if cached.scope.as_ref().map(|s| s.name.as_str()) == Some(column) =>
            {
                cached.clone()
            }
            _ => {
                let built = Arc::new(Statements::new::<DB, M>(Some(column.to_owned())));
                // The first scope column asked for is kept; others are rare.
                let _ = self.scoped.set(built.clone());
                built
            }
        };
        Ok(Box::new(Self {
            pool: self.pool.clone(),
            held: self.held.clone(),
            keys: self.keys.clone(),
            statements,
            scope: Some(ScopeState {
                scope,
                declared,
                contains: Scope::contains::<M>,
            }),
            scoped: OnceLock::new(),
            _model: PhantomData,
        }))
    }
}

fn stored_version<M: Versioned>(stored: i64) -> Result<M::Version, RepositoryError<M>> {
    M::Version::from_i64(stored).ok_or_else(|| {
        RepositoryError::internal(format!(
            "the stored version {stored} does not fit the model's version type"
        ))
    })
}

fn bind_error<M>(error: BoxDynError) -> RepositoryError<M> {
    tracing::error!(error = %error, "a value could not be encoded for the database");
    RepositoryError::Internal(error)
}

/// Ends a transaction of the repository's own: committed when `result` is
/// `Ok`, rolled back at once otherwise. A dropped transaction is rolled
/// back only when its connection is next used, and until then the idle
/// connection would hold the row locks of its failed statement (MariaDB
/// keeps them), making the next writer of the row wait.
async fn settle<DB: sqlx::Database, T, M>(
    tx: sqlx::Transaction<'_, DB>,
    result: Result<T, RepositoryError<M>>,
) -> Result<T, RepositoryError<M>> {
    match result {
        Ok(value) => {
            tx.commit().await.map_err(map_error)?;
            Ok(value)
        }
        Err(error) => {
            if let Err(e) = tx.rollback().await {
                tracing::warn!(error = %e, "a failed write's transaction did not roll back cleanly");
            }
            Err(error)
        }
    }
}

/// Maps a sqlx error: a constraint violation is the client's (422); a lost
/// connection, a busy database or a serialization failure is transient
/// (503); anything else (a missing column, a wrong type) is a mistake in
/// the schema or the model (500). Details go to the log, never to clients.
/// What a client is told of a value its column cannot hold, by SQLSTATE
/// (the database's own text stays in the log).
fn data_error_text(code: Option<&str>) -> &'static str {
    match code {
        Some("22001") => "a text value is longer than its column allows",
        Some("22003") => "a number is outside the range its column can store",
        Some("22021" | "22P05") => {
            "a text value contains a character the database cannot store (such as NUL)"
        }
        Some("22007" | "22008") => {
            "a value does not fit its column (a date out of range, or text the column's character set cannot hold)"
        }
        _ => "a value cannot be stored in its column",
    }
}

fn map_error<M>(error: sqlx::Error) -> RepositoryError<M> {
    match &error {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation
            | ErrorKind::ForeignKeyViolation
            | ErrorKind::NotNullViolation
            | ErrorKind::CheckViolation
            | ErrorKind::ExclusionViolation => {
                tracing::debug!(error = %db, "data refused: a constraint of the table");
                RepositoryError::Invalid("the resource violates a storage constraint".into())
            }
            // A value the column cannot hold (SQLSTATE class 22: too long,
            // out of range, a character the encoding refuses, a bad date):
            // the statement failed, nothing was written, and the value was
            // the client's.
            _ if db.code().is_some_and(|c| c.starts_with("22")) => {
                tracing::debug!(error = %db, "a value the database cannot store");
                RepositoryError::Invalid(data_error_text(db.code().as_deref()).into())
            }
            // Prepared statements sqlx made are gone or doubled: a pooler
            // shares one server session between connections.
            _ if db.code().is_some_and(|c| matches!(&*c, "42P05" | "26000")) => {
                tracing::error!(
                    error = %db,
                    "a prepared statement was lost: is PostgreSQL behind a pooler in \
                     transaction or statement mode? use pool_mode = session (see \
                     refuse_session_sharing_pooler)"
                );
                RepositoryError::internal(error)
            }
            _ if is_transient(&**db) => {
                tracing::warn!(error = %db, "transient error: the database asks for a retry");
                RepositoryError::unavailable(error)
            }
            // Class 42: a name or a type the statement uses is not in the
            // database (a column missing, a type that differs).
            _ if db.code().is_some_and(|c| c.starts_with("42")) => {
                tracing::error!(
                    error = %db,
                    "schema error: the table does not match the model (SqlRepository::verify says where)"
                );
                RepositoryError::internal(error)
            }
            _ => {
                tracing::error!(error = %db, "database error");
                RepositoryError::internal(error)
            }
        },
        sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::Encode(_) => {
            tracing::error!(
                error = %error,
                "data error: a stored value does not decode into the model's type \
                 (written outside occ, or a column type the field cannot read)"
            );
            RepositoryError::internal(error)
        }
        _ => {
            tracing::warn!(error = %error, "the database cannot be reached");
            RepositoryError::unavailable(error)
        }
    }
}

/// Errors worth a retry: SQLite busy or locked; SQLSTATE classes 08
/// (connection), 40 (serialization failure, deadlock), 53 (resources) and
/// 57 (operator intervention); MySQL's lock wait timeout.
fn is_transient(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    // A SQLSTATE is five characters, some of them all digits (MariaDB's
    // deadlock is `40001`); SQLite's codes are shorter numbers.
    if code.len() != 5 {
        if let Ok(sqlite) = code.parse::<u32>() {
            // SQLite extended codes keep the primary code in the low byte.
            return matches!(sqlite & 0xff, 5 | 6);
        }
    }
    ["08", "40", "53", "57"]
        .iter()
        .any(|class| code.starts_with(class))
        || db.message().contains("Lock wait timeout")
}

fn outside_scope<M>() -> RepositoryError<M> {
    RepositoryError::Invalid("the resource would be outside the caller's scope".into())
}

fn version_arg<M: Versioned>(version: M::Version) -> Result<i64, RepositoryError<M>> {
    version
        .to_i64()
        .ok_or_else(|| RepositoryError::Invalid(format!("version {version} does not fit in i64")))
}

/// Opens a SQLite pool for concurrent writers: WAL journal, `synchronous =
/// NORMAL`, a 10 s busy timeout, and the file created when missing.
///
/// `url` is a sqlx SQLite URL: `sqlite://profiles.db`, `sqlite::memory:`.
/// An in-memory database lives in one connection, so the pool gets one.
#[cfg(feature = "sqlite")]
pub async fn sqlite_pool(url: &str) -> Result<sqlx::SqlitePool, sqlx::Error> {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    use std::str::FromStr;

    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10));
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let max = if in_memory { 1 } else { 8 };
    // Switching a new file to WAL takes an exclusive lock that the busy
    // timeout does not wait for: servers starting together on one new file
    // can see SQLITE_BUSY once. It is transient; try again.
    let open = || {
        SqlitePoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
    };
    let mut delay = Duration::from_millis(5);
    for _ in 0..20 {
        match open().await {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("5") => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(500));
            }
            other => return other,
        }
    }
    open().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_microseconds() {
        let at = |micros: i64| time_of_micros(micros).unwrap();
        for micros in [0, 1, 999_999, 1_700_000_000_123_456, -1, -1_500_000] {
            assert_eq!(micros_since_epoch(at(micros)), micros);
        }
    }

    #[test]
    fn microseconds_are_rounded_down() {
        let epoch = SystemTime::UNIX_EPOCH;
        let after = epoch + Duration::from_nanos(1_999);
        assert_eq!(micros_since_epoch(after), 1);
        let before = epoch - Duration::from_nanos(1_001);
        assert_eq!(micros_since_epoch(before), -2);
        assert_eq!(micros_since_epoch(epoch - Duration::from_micros(3)), -3);
    }
}
