//! `EntityTag::parse_bytes`, `Display` / `FromStr`, and the
//! `strong` / `weak` constructors.
//!
//! Checked on every input:
//! - nothing panics;
//! - `parse_bytes` accepts exactly what the reference grammar accepts after
//!   trimming OWS (G-1, G-2, G-3, G-7), with the same weakness and opaque
//!   octets (G-9), and an error position inside the input;
//! - the wire form (`as_bytes`, `to_header_value`) is the trimmed input and
//!   parses back to an equal tag;
//! - `Display` round-trips exactly when the tag is UTF-8; otherwise it is the
//!   documented lossy form (U+FFFD), which is still a valid tag;
//! - `FromStr` agrees with `parse_bytes`;
//! - `EntityTag::strong` / `weak` accept exactly etagc without backslash,
//!   and what they build parses back to itself;
//! - strong and weak comparison follow CMP-1 / CMP-2.
#![no_main]

mod common;

use common::{is_etagc, parse_tag, trim_ows};
use libfuzzer_sys::fuzz_target;
use occ_core::EntityTag;

fn check_round_trip(tag: &EntityTag) {
    let wire = tag.as_bytes();
    assert_eq!(
        EntityTag::parse_bytes(wire).as_ref(),
        Ok(tag),
        "wire round trip"
    );
    assert_eq!(tag.to_header_value().as_bytes(), wire, "to_header_value");
    assert_eq!(tag.as_tag_ref().to_entity_tag(), *tag, "as_tag_ref().to_entity_tag()");
    assert_eq!(tag.as_tag_ref().opaque(), tag.opaque());
    assert_eq!(tag.as_tag_ref().is_weak(), tag.is_weak());

    let shown = tag.to_string();
    let _ = format!("{tag:?}");
    match std::str::from_utf8(wire) {
        Ok(s) => {
            assert_eq!(shown, s, "Display of a UTF-8 tag is its wire form");
            assert_eq!(
                shown.parse::<EntityTag>().as_ref(),
                Ok(tag),
                "Display round trip"
            );
        }
        Err(_) => {
            assert_eq!(
                shown,
                String::from_utf8_lossy(wire),
                "Display is the lossy form"
            );
            let lossy = shown
                .parse::<EntityTag>()
                .expect("the lossy form is a valid tag");
            assert_eq!(lossy.is_weak(), tag.is_weak());
        }
    }

    // CMP-1 / CMP-2 against itself and its weak / strong twin.
    assert!(tag.weak_eq(tag));
    assert_eq!(tag.strong_eq(tag), !tag.is_weak());
    let twin = if tag.is_weak() {
        EntityTag::parse_bytes(&wire[2..])
    } else {
        EntityTag::parse_bytes(&[b"W/", wire].concat())
    }
    .expect("the twin is valid");
    assert!(tag.weak_eq(&twin) && twin.weak_eq(tag));
    assert!(!tag.strong_eq(&twin) && !twin.strong_eq(tag));
}

fuzz_target!(|data: &[u8]| {
    // parse_bytes against the reference grammar.
    let trimmed = trim_ows(data);
    let parsed = EntityTag::parse_bytes(data);
    match (&parsed, parse_tag(trimmed)) {
        (Ok(tag), Some(expected)) => {
            assert_eq!(tag.is_weak(), expected.weak);
            assert_eq!(tag.opaque(), &expected.opaque[..]);
            assert_eq!(tag.as_bytes(), trimmed, "wire form is the trimmed input");
            check_round_trip(tag);
        }
        (Err(e), None) => {
            assert!(e.position() <= data.len(), "error position out of range");
            let _ = e.to_string();
        }
        (got, expected) => panic!("parse_bytes = {got:?}, reference = {expected:?}"),
    }

    if let Ok(s) = std::str::from_utf8(data) {
        assert_eq!(s.parse::<EntityTag>(), parsed, "FromStr vs parse_bytes");

        // The constructors take the opaque part: etagc without backslash.
        let allowed = s.bytes().all(|b| is_etagc(b) && b != b'\\');
        for (weak, built) in [(false, EntityTag::strong(s)), (true, EntityTag::weak(s))] {
            match built {
                Ok(tag) => {
                    assert!(allowed, "constructor accepted {s:?}");
                    assert_eq!(tag.is_weak(), weak);
                    assert_eq!(tag.opaque(), s.as_bytes());
                    check_round_trip(&tag);
                }
                Err(e) => {
                    assert!(!allowed, "constructor refused {s:?}");
                    let bad = *s
                        .as_bytes()
                        .get(e.position())
                        .expect("error position in range");
                    assert!(!is_etagc(bad) || bad == b'\\', "error position");
                }
            }
        }
    }
});
