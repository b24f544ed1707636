//! The `If-Match` / `If-None-Match` field value: `"*"` or a list of entity
//! tags, over every header line that carried it (G-10 … G-13).

use std::fmt;
use std::sync::Arc;

use http::header::GetAll;
use http::HeaderValue;

use crate::entity_tag::{EntityTagRef, InvalidEntityTag};

/// Most list elements accepted in one field (G-10 asks for a cap). A longer
/// list is malformed: no legitimate client sends more.
pub const MAX_LIST_ELEMENTS: usize = 64;

/// Most octets accepted in one field, all lines together.
pub const MAX_FIELD_BYTES: usize = 8 * 1024;

/// The raw value of an `If-Match` or `If-None-Match` field, kept as received.
///
/// It holds the header lines themselves (cloning a `HeaderValue` shares its
/// buffer), and parses them on demand without allocating: see
/// [`EntityTagList::elements`] and [`EntityTagList::validate`].
///
/// ```
/// use occ_core::{EntityTag, EntityTagList, ListKind};
///
/// let list = EntityTagList::from_value(http::HeaderValue::from_static(r#", "a" ,, W/"b","#));
/// assert_eq!(list.validate(), Ok(ListKind::Tags(2)));
/// let current: EntityTag = "\"a\"".parse()?;
/// assert!(list.contains_strong(current.as_tag_ref()));
/// # Ok::<(), occ_core::InvalidEntityTag>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EntityTagList {
    lines: Lines,
}

#[derive(Clone, PartialEq, Eq)]
enum Lines {
    /// A single line that is exactly `*`, the usual create-once field:
    /// kept without touching the request's buffer.
    Any,
    One(HeaderValue),
    /// Several lines (rare). Shared rather than boxed: dropping it is then
    /// a small inlined check, not a loop, which keeps dropping the other
    /// variants cheap too.
    Many(Arc<[HeaderValue]>),
}

impl EntityTagList {
    /// A list from a single header line.
    #[inline]
    pub fn from_value(value: HeaderValue) -> Self {
        // One representation per meaning: `*` compares equal however built.
        let lines = if is_any(value.as_bytes()) {
            Lines::Any
        } else {
            Lines::One(value)
        };
        Self { lines }
    }

    /// A list from every line of the field, in order (G-12), or `None` if
    /// the field is absent.
    #[inline(always)]
    pub fn from_lines(lines: GetAll<'_, HeaderValue>) -> Option<Self> {
        let mut iter = lines.iter();
        let first = iter.next()?;
        let Some(second) = iter.next() else {
            // One line, the usual case; `*` keeps nothing of the request.
            let lines = if is_any(first.as_bytes()) {
                Lines::Any
            } else {
                Lines::One(first.clone())
            };
            return Some(Self { lines });
        };
        Some(Self::from_many(first, second, iter))
    }

