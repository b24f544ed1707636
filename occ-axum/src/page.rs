//! Editable lists (design decision 18): each item of a page carries its
//! entity tag in a member, and the page has a weak entity tag of its own.
//!
//! The page's tag is FNV-1a 64 (the published function: offset basis
//! `0xcbf29ce484222325`, prime `0x100000001b3`, octet by octet) over a
//! canonical text, written as `W/"` and 16 lowercase hex digits and `"`.
//! The text is one line per part, each ending in `\n`:
//!
//! ```text
//! occ-page-1
//! after=<the after parameter as JSON, empty when absent>
//! limit=<the limit applied, in decimal>
//! scope=<["column", value] as JSON, empty without a scope>
//! member=<the items' tag member, empty when none is added>
//! <each item's entity tag as its ETag header shows it, one per line>
//! next=<next_after as JSON, empty on the last page>
//! ```
//!
//! JSON text never holds a raw line feed and an entity tag is visible
//! ASCII, so the text is unambiguous. It depends on nothing but the page,
//! so every server and every build computes the same tag for the same
//! page; an item updated, deleted or added changes an item line (or the
//! `next` line), and so the tag, but for a 64-bit collision.

use occ_core::repository::{Scope, ScopeValue};
use occ_core::EntityTag;
use serde::de::IgnoredAny;
use serde_json::Value;

/// FNV-1a 64, the function the page tag is built with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv1a64(u64);

impl Fnv1a64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    pub(crate) fn new() -> Self {
        Self(Self::OFFSET_BASIS)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// The parameters a page was read with, as applied.
pub(crate) struct PageParams<'a> {
    /// `after` as JSON text, when given.
    pub(crate) after: Option<&'a [u8]>,
    /// The limit applied (after clamping).
    pub(crate) limit: u32,
    /// The request's scope, when it has one.
    pub(crate) scope: Option<&'a Scope>,
    /// The member the items' tags are put in, if any.
    pub(crate) member: Option<&'a str>,
}

/// The weak entity tag of a page: see the module documentation.
pub(crate) fn page_tag(
    params: &PageParams<'_>,
    items: &[EntityTag],
    next_after: Option<&[u8]>,
) -> EntityTag {
    let mut hash = Fnv1a64::new();
    hash.write(b"occ-page-1\n");
    hash.write(b"after=");
    hash.write(params.after.unwrap_or_default());
    hash.write(b"\nlimit=");
    hash.write(params.limit.to_string().as_bytes());
    hash.write(b"\nscope=");
    if let Some(scope) = params.scope {
        hash.write(scope_json(scope).as_bytes());
    }
    hash.write(b"\nmember=");
    hash.write(params.member.unwrap_or_default().as_bytes());
    hash.write(b"\n");
    for tag in items {
        hash.write(tag.as_bytes());
        hash.write(b"\n");
    }
    hash.write(b"next=");
    hash.write(next_after.unwrap_or_default());
    hash.write(b"\n");
    let hex = format!("{:016x}", hash.finish());
    // Sixteen hex digits are always a valid opaque tag.
    EntityTag::weak(&hex).unwrap_or_else(|_| occ_core::EntityTagBuilder::weak().finish())
}

/// `["column", value]`: an integer scope as a JSON number, a text one as a
/// JSON string.
fn scope_json(scope: &Scope) -> String {
    let value = match scope.value() {
        ScopeValue::Int(i) => Value::from(*i),
        ScopeValue::Text(s) => Value::from(s.as_str()),
        other => Value::from(other.to_string()),
    };
    Value::Array(vec![Value::from(scope.column()), value]).to_string()
}

/// What [`with_member`] did to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// The member was added.
    Yes,
    /// The item is not a JSON object: it is left as it is.
    NotAnObject,
    /// The item has a member of that name already: it is left as it is.
    Taken,
}

