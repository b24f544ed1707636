//! Entity tags (RFC 9110 §8.8.3): parsing, formatting and the two comparison
//! functions.

use std::error::Error;
use std::fmt;
use std::str::FromStr;

/// Whether `b` may appear between the quotes of an entity tag (G-2):
/// `%x21 / %x23-7E / obs-text`. SP, HTAB, DQUOTE, CTLs and DEL may not.
#[inline]
pub(crate) const fn is_etagc(b: u8) -> bool {
    b == 0x21 || (b >= 0x23 && b != 0x7F)
}

/// An owned entity tag, as sent in an `ETag` response header.
///
/// The value keeps its wire form (`"abc"` or `W/"abc"`), so formatting for a
/// header costs nothing. Tags parsed from clients may hold obs-text octets
/// (G-9); they are kept as bytes and compared byte-wise (CMP-1, CMP-2).
///
/// ```
/// use occ_core::EntityTag;
///
/// let tag: EntityTag = "\"prof-42-v7\"".parse()?;
/// assert!(!tag.is_weak());
/// assert_eq!(tag.opaque(), b"prof-42-v7");
/// assert_eq!(tag.to_string(), "\"prof-42-v7\"");
///
/// let weak = EntityTag::weak("prof-42-v7")?;
/// assert!(tag.weak_eq(&weak));
/// assert!(!tag.strong_eq(&weak));
/// # Ok::<(), occ_core::InvalidEntityTag>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EntityTag {
    /// The wire form: optional `W/`, then the quoted opaque part. A `Vec`
    /// so that a tag built in place is kept without another copy.
    wire: Vec<u8>,
}

impl EntityTag {
    /// A strong tag with the given opaque part (without quotes).
    ///
    /// Fails when `opaque` holds a byte outside `etagc`, such as a space or a
    /// double quote. A backslash is refused too: RFC 9110 §8.8.3 says servers
    /// ought to avoid it, as some recipients unescape it (G-3).
    pub fn strong(opaque: &str) -> Result<Self, InvalidEntityTag> {
        Self::build(false, opaque.as_bytes())
    }

    /// A weak tag (`W/"…"`) with the given opaque part (without quotes).
    ///
    /// Same rules as [`EntityTag::strong`].
    pub fn weak(opaque: &str) -> Result<Self, InvalidEntityTag> {
        Self::build(true, opaque.as_bytes())
    }

    fn build(weak: bool, opaque: &[u8]) -> Result<Self, InvalidEntityTag> {
        if let Some(pos) = opaque.iter().position(|&b| !is_etagc(b) || b == b'\\') {
            return Err(InvalidEntityTag { position: pos });
        }
        Ok(Self::from_valid_parts(weak, opaque))
    }

    /// Builds a tag from parts already known to be valid `etagc` octets.
    pub(crate) fn from_valid_parts(weak: bool, opaque: &[u8]) -> Self {
        let mut wire = Vec::with_capacity(opaque.len() + 4);
        if weak {
            wire.extend_from_slice(b"W/");
        }
        wire.push(b'"');
        wire.extend_from_slice(opaque);
        wire.push(b'"');
        Self { wire }
    }

    /// A tag from its complete wire form, already valid (built by
    /// [`EntityTagBuilder`](crate::EntityTagBuilder)).
    pub(crate) fn from_valid_wire(wire: Vec<u8>) -> Self {
        Self { wire }
    }

    /// Parses one entity tag from raw header bytes (G-1, G-2, G-7).
    ///
    /// Leading and trailing whitespace is ignored; anything else outside the
    /// grammar is an error. A backslash is an ordinary octet (G-3).
    pub fn parse_bytes(input: &[u8]) -> Result<Self, InvalidEntityTag> {
        let (start, trimmed) = trim_ows(input);
        match EntityTagRef::parse_prefix(trimmed) {
            Some((tag, [])) => Ok(tag.to_entity_tag()),
            Some((_, rest)) => Err(InvalidEntityTag {
                position: start + trimmed.len() - rest.len(),
            }),
            None => Err(InvalidEntityTag { position: start }),
        }
    }