    #[cold]
    fn from_many<'a>(
        first: &'a HeaderValue,
        second: &'a HeaderValue,
        rest: impl Iterator<Item = &'a HeaderValue>,
    ) -> Self {
        let all = [first, second].into_iter().chain(rest).cloned().collect();
        Self {
            lines: Lines::Many(all),
        }
    }

    fn lines(&self) -> &[HeaderValue] {
        static ANY: HeaderValue = HeaderValue::from_static("*");
        match &self.lines {
            Lines::Any => std::slice::from_ref(&ANY),
            Lines::One(value) => std::slice::from_ref(value),
            Lines::Many(values) => values,
        }
    }

    /// The elements of the combined field value, in order, skipping empty
    /// ones. The iterator stops after the first syntax error.
    pub fn elements(&self) -> Elements<'_> {
        Elements {
            lines: self.lines(),
            line: 0,
            rest: &[],
            started: false,
            failed: false,
        }
    }

    /// Validates the whole field: `"*"` alone, or one or more entity tags.
    ///
    /// Malformed values (design decision 1, docs/design.md) are: a syntax error, an empty
    /// list (G-11), `"*"` together with anything else (G-13, IM-7, INM-8), or
    /// a field over [`MAX_LIST_ELEMENTS`] or [`MAX_FIELD_BYTES`].
    #[inline]
    pub fn validate(&self) -> Result<ListKind, MalformedList> {
        self.validate_each(|_| ())
    }

    /// [`validate`](Self::validate), handing each listed tag to `visit` in the
    /// same pass: a caller that needs the tags of a valid field reads the
    /// field once. On a malformed field some tags may have been visited.
    #[inline]
    pub(crate) fn validate_each<'a>(
        &'a self,
        visit: impl FnMut(EntityTagRef<'a>),
    ) -> Result<ListKind, MalformedList> {
        if let Lines::Any = self.lines {
            return Ok(ListKind::Any);
        }
        self.scan(visit)
    }

    /// Validates the whole field (as [`validate`](Self::validate) does) and, in
    /// the same pass, compares it with `current`: `Ok(true)` when the field
    /// is `"*"` and there is a current representation, or when a listed tag
    /// equals `current` under `comparison`.
    ///
    /// The whole list is always read, so a syntax error after a matching
    /// tag still makes the field malformed (fail closed).
    ///
    /// ```
    /// use occ_core::{Comparison, EntityTag, EntityTagList};
    ///
    /// let list = EntityTagList::from_value(http::HeaderValue::from_static(r#"W/"a", "b""#));
    /// let a: EntityTag = "\"a\"".parse()?;
    /// assert_eq!(list.matches(Some(a.as_tag_ref()), Comparison::Strong), Ok(false));
    /// assert_eq!(list.matches(Some(a.as_tag_ref()), Comparison::Weak), Ok(true));
    /// # Ok::<(), occ_core::InvalidEntityTag>(())
    /// ```
    #[inline(always)]
    pub fn matches(
        &self,
        current: Option<EntityTagRef<'_>>,
        comparison: Comparison,
    ) -> Result<bool, MalformedList> {
        // `*` (IM-3, INM-3) is answered here, without reading the lines.
        if let Lines::Any = self.lines {
            return Ok(current.is_some());
        }
        let mut matched = false;
        let kind = self.scan(|tag| {
            matched = matched
                || current.is_some_and(|c| match comparison {
                    Comparison::Strong => tag.strong_eq(c),
                    Comparison::Weak => tag.weak_eq(c),
                });
        })?;
        Ok(match kind {
            ListKind::Any => current.is_some(),
            ListKind::Tags(_) => matched,
        })
    }

    /// Reads the lines of a list that is not the single-line `*`, handing
    /// each tag to `visit`.
    fn scan<'a>(
        &'a self,
        mut visit: impl FnMut(EntityTagRef<'a>),
    ) -> Result<ListKind, MalformedList> {
        let bytes: usize = self.lines().iter().map(|l| l.len()).sum();
        if bytes > MAX_FIELD_BYTES {
            return Err(MalformedList::TooLong);
        }
        let (mut tags, mut stars) = (0usize, 0usize);
        for element in self.elements() {
            match element? {
                ListElement::Any => stars += 1,
                ListElement::Tag(tag) => {
                    tags += 1;
                    visit(tag);
                }
            }
            if tags + stars > MAX_LIST_ELEMENTS {
                return Err(MalformedList::TooMany);
            }
        }
        match (stars, tags) {
            (0, 0) => Err(MalformedList::Empty),
            (1, 0) => Ok(ListKind::Any),
            (0, n) => Ok(ListKind::Tags(n)),
            _ => Err(MalformedList::AnyWithOthers),
        }
    }

    /// Whether a listed tag matches `current` by strong comparison (IM-1).
    /// Only meaningful once [`validate`](Self::validate) has passed;
    /// [`matches`](Self::matches) does both in one pass.
    pub fn contains_strong(&self, current: EntityTagRef<'_>) -> bool {
        self.tags().any(|tag| tag.strong_eq(current))
    }

    /// Whether a listed tag matches `current` by weak comparison (INM-1).
    /// Only meaningful once [`validate`](Self::validate) has passed;
    /// [`matches`](Self::matches) does both in one pass.
    pub fn contains_weak(&self, current: EntityTagRef<'_>) -> bool {
        self.tags().any(|tag| tag.weak_eq(current))
    }

    fn tags(&self) -> impl Iterator<Item = EntityTagRef<'_>> {
        self.elements().map_while(|e| match e {
            Ok(ListElement::Tag(tag)) => Some(tag),
            _ => None,
        })
    }
}

