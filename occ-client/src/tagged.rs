//! A representation and the validators it came with.

use std::ops::Deref;
use std::time::SystemTime;

use occ_core::{EntityTag, Versioned};
use serde::de::DeserializeOwned;

/// A resource's state as the server sent it: the value, its entity tag
/// and its `Last-Modified` date, if any.
///
/// The value's version is the one the tag names (the model's own
/// [`Versioned::version_from_tag`]), so that `value.version()` means on
/// the client what it means on the server even when the version travels in
/// the `ETag` only (`#[serde(skip)]`). It dereferences to the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged<M> {
    value: M,
    etag: EntityTag,
    last_modified: Option<SystemTime>,
    replayed: bool,
}

impl<M> Tagged<M> {
    /// The value.
    pub fn value(&self) -> &M {
        &self.value
    }

    /// The value, without its tags.
    pub fn into_value(self) -> M {
        self.value
    }

    /// The entity tag, exactly as the server sent it.
    pub fn etag(&self) -> &EntityTag {
        &self.etag
    }

    /// The `Last-Modified` date, for a model with a modification time.
    pub fn last_modified(&self) -> Option<SystemTime> {
        self.last_modified
    }

    /// Whether the answer was a replay (`Idempotent-Replayed: true`): an
    /// earlier send of the same write had landed, and its answer was lost
    /// on the way.
    pub fn is_replayed(&self) -> bool {
        self.replayed
    }

    pub(crate) fn replayed(mut self, replayed: bool) -> Self {
        self.replayed = replayed;
        self
    }
}

impl<M: Versioned + DeserializeOwned> Tagged<M> {
    /// The representation `body` (JSON) at `etag`.
    pub(crate) fn decode(
        body: &[u8],
        etag: EntityTag,
        last_modified: Option<SystemTime>,
    ) -> Result<Self, serde_json::Error> {
        let value = serde_json::from_slice(body)?;
        Ok(Self::new(value, etag, last_modified))
    }

    /// `value` at `etag`, its version set from the tag when the tag is
    /// one of the model's.
    pub(crate) fn new(mut value: M, etag: EntityTag, last_modified: Option<SystemTime>) -> Self {
        if let Some(version) = M::version_from_tag(value.id(), etag.as_tag_ref()) {
            value.set_version(version);
        }
        Self {
            value,
            etag,
            last_modified,
            replayed: false,
        }
    }
}

impl<M> Deref for Tagged<M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.value
    }
}