    /// Whether the tag is weak (`W/` prefix).
    pub fn is_weak(&self) -> bool {
        self.wire.first() == Some(&b'W')
    }

    /// The opaque part, without `W/` and without the quotes.
    pub fn opaque(&self) -> &[u8] {
        let start = if self.is_weak() { 3 } else { 1 };
        &self.wire[start..self.wire.len() - 1]
    }

    /// The tag as it goes on the wire, such as `W/"abc"`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.wire
    }

    /// A borrowed view, for comparing with tags parsed from a request.
    pub fn as_tag_ref(&self) -> EntityTagRef<'_> {
        EntityTagRef {
            weak: self.is_weak(),
            opaque: self.opaque(),
        }
    }

    /// Strong comparison (CMP-1): both strong and the same opaque octets.
    pub fn strong_eq(&self, other: &EntityTag) -> bool {
        self.as_tag_ref().strong_eq(other.as_tag_ref())
    }

    /// Weak comparison (CMP-2): the same opaque octets, weakness ignored.
    pub fn weak_eq(&self, other: &EntityTag) -> bool {
        self.as_tag_ref().weak_eq(other.as_tag_ref())
    }

    /// The tag as an `ETag` header value.
    pub fn to_header_value(&self) -> http::HeaderValue {
        // Every byte is VCHAR or obs-text, which `HeaderValue` accepts.
        http::HeaderValue::from_bytes(&self.wire)
            .unwrap_or_else(|_| http::HeaderValue::from_static("\"\""))
    }

    /// The tag as an `ETag` header value, its octets moved rather than
    /// copied.
    pub fn into_header_value(self) -> http::HeaderValue {
        http::HeaderValue::from_maybe_shared(bytes::Bytes::from(self.wire))
            .unwrap_or_else(|_| http::HeaderValue::from_static("\"\""))
    }
}

impl fmt::Display for EntityTag {
    /// Writes the wire form. Tags made by this crate are ASCII; an obs-text
    /// octet received from a client that is not UTF-8 is written as U+FFFD.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.wire) {
            Ok(s) => f.write_str(s),
            Err(_) => f.write_str(&String::from_utf8_lossy(&self.wire)),
        }
    }
}

impl fmt::Debug for EntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntityTag({self})")
    }
}

impl FromStr for EntityTag {
    type Err = InvalidEntityTag;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_bytes(s.as_bytes())
    }
}

impl From<&EntityTag> for http::HeaderValue {
    fn from(tag: &EntityTag) -> Self {
        tag.to_header_value()
    }
}

/// An entity tag borrowed from a request header: no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntityTagRef<'a> {
    weak: bool,
    opaque: &'a [u8],
}

impl<'a> EntityTagRef<'a> {
    /// Parses a tag at the start of `input` and returns it with the rest of
    /// the input, or `None` if `input` does not start with an entity tag.
    pub(crate) fn parse_prefix(input: &'a [u8]) -> Option<(Self, &'a [u8])> {
        let (weak, quoted) = match input {
            [b'W', b'/', rest @ ..] => (true, rest),
            rest => (false, rest),
        };
        let body = quoted.strip_prefix(b"\"")?;
        let len = body.iter().position(|&b| !is_etagc(b))?;
        if body[len] != b'"' {
            return None;
        }
        Some((
            Self {
                weak,
                opaque: &body[..len],
            },
            &body[len + 1..],
        ))
    }

    /// Whether the tag is weak (`W/` prefix).
    pub fn is_weak(self) -> bool {
        self.weak
    }

    /// The opaque part, without `W/` and without the quotes.
    pub fn opaque(self) -> &'a [u8] {
        self.opaque
    }

    /// Strong comparison (CMP-1): both strong and the same opaque octets.
    pub fn strong_eq(self, other: EntityTagRef<'_>) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// Weak comparison (CMP-2): the same opaque octets, weakness ignored.
    pub fn weak_eq(self, other: EntityTagRef<'_>) -> bool {
        self.opaque == other.opaque
    }

    /// The same tag, weak or strong: weak comparison (CMP-2) ignores the
    /// difference, so a tag can be looked up in either form.
    pub fn with_weakness(self, weak: bool) -> Self {
        Self { weak, ..self }
    }

    /// An owned copy. (Named so that it is not mistaken for
    /// `ToOwned::to_owned`, which copies the borrowed view itself.)
    pub fn to_entity_tag(self) -> EntityTag {
        EntityTag::from_valid_parts(self.weak, self.opaque)
    }
}

