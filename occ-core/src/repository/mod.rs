//! Repositories: storage with an atomic compare-and-swap contract.
//!
//! Every conditional write is decided by the store, in the same statement
//! (or transaction) as the write, on the stored version: two requests that
//! carry the same `If-Match` can never both succeed. Read-compare-then-write
//! in application code is exactly the lost update this module exists to
//! prevent.

mod condition;
mod contract;
mod error;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod floor;
mod memory;
mod memory_keys;
mod merge_patch;
#[cfg(feature = "tokio")]
mod retry;
mod scope;
mod snapshot;
#[cfg(feature = "sqlx")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx")))]
pub mod sql;

pub use crate::scope_value::ScopeValue;
pub use condition::{KnownVersions, WriteCondition};
pub use contract::{merge_by_swap, Claim, KeyedWrite, Repository};
pub use error::RepositoryError;
pub use memory::MemoryRepository;
pub use merge_patch::{apply_merge_patch, merge_patch_model};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use retry::{retry_on_conflict, RetryPolicy};
pub use scope::{Scope, ScopeField};
pub use snapshot::{Fetched, Page, Snapshot, COMMIT_MARGIN};
