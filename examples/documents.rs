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
//! `DATABASE_REPLICA_URLS` (comma-separated `postgres://…` URLs of streaming
//! replicas of `DATABASE_URL`'s PostgreSQL) serves reads from them: a read
//! that presents an `If-None-Match` tag, or the `Occ-Read-After` position
//! (header or cookie) a write's response handed out, never sees an older
//! state (README, "Scaling reads").
//! `CORS_ORIGIN=https://app.example` lets browser pages of that origin call
//! it and read its `ETag`, `Last-Modified` and `Location`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    occ_examples::example_main(
        "documents",
        "127.0.0.1:3001",
        "sqlite://documents.db",
        |addr, url, on_listening| async move {
            occ_examples::document::run(&addr, &url, on_listening, occ_examples::ctrl_c()).await
        },
    )
    .await
}
