//! What differs between the SQL databases: quoting, placeholders, and
//! whether an `UPDATE` can return the row it wrote.

use std::fmt::Write as _;
use std::sync::OnceLock;

use sqlx::Database;

use super::execute::Execute;

/// The SQL dialect of a [`Backend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// SQLite 3.35 or later (`RETURNING`, numbered `?N` placeholders).
    Sqlite,
    /// PostgreSQL (`RETURNING`, `$N` placeholders).
    Postgres,
    /// MariaDB or MySQL: backquoted identifiers, `?` placeholders, and no
    /// `UPDATE … RETURNING`, so a write and the read of its result share
    /// one transaction instead of one statement (a delete on MariaDB,
    /// which has `DELETE … RETURNING`, is one statement).
    MySql,
}

impl Dialect {
    /// Whether `UPDATE` and `DELETE` can return the rows they touched on
    /// every server of the dialect (MariaDB's `DELETE … RETURNING`, which
    /// MySQL lacks, is found per server).
    pub fn has_returning(self) -> bool {
        !matches!(self, Self::MySql)
    }

    /// The `n`th placeholder of a statement (from 1): `$n` on PostgreSQL,
    /// `?n` on SQLite, `?` on MariaDB/MySQL, where values bind in order.
    ///
    /// ```
    /// use occ_core::repository::sql::Dialect;
    ///
    /// assert_eq!(Dialect::Postgres.placeholder(2), "$2");
    /// assert_eq!(Dialect::MySql.placeholder(2), "?");
    /// ```
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Self::Sqlite => format!("?{n}"),
            Self::Postgres => format!("${n}"),
            Self::MySql => "?".to_owned(),
        }
    }

    /// SQLite takes a double-quoted name that matches no column for a
    /// string literal, so a missing column would read as its own name:
    /// backquotes are identifiers only, there as on MySQL.
    fn quote_char(self) -> char {
        match self {
            Self::MySql | Self::Sqlite => '`',
            Self::Postgres => '"',
        }
    }
}

/// A sqlx database that [`SqlRepository`](super::SqlRepository) can run on.
///
/// Implemented for `sqlx::Sqlite`, `sqlx::Postgres` and `sqlx::MySql`
/// behind the features of the same names, and for no other type: it owns
/// how occ's statements run on each, so that code generic over it that
/// uses occ's repository needs no other bound (`DB: Backend` is the whole
/// where-clause; running sqlx queries of its own still takes sqlx's).
pub trait Backend: Database + Execute {
    /// Its SQL dialect.
    const DIALECT: Dialect;

    /// How many rows a statement touched (sqlx has it per database, not
    /// on its `Database` trait).
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// The id an `INSERT` got from an autoincrement column, where the
    /// database has no `RETURNING` to give the row.
    fn last_insert_id(result: &Self::QueryResult) -> Option<i64> {
        let _ = result;
        None
    }
}

macro_rules! backend {
    ($($feature:literal, $db:ty, $dialect:expr;)*) => {$(
        #[cfg(feature = $feature)]
        #[cfg_attr(docsrs, doc(cfg(feature = $feature)))]
        impl Backend for $db {
            const DIALECT: Dialect = $dialect;

            fn rows_affected(result: &Self::QueryResult) -> u64 {
                result.rows_affected()
            }
        }
    )*};
}

backend!(
    "sqlite", sqlx::Sqlite, Dialect::Sqlite;
    "postgres", sqlx::Postgres, Dialect::Postgres;
);

#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
impl Backend for sqlx::MySql {
    const DIALECT: Dialect = Dialect::MySql;

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn last_insert_id(result: &Self::QueryResult) -> Option<i64> {
        i64::try_from(result.last_insert_id()).ok()
    }
}

/// What the server behind a repository's pool can do beyond its
/// dialect. MariaDB and MySQL share sqlx's driver and the dialect, and
/// only MariaDB has `DELETE … RETURNING`: read once from `VERSION()`, by
/// the first delete or by `verify`, and shared by the repository's views.
#[derive(Debug, Default)]
pub(super) struct Server {
    mariadb: OnceLock<bool>,
}

impl Server {
    /// Takes the server for MySQL, whatever it is.
    pub(super) fn assume_mysql(&self) {
        let _ = self.mariadb.set(false);
    }

