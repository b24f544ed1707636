//! SQL repositories on sqlx: SQLite (feature `sqlite`) and PostgreSQL
//! (feature `postgres`).
//!
//! A conditional write is one statement:
//!
//! ```sql
//! UPDATE "profiles" SET "name" = $2, "city" = $3, "version" = "version" + 1
//!  WHERE "id" = $1 AND "version" < 9223372036854775807 AND "version" IN ($4)
//!  RETURNING "id", "version", "name", "city"
//! ```
//!
//! When it touches no row, one read tells 404 from 412 and returns the
//! current state for the 412.
//!
//! The model describes its table with [`SqlModel`], usually derived:
//! `#[occ(table = "profiles")]` on a `#[derive(Versioned, sqlx::FromRow)]`
//! struct. Versions are stored as `BIGINT`/`INTEGER` (`i64`).

use std::fmt::Write as _;
use std::marker::PhantomData;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::error::{BoxDynError, ErrorKind};
use sqlx::{AssertSqlSafe, Database, FromRow, SqlStr};

use super::{Page, Repository, RepositoryError, WriteCondition};
use crate::versioned::{VersionNumber, Versioned};

#[doc(hidden)]
pub use sqlx;

/// How a model maps to a table. Derived with `#[occ(table = "…")]`; the
/// row is read back with the model's `sqlx::FromRow`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no table mapping for `{DB}`",
    label = "`{Self}` does not implement `SqlModel<{DB}>`",
    note = "add `#[occ(table = \"…\")]` to `{Self}` (with `#[derive(Versioned, sqlx::FromRow)]`), or implement `SqlModel` by hand"
)]
pub trait SqlModel<DB: Database>:
    Versioned + for<'r> FromRow<'r, DB::Row> + Send + Sync + Unpin + 'static
{
    /// The table name.
    const TABLE: &'static str;
    /// The id column.
    const ID_COLUMN: &'static str;
    /// The version column (`i64` in the database).
    const VERSION_COLUMN: &'static str;
    /// Every other column, in the order [`bind_data`](SqlModel::bind_data)
    /// binds them.
    const DATA_COLUMNS: &'static [&'static str];

    /// Binds the id.
    fn bind_id(id: &Self::Id, args: &mut DB::Arguments) -> Result<(), BoxDynError>;

    /// Binds the data columns, in the order of `DATA_COLUMNS`.
    fn bind_data(&self, args: &mut DB::Arguments) -> Result<(), BoxDynError>;
}

/// Quotes an SQL identifier (`"…"`, doubling inner quotes): both SQLite and
/// PostgreSQL accept it, and it makes keywords safe as column names.
fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The statements of one model, built once per repository.
#[derive(Debug)]
struct Statements {
    select: SqlStr,
    insert: SqlStr,
    update_unconditional: SqlStr,
    update_one_version: SqlStr,
    delete_unconditional: SqlStr,
    delete_one_version: SqlStr,
    list_first: SqlStr,
    list_after: SqlStr,
    /// `UPDATE … WHERE id = ? AND version < max` without the condition.
    update_prefix: String,
    /// `DELETE … WHERE id = ?` without the condition.
    delete_prefix: String,
    returning: String,
    version: String,
    /// Placeholders bound before the versions of an update.
    update_binds: usize,
    placeholder: fn(usize) -> String,
}

