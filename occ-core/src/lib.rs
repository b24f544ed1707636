//! HTTP optimistic concurrency control, to the letter of RFC 9110.
//!
//! # Your own table
//!
//! Derive [`Versioned`] on the row type, name the table, and the SQL
//! repository does every write as one conditional statement: the version
//! check (or the date check) in the `WHERE` clause, the new version and the
//! database's clock in the `SET`. Columns follow `#[sqlx(rename)]`, so
//! `FromRow` and occ agree on them; `#[occ(generated)]` lets the store
//! assign ids; `#[occ(last_modified)]` makes the time the database's.
//!
//! ```no_run
//! # #[cfg(all(feature = "postgres", feature = "chrono"))]
//! # async fn demo(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
//! use chrono::{DateTime, Utc};
//! use occ_core::repository::sql::PgRepository;
//! use occ_core::repository::{Repository, RepositoryError, WriteCondition};
//! use occ_core::Versioned;
//!
//! // CREATE TABLE notes (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
//! //   rev INTEGER NOT NULL, text TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL)
//! #[derive(Clone, serde::Serialize, serde::Deserialize, sqlx::FromRow, Versioned)]
//! #[occ(table = "notes", etag = "note-{id}-r{revision}")]
//! struct Note {
//!     #[occ(generated)]
//!     id: i64,
//!     #[version]
//!     #[sqlx(rename = "rev")]
//!     revision: i32,
//!     text: String,
//!     #[occ(last_modified)]
//!     updated_at: DateTime<Utc>,
//! }
//!
//! let notes = PgRepository::<Note>::new(pool);
//! notes.verify().await?; // names the column the table lacks, if any
//! let draft = Note { id: 0, revision: 1, text: "draft".into(), updated_at: Utc::now() };
//! let saved = notes.create_with_new_id(draft).await?; // id and time from the database
//! let seen = WriteCondition::VersionIn(vec![saved.revision]);
//! let edited = Note { text: "final".into(), ..saved.clone() };
//! notes.update(edited.clone(), &seen).await?; // UPDATE … WHERE id = $ AND rev IN ($)
//! // The same condition again: someone (we) changed it first.
//! assert!(matches!(
//!     notes.update(edited, &seen).await,
//!     Err(RepositoryError::PreconditionFailed { .. })
//! ));
//! # Ok(()) }
//! ```
//!
//! Serve it over HTTP with `occ-axum`'s `ConditionalRoutes`: ETags,
//! `Last-Modified`, 304, 412, 428, problem+json, with no handler to write.
//!
//! # The engine
//!
//! - [`EntityTag`]: parse, format, strong and weak comparison (§8.8.3).
//! - [`EntityTagList`]: `If-Match` / `If-None-Match` values, quote-aware,
//!   across header lines, parsed without allocating.
//! - [`Preconditions`]: the four precondition headers of a request and their
//!   evaluation in the order of §13.2.2, giving a [`Decision`].
//! - [`Versioned`]: what makes a type a conditional resource; derive it with
//!   `#[derive(Versioned)]` (the `derive` feature, on by default).
//! - [`pipeline::Pipeline`]: a request's preconditions run against a
//!   [`repository::Repository`], one statement per request.
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
//!
//! # Features
//!
#![doc = document_features::document_features!()]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod content_hash;
pub mod date;
mod entity_tag;
pub mod idempotency;
pub mod pipeline;
mod precondition;
pub mod repository;
mod scope_value;

/// Not public API: what `#[derive(Versioned)]` expands to.
#[doc(hidden)]
pub mod __private {
    use crate::VersionNumber;

    /// Reads a version field through its `VersionNumber` bound, so that a
    /// field of another type gets that one error and no cascade.
    pub fn version_of<V: VersionNumber>(field: &V) -> V {
        *field
    }

    pub use crate::versioned::{Decimal, TagMatcher};

    #[cfg(feature = "sqlx")]
    pub use self::members::{bind_member_value, id_member, unknown_member};
    pub use serde;
    pub use serde_json;

    #[cfg(feature = "sqlx")]
    mod members {
        use serde::de::{Deserialize, DeserializeOwned};
        use serde_json::Value;
        use sqlx::{Arguments, Database, Encode, Type};

        use crate::repository::sql::MemberBinding;
        use crate::{VersionNumber, Versioned};

        /// Binds a merge patch's new value of a data member. `null`
        /// removes the member (RFC 7396), which is what deserializing
        /// `null` gives (`None` for an `Option`, an error otherwise); an
        /// object merges into the current value, so it needs the current
        /// value: the application merges it.
        pub fn bind_member_value<DB, T>(
            member: &str,
            value: &Value,
            args: &mut DB::Arguments,
            column: &'static str,
        ) -> MemberBinding
        where
            DB: Database,
            T: DeserializeOwned + for<'q> Encode<'q, DB> + Type<DB>,
        {
            if value.is_object() {
                return MemberBinding::Unsupported;
            }
            match T::deserialize(value) {
                Ok(value) => match args.add(value) {
                    Ok(()) => MemberBinding::Column(column),
                    Err(error) => MemberBinding::Failed(error),
                },
                Err(error) => MemberBinding::Invalid(format!("`{member}`: {error}")),
            }
        }