    /// Whether a `DELETE` on `conn` can return the row it deleted.
    pub(super) async fn deletes_returning<DB: Backend>(
        &self,
        conn: &mut DB::Connection,
    ) -> Result<bool, sqlx::Error> {
        if DB::DIALECT != Dialect::MySql {
            return Ok(DB::DIALECT.has_returning());
        }
        if let Some(mariadb) = self.mariadb.get() {
            return Ok(*mariadb);
        }
        let sql = sqlx::SqlStr::from_static("SELECT VERSION() AS occ_version");
        let row = DB::fetch_optional(conn, sql, DB::Arguments::default())
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        let version = DB::text(&row, "occ_version")?;
        Ok(*self.mariadb.get_or_init(|| version.contains("MariaDB")))
    }
}

/// A statement kept for every request: shared, so that each request's
/// copy costs a reference count, not the text (sqlx copies an owned text
/// into a new shared one on every clone).
pub(super) fn kept(text: String) -> sqlx::SqlStr {
    sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(std::sync::Arc::<str>::from(text)))
}

/// An SQL text under construction. Placeholders are numbered in the order
/// they appear, so values are bound in text order on every dialect (MySQL's
/// `?` is positional).
#[derive(Debug, Clone)]
pub(crate) struct SqlText {
    pub(crate) text: String,
    params: usize,
    dialect: Dialect,
}

impl SqlText {
    pub(crate) fn new(dialect: Dialect) -> Self {
        Self {
            text: String::with_capacity(128),
            params: 0,
            dialect,
        }
    }

    /// Numbers the placeholders after `n` others, of a statement this text
    /// goes into.
    pub(crate) fn after_params(mut self, n: usize) -> Self {
        self.params = n;
        self
    }

    /// Appends SQL as is.
    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Appends a quoted identifier (inner quotes doubled), so keywords are
    /// safe as column names.
    pub(crate) fn ident(&mut self, name: &str) -> &mut Self {
        let q = self.dialect.quote_char();
        self.text.push(q);
        for c in name.chars() {
            if c == q {
                self.text.push(q);
            }
            self.text.push(c);
        }
        self.text.push(q);
        self
    }

    /// Appends `alias.ident`.
    pub(crate) fn qualified(&mut self, alias: &str, name: &str) -> &mut Self {
        self.push(alias).push(".").ident(name)
    }

    /// Appends the next placeholder.
    pub(crate) fn param(&mut self) -> &mut Self {
        self.params += 1;
        match self.dialect {
            Dialect::Sqlite => {
                let _ = write!(self.text, "?{}", self.params);
            }
            Dialect::Postgres => {
                let _ = write!(self.text, "${}", self.params);
            }
            Dialect::MySql => self.text.push('?'),
        }
        self
    }

    /// Appends the database's clock, at the finest precision it keeps
    /// (a modification time is set from it inside the write).
    pub(crate) fn clock(&mut self) -> &mut Self {
        self.push(match self.dialect {
            // Text that sorts as it reads, in the format sqlx decodes.
            Dialect::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            // The time of the write itself, not of its transaction's start.
            Dialect::Postgres => "clock_timestamp()",
            Dialect::MySql => "SYSDATE(6)",
        })
    }

    /// Appends the time the statement began, on the database's clock, as
    /// whole microseconds since the epoch (a `BIGINT`): a read's own time,
    /// taken before the snapshot it reads, so every write it does not
    /// include commits after it.
    pub(crate) fn statement_time(&mut self) -> &mut Self {
        self.push(match self.dialect {
            // 'now' is fixed for the whole statement; milliseconds, as the
            // times SQLite's writes keep.
            Dialect::Sqlite => {
                "(CAST(round((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) * 1000)"
            }
            Dialect::Postgres => {
                "CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000000 AS BIGINT)"
            }
            // NOW(6) is the statement's start (SYSDATE(6), the write's clock,
            // is the moment it is evaluated).
            Dialect::MySql => "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', NOW(6))",
        })
    }

