//! A representation and the validators it came with.

use std::ops::Deref;
use std::time::SystemTime;

use bytes::Bytes;
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
    /// The representation as the server sent it: what a merge patch is
    /// compared against, and what the cache keeps (members the model
    /// drops or skips included).
    json: Bytes,
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

    /// The representation's JSON, as the server sent it.
    pub(crate) fn json(&self) -> &Bytes {
        &self.json
    }
}

impl<M: Versioned + DeserializeOwned> Tagged<M> {
    /// The representation `json` at `etag`, its version set from the tag
    /// when the tag is one of the model's.
    pub(crate) fn decode(
        json: Bytes,
        etag: EntityTag,
        last_modified: Option<SystemTime>,
    ) -> Result<Self, serde_json::Error> {
        let mut value: M = serde_json::from_slice(&json)?;
        let version = M::version_from_tag(value.id(), etag.as_tag_ref()).or_else(|| {
            let plain = without_coding(&etag)?;
            M::version_from_tag(value.id(), plain.as_tag_ref())
        });
        if let Some(version) = version {
            value.set_version(version);
        }
        Ok(Self {
            value,
            etag,
            last_modified,
            replayed: false,
            json,
        })
    }
}

impl<M> Deref for Tagged<M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.value
    }
}

/// The content codings whose tags occ's `CodingTagsLayer` tells apart with
/// a suffix (`"prof-42-v7-gzip"`), as a reqwest with decompression on
/// receives them.
const CODINGS: [&str; 4] = ["gzip", "br", "zstd", "deflate"];

/// A strong tag without its coding suffix, if it has one.
fn without_coding(etag: &EntityTag) -> Option<EntityTag> {
    if etag.is_weak() {
        return None;
    }
    let opaque = std::str::from_utf8(etag.opaque()).ok()?;
    CODINGS.iter().find_map(|coding| {
        let plain = opaque.strip_suffix(coding)?.strip_suffix('-')?;
        EntityTag::strong(plain).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, occ_core::Versioned)]
    #[occ(etag = "prof-{id}-v{version}")]
    struct Profile {
        id: i64,
        #[version]
        #[serde(skip)]
        version: i64,
    }

    fn decode(tag: &str) -> Tagged<Profile> {
        let etag: EntityTag = tag.parse().unwrap();
        Tagged::decode(Bytes::from_static(br#"{"id":42}"#), etag, None).unwrap()
    }

    #[test]
    fn the_version_comes_from_the_tag() {
        assert_eq!(decode(r#""prof-42-v7""#).version, 7);
        // A compressed representation's tag names the same state.
        assert_eq!(decode(r#""prof-42-v7-gzip""#).version, 7);
        assert_eq!(decode(r#""prof-42-v7-br""#).version, 7);
        // Another resource's tag, or not one of the model's: the body's.
        assert_eq!(decode(r#""prof-43-v7""#).version, 0);
        assert_eq!(decode(r#"W/"prof-42-v7-gzip""#).version, 0);
    }
}
