//! Checking at startup that a table fits its model:
//! [`SqlRepository::verify`] and the [`SchemaError`] it finds.

use std::fmt;

use sqlx::SqlStr;

use super::dialect::{Backend, Dialect};
use super::key_table;
use super::model::{ColumnFit, SqlModel};
use super::repository::SqlRepository;
use super::statements::finish;

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
    /// A list of the model's that pairs with `DATA_COLUMNS` by position
    /// (named) has another length.
    Unpaired {
        list: &'static str,
        len: usize,
        columns: usize,
    },
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
            (SchemaProblem::Unpaired { list, len, columns }, _) => write!(
                f,
                "the model of table `{table}` has {len} `SqlModel::{list}` for its {columns} \
                 `DATA_COLUMNS`: it needs one for each, in their order (the derive writes both \
                 lists; a hand-written `SqlModel` must keep them paired)"
            ),
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
            | SchemaProblem::TextUuid { .. }
            | SchemaProblem::Unpaired { .. } => None,
        }
    }
}

impl<DB, M> SqlRepository<DB, M>
where
    DB: Backend,
    M: SqlModel<DB>,
{
    /// Checks that the table exists and has every column of the model, one
    /// column at a time so that the error names the one that is missing,
    /// and that a declared scope's column (in the table and its tombstone
    /// table) compares values byte for byte: a case- or accent-insensitive
    /// or space-padding collation (MariaDB's defaults; a nondeterministic
    /// one on PostgreSQL) would let `ACME` and `acme` share keys. Call it
    /// at startup: a wrong schema then fails there, not on the first
    /// request. On MariaDB/MySQL it also reads which of the two the server
    /// is (only MariaDB can return a deleted row), which the first delete
    /// would read otherwise.
    pub async fn verify(&self) -> Result<(), SchemaError> {
        // What the server can do beyond its dialect (MariaDB's `DELETE …
        // RETURNING`), read now rather than by the first delete; a failure
        // here is found again by that delete.
        if DB::DIALECT == Dialect::MySql {
            if let Ok(mut conn) = self.pool.acquire().await {
                let _ = self.server.deletes_returning::<DB>(&mut conn).await;
            }
        }
        Self::verify_pairs()?;
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

    /// The model's lists that pair with its data columns by position have
    /// one entry for each: unpaired, merging would fall back to strict
    /// versions and conflicts would be named by column, without a word.
    fn verify_pairs() -> Result<(), SchemaError> {
        let columns = M::DATA_COLUMNS.len();
        let lists = [
            (
                "FIELD_VERSION_COLUMNS",
                M::FIELD_VERSION_COLUMNS.map(<[_]>::len),
            ),
            // Empty: the column names are the members.
            (
                "DATA_MEMBERS",
                Some(M::DATA_MEMBERS.len()).filter(|&n| n > 0),
            ),
        ];
        for (list, len) in lists {
            if let Some(len) = len.filter(|&len| len != columns) {
                return Err(SchemaError {
                    table: M::TABLE.to_owned(),
                    column: None,
                    problem: SchemaProblem::Unpaired { list, len, columns },
                });
            }
        }
        Ok(())
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
            self.verify_table(&keys.table, &key_table::COLUMNS).await?;
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
            finish(sql)
        };
        let read = |sql: SqlStr| async move {
            let mut conn = self.pool.acquire().await?;
            DB::fetch_optional(&mut conn, sql, DB::Arguments::default())
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
        let prepared = match self.pool.acquire().await {
            Ok(mut conn) => DB::prepare(&mut conn, finish(sql)).await,
            Err(e) => Err(e),
        };
        let prepared = match prepared {
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
        let found = self
            .catalog(
                "SELECT DATA_TYPE AS occ_type FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?",
                table,
                column,
                "occ_type",
            )
            .await
            .ok()
            .flatten();
        match found {
            Some(sql_type) if sql_type.eq_ignore_ascii_case("uuid") => Err(SchemaError {
                table: table.to_owned(),
                column: Some(column),
                problem: SchemaProblem::TextUuid { rust_type },
            }),
            _ => Ok(()),
        }
    }

    /// The text column `returned` of a catalog query about `table.column`
    /// (bound in that order).
    async fn catalog(
        &self,
        sql: &'static str,
        table: &str,
        column: &str,
        returned: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let mut args = DB::Arguments::default();
        DB::bind_text(&mut args, table.to_owned()).map_err(sqlx::Error::Encode)?;
        DB::bind_text(&mut args, column.to_owned()).map_err(sqlx::Error::Encode)?;
        let mut conn = self.pool.acquire().await?;
        let row = DB::fetch_optional(&mut conn, SqlStr::from_static(sql), args).await?;
        row.map(|row| DB::text(&row, returned)).transpose()
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
        let found = self.catalog(sql, table, column, "occ_collation").await;
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
