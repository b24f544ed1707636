//! Shared pieces of the occ examples.
#![forbid(unsafe_code)]
