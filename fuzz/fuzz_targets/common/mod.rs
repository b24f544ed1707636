//! A reference reading of the RFC 9110 grammar (G-* in docs/design.md), written
//! straight from the ABNF and deliberately unlike occ-core's parser (it
//! allocates, joins the lines first and splits on commas outside quotes),
//! so the fuzz targets can compare the two.
//!
//! ```text
//! entity-tag = [ weak ] opaque-tag          weak = %s"W/"
//! opaque-tag = DQUOTE *etagc DQUOTE         etagc = %x21 / %x23-7E / %x80-FF
//! #element   = [ element ] *( OWS "," OWS [ element ] )
//! ```
#![allow(dead_code)]

use occ_core::{ListKind, MalformedList};

/// `etagc = %x21 / %x23-7E / obs-text` (G-2).
pub fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7E).contains(&b) || b >= 0x80
}

/// `OWS = *( SP / HTAB )`.
pub fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Strips OWS from both ends (G-7).
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// An entity tag as the reference sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefTag {
    pub weak: bool,
    pub opaque: Vec<u8>,
}

impl RefTag {
    /// The wire form: `W/"…"` or `"…"`.
    pub fn wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.opaque.len() + 4);
        if self.weak {
            out.extend_from_slice(b"W/");
        }
        out.push(b'"');
        out.extend_from_slice(&self.opaque);
        out.push(b'"');
        out
    }
}

/// The whole of `s` as one `entity-tag`, or `None`.
pub fn parse_tag(s: &[u8]) -> Option<RefTag> {
    let (weak, rest) = match s.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let opaque = rest.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    opaque.iter().all(|&b| is_etagc(b)).then(|| RefTag {
        weak,
        opaque: opaque.to_vec(),
    })
}

/// One list element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefElement {
    Any,
    Tag(RefTag),
}

/// What the reference decides for an `If-Match` / `If-None-Match` field,
/// with the project's caps and design decision 1 (empty and `*`-with-others
/// are malformed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefList {
    Any,
    Tags(Vec<RefTag>),
    Syntax,
    Empty,
    AnyWithOthers,
    TooMany,
    TooLong,
}

impl RefList {
    /// The same classification of occ-core's result, ignoring where a
    /// syntax error was reported.
    pub fn same_as(&self, got: &Result<ListKind, MalformedList>) -> bool {
        match (self, got) {
            (Self::Any, Ok(ListKind::Any)) => true,
            (Self::Tags(tags), Ok(ListKind::Tags(n))) => tags.len() == *n,
            (Self::Syntax, Err(MalformedList::Syntax { .. })) => true,
            (Self::Empty, Err(MalformedList::Empty)) => true,
            (Self::AnyWithOthers, Err(MalformedList::AnyWithOthers)) => true,
            (Self::TooMany, Err(MalformedList::TooMany)) => true,
            (Self::TooLong, Err(MalformedList::TooLong)) => true,
            _ => false,
        }
    }

    /// Whether the field matches `current` (IM-3/IM-4, INM-3/INM-4), when
    /// it is well formed.
    pub fn matches(&self, current: Option<&RefTag>, strong: bool) -> Option<bool> {
        match self {
            Self::Any => Some(current.is_some()),
            Self::Tags(tags) => Some(current.is_some_and(|c| {
                tags.iter()
                    .any(|t| t.opaque == c.opaque && (!strong || (!t.weak && !c.weak)))
            })),
            _ => None,
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Any | Self::Tags(_))
    }
}

/// Evaluates a field that arrived on `lines`: the lines are combined with
/// `", "` (G-12), split on commas outside quotes, each piece trimmed of OWS
/// and, unless empty (G-10), read as `*` or one entity tag.
///
/// Caps, as occ-core documents them: more than `max_bytes` octets over all
/// lines (not counting the joins) is `TooLong`; reaching element number
/// `max_elements + 1` before any syntax error is `TooMany`.
pub fn parse_list(lines: &[&[u8]], max_elements: usize, max_bytes: usize) -> RefList {
    if lines.iter().map(|l| l.len()).sum::<usize>() > max_bytes {
        return RefList::TooLong;
    }
    let joined = lines.join(&b", "[..]);
    let mut pieces = Vec::new();
    let (mut quoted, mut start) = (false, 0);
    for (i, &b) in joined.iter().enumerate() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == b',' && !quoted {
            pieces.push(&joined[start..i]);
            start = i + 1;
        }
    }
    pieces.push(&joined[start..]);

    let mut elements = Vec::new();
    for piece in pieces {
        let piece = trim_ows(piece);
        if piece.is_empty() {
            continue;
        }
        let element = if piece == b"*" {
            RefElement::Any
        } else {
            match parse_tag(piece) {
                Some(tag) => RefElement::Tag(tag),
                None => return RefList::Syntax,
            }
        };
        elements.push(element);
        if elements.len() > max_elements {
            return RefList::TooMany;
        }
    }
    let stars = elements.iter().filter(|e| **e == RefElement::Any).count();
    match (stars, elements.len()) {
        (0, 0) => RefList::Empty,
        (1, 1) => RefList::Any,
        (0, _) => RefList::Tags(
            elements
                .into_iter()
                .filter_map(|e| match e {
                    RefElement::Tag(t) => Some(t),
                    RefElement::Any => None,
                })
                .collect(),
        ),
        _ => RefList::AnyWithOthers,
    }
}