    /// `column`: the database's clock, or the smallest step after the
    /// stored time when the clock has not passed it (two writes within
    /// the clock's resolution, or a clock set back). So the times of one
    /// row only grow, which a date-conditioned write relies on: a write
    /// that the client has not seen is always later than the time it saw.
    /// A `NULL` time is passed by the clock.
    pub(crate) fn clock_after(&mut self, column: &str) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => {
                // `max` of text: the format sorts as time does; `''` is
                // below every time, and stands in for `NULL`, which `max`
                // would return.
                self.push("max(")
                    .clock()
                    .push(", coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', ");
                self.ident(column).push(", '+0.001 seconds'), ''))")
            }
            // `GREATEST` ignores `NULL` on PostgreSQL.
            Dialect::Postgres => {
                self.push("GREATEST(").clock().push(", ");
                self.ident(column).push(" + INTERVAL '1 microsecond')")
            }
            // MariaDB/MySQL: `GREATEST` of a `NULL` is `NULL`.
            Dialect::MySql => {
                self.push("GREATEST(").clock().push(", COALESCE(");
                self.ident(column)
                    .push(" + INTERVAL 1 MICROSECOND, ")
                    .clock()
                    .push("))")
            }
        }
    }

    /// Appends a placeholder for a time given as whole microseconds since
    /// the epoch (an `i64`), converted to the clock's type at the
    /// precision the database keeps: SQLite's times are milliseconds (the
    /// microseconds are rounded down to them, from 1970 on, so that
    /// `stored <= date` keeps its meaning), the others microseconds.
    pub(crate) fn epoch_param(&mut self) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => {
                // Integer division, then whole milliseconds as seconds:
                // SQLite rounds them to the exact millisecond.
                self.push("strftime('%Y-%m-%dT%H:%M:%fZ', (")
                    .param()
                    .push(" / 1000) / 1000.0, 'unixepoch')");
            }
            Dialect::Postgres => {
                self.push("(TIMESTAMPTZ 'epoch' + CAST(")
                    .param()
                    .push(" AS BIGINT) * INTERVAL '1 microsecond')");
            }
            Dialect::MySql => {
                // Not FROM_UNIXTIME, which stops at 2038 (2106 on newer
                // servers); a DATETIME holds microseconds to the year 9999.
                self.push("TIMESTAMPADD(MICROSECOND, ")
                    .param()
                    .push(", '1970-01-01 00:00:00')");
            }
        }
        self
    }

    /// Appends `alias.column` cast to a 64-bit integer: a version column
    /// may be narrower (`INTEGER` for an `i32` field), and sqlx decodes
    /// an `i64` only from a `BIGINT`.
    pub(crate) fn bigint_of(&mut self, alias: &str, column: &str) -> &mut Self {
        let to = match self.dialect {
            Dialect::Sqlite => "INTEGER",
            Dialect::Postgres => "BIGINT",
            Dialect::MySql => "SIGNED",
        };
        self.push("CAST(")
            .qualified(alias, column)
            .push(" AS ")
            .push(to)
            .push(")")
    }

    /// Appends `alias.column` (a time) as whole microseconds since the
    /// epoch, a `BIGINT`: a 304 reports the time without decoding the
    /// model, exactly (a double would not hold it to the microsecond).
    pub(crate) fn epoch_of(&mut self, alias: &str, column: &str) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => {
                // `julianday` is a double: rounded to the millisecond,
                // SQLite's own resolution, it is exact.
                self.push("(CAST(round((julianday(")
                    .qualified(alias, column)
                    .push(") - 2440587.5) * 86400000.0) AS INTEGER) * 1000)");
            }
            Dialect::Postgres => {
                self.push("CAST(EXTRACT(EPOCH FROM ")
                    .qualified(alias, column)
                    .push(") * 1000000 AS BIGINT)");
            }
            Dialect::MySql => {
                self.push("TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', ")
                    .qualified(alias, column)
                    .push(")");
            }
        }
        self
    }

    /// Appends `n` placeholders separated by commas.
    pub(crate) fn params(&mut self, n: usize) -> &mut Self {
        for i in 0..n {
            if i > 0 {
                self.push(", ");
            }
            self.param();
        }
        self
    }

    /// Appends identifiers separated by commas, each qualified by `alias`
    /// when one is given.
    pub(crate) fn idents(&mut self, alias: Option<&str>, names: &[&str]) -> &mut Self {
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            match alias {
                Some(alias) => self.qualified(alias, name),
                None => self.ident(name),
            };
        }
        self
    }
}