impl fmt::Debug for EntityTagList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.lines()).finish()
    }
}

/// How a listed tag is compared with the current one (CMP-1, CMP-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Both strong and the same opaque octets: `If-Match` (IM-1).
    Strong,
    /// The same opaque octets, weakness ignored: `If-None-Match` (INM-1).
    Weak,
}

/// What a well-formed list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `*`: any current representation.
    Any,
    /// This many entity tags (at least one).
    Tags(usize),
}

/// One element of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListElement<'a> {
    /// `*`.
    Any,
    /// An entity tag.
    Tag(EntityTagRef<'a>),
}

/// Why a list field is malformed. Every variant makes `If-Match` false
/// (IM-5) and, on unsafe methods, `If-None-Match` false (design decision 1, docs/design.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MalformedList {
    /// An element is not `*` nor an entity tag, or elements are not
    /// separated by commas.
    Syntax {
        /// Index of the header line, when the field came on several.
        line: usize,
        /// The error within that line.
        error: InvalidEntityTag,
    },
    /// No element at all (an empty value, or only commas).
    Empty,
    /// `*` together with other elements, including another `*`.
    AnyWithOthers,
    /// More than [`MAX_LIST_ELEMENTS`] elements.
    TooMany,
    /// More than [`MAX_FIELD_BYTES`] octets.
    TooLong,
}

impl fmt::Display for MalformedList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax { line, error } => write!(f, "line {}: {error}", line + 1),
            Self::Empty => f.write_str("the list is empty: send `*` or at least one entity tag"),
            Self::AnyWithOthers => f.write_str("`*` cannot be combined with other list members"),
            Self::TooMany => write!(f, "more than {MAX_LIST_ELEMENTS} list members"),
            Self::TooLong => write!(f, "the field is longer than {MAX_FIELD_BYTES} bytes"),
        }
    }
}

impl std::error::Error for MalformedList {}

/// Iterator over the elements of an [`EntityTagList`], across its lines.
#[derive(Debug)]
pub struct Elements<'a> {
    lines: &'a [HeaderValue],
    line: usize,
    rest: &'a [u8],
    started: bool,
    failed: bool,
}

impl<'a> Elements<'a> {
    fn error_at(&mut self, at: &[u8]) -> MalformedList {
        self.failed = true;
        let line_len = self.lines[self.line].len();
        MalformedList::Syntax {
            line: self.line,
            error: InvalidEntityTag::at(line_len - at.len()),
        }
    }
}

/// Whether a single line is exactly `*`, surrounding whitespace aside
/// (G-7): the create-once field, answered without a scan.
#[inline]
fn is_any(line: &[u8]) -> bool {
    match line {
        [b'*'] => true,
        // Whitespace a lenient parser left around the value (rare).
        [b' ' | b'\t', ..] | [.., b' ' | b'\t'] => crate::entity_tag::trim_ows(line).1 == b"*",
        _ => false,
    }
}

