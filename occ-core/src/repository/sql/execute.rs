//! How a statement runs on each database: its values bound, the statement
//! executed, its columns read. sqlx states what a database encodes,
//! decodes and executes as bounds on that database's concrete types;
//! implemented here once per database, where those bounds hold, the
//! repository's code asks for no more than `DB: Backend`.

use std::future::Future;

use sqlx::error::BoxDynError;
use sqlx::{Database, SqlStr};

/// Statements run on one database. A supertrait of
/// [`Backend`](super::Backend) that no other crate can name, so that it is
/// implemented for occ's databases only.
pub trait Execute: Database {
    /// Binds an integer (`BIGINT`).
    fn bind_int(args: &mut Self::Arguments, value: i64) -> Result<(), BoxDynError>;

    /// Binds a text.
    fn bind_text(args: &mut Self::Arguments, value: String) -> Result<(), BoxDynError>;

    /// Binds a byte string.
    fn bind_bytes(args: &mut Self::Arguments, value: Vec<u8>) -> Result<(), BoxDynError>;

    /// Runs `sql` on `conn`: what it touched.
    fn execute(
        conn: &mut Self::Connection,
        sql: SqlStr,
        args: Self::Arguments,
    ) -> impl Future<Output = Result<Self::QueryResult, sqlx::Error>> + Send + '_;

    /// Runs `sql` on `conn`: its first row, if any.
    fn fetch_optional(
        conn: &mut Self::Connection,
        sql: SqlStr,
        args: Self::Arguments,
    ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send + '_;

    /// Runs `sql` on `conn`: every row.
    fn fetch_all(
        conn: &mut Self::Connection,
        sql: SqlStr,
        args: Self::Arguments,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + '_;

    /// Prepares `sql` on `conn`: the statement, which describes its
    /// columns.
    fn prepare(
        conn: &mut Self::Connection,
        sql: SqlStr,
    ) -> impl Future<Output = Result<Self::Statement, sqlx::Error>> + Send + '_;

    /// An integer column.
    fn int(row: &Self::Row, column: &str) -> Result<i64, sqlx::Error>;

    /// An integer column that may be `NULL`.
    fn int_or_null(row: &Self::Row, column: &str) -> Result<Option<i64>, sqlx::Error>;

    /// A text column.
    fn text(row: &Self::Row, column: &str) -> Result<String, sqlx::Error>;

    /// A text column that may be `NULL`.
    fn text_or_null(row: &Self::Row, column: &str) -> Result<Option<String>, sqlx::Error>;

    /// A byte-string column that may be `NULL`.
    fn bytes_or_null(row: &Self::Row, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;

    /// Whether a column of any type is `NULL`.
    fn is_null(row: &Self::Row, column: &str) -> Result<bool, sqlx::Error>;
}

macro_rules! execute {
    ($($feature:literal, $db:ty;)*) => {$(
        #[cfg(feature = $feature)]
        impl Execute for $db {
            fn bind_int(args: &mut Self::Arguments, value: i64) -> Result<(), BoxDynError> {
                sqlx::Arguments::add(args, value)
            }

            fn bind_text(args: &mut Self::Arguments, value: String) -> Result<(), BoxDynError> {
                sqlx::Arguments::add(args, value)
            }

            fn bind_bytes(args: &mut Self::Arguments, value: Vec<u8>) -> Result<(), BoxDynError> {
                sqlx::Arguments::add(args, value)
            }

            fn execute(
                conn: &mut Self::Connection,
                sql: SqlStr,
                args: Self::Arguments,
            ) -> impl Future<Output = Result<Self::QueryResult, sqlx::Error>> + Send + '_ {
                sqlx::Executor::execute(conn, sqlx::query_with(sql, args))
            }

            fn fetch_optional(
                conn: &mut Self::Connection,
                sql: SqlStr,
                args: Self::Arguments,
            ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send + '_ {
                sqlx::Executor::fetch_optional(conn, sqlx::query_with(sql, args))
            }

            fn fetch_all(
                conn: &mut Self::Connection,
                sql: SqlStr,
                args: Self::Arguments,
            ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send + '_ {
                sqlx::Executor::fetch_all(conn, sqlx::query_with(sql, args))
            }

            fn prepare(
                conn: &mut Self::Connection,
                sql: SqlStr,
            ) -> impl Future<Output = Result<Self::Statement, sqlx::Error>> + Send + '_ {
                sqlx::Executor::prepare(conn, sql)
            }

            fn int(row: &Self::Row, column: &str) -> Result<i64, sqlx::Error> {
                sqlx::Row::try_get(row, column)
            }

            fn int_or_null(row: &Self::Row, column: &str) -> Result<Option<i64>, sqlx::Error> {
                sqlx::Row::try_get(row, column)
            }

            fn text(row: &Self::Row, column: &str) -> Result<String, sqlx::Error> {
                sqlx::Row::try_get(row, column)
            }

            fn text_or_null(row: &Self::Row, column: &str) -> Result<Option<String>, sqlx::Error> {
                sqlx::Row::try_get(row, column)
            }

            fn bytes_or_null(
                row: &Self::Row,
                column: &str,
            ) -> Result<Option<Vec<u8>>, sqlx::Error> {
                sqlx::Row::try_get(row, column)
            }

            fn is_null(row: &Self::Row, column: &str) -> Result<bool, sqlx::Error> {
                use sqlx::ValueRef as _;
                Ok(sqlx::Row::try_get_raw(row, column)?.is_null())
            }
        }
    )*};
}

execute!(
    "sqlite", sqlx::Sqlite;
    "postgres", sqlx::Postgres;
    "mysql", sqlx::MySql;
);
