//! Property tests for the parsers and the precondition engine:
//!
//! - entity tags round-trip through format and parse for every valid opaque
//!   part (`etagc` = 0x21, 0x23–0x7E, 0x80–0xFF), strong and weak (G-2, G-9);
//! - arbitrary bytes never panic in `EntityTag::parse_bytes`, in
//!   `EntityTagList` (`check`, `matches`, `elements`), in `DateField::parse`
//!   or in `Preconditions::from_headers` + `evaluate` for every method, and
//!   the engine's answers stay within what the method allows;
//! - a list of valid tags joined with arbitrary OWS and empty elements, on
//!   one line or split over several, parses back to the same tags in order
//!   (G-10, G-12);
//! - strong equivalence implies weak equivalence (CMP-1, CMP-2).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE};
use http::{HeaderMap, HeaderValue, Method};
use occ_core::{
    fmt_http_date, Comparison, DateField, Decision, EntityTag, EntityTagList, ListElement,
    ListKind, Policy, Preconditions, Target,
};
use proptest::prelude::*;

const CASES: u32 = 3_000;

/// For the properties that do a hundred evaluations or a multi-line
/// rebuild per case, to keep the whole file near 5 s in debug.
const HEAVY_CASES: u32 = 2_000;

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// One `etagc` octet: 0x21, 0x23–0x7E or obs-text 0x80–0xFF.
fn etagc() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0x21u8), 0x23u8..=0x7E, 0x80u8..=0xFF]
}

fn opaque() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(etagc(), 0..24)
}

/// The wire form of an entity tag.
fn wire(weak: bool, opaque: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(opaque.len() + 4);
    if weak {
        out.extend_from_slice(b"W/");
    }
    out.push(b'"');
    out.extend_from_slice(opaque);
    out.push(b'"');
    out
}

/// A valid tag as `(weak, opaque)`.
fn valid_tag() -> impl Strategy<Value = (bool, Vec<u8>)> {
    (any::<bool>(), opaque())
}

/// A tag from a tiny alphabet, so that two of them are often equal.
fn colliding_tag() -> impl Strategy<Value = (bool, Vec<u8>)> {
    (
        any::<bool>(),
        prop::collection::vec(prop_oneof![Just(b'a'), Just(b'b')], 0..3),
    )
}

/// Optional whitespace.
fn ows() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![Just(b' '), Just(b'\t')], 0..3)
}

/// A list separator: at least one comma, each surrounded by OWS, so that
/// empty elements appear between tags.
fn separator() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((ows(), ows()), 1..4).prop_map(|commas| {
        let mut out = Vec::new();
        for (before, after) in commas {
            out.extend(before);
            out.push(b',');
            out.extend(after);
        }
        out
    })
}

/// Empty elements before the first or after the last tag: OWS and commas.
fn edge() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![Just(b' '), Just(b'\t'), Just(b',')], 0..5)
}

/// Bytes that look like header values often enough to reach deep states:
/// either uniformly random, or a concatenation of grammar fragments.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(&b"\""[..]),
        Just(&b"W/"[..]),
        Just(&b"w/"[..]),
        Just(&b","[..]),
        Just(&b" "[..]),
        Just(&b"\t"[..]),
        Just(&b"*"[..]),
        Just(&b"\\"[..]),
        Just(&b"a"[..]),
        Just(&b"v1"[..]),
        Just(&b"\"v1\""[..]),
        Just(&b"\"a\""[..]),
        Just(&b"W/\"a\""[..]),
        Just(&b"\"\""[..]),
        Just(&b"\xff"[..]),
        Just(&b"\x80"[..]),
        Just(&b"\x7f"[..]),
        Just(&b"\x00"[..]),
        Just(&b"Sun, 06 Nov 1994 08:49:37 GMT"[..]),
        Just(&b"Sunday, 06-Nov-94 08:49:37 GMT"[..]),
        Just(&b"Sun Nov  6 08:49:37 1994"[..]),
        Just(&b"Sunday, "[..]),
        Just(&b"-Nov-9"[..]),
        Just(&b"0"[..]),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(fragment, 0..12).prop_map(|parts| parts.concat()),
    ]
}

