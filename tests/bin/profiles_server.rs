//! The profiles service of `examples/profiles.rs` as a separate process, for
//! the tests that run several servers on one database or kill one mid-load.
//!
//! `LISTEN_ADDR` (default `127.0.0.1:3000`; `127.0.0.1:0` picks a free port)
//! and `DATABASE_URL` (default `sqlite://profiles.db`; `sqlite::memory:`,
//! `postgres://…` and `mysql://…` work too). Once listening, prints the bound
//! address, alone on one line, on stdout.

use std::io::Write as _;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let database_url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://profiles.db".into());
    let report = |bound| {
        let mut stdout = std::io::stdout().lock();
        // The test reads this line; without it the test fails, not this.
        let _ = writeln!(stdout, "{bound}").and_then(|()| stdout.flush());
    };
    match occ_examples::run(&addr, &database_url, report, std::future::pending()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