        /// The id's member in a merge patch: allowed when it repeats the id.
        pub fn id_member<M>(member: &str, value: &Value, id: &M::Id) -> MemberBinding
        where
            M: Versioned,
            M::Id: DeserializeOwned,
        {
            match M::Id::deserialize(value) {
                // Tags bind ids injectively: equal tags, equal ids.
                Ok(given)
                    if M::entity_tag_for(&given, M::Version::INITIAL)
                        == M::entity_tag_for(id, M::Version::INITIAL) =>
                {
                    MemberBinding::Unchanged
                }
                Ok(_) => MemberBinding::Invalid("the id cannot be changed by a patch".into()),
                Err(error) => MemberBinding::Invalid(format!("`{member}`: {error}")),
            }
        }

        /// A member the model does not have.
        pub fn unknown_member(member: &str) -> MemberBinding {
            MemberBinding::Invalid(format!(
                "the patch sets `{member}`, which this resource does not have (unknown members, \
                 and a version carried by the ETag, cannot be patched)"
            ))
        }
    }
}
mod tag_list;
#[cfg(test)]
mod testing;
mod versioned;
pub mod wire;

pub use content_hash::content_hash;
pub use date::{fmt_http_date, DateField};
pub use entity_tag::{EntityTag, EntityTagRef, InvalidEntityTag};
pub use precondition::{Current, Decision, Failure, Policy, Preconditions, Target};
pub use tag_list::{
    Comparison, Elements, EntityTagList, ListElement, ListKind, MalformedList, MAX_FIELD_BYTES,
    MAX_LIST_ELEMENTS,
};
pub use versioned::{
    EntityTagBuilder, GeneratedId, IdSource, Members, Timestamp, VersionNumber, Versioned,
};

/// `#[derive(Versioned)]`: implements [`Versioned`] for a struct with named
/// fields.
///
/// Attributes:
/// - `#[version]` on exactly one integer field: the version counter.
/// - `#[occ(id)]` on the id field; without it, the field named `id`.
/// - `#[occ(last_modified)]` on an optional modification-time field
///   ([`Timestamp`]: `SystemTime`, `chrono::DateTime<Utc>` with feature
///   `chrono`, `time::OffsetDateTime` with feature `time`, or an `Option`
///   of one). Repositories set it on every write.
/// - `#[occ(generated)]` on the id field: the server gives new resources
///   their ids ([`GeneratedId`]: integers from the store, `uuid::Uuid`
///   with feature `uuid`); `#[occ(generated(client_may_choose))]` lets a
///   client still name one.
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
///   then need no SQL from you. Columns are named as `FromRow` reads them:
///   `#[sqlx(rename = "…")]` on a field, `#[sqlx(rename_all = "…")]` on the
///   struct, or `#[occ(column = "…")]` (which must then agree with
///   `#[sqlx(rename)]`); `#[sqlx(skip)]` and `#[sqlx(default)]` fields are
///   not written, and `#[sqlx(flatten)]` is refused. Without a tombstone
///   table, a deleted id that is created again starts its versions afresh,
///   so an entity tag from before the delete can match the new resource.
/// - `#[occ(table = "profiles", tombstones = "profile_tombstones")]`: the
///   table that keeps each deleted id's last version
///   ([`SqlModel::TOMBSTONE_TABLE`](repository::sql::SqlModel::TOMBSTONE_TABLE),
///   whose docs give its schema), so that a resource created again under
///   a deleted id continues after that version and no tag is ever reused
///   for an id. Only with `table`.
/// - `#[occ(table = "profiles", merge)]`: per-member versions for merging
///   disjoint edits (design decision 16), in a `<column>_version BIGINT NOT
///   NULL` column beside every data column
///   ([`SqlModel::FIELD_VERSION_COLUMNS`](repository::sql::SqlModel::FIELD_VERSION_COLUMNS)).
///   Only with `table`.
/// - `#[occ(scope)]` on the field that holds a row's tenant or owner
///   ([`repository::ScopeField`]: `String`, an integer, or `uuid::Uuid`
///   with feature `uuid`): the model's row-level scope (design decision
///   20). Its repositories then refuse every operation without a
///   [`repository::Scope`], key every row by (scope, id), and set the
///   field from the scope on every write; it may be hidden with
///   `#[serde(skip)]`. With `table`, a tombstone table has the scope's
///   column too.
#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub use occ_derive::Versioned;
