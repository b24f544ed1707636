//! The derived tag functions agree with their definition: `version_from_tag`
//! names version `v` exactly when `entity_tag_for(id, v)` is the tag, and
//! `is_tag_of` says the same. The derive reads a version that ends the
//! template from the tag's end, writes primitive integers without
//! `core::fmt` and copies the template's text as it is; these properties
//! hold whichever of those paths a template takes, against an oracle that
//! tries every run of digits in the tag.

#![allow(clippy::unwrap_used)] // a tag that is not UTF-8 is the test failing

use std::fmt;
use std::str::FromStr;

use occ_core::{EntityTag, EntityTagRef, Versioned};
use proptest::prelude::*;

/// Integer id and version, version last: every fast path.
#[derive(Debug, Versioned)]
#[occ(etag = "a-{id}-v{version}")]
struct Ints {
    id: i64,
    #[version]
    version: i64,
}

/// A text id (through `Display`, percent-encoded), a small version last,
/// nothing between them: the id's digits run into the version's.
#[derive(Debug, Versioned)]
#[occ(etag = "b{id}{version}")]
struct TextId {
    id: String,
    #[version]
    version: u8,
}

/// The version first, then a newtype id: the trait's search over runs of
/// digits, with the version's type spelled as a path.
#[derive(Debug, Versioned)]
#[occ(etag = "{version}.{id}")]
struct VersionFirst {
    id: Key,
    #[version]
    version: std::primitive::u16,
}

#[derive(Debug, PartialEq)]
struct Key(u32);

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "k{}", self.0)
    }
}

/// A weak template.
#[derive(Debug, Versioned)]
#[occ(weak, etag = "w-{id}-{version}")]
struct Weak {
    id: u64,
    #[version]
    version: i32,
}

/// The definition, tried the slow way: each run of digits (with a `-`
/// before it, or not) parsed and rendered back.
fn oracle<M: Versioned>(id: &M::Id, tag: EntityTagRef<'_>) -> Option<M::Version>
where
    M::Version: FromStr,
{
    let text = std::str::from_utf8(tag.opaque()).ok()?;
    let bytes = text.as_bytes();
    let mut found = None;
    for start in 0..bytes.len() {
        for end in start + 1..=bytes.len() {
            let Ok(version) = text[start..end].parse::<M::Version>() else {
                continue;
            };
            if M::entity_tag_for(id, version).as_tag_ref() == tag {
                assert!(
                    found.is_none_or(|seen| seen == version),
                    "two versions render to {text}"
                );
                found = Some(version);
            }
        }
    }
    found
}

/// Checks `tag` against the oracle, and `is_tag_of` against both.
fn agrees<M: Versioned>(id: &M::Id, wire: &str) -> Result<(), TestCaseError>
where
    M::Version: FromStr,
{
    let Ok(tag) = EntityTag::parse_bytes(wire.as_bytes()) else {
        return Ok(());
    };
    let tag = tag.as_tag_ref();
    let derived = M::version_from_tag(id, tag);
    prop_assert_eq!(derived, oracle::<M>(id, tag), "{}", wire);
    if let Some(version) = derived {
        prop_assert!(M::is_tag_of(id, version, tag), "{}", wire);
    }
    Ok(())
}

/// Tags that are nearly the model's: its own, another id's, and its own
/// with the version's digits padded, signed, cut or followed by more.
fn near_misses(tag: &EntityTag) -> Vec<String> {
    let own = String::from_utf8(tag.as_bytes().to_vec()).unwrap();
    let mut out = vec![own.clone()];
    let quote = own.len() - 1;
    for suffix in ["0", "1", "x", "-", "%"] {
        out.push(format!("{}{suffix}\"", &own[..quote]));
    }
    // Before each digit run: a zero, a plus, a minus.
    for (i, c) in own.char_indices() {
        if c.is_ascii_digit() && !own[..i].ends_with(|p: char| p.is_ascii_digit()) {
            for insert in ["0", "+", "-", "00"] {
                out.push(format!("{}{insert}{}", &own[..i], &own[i..]));
            }
        }
    }
    // Each octet dropped in turn.
    for (i, c) in own.char_indices().skip(1) {
        if i < quote {
            out.push(format!("{}{}", &own[..i], &own[i + c.len_utf8()..]));
        }
    }
    out.push(format!("W/{own}"));
    out.push(own.trim_start_matches("W/").to_owned());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn ints_version_from_tag_is_its_definition(id in any::<i64>(), version in any::<i64>(), other in any::<i64>()) {
        for wire in near_misses(&Ints::entity_tag_for(&id, version))
            .into_iter()
            .chain(near_misses(&Ints::entity_tag_for(&other, version)))
        {
            agrees::<Ints>(&id, &wire)?;
        }
        prop_assert_eq!(Ints::version_from_tag(&id, Ints::entity_tag_for(&id, version).as_tag_ref()), Some(version));
    }

    #[test]
    fn text_id_version_from_tag_is_its_definition(id in "[a-z0-9 %\"é]{0,6}", version in any::<u8>()) {
        for wire in near_misses(&TextId::entity_tag_for(&id, version)) {
            agrees::<TextId>(&id, &wire)?;
        }
        prop_assert_eq!(TextId::version_from_tag(&id, TextId::entity_tag_for(&id, version).as_tag_ref()), Some(version));
    }

    #[test]
    fn version_first_version_from_tag_is_its_definition(id in any::<u32>(), version in any::<u16>()) {
        let key = Key(id);
        for wire in near_misses(&VersionFirst::entity_tag_for(&key, version)) {
            agrees::<VersionFirst>(&key, &wire)?;
        }
        prop_assert_eq!(VersionFirst::version_from_tag(&key, VersionFirst::entity_tag_for(&key, version).as_tag_ref()), Some(version));
    }

    #[test]
    fn weak_version_from_tag_is_its_definition(id in any::<u64>(), version in any::<i32>()) {
        let tag = Weak::entity_tag_for(&id, version);
        prop_assert!(tag.is_weak());
        for wire in near_misses(&tag) {
            agrees::<Weak>(&id, &wire)?;
        }
        prop_assert_eq!(Weak::version_from_tag(&id, tag.as_tag_ref()), Some(version));
    }
}

/// The integers are written as their `Display` writes them, extremes and
/// signs included.
#[test]
fn integers_in_tags_read_as_display_writes_them() {
    for (id, version) in [(i64::MIN, i64::MAX), (0, 0), (-1, -1), (i64::MAX, i64::MIN)] {
        let tag = Ints::entity_tag_for(&id, version);
        assert_eq!(tag.to_string(), format!("\"a-{id}-v{version}\""));
        assert_eq!(Ints::version_from_tag(&id, tag.as_tag_ref()), Some(version));
    }
    // Not the form the model writes: padded, signed, or `-0`.
    for wire in [
        "\"a-1-v07\"",
        "\"a-1-v+7\"",
        "\"a-1-v-0\"",
        "\"a-01-v7\"",
        "\"a-1-v\"",
    ] {
        let tag = EntityTag::parse_bytes(wire.as_bytes()).unwrap();
        assert_eq!(Ints::version_from_tag(&1, tag.as_tag_ref()), None, "{wire}");
    }
    let weak = Weak::entity_tag_for(&u64::MAX, i32::MIN);
    assert_eq!(
        weak.to_string(),
        format!("W/\"w-{}-{}\"", u64::MAX, i32::MIN)
    );
}
