//! The examples run as their users run them: each test builds its example
//! with cargo (`occ_tests::example_binary`) and runs it as a process of its
//! own. A target of its own (see `tests/tests/testsuite/main.rs`): a cargo
//! build inside the main suite would compete for the CPU with its
//! timing-sensitive tests.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

mod examples_run;
mod handwritten;
