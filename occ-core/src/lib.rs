//! HTTP optimistic concurrency control, to the letter of RFC 9110.
//!
//! - [`EntityTag`]: parse, format, strong and weak comparison (§8.8.3).
//! - [`EntityTagList`]: `If-Match` / `If-None-Match` values, quote-aware,
//!   across header lines, parsed without allocating.
//! - [`Preconditions`]: the four precondition headers of a request and their
//!   evaluation in the order of §13.2.2, giving a [`Decision`].
//! - [`Versioned`]: what makes a type a conditional resource; derive it with
//!   `#[derive(Versioned)]` (the `derive` feature, on by default).
//!
//! Rule ids such as IM-1 or PR-1 and design decisions in these docs refer
//! to the design notes, docs/design.md.
//!
//! ```
//! use http::{HeaderMap, Method};
//! use occ_core::{Decision, Policy, Preconditions, Target, Versioned};
//!
//! #[derive(Versioned)]
//! #[occ(etag = "prof-{id}-v{version}")]
//! struct Profile {
//!     id: u64,
//!     #[version]
//!     version: u64,
//!     city: String,
//! }
//!
//! let stored = Profile { id: 42, version: 7, city: "Paris".into() };
//! let etag = stored.entity_tag();
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("if-match", "\"prof-42-v6\"".parse()?);
//! let decision = Preconditions::from_headers(&headers)
//!     .evaluate(&Method::PUT, &Target::of(&stored, &etag), Policy::Required);
//! assert!(matches!(decision, Decision::PreconditionFailed(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod date;
mod entity_tag;
pub mod pipeline;
mod precondition;
pub mod repository;

/// Not public API: what `#[derive(Versioned)]` expands to.
#[doc(hidden)]
pub mod __private {
    use crate::VersionNumber;

    /// Reads a version field through its `VersionNumber` bound, so that a
    /// field of another type gets that one error and no cascade.
    pub fn version_of<V: VersionNumber>(field: &V) -> V {
        *field
    }
}
mod tag_list;
mod versioned;

pub use date::{fmt_http_date, DateField};
pub use entity_tag::{EntityTag, EntityTagRef, InvalidEntityTag};
pub use precondition::{Current, Decision, Failure, Policy, Preconditions, Target};
pub use tag_list::{
    Comparison, Elements, EntityTagList, ListElement, ListKind, MalformedList, MAX_FIELD_BYTES,
    MAX_LIST_ELEMENTS,
};
pub use versioned::{EntityTagBuilder, Timestamp, VersionNumber, Versioned};

/// `#[derive(Versioned)]`: implements [`Versioned`] for a struct with named
/// fields.
///
/// Attributes:
/// - `#[version]` on exactly one integer field: the version counter.
/// - `#[occ(id)]` on the id field; without it, the field named `id`.
/// - `#[occ(last_modified)]` on an optional modification-time field
///   ([`Timestamp`]: `SystemTime` or `Option<SystemTime>`).
/// - `#[occ(etag = "prof-{id}-v{version}")]` on the struct: the entity-tag
///   template. `{name}` inserts a field's `Display`; `{{` and `}}` are
///   literal braces. It must contain `{version}` and the id field. The
///   default is `"{id}-v{version}"`.
/// - `#[occ(weak)]` on the struct: emit weak tags (G-4). `If-Match` compares
///   strongly (IM-1), so a weak tag never satisfies it: use this only for
///   resources that are read conditionally and never written through
///   `If-Match`.
/// - `#[occ(table = "profiles")]` on the struct: also implement
///   [`repository::sql::SqlModel`] for every sqlx database, mapping the
///   struct to that table with one column per field, named as the field
///   (the struct must derive `sqlx::FromRow` too). The SQL repositories
///   then need no SQL from you.
#[cfg(feature = "derive")]
pub use occ_derive::Versioned;
