//! `If-Match` / `If-None-Match` list parsing (`EntityTagList`).
//!
//! Input: one selector byte, then header lines separated by `\n` (a byte no
//! `HeaderValue` may hold; lines that `HeaderValue` rejects are dropped).
//! The selector picks the "current" tag compared against the list.
//!
//! Checked on every input:
//! - nothing panics;
//! - `validate()` agrees with the reference grammar in `common` (docs/design.md,
//!   G-1 … G-13, with the project's caps), and the parsed tags are the
//!   reference's tags;
//! - `validate()` and `elements()` agree: `Ok(Tags(n))` iff `elements()` yields
//!   exactly n tags and no error (within the caps), and `elements()` stops
//!   after its first error;
//! - `matches()` is `Ok` iff `validate()` is, with the same error, and its
//!   answer is the reference's under strong (IM-1) and weak (INM-1)
//!   comparison; `contains_strong` / `contains_weak` agree;
//! - several lines mean the same as one line joined with `", "` (G-12);
//! - every parsed tag re-formats to bytes that parse back to an equal tag,
//!   and a list re-formatted from the parsed tags parses to the same tags.
#![no_main]

mod common;

use common::{parse_list, RefList, RefTag};
use http::header::IF_MATCH;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use occ_core::{
    Comparison, EntityTag, EntityTagList, EntityTagRef, ListElement, ListKind, MalformedList,
    MAX_FIELD_BYTES, MAX_LIST_ELEMENTS,
};

fn ref_of(tag: EntityTagRef<'_>) -> RefTag {
    RefTag {
        weak: tag.is_weak(),
        opaque: tag.opaque().to_vec(),
    }
}

