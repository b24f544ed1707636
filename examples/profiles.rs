//! The reference scenario's server: conditional profiles at `/profiles`.
//!
//! ```sh
//! cargo run --example profiles
//! curl -i localhost:3000/profiles/42
//! # create profile 43, once: a second time is 412
//! curl -i -X PUT localhost:3000/profiles/43 -H 'If-None-Match: *' \
//!      -H 'Content-Type: application/json' -d '{"name":"Eve","city":"Rome"}'
//! ```
//!
//! `LISTEN_ADDR` (default `127.0.0.1:3000`) and `DATABASE_URL` (default: the
//! SQLite file `profiles.db` in the working directory; `sqlite::memory:`,
//! `postgres://…` and `mysql://…` (MariaDB or MySQL) work too).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://profiles.db".into());
    let shown_url = occ_examples::redact(&database_url);
    let served = occ_examples::run(
        &addr,
        &database_url,
        |bound| tracing::info!("profiles listening on http://{bound}, database {shown_url}"),
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
