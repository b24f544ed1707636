//! Opening a SQLite database for the repository.

use std::time::Duration;

/// Opens a SQLite pool for concurrent writers: WAL journal, `synchronous =
/// NORMAL`, a 10 s busy timeout, and the file created when missing.
///
/// `url` is a sqlx SQLite URL: `sqlite://profiles.db`, `sqlite::memory:`.
/// An in-memory database lives in one connection, so the pool gets one.
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
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
