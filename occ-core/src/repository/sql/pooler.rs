//! Connection poolers in front of PostgreSQL: the ones that share one
//! server session between client connections (pgbouncer's `transaction`
//! and `statement` modes) lose sqlx's prepared statements, so the
//! repository cannot work through them; this says so at startup.

use std::fmt;

use sqlx::{Connection as _, Row as _};

/// Why [`refuse_session_sharing_pooler`] refused a PostgreSQL URL.
#[derive(Debug)]
pub enum PoolerError {
    /// The database could not be reached or queried.
    Connect(sqlx::Error),
    /// Two connections share one server session, and a prepared statement
    /// fails on it: a pooler in transaction or statement mode.
    SessionSharing {
        /// The backend process both connections reported.
        backend: i32,
        /// The error the prepared statement got.
        source: sqlx::Error,
    },
}

impl fmt::Display for PoolerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "cannot check the PostgreSQL connection: {e}"),
            Self::SessionSharing { backend, source } => write!(
                f,
                "PostgreSQL is reached through a pooler that shares one server session \
                 between connections (two connections got backend {backend}) and loses \
                 their prepared statements ({source}), as pgbouncer does with pool_mode = \
                 transaction or statement: use pool_mode = session, or connect to \
                 PostgreSQL directly"
            ),
        }
    }
}

impl std::error::Error for PoolerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect(e) | Self::SessionSharing { source: e, .. } => Some(e),
        }
    }
}

/// Refuses a PostgreSQL reached through a pooler that hands one server
/// session to several client connections and loses or mixes up their
/// prepared statements, such as pgbouncer 1.18 with `pool_mode =
/// transaction`: sqlx prepares a named statement (`sqlx_s_1`, …) for every
/// query with parameters, also with `statement-cache-capacity=0`, and sends
/// its parse and its execution as two protocol exchanges, which such a
/// pooler may route to two different sessions. What follows is `prepared
/// statement "sqlx_s_1" already exists` or `does not exist`, at startup or
/// later under load.
///
/// Two fresh connections that report the same backend process share a
/// session (a direct connection or `pool_mode = session` never does); then
/// the first prepared statement of each must work on it, or this fails,
/// saying why. Call it at startup, before opening the pool. A pooler that
/// hands out sessions in another order than pgbouncer's default (the last
/// one freed) may pass the check; its errors are then logged as
/// the pooler's at the first statement that meets them.
pub async fn refuse_session_sharing_pooler(database_url: &str) -> Result<(), PoolerError> {
    let connect = || async {
        sqlx::PgConnection::connect(database_url)
            .await
            .map_err(PoolerError::Connect)
    };
    let mut a = connect().await?;
    let mut b = connect().await?;
    // The simple query protocol: no prepared statement.
    let backend = "SELECT pg_backend_pid()";
    let pid = |row: sqlx::postgres::PgRow| row.try_get::<i32, _>(0).map_err(PoolerError::Connect);
    let pid_a = pid(sqlx::raw_sql(backend)
        .fetch_one(&mut a)
        .await
        .map_err(PoolerError::Connect)?)?;
    let pid_b = pid(sqlx::raw_sql(backend)
        .fetch_one(&mut b)
        .await
        .map_err(PoolerError::Connect)?)?;
    let mut outcome = Ok(());
    if pid_a == pid_b {
        for conn in [&mut a, &mut b] {
            let probe = sqlx::query("SELECT $1::int4").bind(1_i32);
            if let Err(source) = probe.fetch_one(&mut *conn).await {
                outcome = Err(PoolerError::SessionSharing {
                    backend: pid_a,
                    source,
                });
                break;
            }
        }
    }
    let _ = a.close().await;
    let _ = b.close().await;
    outcome
}
