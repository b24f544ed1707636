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

use std::sync::atomic::{AtomicBool, Ordering};

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, ETAG};
use http::{HeaderMap, Method, StatusCode};
use occ_core::repository::{Page, Scope, ScopeValue};
use occ_core::{Decision, EntityTag, Policy, Preconditions, Target, Versioned};
use serde::de::IgnoredAny;
use serde::Serialize;
use serde_json::Value;

use crate::headers::JSON;
use crate::problem::Problem;
use crate::response::NotModified;

/// A page of a list, answered as the generated routes answer theirs
/// (design decision 18), for a hand-written list handler: each item as a
/// GET of it shows it, with its entity tag in a member (`etag` unless
/// [`item_tags`](Self::item_tags) says otherwise), `next_after` when there
/// may be more, the page's weak `ETag`, and 304 to an `If-None-Match`
/// that names it (412 to an `If-Match` that does not).
///
/// ```
/// use axum::response::IntoResponse;
/// use http::{HeaderMap, Method, StatusCode};
/// use occ_axum::Listing;
/// use occ_core::repository::Page;
/// use occ_core::Versioned;
///
/// #[derive(serde::Serialize, Versioned)]
/// #[occ(etag = "n-{id}-v{version}")]
/// struct Note { id: u64, #[version] version: u64 }
///
/// let page = Page { items: vec![Note { id: 1, version: 2 }], next_after: None };
/// let listing = Listing::new(page, None::<&u64>, 100).unwrap();
/// let etag = listing.etag().to_string();
/// let response = listing.respond(&Method::GET, &HeaderMap::new());
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(response.headers()["etag"], etag.as_str());
///
/// // The client's copy is current: 304.
/// let page = Page { items: vec![Note { id: 1, version: 2 }], next_after: None };
/// let mut headers = HeaderMap::new();
/// headers.insert("if-none-match", etag.parse().unwrap());
/// let again = Listing::new(page, None::<&u64>, 100).unwrap().respond(&Method::GET, &headers);
/// assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
/// ```
#[derive(Debug)]
pub struct Listing<'a, M> {
    items: Vec<M>,
    tags: Vec<EntityTag>,
    after: Option<Vec<u8>>,
    next_after: Option<Vec<u8>>,
    limit: u32,
    scope: Option<&'a Scope>,
    member: Option<&'a str>,
}

impl<'a, M: Versioned + Serialize> Listing<'a, M> {
    /// The page read with `after` (the request's, if any) and `limit`
    /// (as applied).
    pub fn new<I: Serialize>(
        page: Page<M>,
        after: Option<&I>,
        limit: u32,
    ) -> Result<Self, serde_json::Error>
    where
        M::Id: Serialize,
    {
        let after = after.map(serde_json::to_vec).transpose()?;
        let next_after = page
            .next_after
            .as_ref()
            .map(serde_json::to_vec)
            .transpose()?;
        let tags = page.items.iter().map(Versioned::entity_tag).collect();
        Ok(Self {
            items: page.items,
            tags,
            after,
            next_after,
            limit,
            scope: None,
            member: Some("etag"),
        })
    }

    /// The request's scope, which the page's tag covers.
    pub fn scope(mut self, scope: Option<&'a Scope>) -> Self {
        self.scope = scope;
        self
    }

    /// The member each item's tag goes in; `None`: no member.
    pub fn item_tags(mut self, member: Option<&'a str>) -> Self {
        self.member = member;
        self
    }

    /// The page's weak entity tag.
    pub fn etag(&self) -> EntityTag {
        let params = PageParams {
            after: self.after.as_deref(),
            limit: self.limit,
            scope: self.scope,
            member: self.member,
        };
        page_tag(&params, &self.tags, self.next_after.as_deref())
    }

    /// The answer to `method` with the request's `headers`: 200 with the
    /// page and its `ETag`, 304 to an `If-None-Match` that names it (or
    /// `*`), 412 to an `If-Match` other than `*` (a page's tag is weak).
    pub fn respond(self, method: &Method, headers: &HeaderMap) -> Response {
        let etag = self.etag();
        // The page as a resource of its own: `If-None-Match` compares
        // weakly (INM-1) and `*` matches any page; a weak tag never passes
        // `If-Match` (IM-1), save `*`. The 304 is decided before a byte of
        // the body is written.
        let decision = Preconditions::from_headers(headers).evaluate(
            method,
            &Target::present(&etag),
            Policy::Optional,
        );
        match decision {
            Decision::NotModified => return NotModified::new(Some(etag)).into_response(),
            Decision::PreconditionFailed(failure) => {
                return Problem::new(StatusCode::PRECONDITION_FAILED)
                    .with_detail(failure.message())
                    .with_current_etag(etag)
                    .for_head(method == Method::HEAD)
                    .into_response()
            }
            Decision::Proceed | Decision::PreconditionRequired | Decision::NotFound => {}
        }
        match self.body() {
            Ok(body) => {
                let mut response = (StatusCode::OK, [(CONTENT_TYPE, JSON)], body).into_response();
                response.headers_mut().insert(ETAG, etag.to_header_value());
                response
            }
            Err(error) => {
                tracing::error!(%error, "cannot serialize a page of the collection");
                Problem::internal_error().into_response()
            }
        }
    }

    /// `{"items":[…],"next_after":…}`, each item as a GET of it shows it,
    /// with its tag appended in the member.
    fn body(&self) -> Result<Vec<u8>, serde_json::Error> {
        static WARNED: AtomicBool = AtomicBool::new(false);
        let mut body = Vec::with_capacity(64 + self.items.len() * 96);
        body.extend_from_slice(b"{\"items\":[");
        for (n, (item, tag)) in self.items.iter().zip(&self.tags).enumerate() {
            let mut text = serde_json::to_vec(item)?;
            if let Some(member) = self.member {
                if with_member(&mut text, member, tag) == Added::Taken
                    && !WARNED.swap(true, Ordering::Relaxed)
                {
                    tracing::warn!(
                        member,
                        "list items have a member of the name meant for their entity tags: it is \
                         left as the model has it; choose another with \
                         ConditionalRoutes::list_etag_member"
                    );
                }
            }
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&text);
        }
        body.push(b']');
        if let Some(next) = &self.next_after {
            body.extend_from_slice(b",\"next_after\":");
            body.extend_from_slice(next);
        }
        body.push(b'}');
        Ok(body)
    }
}

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