impl Statements {
    fn new(
        table: &str,
        id: &str,
        version: &str,
        data: &[&str],
        max_version: i64,
        placeholder: fn(usize) -> String,
    ) -> Self {
        let (t, id, version) = (quote(table), quote(id), quote(version));
        let data: Vec<String> = data.iter().map(|c| quote(c)).collect();
        let mut cols = format!("{id}, {version}");
        for c in &data {
            let _ = write!(cols, ", {c}");
        }
        let returning = format!(" RETURNING {cols}");
        let values: Vec<String> = (1..=data.len() + 2).map(placeholder).collect();
        let mut set = String::new();
        for (i, c) in data.iter().enumerate() {
            let _ = write!(set, "{c} = {}, ", placeholder(i + 2));
        }
        let update_prefix = format!(
            "UPDATE {t} SET {set}{version} = {version} + 1 WHERE {id} = {} AND {version} < {max_version}",
            placeholder(1)
        );
        let delete_prefix = format!("DELETE FROM {t} WHERE {id} = {}", placeholder(1));
        let update_binds = data.len() + 1;
        let sql = sql_str;
        let one = |prefix: &str, binds: usize| {
            sql(format!(
                "{prefix} AND {version} IN ({}){returning}",
                placeholder(binds + 1)
            ))
        };
        Self {
            select: sql(format!(
                "SELECT {cols} FROM {t} WHERE {id} = {}",
                placeholder(1)
            )),
            insert: sql(format!(
                "INSERT INTO {t} ({cols}) VALUES ({}) ON CONFLICT ({id}) DO NOTHING{returning}",
                values.join(", ")
            )),
            update_unconditional: sql(format!("{update_prefix}{returning}")),
            update_one_version: one(&update_prefix, update_binds),
            delete_unconditional: sql(format!("{delete_prefix}{returning}")),
            delete_one_version: one(&delete_prefix, 1),
            list_first: sql(format!(
                "SELECT {cols} FROM {t} ORDER BY {id} LIMIT {}",
                placeholder(1)
            )),
            list_after: sql(format!(
                "SELECT {cols} FROM {t} WHERE {id} > {} ORDER BY {id} LIMIT {}",
                placeholder(1),
                placeholder(2)
            )),
            update_prefix,
            delete_prefix,
            returning,
            version,
            update_binds,
            placeholder,
        }
    }

    /// The statement for `prefix` under `versions.len()` acceptable versions
    /// (the one-version case is prepared ahead).
    fn with_versions(&self, prefix: &str, cached: &SqlStr, binds: usize, n: usize) -> SqlStr {
        if n == 1 {
            return cached.clone();
        }
        let list: Vec<String> = (binds + 1..=binds + n).map(self.placeholder).collect();
        sql_str(format!(
            "{prefix} AND {} IN ({}){}",
            self.version,
            list.join(", "),
            self.returning
        ))
    }
}

/// Our statements are built from identifiers quoted by [`quote`] and
/// numbered placeholders only; values are always bound.
fn sql_str(s: String) -> SqlStr {
    sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(s))
}

fn bind_error<M>(error: BoxDynError) -> RepositoryError<M> {
    tracing::error!(error = %error, "a value could not be encoded for the database");
    RepositoryError::Unavailable(error)
}

/// Maps a sqlx error: constraint violations are the client's (422), the
/// rest is the backend's (503). Details go to the log, never to clients.
fn map_error<M>(error: sqlx::Error) -> RepositoryError<M> {
    if let sqlx::Error::Database(db) = &error {
        match db.kind() {
            ErrorKind::UniqueViolation
            | ErrorKind::ForeignKeyViolation
            | ErrorKind::NotNullViolation
            | ErrorKind::CheckViolation => {
                tracing::debug!(error = %db, "constraint violation");
                return RepositoryError::Invalid(
                    "the resource violates a storage constraint".into(),
                );
            }
            _ => {}
        }
    }
    tracing::error!(error = %error, "database error");
    RepositoryError::unavailable(error)
}

fn version_arg<M: Versioned>(version: M::Version) -> Result<i64, RepositoryError<M>> {
    version
        .to_i64()
        .ok_or_else(|| RepositoryError::Invalid(format!("version {version} does not fit in i64")))
}

