//! How a model maps to a table: [`SqlModel`] and what its methods say of
//! a column.

use sqlx::error::BoxDynError;
use sqlx::FromRow;

use super::dialect::Backend;

use crate::repository::ScopeValue;
use crate::versioned::Versioned;

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
    /// ([`Repository::create`](crate::repository::Repository::create)) takes the larger of the version given and
    /// the tombstone's plus one, in its one statement. On PostgreSQL that
    /// create also claims the id's row in the tombstone table (inserting
    /// the version before its own when there is none), so that it waits
    /// for a concurrent delete and reads the version that delete recorded:
    /// there the table holds a row for every id created with a client's
    /// id, not only deleted ones. Ids the database assigns
    /// ([`Repository::create_with_new_id`](crate::repository::Repository::create_with_new_id)) rely on the database never
    /// giving an id twice: an identity column, `AUTO_INCREMENT`, or SQLite's
    /// `INTEGER PRIMARY KEY AUTOINCREMENT`.
    const TOMBSTONE_TABLE: Option<&'static str> = None;
    /// Merging (`#[occ(table = "…", merge)]`, design decision 16): for
    /// each of [`DATA_COLUMNS`](SqlModel::DATA_COLUMNS), in that order, a
    /// companion column (`BIGINT NOT NULL DEFAULT 0`) holding the version
    /// that last wrote it. Every write keeps them, and
    /// [`WriteCondition::UnchangedSince`](crate::repository::WriteCondition::UnchangedSince) compares the written columns'
    /// companions in the `UPDATE`'s `WHERE` clause. `None` (the default):
    /// `UnchangedSince` is strict (`VersionIn`). A list whose length
    /// differs from `DATA_COLUMNS`' is refused by
    /// [`verify`](super::SqlRepository::verify) (and is strict too).
    const FIELD_VERSION_COLUMNS: Option<&'static [&'static str]> = None;
    /// The JSON member name of each of [`DATA_COLUMNS`](SqlModel::DATA_COLUMNS),
    /// in that order, to name conflicts ([`RepositoryError::MergeConflict`](crate::repository::RepositoryError::MergeConflict)).
    /// Empty (the default): the column names. Another length than
    /// `DATA_COLUMNS`' is refused by [`verify`](super::SqlRepository::verify).
    const DATA_MEMBERS: &'static [&'static str] = &[];

    /// Binds the id.
    fn bind_id(id: &Self::Id, args: &mut DB::Arguments) -> Result<(), BoxDynError>;

    /// Binds the data columns, in the order of `DATA_COLUMNS`.
    fn bind_data(&self, args: &mut DB::Arguments) -> Result<(), BoxDynError>;

    /// Whether the field read from `column` decodes from a column of type
    /// `column_type` (by sqlx's own rule, `Type::compatible`), with the
    /// field's Rust type for the message; `None` for a column it does not
    /// know. [`SqlRepository::verify`](super::repository::SqlRepository::verify) asks it of the id and every data
    /// column, so that a column of the wrong type fails at startup, not on
    /// the first request. The derive implements it; the default knows no
    /// column.
    fn column_type(column: &str, column_type: &DB::TypeInfo) -> Option<ColumnFit> {
        let _ = (column, column_type);
        None
    }

    /// The type the field read from `column` declares for `DB` (sqlx's
    /// `Type::type_info`), with its Rust type: what [`create_table`](super::schema::create_table) writes
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
        DB: Backend,
    {
        match value {
            ScopeValue::Int(i) => DB::bind_int(args, *i),
            ScopeValue::Text(t) => DB::bind_text(args, t.clone()),
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