impl fmt::Debug for EntityTagRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = if self.weak { "W/" } else { "" };
        write!(f, "EntityTagRef({w}\"{}\")", self.opaque.escape_ascii())
    }
}

/// Trims optional whitespace (SP and HTAB, G-7) from both ends and returns
/// the offset of the first kept byte with the trimmed slice.
pub(crate) fn trim_ows(input: &[u8]) -> (usize, &[u8]) {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = input.iter().position(|b| !is_ows(b)).unwrap_or(input.len());
    let end = input
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |e| e + 1);
    (start, &input[start..end])
}

/// The input is not a valid entity tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEntityTag {
    position: usize,
}

impl InvalidEntityTag {
    pub(crate) fn at(position: usize) -> Self {
        Self { position }
    }

    /// Byte offset of the first octet that breaks the grammar.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl fmt::Display for InvalidEntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid entity tag at byte {}: expected `\"…\"` or `W/\"…\"` with visible ASCII or obs-text between the quotes",
            self.position
        )
    }
}

impl Error for InvalidEntityTag {}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> EntityTag {
        s.parse().unwrap()
    }

    #[test]
    fn g_1_weak_prefix_is_case_sensitive() {
        assert!(tag("W/\"x\"").is_weak());
        assert!("w/\"x\"".parse::<EntityTag>().is_err());
    }

    #[test]
    fn g_2_etagc_excludes_space_quote_ctl_del_and_includes_comma_star_backslash() {
        for bad in [
            "\"a b\"",
            "\"a\tb\"",
            "\"a\x7fb\"",
            "\"a\x01b\"",
            "\"a\"b\"",
            "abc",
            "\"abc",
        ] {
            assert!(
                bad.parse::<EntityTag>().is_err(),
                "{bad:?} must be rejected"
            );
        }
        for good in [
            "\"\"",
            "\"a,b\"",
            "\"*\"",
            "\"a;b\"",
            "\"a\\b\"",
            "\"caf\u{e9}\"",
        ] {
            assert_eq!(tag(good).to_string(), good);
        }
    }

    #[test]
    fn g_3_backslash_is_not_an_escape_and_never_generated() {
        assert_eq!(tag("\"a\\\"").opaque(), b"a\\");
        assert!(EntityTag::strong("a\\b").is_err());
    }

    #[test]
    fn g_7_surrounding_whitespace_is_trimmed() {
        assert_eq!(tag(" \t\"x\" ").opaque(), b"x");
    }

    #[test]
    fn g_9_obs_text_is_kept_as_bytes() {
        let t = EntityTag::parse_bytes(b"\"\xff\x80\"").unwrap();
        assert_eq!(t.opaque(), b"\xff\x80");
        assert_eq!(t.to_header_value().as_bytes(), b"\"\xff\x80\"");
    }

    #[test]
    fn cmp_3_comparison_table() {
        let cases = [
            ("W/\"1\"", "W/\"1\"", false, true),
            ("W/\"1\"", "W/\"2\"", false, false),
            ("W/\"1\"", "\"1\"", false, true),
            ("\"1\"", "\"1\"", true, true),
            ("\"foo\"", "\"Foo\"", false, false),
        ];
        for (a, b, strong, weak) in cases {
            let (a, b) = (tag(a), tag(b));
            assert_eq!(a.strong_eq(&b), strong, "{a} strong {b}");
            assert_eq!(b.strong_eq(&a), strong, "{b} strong {a}");
            assert_eq!(a.weak_eq(&b), weak, "{a} weak {b}");
            assert_eq!(b.weak_eq(&a), weak, "{b} weak {a}");
        }
    }

    #[test]
    fn error_reports_position() {
        assert_eq!("\"ab\" x".parse::<EntityTag>().unwrap_err().position(), 4);
        assert_eq!("  x".parse::<EntityTag>().unwrap_err().position(), 2);
    }
}
