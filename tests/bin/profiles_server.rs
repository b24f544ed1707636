//! The profiles service of `examples/profiles.rs` as a separate process, for
//! the tests that run several servers on one database or kill one mid-load.
//!
//! `LISTEN_ADDR` (default `127.0.0.1:3000`; `127.0.0.1:0` picks a free port)
//! and `DATABASE_URL` (default `sqlite://profiles.db`; `sqlite::memory:` and
//! `postgres://…` work too). Once listening, prints the bound address, alone
//! on one line, on stdout.

use std::io::Write as _;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://profiles.db".into());

    let repo = match occ_examples::connect(&database_url).await {
        Ok(repo) => repo,
        Err(error) => {
            eprintln!("cannot open the database: {error}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let bound = match listener.local_addr() {
        Ok(bound) => bound,
        Err(error) => {
            eprintln!("no local address: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{bound}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    drop(stdout);
    match axum::serve(listener, occ_examples::app(repo)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server error: {error}");
            ExitCode::FAILURE
        }
    }
}
