//! occ-core's integration tests, in one binary: one module per area.
//!
//! `allocations` (beside this directory) is a target of its own: it counts
//! allocations with a global allocator, which would count the tests
//! running beside it too.

mod fuzz_regressions;
mod properties;
#[cfg(feature = "tokio")] // read floors are the `tokio` feature's
mod read_floor;
mod rules;
mod tag_templates;
