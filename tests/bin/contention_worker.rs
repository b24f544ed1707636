//! A separate process that increments one item through a repository, for
//! the cross-process contention tests.
//!
//! Usage: `occ-contention-worker sqlite|postgres|mysql URL SCHEMA ID TASKS INCREMENTS`.
//! SCHEMA is the PostgreSQL schema, or the MariaDB/MySQL database, that
//! holds the table (unused on SQLite). Prints `successes=N attempts=M`.

use std::process::ExitCode;
use std::sync::Arc;

use occ_core::repository::sql::{MySqlRepository, PgRepository, SqliteRepository};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [backend, url, schema, id, tasks, increments] = args.as_slice() else {
        eprintln!(
            "usage: occ-contention-worker sqlite|postgres|mysql URL SCHEMA ID TASKS INCREMENTS"
        );
        return ExitCode::from(2);
    };
    let (Ok(id), Ok(tasks), Ok(increments)) = (id.parse(), tasks.parse(), increments.parse())
    else {
        eprintln!("ID, TASKS and INCREMENTS must be integers");
        return ExitCode::from(2);
    };
    let (ok, attempts) = match backend.as_str() {
        "sqlite" => match occ_core::repository::sql::sqlite_pool(url).await {
            Ok(pool) => {
                occ_tests::hammer(Arc::new(SqliteRepository::new(pool)), id, tasks, increments)
                    .await
            }
            Err(e) => {
                eprintln!("cannot open {url}: {e}");
                return ExitCode::FAILURE;
            }
        },
        "postgres" => {
            let pool = occ_tests::postgres_pool_in_schema(url, schema, 4).await;
            occ_tests::hammer(Arc::new(PgRepository::new(pool)), id, tasks, increments).await
        }
        "mysql" => {
            let pool = occ_tests::mysql_pool_in_database(url, schema, 4).await;
            occ_tests::hammer(Arc::new(MySqlRepository::new(pool)), id, tasks, increments).await
        }
        other => {
            eprintln!("unknown backend {other}");
            return ExitCode::from(2);
        }
    };
    println!("successes={ok} attempts={attempts}");
    ExitCode::SUCCESS
}
