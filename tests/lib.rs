//! Workspace-level tests for occ live in `tests/`; this library is empty.
#![forbid(unsafe_code)]
