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
//! `CORS_ORIGIN=https://app.example` lets browser pages of that origin call
//! it and read its `ETag`, `Last-Modified` and `Location`.
//! `localhost:3000/app` is a browser client of it (`examples/page.rs`).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    occ_examples::example_main(
        "profiles",
        "127.0.0.1:3000",
        "sqlite://profiles.db",
        |addr, url, on_listening| async move {
            occ_examples::run(&addr, &url, on_listening, occ_examples::ctrl_c()).await
        },
    )
    .await
}