/// Drains `elements()`: the elements before the first error, and the error.
fn drain(list: &EntityTagList) -> (Vec<ListElement<'_>>, Option<MalformedList>) {
    let mut out = Vec::new();
    let mut iter = list.elements();
    for element in iter.by_ref() {
        match element {
            Ok(e) => out.push(e),
            Err(e) => {
                assert!(
                    matches!(e, MalformedList::Syntax { .. }),
                    "elements() yields only syntax errors, got {e:?}"
                );
                assert!(iter.next().is_none(), "elements() goes on after an error");
                return (out, Some(e));
            }
        }
    }
    assert!(iter.next().is_none(), "elements() is not fused");
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let lines: Vec<HeaderValue> = rest
        .split(|&b| b == b'\n')
        .filter_map(|l| HeaderValue::from_bytes(l).ok())
        .collect();
    if lines.is_empty() {
        return;
    }
    let mut map = HeaderMap::new();
    for line in &lines {
        map.append(IF_MATCH, line.clone());
    }
    let list = EntityTagList::from_lines(map.get_all(IF_MATCH)).expect("the field is present");
    let raw: Vec<&[u8]> = lines.iter().map(HeaderValue::as_bytes).collect();
    let total_bytes: usize = raw.iter().map(|l| l.len()).sum();

    // validate() against the reference grammar.
    let check = list.validate();
    let reference = parse_list(&raw, MAX_LIST_ELEMENTS, MAX_FIELD_BYTES);
    assert!(
        reference.same_as(&check),
        "validate() = {check:?}, reference = {reference:?}, lines = {lines:?}"
    );
    if let Err(e) = &check {
        let _ = e.to_string();
    }
    let _ = format!("{list:?}");

    // validate() against elements().
    let (elements, error) = drain(&list);
    let stars = elements
        .iter()
        .filter(|e| matches!(e, ListElement::Any))
        .count();
    let tags: Vec<EntityTagRef<'_>> = elements
        .iter()
        .filter_map(|e| match e {
            ListElement::Tag(t) => Some(*t),
            ListElement::Any => None,
        })
        .collect();
    match &check {
        Ok(ListKind::Tags(n)) => {
            assert!(
                error.is_none(),
                "validate() Ok but elements() failed: {error:?}"
            );
            assert_eq!(
                (stars, tags.len()),
                (0, *n),
                "validate() Tags(n) vs elements()"
            );
            assert!(*n >= 1 && *n <= MAX_LIST_ELEMENTS);
        }
        Ok(ListKind::Any) => {
            assert!(error.is_none());
            assert_eq!((stars, tags.len()), (1, 0), "validate() Any vs elements()");
        }
        Err(e @ MalformedList::Syntax { line, error: at }) => {
            assert_eq!(error.as_ref(), Some(e), "validate() and elements() disagree");
            assert!(elements.len() <= MAX_LIST_ELEMENTS);
            assert!(*line < lines.len(), "error line {line} out of range");
            assert!(
                at.position() <= lines[*line].len(),
                "error position out of range"
            );
            let _ = e.to_string();
        }
        Err(MalformedList::Empty) => {
            assert!(
                error.is_none() && elements.is_empty(),
                "Empty but elements()"
            );
        }
        Err(MalformedList::AnyWithOthers) => {
            assert!(error.is_none());
            assert!(stars >= 1 && stars + tags.len() >= 2);
        }
        Err(MalformedList::TooMany) => {
            assert!(
                elements.len() > MAX_LIST_ELEMENTS,
                "TooMany with few elements"
            );
        }
        Err(MalformedList::TooLong) => {
            assert!(total_bytes > MAX_FIELD_BYTES, "TooLong on a short field");
        }
    }
    // The converse: a clean tag-only parse within the caps is Ok(Tags(n)).
    if error.is_none()
        && stars == 0
        && (1..=MAX_LIST_ELEMENTS).contains(&tags.len())
        && total_bytes <= MAX_FIELD_BYTES
    {
        assert_eq!(check, Ok(ListKind::Tags(tags.len())));
    }

    // The tags are the reference's tags, in order.
    if let RefList::Tags(expected) = &reference {
        let got: Vec<RefTag> = tags.iter().map(|t| ref_of(*t)).collect();
        assert_eq!(&got, expected, "parsed tags differ from the reference");
    }

    // Every parsed tag round-trips through its wire form.
    for &tag in &tags {
        let wire = ref_of(tag).wire();
        // By value: through a reference, `to_owned` is `ToOwned`'s.
        let owned = tag.to_entity_tag();
        assert_eq!(owned.as_bytes(), &wire[..], "to_entity_tag() wire form");
        assert_eq!(owned.as_tag_ref(), tag);
        let reparsed = EntityTag::parse_bytes(&wire).expect("a parsed tag re-parses");
        assert_eq!(reparsed, owned, "round trip changed the tag");
        assert_eq!(owned.to_header_value().as_bytes(), &wire[..]);
    }

    // matches(): same validity as validate(), same answer as the reference.
    let fixed = EntityTag::strong("x").expect("valid");
    let fixed_weak = EntityTag::weak("x").expect("valid");
    let pick = tags
        .get(usize::from(selector / 4) % tags.len().max(1))
        .copied();
    let flipped = pick.map(|t| {
        if t.is_weak() {
            EntityTag::parse_bytes(&ref_of(t).wire()[2..]).expect("valid")
        } else {
            EntityTag::parse_bytes(&[b"W/", &ref_of(t).wire()[..]].concat()).expect("valid")
        }
    });
    let current: Option<EntityTagRef<'_>> = match selector % 4 {
        0 => None,
        1 => pick.or(Some(fixed.as_tag_ref())),
        2 => flipped
            .as_ref()
            .map(EntityTag::as_tag_ref)
            .or(Some(fixed_weak.as_tag_ref())),
        _ => Some(fixed.as_tag_ref()),
    };
    let current_ref = current.map(ref_of);
    for (comparison, strong) in [(Comparison::Strong, true), (Comparison::Weak, false)] {
        let got = list.matches(current, comparison);
        match (&check, &got) {
            (Err(c), Err(m)) => assert_eq!(c, m, "matches() and validate() report different errors"),
            (Ok(_), Ok(m)) => {
                let expected = reference.matches(current_ref.as_ref(), strong);
                assert_eq!(Some(*m), expected, "matches({current:?}, {comparison:?})");
                if let (Some(c), Ok(ListKind::Tags(_))) = (current, &check) {
                    let contains = if strong {
                        list.contains_strong(c)
                    } else {
                        list.contains_weak(c)
                    };
                    assert_eq!(contains, *m, "contains_* vs matches()");
                }
            }
            _ => panic!("matches() = {got:?} but validate() = {check:?}"),
        }
    }
    // Each listed tag matches itself (weak always; strong unless weak).
    if check.is_ok() {
        for tag in &tags {
            assert_eq!(list.matches(Some(*tag), Comparison::Weak), Ok(true));
            assert_eq!(
                list.matches(Some(*tag), Comparison::Strong),
                Ok(!tag.is_weak())
            );
        }
    }

    // Several lines mean the same as one joined line (G-12).
    let joined = raw.join(&b", "[..]);
    if joined.len() <= MAX_FIELD_BYTES {
        let one = EntityTagList::from_value(HeaderValue::from_bytes(&joined).expect("valid"));
        let one_check = one.validate();
        match (&check, &one_check) {
            (Err(MalformedList::Syntax { .. }), Err(MalformedList::Syntax { .. })) => {}
            _ => assert_eq!(check, one_check, "lines vs joined line"),
        }
        let (one_elements, _) = drain(&one);
        assert_eq!(elements, one_elements, "lines vs joined line: elements");
    }
    if lines.len() == 1 {
        let single = EntityTagList::from_value(lines[0].clone());
        assert_eq!(single.validate(), check, "from_value vs from_lines");
    }

    // A list re-formatted from the parsed tags parses back to them.
    if let Ok(ListKind::Tags(n)) = check {
        let separator: &[u8] = match selector % 3 {
            0 => b",",
            1 => b" ,\t",
            _ => b", ,",
        };
        let reformatted = tags
            .iter()
            .map(|t| ref_of(*t).wire())
            .collect::<Vec<_>>()
            .join(separator);
        if reformatted.len() <= MAX_FIELD_BYTES {
            let again =
                EntityTagList::from_value(HeaderValue::from_bytes(&reformatted).expect("valid"));
            assert_eq!(again.validate(), Ok(ListKind::Tags(n)), "re-formatted list");
            let (again_elements, _) = drain(&again);
            assert_eq!(again_elements, elements, "re-formatted list: elements");
        }
    }
});