/// Appends `"member":"<tag>"` to an item's JSON text when it is an object
/// without such a member; otherwise leaves it as it is. The item's own
/// members keep their order and text, as a GET of it shows them.
pub(crate) fn with_member(item: &mut Vec<u8>, member: &str, tag: &EntityTag) -> Added {
    if item.first() != Some(&b'{') || item.last() != Some(&b'}') {
        return Added::NotAnObject;
    }
    let key = Value::from(member).to_string();
    if has_member(item, &key, member) {
        return Added::Taken;
    }
    let value = Value::from(tag.to_string()).to_string();
    item.pop();
    if item.len() > 1 {
        item.push(b',');
    }
    item.extend_from_slice(key.as_bytes());
    item.push(b':');
    item.extend_from_slice(value.as_bytes());
    item.push(b'}');
    Added::Yes
}

/// Whether the object `item` has a top-level member `member` (`key` is
/// its JSON text). Only an object whose text holds `key:` is parsed.
fn has_member(item: &[u8], key: &str, member: &str) -> bool {
    let needle = format!("{key}:");
    let found = item
        .windows(needle.len())
        .any(|window| window == needle.as_bytes());
    found
        && serde_json::from_slice::<std::collections::HashMap<String, IgnoredAny>>(item)
            .map_or(true, |members| members.contains_key(member))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fnv(input: &str) -> u64 {
        let mut h = Fnv1a64::new();
        h.write(input.as_bytes());
        h.finish()
    }

    #[test]
    fn fnv1a64_matches_the_published_vectors() {
        assert_eq!(fnv(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn page_tag_is_weak_and_fixed_by_the_algorithm() {
        let params = PageParams {
            after: None,
            limit: 2,
            scope: None,
            member: Some("etag"),
        };
        let items = ["\"doc-1-v3\"".parse::<EntityTag>().unwrap()];
        let tag = page_tag(&params, &items, None);
        assert!(tag.is_weak());
        let text = "occ-page-1\nafter=\nlimit=2\nscope=\nmember=etag\n\"doc-1-v3\"\nnext=\n";
        assert_eq!(tag.to_string(), format!("W/\"{:016x}\"", fnv(text)));
        let scoped = PageParams {
            scope: Some(&Scope::new("tenant_id", 7)),
            ..params
        };
        let text = "occ-page-1\nafter=\nlimit=2\nscope=[\"tenant_id\",7]\nmember=etag\n\"doc-1-v3\"\nnext=\n";
        assert_eq!(
            page_tag(&scoped, &items, None).to_string(),
            format!("W/\"{:016x}\"", fnv(text))
        );
    }

    #[test]
    fn member_is_appended_to_objects_only_and_never_replaces_one() {
        let tag: EntityTag = "\"doc-1-v3\"".parse().unwrap();
        let mut item = br#"{"id":1,"title":"a"}"#.to_vec();
        assert_eq!(with_member(&mut item, "etag", &tag), Added::Yes);
        assert_eq!(item, br#"{"id":1,"title":"a","etag":"\"doc-1-v3\""}"#);
        let mut empty = b"{}".to_vec();
        assert_eq!(with_member(&mut empty, "etag", &tag), Added::Yes);
        assert_eq!(empty, br#"{"etag":"\"doc-1-v3\""}"#);
        let mut taken = br#"{"id":1,"etag":"mine"}"#.to_vec();
        assert_eq!(with_member(&mut taken, "etag", &tag), Added::Taken);
        assert_eq!(taken, br#"{"id":1,"etag":"mine"}"#);
        // A value that merely contains the text is not a member.
        let mut nested = br#"{"id":1,"note":{"etag":"x"}}"#.to_vec();
        assert_eq!(with_member(&mut nested, "etag", &tag), Added::Yes);
        let mut array = br#"[1,3,"a"]"#.to_vec();
        assert_eq!(with_member(&mut array, "etag", &tag), Added::NotAnObject);
        assert_eq!(array, br#"[1,3,"a"]"#);
    }
}
