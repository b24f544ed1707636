//! Documents with server-assigned UUIDs, a renamed version column and a
//! modification time kept by the database: the reference for date-based
//! preconditions (`If-Unmodified-Since`, `If-Modified-Since`).
//!
//! ```sh
//! cargo run --example documents
//! curl -i -X POST localhost:3001/documents -H 'content-type: application/json' \
//!      -d '{"title":"Notes","body":"first draft","tags":null}'
//! curl -i localhost:3001/documents/<id from Location>
//! ```
//!
//! `LISTEN_ADDR` (default `127.0.0.1:3001`) and `DATABASE_URL` (default: the
//! SQLite file `documents.db` in the working directory; `sqlite::memory:`,
//! `postgres://…` and `mysql://…` (MariaDB or MySQL) work too).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://documents.db".into());
    let shown_url = occ_examples::redact(&database_url);
    let served = occ_examples::document::run(
        &addr,
        &database_url,
        |bound| tracing::info!("documents listening on http://{bound}, database {shown_url}"),
        async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        },
    )
    .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The database URL may hold a password: errors name the
            // redacted form only.
            eprintln!("{}", error.to_string().replace(&database_url, &shown_url));
            ExitCode::FAILURE
        }
    }
}