fn skip_ows(input: &[u8]) -> &[u8] {
    let n = input
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(input.len());
    &input[n..]
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<ListElement<'a>, MalformedList>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let rest = skip_ows(self.rest);
            if rest.is_empty() {
                // Next line, if any (lines combine as if joined by commas).
                if self.started {
                    self.line += 1;
                }
                self.started = true;
                let line = self.lines.get(self.line)?;
                self.rest = line.as_bytes();
                continue;
            }
            if let Some(after) = rest.strip_prefix(b",") {
                self.rest = after;
                continue;
            }
            let (element, after) = match rest {
                [b'*', after @ ..] => (ListElement::Any, after),
                _ => match EntityTagRef::parse_prefix(rest) {
                    Some((tag, after)) => (ListElement::Tag(tag), after),
                    None => return Some(Err(self.error_at(rest))),
                },
            };
            let after = skip_ows(after);
            self.rest = match after {
                [] => after,
                [b',', tail @ ..] => tail,
                _ => return Some(Err(self.error_at(after))),
            };
            return Some(Ok(element));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(lines: &[&'static str]) -> EntityTagList {
        let mut map = http::HeaderMap::new();
        for l in lines {
            map.append(http::header::IF_MATCH, HeaderValue::from_static(l));
        }
        EntityTagList::from_lines(map.get_all(http::header::IF_MATCH)).unwrap()
    }

    fn opaques(l: &EntityTagList) -> Vec<Vec<u8>> {
        l.elements()
            .map(|e| match e.unwrap() {
                ListElement::Any => b"*".to_vec(),
                ListElement::Tag(t) => t.opaque().to_vec(),
            })
            .collect()
    }

    #[test]
    fn g_10_empty_elements_and_ows_are_ignored() {
        let l = list(&[r#", "a" ,, "b","#]);
        assert_eq!(l.validate(), Ok(ListKind::Tags(2)));
        assert_eq!(opaques(&l), vec![b"a".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn g_10_element_count_is_capped() {
        let many = vec![r#""x""#; MAX_LIST_ELEMENTS + 1].join(",");
        let l = EntityTagList::from_value(HeaderValue::from_str(&many).unwrap());
        assert_eq!(l.validate(), Err(MalformedList::TooMany));
        let ok = vec![r#""x""#; MAX_LIST_ELEMENTS].join(",");
        let l = EntityTagList::from_value(HeaderValue::from_str(&ok).unwrap());
        assert_eq!(l.validate(), Ok(ListKind::Tags(MAX_LIST_ELEMENTS)));
    }

    #[test]
    fn g_2_comma_inside_a_tag_does_not_split() {
        let l = list(&[r#""a,b", "c""#]);
        assert_eq!(opaques(&l), vec![b"a,b".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn g_11_empty_list_is_malformed() {
        assert_eq!(list(&[""]).validate(), Err(MalformedList::Empty));
        assert_eq!(list(&[" , ,"]).validate(), Err(MalformedList::Empty));
    }

    #[test]
    fn g_12_lines_combine_in_order() {
        let l = list(&[r#""a""#, r#""b", "c""#]);
        assert_eq!(l.validate(), Ok(ListKind::Tags(3)));
        assert_eq!(opaques(&l).len(), 3);
    }

    #[test]
    fn g_13_star_with_others_is_malformed() {
        assert_eq!(
            list(&["*, \"a\""]).validate(),
            Err(MalformedList::AnyWithOthers)
        );
        assert_eq!(
            list(&["*", "*"]).validate(),
            Err(MalformedList::AnyWithOthers)
        );
        assert_eq!(
            list(&["*", "\"a\""]).validate(),
            Err(MalformedList::AnyWithOthers)
        );
        assert_eq!(list(&[" * "]).validate(), Ok(ListKind::Any));
    }

    #[test]
    fn g_7_a_padded_star_is_the_same_list_as_star() {
        let star = EntityTagList::from_value(HeaderValue::from_static("*"));
        assert_eq!(list(&["*"]), star);
        for padded in [" *", "*\t", " \t* "] {
            assert_eq!(list(&[padded]), star, "{padded:?}");
            let value = HeaderValue::from_static(padded);
            assert_eq!(EntityTagList::from_value(value), star, "{padded:?}");
        }
        for other in [" ", "\t", " *x", "x* ", "* *", " ** "] {
            assert_ne!(list(&[other]), star, "{other:?}");
            assert!(list(&[other]).validate().is_err(), "{other:?}");
        }
    }

    #[test]
    fn syntax_errors_are_reported_not_recovered() {
        for bad in [
            "abc",
            "\"a\" \"b\"",
            "\"a",
            "W/ \"a\"",
            "w/\"a\"",
            "**",
            "\"a\"x",
        ] {
            assert!(
                matches!(list(&[bad]).validate(), Err(MalformedList::Syntax { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn syntax_error_names_line_and_position() {
        let err = list(&["\"a\"", "\"b\" x"]).validate().unwrap_err();
        match err {
            MalformedList::Syntax { line, error } => {
                assert_eq!(line, 1);
                assert_eq!(error.position(), 4);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