/// A precondition field value, or its absence: often absent, often valid
/// (a list of colliding tags, `*`, or a date near the fixtures' times), and
/// otherwise anything [`header_bytes`] makes, so every branch of the
/// evaluation is reached.
fn field() -> impl Strategy<Value = Option<Vec<u8>>> {
    let tags = prop::collection::vec(colliding_tag(), 1..4).prop_map(|tags| {
        tags.iter()
            .map(|(weak, opaque)| wire(*weak, opaque))
            .collect::<Vec<_>>()
            .join(&b", "[..])
    });
    let date = (700_000_000u64..900_000_000).prop_map(|secs| {
        fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap_or_default()
            .into_bytes()
    });
    prop_oneof![
        3 => Just(None),
        2 => tags.prop_map(Some),
        1 => Just(Some(b"*".to_vec())),
        2 => date.prop_map(Some),
        3 => header_bytes().prop_map(Some),
    ]
}

fn methods() -> Vec<Method> {
    let mut all = vec![
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    if let Ok(extension) = Method::from_bytes(b"PROPFIND") {
        all.push(extension);
    }
    all
}

fn header_map(fields: &[(http::HeaderName, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, bytes) in fields {
        if let Ok(value) = HeaderValue::from_bytes(bytes) {
            map.append(name.clone(), value);
        }
    }
    map
}

// ---------------------------------------------------------------------------
// (a) Round trip
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn entity_tag_round_trips_through_wire_form((weak, opaque) in valid_tag()) {
        let wire = wire(weak, &opaque);
        let tag = EntityTag::parse_bytes(&wire).unwrap();
        prop_assert_eq!(tag.is_weak(), weak);
        prop_assert_eq!(tag.opaque(), &opaque[..]);
        prop_assert_eq!(tag.as_bytes(), &wire[..]);
        prop_assert_eq!(tag.as_tag_ref().opaque(), &opaque[..]);
        prop_assert_eq!(tag.as_tag_ref().is_weak(), weak);

        // Through a header value and back.
        let value = tag.to_header_value();
        prop_assert_eq!(value.as_bytes(), &wire[..]);
        prop_assert_eq!(&EntityTag::parse_bytes(value.as_bytes()).unwrap(), &tag);

        // Through the list parser, as a one-element field.
        let list = EntityTagList::from_value(value);
        prop_assert_eq!(list.validate(), Ok(ListKind::Tags(1)));
        let elements: Vec<_> = list.elements().collect();
        prop_assert_eq!(elements.len(), 1);
        match &elements[0] {
            Ok(ListElement::Tag(t)) => prop_assert_eq!(*t, tag.as_tag_ref()),
            other => prop_assert!(false, "unexpected element {:?}", other),
        }

        // Display / FromStr, when the wire form is text.
        if let Ok(text) = std::str::from_utf8(&wire) {
            prop_assert_eq!(tag.to_string(), text);
            prop_assert_eq!(&text.parse::<EntityTag>().unwrap(), &tag);
        }

        // The constructors agree, for the opaque parts they accept (text
        // without a backslash, G-3).
        if let Ok(text) = std::str::from_utf8(&opaque) {
            let built = if weak { EntityTag::weak(text) } else { EntityTag::strong(text) };
            if opaque.contains(&b'\\') {
                prop_assert!(built.is_err());
            } else {
                prop_assert_eq!(&built.unwrap(), &tag);
            }
        }
    }

    #[test]
    fn entity_tag_round_trips_with_surrounding_ows(
        (weak, opaque) in valid_tag(),
        before in ows(),
        after in ows(),
    ) {
        let mut input = before;
        input.extend(wire(weak, &opaque));
        input.extend(after);
        let tag = EntityTag::parse_bytes(&input).unwrap();
        prop_assert_eq!(tag.is_weak(), weak);
        prop_assert_eq!(tag.opaque(), &opaque[..]);
    }

    #[test]
    fn opaque_with_a_non_etagc_octet_is_rejected(
        weak in any::<bool>(),
        prefix in opaque(),
        bad in prop_oneof![0x00u8..=0x20, Just(0x7Fu8)],
        suffix in opaque(),
    ) {
        let mut opaque = prefix;
        opaque.push(bad);
        opaque.extend(suffix);
        prop_assert!(EntityTag::parse_bytes(&wire(weak, &opaque)).is_err());
    }
}

// ---------------------------------------------------------------------------
// (b) Never panic on arbitrary input
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(HEAVY_CASES))]

    #[test]
    fn parse_bytes_never_panics(bytes in header_bytes()) {
        match EntityTag::parse_bytes(&bytes) {
            // Whatever it accepts is a tag whose wire form is in the input.
            Ok(tag) => {
                let found = bytes.windows(tag.as_bytes().len()).any(|w| w == tag.as_bytes());
                prop_assert!(found);
            }
            Err(e) => prop_assert!(e.position() <= bytes.len()),
        }
    }

    #[test]
    fn entity_tag_list_never_panics(
        bytes in header_bytes(),
        second_line in header_bytes(),
        (weak, opaque) in colliding_tag(),
    ) {
        let current = EntityTag::parse_bytes(&wire(weak, &opaque)).unwrap();
        let Ok(value) = HeaderValue::from_bytes(&bytes) else {
            return Ok(());
        };
        let lists = {
            let mut lists = vec![EntityTagList::from_value(value.clone())];
            let mut map = HeaderMap::new();
            map.append(IF_MATCH, value);
            if let Ok(second) = HeaderValue::from_bytes(&second_line) {
                map.append(IF_MATCH, second);
            }
            lists.extend(EntityTagList::from_lines(map.get_all(IF_MATCH)));
            lists
        };
        for list in lists {
            let checked = list.validate();
            for comparison in [Comparison::Strong, Comparison::Weak] {
                let matched = list.matches(Some(current.as_tag_ref()), comparison);
                // `matches` validates exactly as `check` does.
                prop_assert_eq!(matched.is_ok(), checked.is_ok());
                // Nothing matches a missing representation.
                let on_missing = list.matches(None, comparison);
                prop_assert_eq!(on_missing.is_ok(), checked.is_ok());
                if let Ok(m) = on_missing {
                    prop_assert!(!m);
                }
            }
            let elements: Vec<_> = list.elements().collect();
            // At most one error, and it is the last item.
            let errors = elements.iter().filter(|e| e.is_err()).count();
            prop_assert!(errors <= 1);
            if errors == 1 {
                prop_assert!(elements.last().is_some_and(Result::is_err));
            }
            if let Ok(ListKind::Tags(n)) = checked {
                prop_assert_eq!(elements.len(), n);
            }
            let _ = list.contains_strong(current.as_tag_ref());
            let _ = list.contains_weak(current.as_tag_ref());
            let _ = format!("{list:?}");
        }
    }

    #[test]
    fn date_field_parse_never_panics(bytes in header_bytes(), now_secs in 0u64..8_000_000_000) {
        let now = UNIX_EPOCH + Duration::from_secs(now_secs);
        let _ = DateField::parse(&bytes);
        if let DateField::Valid(t) = DateField::parse_at(&bytes, now) {
            // A valid HTTP-date has second resolution.
            let sub = t.duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
            prop_assert_eq!(sub, 0);
        }
    }

    #[test]
    fn imf_fixdate_round_trips(secs in 0u64..253_402_300_800, nanos in 0u32..1_000_000_000) {
        let t = UNIX_EPOCH + Duration::new(secs, nanos);
        let text = fmt_http_date(t).unwrap();
        prop_assert_eq!(text.len(), 29);
        prop_assert_eq!(
            DateField::parse(text.as_bytes()),
            DateField::Valid(UNIX_EPOCH + Duration::from_secs(secs))
        );
    }

    #[test]
    fn preconditions_never_panic_and_answer_within_the_method(
        if_match in field(),
        if_none_match in field(),
        if_modified_since in field(),
        if_unmodified_since in field(),
        (weak, opaque) in colliding_tag(),
        last_modified in prop::option::of(700_000_000u64..900_000_000),
    ) {
        let mut fields: Vec<(http::HeaderName, &[u8])> = Vec::new();
        if let Some(v) = &if_match { fields.push((IF_MATCH, v)); }
        if let Some(v) = &if_none_match { fields.push((IF_NONE_MATCH, v)); }
        if let Some(v) = &if_modified_since { fields.push((IF_MODIFIED_SINCE, v)); }
        if let Some(v) = &if_unmodified_since { fields.push((IF_UNMODIFIED_SINCE, v)); }
        let map = header_map(&fields);
        let pre = Preconditions::from_headers(&map);
        prop_assert_eq!(pre.is_empty(), map.is_empty());

        let etag = EntityTag::parse_bytes(&wire(weak, &opaque)).unwrap();
        let lm: Option<SystemTime> = last_modified.map(|s| UNIX_EPOCH + Duration::from_secs(s));
        let targets = [
            Target::present(&etag).with_last_modified(lm),
            Target::present(&etag).tracking_last_modified(true),
            Target::missing(),
            Target::missing().creatable(true),
            Target::missing().creatable(true).tracking_last_modified(true),
        ];
        for method in methods() {
            let read = method == Method::GET || method == Method::HEAD;
            let ignored = method == Method::OPTIONS || method == Method::TRACE || method == Method::CONNECT;
            // Every unsafe method is a write: POST and extensions too.
            let write = !read && !ignored;
            for target in &targets {
                for policy in [Policy::Required, Policy::Optional] {
                    let d = pre.evaluate(&method, target, policy);
                    // EV-3: nothing but Proceed for OPTIONS / TRACE / CONNECT.
                    if ignored {
                        prop_assert_eq!(&d, &Decision::Proceed);
                    }
                    // 304 only for GET/HEAD (304-1, INM-6).
                    if d == Decision::NotModified {
                        prop_assert!(read, "304 for {}", method);
                    }
                    // 428 only for unsafe methods under Required, with no
                    // header at all (design decision 2, docs/design.md).
                    if d == Decision::PreconditionRequired {
                        prop_assert!(write && policy == Policy::Required, "428 for {}", method);
                        prop_assert!(pre.if_match().is_none() && pre.if_none_match().is_none());
                    }
                    // Safe methods never create: a missing target is 404.
                    if read && target.current().is_none() {
                        prop_assert_eq!(&d, &Decision::NotFound);
                    }
                    // With no precondition at all the answer is never 304/412.
                    if pre.is_empty() {
                        prop_assert!(!matches!(d, Decision::NotModified | Decision::PreconditionFailed(_)));
                    }
                    // Proceeding past an If-Match means it was well formed
                    // and matched strongly (IM-1, IM-5): never recovered.
                    if let (Decision::Proceed, false, Some(list), Some(current)) =
                        (&d, ignored, pre.if_match(), target.current())
                    {
                        prop_assert_eq!(list.matches(Some(current.etag), Comparison::Strong), Ok(true));
                    }
                    // A 304 comes from a weakly matching If-None-Match, or,
                    // without one, from an If-Modified-Since (PR-1 steps 3-4).
                    if d == Decision::NotModified {
                        let current = target.current().unwrap();
                        match pre.if_none_match() {
                            Some(list) => prop_assert_eq!(
                                list.matches(Some(current.etag), Comparison::Weak),
                                Ok(true)
                            ),
                            None => prop_assert!(
                                matches!(pre.if_modified_since(), Some(DateField::Valid(_)))
                                    && current.last_modified.is_some()
                            ),
                        }
                    }
                    if let Decision::PreconditionFailed(failure) = &d {
                        let _ = failure.header();
                        let _ = failure.to_string();
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// (c) Lists with OWS and empty elements
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(HEAVY_CASES))]

    #[test]
    fn joined_tags_parse_back_in_order(
        tags in prop::collection::vec(valid_tag(), 1..12),
        separators in prop::collection::vec(separator(), 11),
        lead in edge(),
        trail in edge(),
        split_mask in any::<u16>(),
    ) {
        // One line: lead, tag, sep, tag, ..., trail.
        let mut line = lead.clone();
        for (i, (weak, opaque)) in tags.iter().enumerate() {
            if i > 0 {
                line.extend(&separators[i - 1]);
            }
            line.extend(wire(*weak, opaque));
        }
        line.extend(&trail);

        let expected: Vec<(bool, Vec<u8>)> = tags.clone();
        let read = |list: &EntityTagList| -> Vec<(bool, Vec<u8>)> {
            list.elements()
                .map(|e| match e.unwrap() {
                    ListElement::Tag(t) => (t.is_weak(), t.opaque().to_vec()),
                    ListElement::Any => panic!("unexpected `*`"),
                })
                .collect()
        };

        let list = EntityTagList::from_value(HeaderValue::from_bytes(&line).unwrap());
        prop_assert_eq!(list.validate(), Ok(ListKind::Tags(tags.len())));
        prop_assert_eq!(read(&list), expected.clone());

        // The same tags over several field lines (a line break replaces a
        // separator; G-12), with the lead and trail on the outer lines.
        let mut lines: Vec<Vec<u8>> = vec![lead];
        for (i, (weak, opaque)) in tags.iter().enumerate() {
            if i > 0 {
                if split_mask & (1 << (i - 1)) != 0 {
                    lines.push(Vec::new());
                } else {
                    lines.last_mut().unwrap().extend(&separators[i - 1]);
                }
            }
            lines.last_mut().unwrap().extend(wire(*weak, opaque));
        }
        lines.last_mut().unwrap().extend(trail);
        let mut map = HeaderMap::new();
        for l in &lines {
            map.append(IF_NONE_MATCH, HeaderValue::from_bytes(l).unwrap());
        }
        let multi = EntityTagList::from_lines(map.get_all(IF_NONE_MATCH)).unwrap();
        prop_assert_eq!(multi.validate(), Ok(ListKind::Tags(tags.len())));
        prop_assert_eq!(read(&multi), expected.clone());

        // Every listed tag is found: strong ones strongly, all weakly.
        for (weak, opaque) in &expected {
            let tag = EntityTag::parse_bytes(&wire(*weak, opaque)).unwrap();
            prop_assert_eq!(list.matches(Some(tag.as_tag_ref()), Comparison::Weak), Ok(true));
            if !weak {
                prop_assert_eq!(list.matches(Some(tag.as_tag_ref()), Comparison::Strong), Ok(true));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// (d) Strong match implies weak match
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn strong_equivalence_implies_weak_equivalence(
        (wa, oa) in colliding_tag(),
        (wb, ob) in colliding_tag(),
    ) {
        let a = EntityTag::parse_bytes(&wire(wa, &oa)).unwrap();
        let b = EntityTag::parse_bytes(&wire(wb, &ob)).unwrap();
        // Symmetric, and strong implies weak.
        prop_assert_eq!(a.strong_eq(&b), b.strong_eq(&a));
        prop_assert_eq!(a.weak_eq(&b), b.weak_eq(&a));
        if a.strong_eq(&b) {
            prop_assert!(a.weak_eq(&b));
        }
        // The definitions themselves (CMP-1, CMP-2).
        prop_assert_eq!(a.strong_eq(&b), !wa && !wb && oa == ob);
        prop_assert_eq!(a.weak_eq(&b), oa == ob);
    }

    #[test]
    fn strong_list_match_implies_weak_list_match(
        listed in prop::collection::vec(colliding_tag(), 1..5),
        (wc, oc) in colliding_tag(),
    ) {
        let line = listed
            .iter()
            .map(|(w, o)| wire(*w, o))
            .collect::<Vec<_>>()
            .join(&b", "[..]);
        let list = EntityTagList::from_value(HeaderValue::from_bytes(&line).unwrap());
        let current = EntityTag::parse_bytes(&wire(wc, &oc)).unwrap();
        let strong = list.matches(Some(current.as_tag_ref()), Comparison::Strong).unwrap();
        let weak = list.matches(Some(current.as_tag_ref()), Comparison::Weak).unwrap();
        if strong {
            prop_assert!(weak);
        }
        prop_assert_eq!(strong, list.contains_strong(current.as_tag_ref()));
        prop_assert_eq!(weak, list.contains_weak(current.as_tag_ref()));

        // Through the engine: a passing If-Match (strong) on GET means the
        // same list as If-None-Match (weak) would answer 304.
        let mut im = HeaderMap::new();
        im.insert(IF_MATCH, HeaderValue::from_bytes(&line).unwrap());
        let mut inm = HeaderMap::new();
        inm.insert(IF_NONE_MATCH, HeaderValue::from_bytes(&line).unwrap());
        let target = Target::present(&current);
        let im_passes = Preconditions::from_headers(&im)
            .evaluate(&Method::GET, &target, Policy::Required) == Decision::Proceed;
        let inm_304 = Preconditions::from_headers(&inm)
            .evaluate(&Method::GET, &target, Policy::Required) == Decision::NotModified;
        prop_assert_eq!(im_passes, strong);
        prop_assert_eq!(inm_304, weak);
        if im_passes {
            prop_assert!(inm_304);
        }
    }
}