macro_rules! sql_repository {
    (
        $(#[$doc:meta])*
        $name:ident, $db:ty, $pool:ty, $args:ty, $placeholder:expr
    ) => {
        $(#[$doc])*
        pub struct $name<M> {
            pool: $pool,
            statements: Statements,
            _model: PhantomData<fn() -> M>,
        }

        impl<M> std::fmt::Debug for $name<M> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("statements", &self.statements)
                    .finish_non_exhaustive()
            }
        }

        impl<M: SqlModel<$db>> $name<M> {
            /// A repository over `pool`. The table must exist.
            pub fn new(pool: $pool) -> Self {
                let max = <M::Version as VersionNumber>::MAX_I64;
                Self {
                    statements: Statements::new(
                        M::TABLE,
                        M::ID_COLUMN,
                        M::VERSION_COLUMN,
                        M::DATA_COLUMNS,
                        max,
                        $placeholder,
                    ),
                    pool,
                    _model: PhantomData,
                }
            }

            /// The pool, for the application's own queries.
            pub fn pool(&self) -> &$pool {
                &self.pool
            }

            async fn fetch(
                &self,
                sql: SqlStr,
                args: Result<$args, BoxDynError>,
            ) -> Result<Option<M>, RepositoryError<M>> {
                let args = args.map_err(bind_error)?;
                sqlx::query_as_with::<$db, M, $args>(sql, args)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_error)
            }

            fn id_args(id: &M::Id) -> Result<$args, BoxDynError> {
                let mut args = <$args>::default();
                M::bind_id(id, &mut args)?;
                Ok(args)
            }

            /// After a conditional statement touched no row: 404, or 412
            /// with the current state, or 409 when the counter is at its end.
            async fn explain_miss(&self, id: &M::Id) -> RepositoryError<M> {
                match self.fetch(self.statements.select.clone(), Self::id_args(id)).await {
                    Ok(None) => RepositoryError::NotFound,
                    Ok(Some(current)) if current.next_version().is_none() => {
                        RepositoryError::VersionExhausted
                    }
                    Ok(Some(current)) => RepositoryError::PreconditionFailed {
                        current: Box::new(current),
                    },
                    Err(e) => e,
                }
            }
        }

        #[async_trait]
        impl<M> Repository<M> for $name<M>
        where
            M: SqlModel<$db>,
            M::Id: Clone + Send + Sync,
        {
            async fn get(&self, id: &M::Id) -> Result<M, RepositoryError<M>> {
                self.fetch(self.statements.select.clone(), Self::id_args(id))
                    .await?
                    .ok_or(RepositoryError::NotFound)
            }

            async fn create(&self, model: M) -> Result<M, RepositoryError<M>> {
                let version = version_arg(model.version())?;
                let args = (|| {
                    let mut args = <$args>::default();
                    M::bind_id(model.id(), &mut args)?;
                    sqlx::Arguments::add(&mut args, version)?;
                    model.bind_data(&mut args)?;
                    Ok(args)
                })();
                match self.fetch(self.statements.insert.clone(), args).await? {
                    Some(created) => Ok(created),
                    None => Err(RepositoryError::AlreadyExists {
                        current: self.get(model.id()).await.ok().map(Box::new),
                    }),
                }
            }

            async fn update(
                &self,
                model: M,
                condition: &WriteCondition<M::Version>,
            ) -> Result<M, RepositoryError<M>> {
                let st = &self.statements;
                let mut condition = condition.clone();
                if let WriteCondition::UnmodifiedSince(_) = condition {
                    // The date lives in a column of the model's own type:
                    // read it, check it, and swap on the version read.
                    let current = self.get(model.id()).await?;
                    if !condition.is_met_by(&current) {
                        return Err(RepositoryError::PreconditionFailed {
                            current: Box::new(current),
                        });
                    }
                    condition = WriteCondition::VersionIn(vec![current.version()]);
                }
                let (sql, versions) = match &condition {
                    WriteCondition::VersionIn(v) if v.is_empty() => {
                        return Err(self.explain_miss(model.id()).await);
                    }
                    WriteCondition::VersionIn(v) => (
                        st.with_versions(&st.update_prefix, &st.update_one_version, st.update_binds, v.len()),
                        v.as_slice(),
                    ),
                    _ => (st.update_unconditional.clone(), &[][..]),
                };
                let args = (|| {
                    let mut args = <$args>::default();
                    M::bind_id(model.id(), &mut args)?;
                    model.bind_data(&mut args)?;
                    for v in versions {
                        // A version beyond i64 is stored nowhere: it can
                        // only fail to match, so bind an impossible one.
                        sqlx::Arguments::add(&mut args, v.to_i64().unwrap_or(-1))?;
                    }
                    Ok(args)
                })();
                match self.fetch(sql, args).await? {
                    Some(updated) => Ok(updated),
                    None => {
                        let miss = self.explain_miss(model.id()).await;
                        if matches!(miss, RepositoryError::PreconditionFailed { .. }) {
                            tracing::debug!(table = M::TABLE, "conditional update refused: stale version");
                        }
                        Err(miss)
                    }
                }
            }

            async fn delete(
                &self,
                id: &M::Id,
                condition: &WriteCondition<M::Version>,
            ) -> Result<M, RepositoryError<M>> {
                let st = &self.statements;
                let mut condition = condition.clone();
                if let WriteCondition::UnmodifiedSince(_) = condition {
                    let current = self.get(id).await?;
                    if !condition.is_met_by(&current) {
                        return Err(RepositoryError::PreconditionFailed {
                            current: Box::new(current),
                        });
                    }
                    condition = WriteCondition::VersionIn(vec![current.version()]);
                }
                let (sql, versions) = match &condition {
                    WriteCondition::VersionIn(v) if v.is_empty() => {
                        return Err(self.explain_miss(id).await);
                    }
                    WriteCondition::VersionIn(v) => (
                        st.with_versions(&st.delete_prefix, &st.delete_one_version, 1, v.len()),
                        v.as_slice(),
                    ),
                    _ => (st.delete_unconditional.clone(), &[][..]),
                };
                let args = (|| {
                    let mut args = <$args>::default();
                    M::bind_id(id, &mut args)?;
                    for v in versions {
                        sqlx::Arguments::add(&mut args, v.to_i64().unwrap_or(-1))?;
                    }
                    Ok(args)
                })();
                match self.fetch(sql, args).await? {
                    Some(deleted) => Ok(deleted),
                    None => match self.explain_miss(id).await {
                        // Deleting needs no next version.
                        RepositoryError::VersionExhausted => Err(RepositoryError::PreconditionFailed {
                            current: Box::new(self.get(id).await?),
                        }),
                        miss => Err(miss),
                    },
                }
            }

            async fn list(
                &self,
                after: Option<&M::Id>,
                limit: u32,
            ) -> Result<Page<M>, RepositoryError<M>> {
                let st = &self.statements;
                let (sql, args) = match after {
                    None => {
                        let mut args = <$args>::default();
                        let bound = sqlx::Arguments::add(&mut args, i64::from(limit));
                        (st.list_first.clone(), bound.map(|()| args))
                    }
                    Some(after) => {
                        let args = Self::id_args(after).and_then(|mut args| {
                            sqlx::Arguments::add(&mut args, i64::from(limit))?;
                            Ok(args)
                        });
                        (st.list_after.clone(), args)
                    }
                };
                let args = args.map_err(bind_error)?;
                let items = sqlx::query_as_with::<$db, M, $args>(sql, args)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_error)?;
                let full = limit > 0 && items.len() == usize::try_from(limit).unwrap_or(usize::MAX);
                let next_after = if full { items.last().map(|m| m.id().clone()) } else { None };
                Ok(Page { items, next_after })
            }
        }
    };
}

#[cfg(feature = "sqlite")]
sql_repository!(
    /// A repository on SQLite. Open the pool with [`sqlite_pool`] (WAL mode
    /// and a busy timeout, so concurrent writers wait instead of failing
    /// with `SQLITE_BUSY`).
    SqliteRepository,
    sqlx::Sqlite,
    sqlx::SqlitePool,
    sqlx::sqlite::SqliteArguments,
    |n| format!("?{n}")
);

#[cfg(feature = "postgres")]
sql_repository!(
    /// A repository on PostgreSQL.
    PgRepository,
    sqlx::Postgres,
    sqlx::PgPool,
    sqlx::postgres::PgArguments,
    |n| format!("${n}")
);

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
