//! An existing service with its own SQL, its own error type and
//! hand-written handlers, adopting occ (`occ_examples::users`): ETags,
//! 304, 412 with the current state and 428, with the compare-and-swap in
//! its own `UPDATE`.
//!
//! ```sh
//! cargo run --example own_sql
//! curl -i localhost:3002/users/1
//! curl -i -X POST localhost:3002/users/1/visit -H 'if-match: "user-1-v1"'
//! curl -i localhost:3002/contacts/1   # a table without a version column
//! ```
//!
//! `LISTEN_ADDR` (default `127.0.0.1:3002`) and `DATABASE_URL` (default:
//! the SQLite file `own_sql.db`; `postgres://…` and `mysql://…` work too).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    occ_examples::example_main(
        "own_sql",
        "127.0.0.1:3002",
        "sqlite://own_sql.db?mode=rwc",
        |addr, url, on_listening| async move {
            occ_examples::users::run(&addr, &url, on_listening, occ_examples::ctrl_c()).await
        },
    )
    .await
}
