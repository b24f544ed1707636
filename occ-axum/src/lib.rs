//! axum integration for occ: extractors, responders and generated
//! conditional CRUD routes. Being built; today it re-exports `occ_core`.
#![forbid(unsafe_code)]

pub use occ_core;
