//! The workspace-level integration tests, in one binary: one module per
//! area, the shared harness (backends, fixtures' helpers, `send`, cleanup
//! guards) in the `occ-tests` library (`tests/lib.rs`). One binary links
//! the whole stack once instead of once per file.
//!
//! Run one area with `cargo test -p occ-tests --test testsuite -- lists::`,
//! one rule with `-- im_1`.
//!
//! Tests that cannot share this process are targets of their own, beside
//! this directory (the derive's compile-fail snapshots live with the derive,
//! `occ-derive/tests/derive_ui.rs`, so that trybuild compiles its few
//! dependencies rather than this crate's many):
//!
//! - `browser`: starts headless Chromium and chromedriver as processes of
//!   its own and drives the page for long seconds; it skips itself where
//!   they are missing (CI requires them: `OCC_REQUIRE_BROWSER=1`).
//! - `netfaults` (with `netfaults/`): faults between the servers and the
//!   database, on network namespaces it builds as root, for a minute or
//!   more; it skips itself without root and its tools (CI requires them:
//!   `OCC_REQUIRE_NETFAULTS=1`). Its tests take turns so that their
//!   timings (recovery within a bound) depend on nothing else running,
//!   which the hundreds of tests here would break.
//! - `statements`: counts sqlx's statements with a process-wide `tracing`
//!   subscriber (SQLite runs its statements on a worker thread, which a
//!   thread-local subscriber misses); here it would see every other test's
//!   statements too, and only one global subscriber can be installed.
//! - `tracing_events`: reads the refusals' events through a process-wide
//!   `tracing` subscriber of its own: a thread-local one races the other
//!   tests' threads on tracing's per-callsite interest cache, and the
//!   global one is `statements`' in that binary.
//! - `examples`: builds the examples with cargo and runs them as separate
//!   processes (`client`, `handwritten`); a cargo build inside this binary
//!   would compete with the timing-sensitive tests here for the CPU.
//!
//! In `occ-core/tests/`, `allocations` counts allocations with a global
//! allocator of its own, and stays apart from the `core` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

mod bad_input;
mod client;
mod compression;
mod conflict_body;
mod cors;
mod dates;
mod documents;
mod faults;
mod http_rules;
mod idempotency;
mod keep_alive;
mod layout;
mod lists;
mod merging;
mod multi_server;
mod openapi;
mod own_sql;
mod real_data;
mod repository_contract;
mod repository_fit;
mod routes_fit;
mod scenario;
mod schema;
mod scope;
mod tenancy;
mod tombstones;
mod transitions;
mod version_less;
mod zoo;
