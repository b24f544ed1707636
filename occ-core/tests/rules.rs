//! Engine-level conformance tests: one test per rule id of docs/design.md
//! that can be decided by
//! [`Preconditions::evaluate`] and the entity-tag / HTTP-date parsers alone,
//! following the design decisions there.
//!
//! Sections covered: grammar (G-*), comparison (CMP-*), If-Match (IM-*),
//! If-None-Match (INM-*), If-Modified-Since (IMS-*), If-Unmodified-Since
//! (IUS-*), when to evaluate (EV-*), precedence (PR-1) and the special-case
//! matrix S1–S18. Aspects that only exist on the wire (headers of the 304,
//! problem bodies, 401/403/405/415 ordering, status codes of the write
//! itself) belong to the HTTP tests in `tests/tests/http_rules.rs`; each is
//! named below where it is skipped.
//!
//! Requests are built as `http::HeaderMap`s and parsed with
//! [`Preconditions::from_headers`], exactly as the extractors do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderName, IF_MATCH, IF_NONE_MATCH, IF_UNMODIFIED_SINCE};
use http::{HeaderMap, HeaderValue, Method};
use occ_core::{
    fmt_http_date, DateField, Decision, EntityTag, Failure, MalformedList, Policy, Preconditions,
    Target, Versioned, MAX_LIST_ELEMENTS,
};

// ---------------------------------------------------------------------------
// Helpers (no unwrap/expect here: a bad fixture panics with a message).
// ---------------------------------------------------------------------------

/// `Sun, 06 Nov 1994 08:49:37 GMT`, the last modification of the fixture.
const T_SECS: u64 = 784_111_777;
const T: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const T_MINUS_1: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
const T_PLUS_1: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

const READS: [Method; 2] = [Method::GET, Method::HEAD];
const WRITES: [Method; 3] = [Method::PUT, Method::PATCH, Method::DELETE];

fn secs(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

/// The fixture's modification time, `T`.
fn t() -> SystemTime {
    secs(T_SECS)
}

fn tag(s: &str) -> EntityTag {
    match s.parse() {
        Ok(tag) => tag,
        Err(e) => panic!("bad fixture tag {s:?}: {e}"),
    }
}

/// A header map from `(name, value)` pairs; a repeated name gives several
/// field lines, in order.
fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    map
}

fn eval(method: &Method, pairs: &[(&'static str, &'static str)], target: &Target<'_>) -> Decision {
    eval_policy(method, pairs, target, Policy::Required)
}

fn eval_policy(
    method: &Method,
    pairs: &[(&'static str, &'static str)],
    target: &Target<'_>,
    policy: Policy,
) -> Decision {
    Preconditions::from_headers(&headers(pairs)).evaluate(method, target, policy)
}

fn eval_map(method: &Method, map: &HeaderMap, target: &Target<'_>) -> Decision {
    Preconditions::from_headers(map).evaluate(method, target, Policy::Required)
}

fn is_412(d: &Decision) -> bool {
    matches!(d, Decision::PreconditionFailed(_))
}

fn is_if_match_malformed(d: &Decision) -> bool {
    matches!(
        d,
        Decision::PreconditionFailed(Failure::IfMatchMalformed(_))
    )
}

/// The usual existing resource: `"v1"`, last modified at `T`.
fn existing(etag: &EntityTag) -> Target<'_> {
    Target::present(etag).with_last_modified(Some(t()))
}

// ---------------------------------------------------------------------------
// 1. Grammar (G-*)
// ---------------------------------------------------------------------------

#[test]
fn g_1_lowercase_weak_prefix_is_not_an_entity_tag() {
    assert!("w/\"v1\"".parse::<EntityTag>().is_err());
    assert!(tag("W/\"v1\"").is_weak());

    let v1 = tag("\"v1\"");
    let d = eval(&Method::PUT, &[("if-match", "w/\"v1\"")], &existing(&v1));
    assert!(is_if_match_malformed(&d), "{d:?}");
    // On GET a malformed If-None-Match is ignored: 200, not 304 ...
    let d = eval(
        &Method::GET,
        &[("if-none-match", "w/\"v1\"")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::Proceed);
    // ... while the case-correct weak tag does match (INM-1).
    let d = eval(
        &Method::GET,
        &[("if-none-match", "W/\"v1\"")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::NotModified);
}

#[test]
fn g_2_etagc_includes_comma_star_semicolon_and_empty_excludes_space() {
    // A comma inside a tag does not split the list.
    let ab = tag("\"a,b\"");
    assert_eq!(ab.opaque(), b"a,b");
    let d = eval(&Method::PUT, &[("if-match", "\"a,b\"")], &existing(&ab));
    assert_eq!(d, Decision::Proceed);
    let d = eval(
        &Method::PUT,
        &[("if-match", "\"a\", \"b\"")],
        &existing(&ab),
    );
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfMatchMismatch));

    // `"*"` is a tag whose opaque part is a star, not the wildcard.
    let v1 = tag("\"v1\"");
    let d = eval(&Method::PUT, &[("if-match", "\"*\"")], &existing(&v1));
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfMatchMismatch));
    let star = tag("\"*\"");
    let d = eval(&Method::PUT, &[("if-match", "\"*\"")], &existing(&star));
    assert_eq!(d, Decision::Proceed);

    // `;` is an ordinary octet, and the empty opaque-tag is valid.
    let semi = tag("\"a;b\"");
    let d = eval(&Method::PUT, &[("if-match", "\"a;b\"")], &existing(&semi));
    assert_eq!(d, Decision::Proceed);
    let empty = tag("\"\"");
    assert_eq!(empty.opaque(), b"");
    let d = eval(&Method::PUT, &[("if-match", "\"\"")], &existing(&empty));
    assert_eq!(d, Decision::Proceed);

    // SP, HTAB, DEL inside the quotes are not etagc.
    for bad in ["\"a b\"", "\"a\tb\""] {
        assert!(bad.parse::<EntityTag>().is_err(), "{bad:?}");
        let map = {
            let mut m = HeaderMap::new();
            m.insert(IF_MATCH, HeaderValue::from_str(bad).unwrap());
            m
        };
        let d = eval_map(&Method::PUT, &map, &existing(&v1));
        assert!(is_if_match_malformed(&d), "{bad:?}: {d:?}");
    }
    assert!(EntityTag::parse_bytes(b"\"a\x7fb\"").is_err());
}

#[test]
fn g_3_backslash_is_an_ordinary_octet_and_never_generated() {
    // `"a\"` is the tag with opaque `a\`: the backslash escapes nothing.
    let current = tag("\"a\\\"");
    assert_eq!(current.opaque(), b"a\\");
    let d = eval(
        &Method::PUT,
        &[("if-match", "\"a\\\"")],
        &existing(&current),
    );
    assert_eq!(d, Decision::Proceed);
    // `"a\"b"` is therefore `"a\"` followed by garbage.
    let d = eval(
        &Method::PUT,
        &[("if-match", "\"a\\\"b\"")],
        &existing(&current),
    );
    assert!(is_if_match_malformed(&d), "{d:?}");
    // We never generate one.
    assert!(EntityTag::strong("a\\b").is_err());
    assert!(EntityTag::weak("a\\b").is_err());
}

#[derive(Versioned)]
#[occ(weak)]
struct WeakDoc {
    id: u64,
    #[version]
    version: u64,
}

#[derive(Versioned)]
struct StrongDoc {
    id: u64,
    #[version]
    version: u64,
}

#[test]
fn g_4_a_weak_generator_marks_its_tags_weak() {
    let weak = WeakDoc { id: 7, version: 3 }.entity_tag();
    assert!(weak.is_weak());
    assert!(weak.as_bytes().starts_with(b"W/\""), "{weak}");
    let strong = StrongDoc { id: 7, version: 3 }.entity_tag();
    assert!(!strong.is_weak());
    assert_eq!(weak.opaque(), strong.opaque());

    // Being weak, it can validate a cache (INM) but never a write (IM-1).
    let doc = WeakDoc { id: 7, version: 3 };
    let etag = doc.entity_tag();
    let mut map = HeaderMap::new();
    map.insert(IF_MATCH, etag.to_header_value());
    let d = eval_map(&Method::PUT, &map, &Target::of(&doc, &etag));
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfMatchMismatch));
    let mut map = HeaderMap::new();
    map.insert(IF_NONE_MATCH, etag.to_header_value());
    let d = eval_map(&Method::GET, &map, &Target::of(&doc, &etag));
    assert_eq!(d, Decision::NotModified);
}

// G-5 (always send ETag on 200 GET/HEAD) is a response property: see
// tests/tests/http_rules.rs.

#[test]
fn g_6_an_encoded_variant_has_a_distinct_tag() {
    // The gzip variant of version 7 carries "v7-gz": the plain tag must
    // not validate it, strongly or weakly.
    let gz = tag("\"v7-gz\"");
    let d = eval(&Method::PUT, &[("if-match", "\"v7\"")], &existing(&gz));
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfMatchMismatch));
    let d = eval(&Method::GET, &[("if-none-match", "\"v7\"")], &existing(&gz));
    assert_eq!(d, Decision::Proceed);
}

#[test]
fn g_7_surrounding_whitespace_is_excluded() {
    let v1 = tag("\"v1\"");
    let d = eval(
        &Method::PUT,
        &[("if-match", " \t\"v1\"\t ")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::Proceed);
    let d = eval(
        &Method::GET,
        &[("if-none-match", "\t \"v1\" ")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::NotModified);
    let d = eval(&Method::GET, &[("if-match", "  *  ")], &existing(&v1));
    assert_eq!(d, Decision::Proceed);
    assert_eq!(tag("  \"v1\"\t").opaque(), b"v1");
}

#[test]
fn g_8_cr_lf_and_nul_never_reach_the_parser_as_tag_octets() {
    for bad in [&b"\"v\r1\""[..], b"\"v\n1\"", b"\"v\x001\""] {
        // The HTTP layer refuses them in a field value ...
        assert!(
            HeaderValue::from_bytes(bad).is_err(),
            "{}",
            bad.escape_ascii()
        );
        // ... and the entity-tag grammar would not accept them either.
        assert!(
            EntityTag::parse_bytes(bad).is_err(),
            "{}",
            bad.escape_ascii()
        );
    }
}

#[test]
fn g_9_obs_text_is_opaque_and_compared_as_bytes() {
    // Latin-1 `é` (not UTF-8).
    let current = EntityTag::parse_bytes(b"\"caf\xe9\"").unwrap();
    assert_eq!(current.opaque(), b"caf\xe9");

    let mut same = HeaderMap::new();
    same.insert(IF_MATCH, HeaderValue::from_bytes(b"\"caf\xe9\"").unwrap());
    assert_eq!(
        eval_map(&Method::PUT, &same, &existing(&current)),
        Decision::Proceed
    );

    // UTF-8 `é` is other octets: no match.
    let mut utf8 = HeaderMap::new();
    utf8.insert(
        IF_MATCH,
        HeaderValue::from_bytes("\"café\"".as_bytes()).unwrap(),
    );
    assert_eq!(
        eval_map(&Method::PUT, &utf8, &existing(&current)),
        Decision::PreconditionFailed(Failure::IfMatchMismatch)
    );

    let mut inm = HeaderMap::new();
    inm.insert(
        IF_NONE_MATCH,
        HeaderValue::from_bytes(b"W/\"caf\xe9\"").unwrap(),
    );
    assert_eq!(
        eval_map(&Method::GET, &inm, &existing(&current)),
        Decision::NotModified
    );
}

#[test]
fn g_10_empty_list_elements_and_ows_are_ignored_and_the_count_is_capped() {
    let v1 = tag("\"v1\"");
    let d = eval(
        &Method::PUT,
        &[("if-match", ", \"v0\" ,, \"v1\",")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::Proceed);
    let d = eval(
        &Method::GET,
        &[("if-none-match", " ,\t,\"v1\" , ,")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::NotModified);

    // Exactly the cap: fine. One more: malformed, even though it matches.
    let at_cap = vec!["\"v1\""; MAX_LIST_ELEMENTS].join(", ");
    let over = vec!["\"v1\""; MAX_LIST_ELEMENTS + 1].join(", ");
    let mut map = HeaderMap::new();
    map.insert(IF_MATCH, HeaderValue::from_str(&at_cap).unwrap());
    assert_eq!(
        eval_map(&Method::PUT, &map, &existing(&v1)),
        Decision::Proceed
    );
    map.insert(IF_MATCH, HeaderValue::from_str(&over).unwrap());
    assert_eq!(
        eval_map(&Method::PUT, &map, &existing(&v1)),
        Decision::PreconditionFailed(Failure::IfMatchMalformed(MalformedList::TooMany))
    );
}

#[test]
fn g_11_an_empty_list_is_malformed_if_match_fails_if_none_match_ignored_on_get() {
    let v1 = tag("\"v1\"");
    for empty in ["", " ", " , ,"] {
        let d = eval(&Method::PUT, &[("if-match", empty)], &existing(&v1));
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfMatchMalformed(MalformedList::Empty)),
            "If-Match: {empty:?}"
        );
        // Present, so it is not the "no precondition" case (no 428) either.
        assert_ne!(d, Decision::PreconditionRequired);
        // On GET the empty If-None-Match is true either way: 200.
        let d = eval(&Method::GET, &[("if-none-match", empty)], &existing(&v1));
        assert_eq!(d, Decision::Proceed, "If-None-Match: {empty:?}");
        // On a write, design decision 1 fails closed.
        let d = eval(&Method::PUT, &[("if-none-match", empty)], &existing(&v1));
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfNoneMatchMalformed(MalformedList::Empty)),
            "If-None-Match: {empty:?}"
        );
    }
}

#[test]
fn g_12_field_lines_combine_in_order() {
    let v1 = tag("\"v1\"");
    let d = eval(
        &Method::PUT,
        &[("if-match", "\"v0\""), ("if-match", "\"v1\"")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::Proceed);
    let d = eval(
        &Method::GET,
        &[("if-none-match", "\"v0\""), ("if-none-match", "W/\"v1\"")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::NotModified);
    // `*` on one line and a tag on another combine into an invalid value.
    let d = eval(
        &Method::PUT,
        &[("if-match", "*"), ("if-match", "\"v1\"")],
        &existing(&v1),
    );
    assert_eq!(
        d,
        Decision::PreconditionFailed(Failure::IfMatchMalformed(MalformedList::AnyWithOthers))
    );
}

#[test]
fn g_13_star_with_other_members_is_malformed() {
    let v1 = tag("\"v1\"");
    for value in ["*, \"v1\"", "\"v1\", *", "*, *", "*,*"] {
        let d = eval(&Method::PUT, &[("if-match", value)], &existing(&v1));
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfMatchMalformed(MalformedList::AnyWithOthers)),
            "If-Match: {value}"
        );
        let d = eval(&Method::GET, &[("if-none-match", value)], &existing(&v1));
        assert_eq!(d, Decision::Proceed, "If-None-Match on GET: {value}");
        let d = eval(&Method::DELETE, &[("if-none-match", value)], &existing(&v1));
        assert!(
            matches!(
                d,
                Decision::PreconditionFailed(Failure::IfNoneMatchMalformed(
                    MalformedList::AnyWithOthers
                ))
            ),
            "If-None-Match on DELETE: {value}: {d:?}"
        );
    }
}

#[test]
fn g_14_all_three_date_formats_are_accepted_and_nothing_else() {
    let v1 = tag("\"v1\"");
    let target = existing(&v1);
    // Last-Modified equals the date: If-Modified-Since is false, 304.
    for date in [
        T,
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ] {
        let d = eval(&Method::GET, &[("if-modified-since", date)], &target);
        assert_eq!(d, Decision::NotModified, "{date}");
        assert_eq!(
            DateField::parse(date.as_bytes()),
            DateField::Valid(t()),
            "{date}"
        );
    }
    // Anything else is invalid, hence ignored: 200.
    for date in [
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT; length=12",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Mon, 06 Nov 1994 08:49:37 GMT",
        "784111777",
        "",
    ] {
        assert_eq!(
            DateField::parse(date.as_bytes()),
            DateField::Invalid,
            "{date}"
        );
        let d = eval(&Method::GET, &[("if-modified-since", date)], &target);
        assert_eq!(d, Decision::Proceed, "{date}");
    }
}

#[test]
fn g_15_dates_are_generated_as_imf_fixdate() {
    assert_eq!(fmt_http_date(t()).as_deref(), Some(T));
    // Second resolution: a fraction is dropped, never rounded up.
    assert_eq!(
        fmt_http_date(t() + Duration::from_millis(999)).as_deref(),
        Some(T)
    );
    // What HTTP-date cannot express is refused rather than mangled.
    assert_eq!(fmt_http_date(UNIX_EPOCH - Duration::from_secs(1)), None);
}

#[test]
fn g_16_no_tag_is_recovered_from_an_invalid_construct() {
    let v1 = tag("\"v1\"");
    for bad in [
        "v1",
        "\"v1",
        "v1\"",
        "'v1'",
        "\\\"v1\\\"",
        "W/ \"v1\"",
        "\"v1\" \"v2\"",
        "\"v1\";q=1",
        "\"v1\", garbage",
    ] {
        let d = eval(&Method::PUT, &[("if-match", bad)], &existing(&v1));
        assert!(is_if_match_malformed(&d), "If-Match: {bad}: {d:?}");
        // No lenient 304 on GET either: the field is ignored.
        let d = eval(&Method::GET, &[("if-none-match", bad)], &existing(&v1));
        assert_eq!(d, Decision::Proceed, "If-None-Match: {bad}");
    }
}

// ---------------------------------------------------------------------------
// 2. Comparison (CMP-*)
// ---------------------------------------------------------------------------

#[test]
fn cmp_1_strong_comparison_needs_both_strong_and_same_octets() {
    assert!(tag("\"1\"").strong_eq(&tag("\"1\"")));
    assert!(!tag("W/\"1\"").strong_eq(&tag("\"1\"")));
    assert!(!tag("\"1\"").strong_eq(&tag("W/\"1\"")));
    assert!(!tag("W/\"1\"").strong_eq(&tag("W/\"1\"")));
    assert!(!tag("\"1\"").strong_eq(&tag("\"10\"")));
    // If-Match is where the engine uses it.
    let current = tag("\"1\"");
    let d = eval(
        &Method::PUT,
        &[("if-match", "W/\"1\"")],
        &existing(&current),
    );
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfMatchMismatch));
}

#[test]
fn cmp_2_weak_comparison_ignores_weakness_only() {
    assert!(tag("W/\"1\"").weak_eq(&tag("\"1\"")));
    assert!(tag("\"1\"").weak_eq(&tag("W/\"1\"")));
    assert!(tag("W/\"1\"").weak_eq(&tag("W/\"1\"")));
    assert!(!tag("W/\"1\"").weak_eq(&tag("W/\"2\"")));
    assert!(!tag("\"1\"").weak_eq(&tag("\"1x\"")));
    // If-None-Match is where the engine uses it.
    let current = tag("W/\"1\"");
    let d = eval(
        &Method::GET,
        &[("if-none-match", "\"1\"")],
        &existing(&current),
    );
    assert_eq!(d, Decision::NotModified);
}

#[test]
fn cmp_3_comparison_table_and_case_sensitivity() {
    // (tag 1, tag 2, strong, weak): RFC 9110 Table 3, plus case.
    let table = [
        ("W/\"1\"", "W/\"1\"", false, true),
        ("W/\"1\"", "W/\"2\"", false, false),
        ("W/\"1\"", "\"1\"", false, true),
        ("\"1\"", "\"1\"", true, true),
        ("\"foo\"", "\"Foo\"", false, false),
    ];
    for (a, b, strong, weak) in table {
        for (x, y) in [(a, b), (b, a)] {
            let (tx, ty) = (tag(x), tag(y));
            assert_eq!(tx.strong_eq(&ty), strong, "{x} strong {y}");
            assert_eq!(tx.weak_eq(&ty), weak, "{x} weak {y}");
            assert_eq!(tx.as_tag_ref().strong_eq(ty.as_tag_ref()), strong);
            assert_eq!(tx.as_tag_ref().weak_eq(ty.as_tag_ref()), weak);

            // Through the engine: If-Match x on current y, If-None-Match x on GET.
            let mut im = HeaderMap::new();
            im.insert(IF_MATCH, tx.to_header_value());
            let d = eval_map(&Method::PUT, &im, &existing(&ty));
            assert_eq!(d == Decision::Proceed, strong, "If-Match {x} on {y}: {d:?}");
            let mut inm = HeaderMap::new();
            inm.insert(IF_NONE_MATCH, tx.to_header_value());
            let d = eval_map(&Method::GET, &inm, &existing(&ty));
            assert_eq!(
                d == Decision::NotModified,
                weak,
                "If-None-Match {x} on {y}: {d:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 3. If-Match (IM-*)
// ---------------------------------------------------------------------------

#[test]
fn im_1_strong_comparison_only() {
    let strong = tag("\"v1\"");
    let weak = tag("W/\"v1\"");
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        assert_eq!(
            eval(&method, &[("if-match", "\"v1\"")], &existing(&strong)),
            Decision::Proceed
        );
        for (header, current) in [
            ("W/\"v1\"", &strong),
            ("W/\"v1\"", &weak),
            ("\"v1\"", &weak),
        ] {
            let d = eval(&method, &[("if-match", header)], &existing(current));
            assert_eq!(
                d,
                Decision::PreconditionFailed(Failure::IfMatchMismatch),
                "{method} If-Match {header} on {current}"
            );
        }
    }
}

#[test]
fn im_2_if_match_is_evaluated_for_every_method_that_selects_a_representation() {
    let v1 = tag("\"v1\"");
    for method in [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ] {
        let d = eval(&method, &[("if-match", "\"v0\"")], &existing(&v1));
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfMatchMismatch),
            "{method}"
        );
        let d = eval(&method, &[("if-match", "\"v1\"")], &existing(&v1));
        assert_eq!(d, Decision::Proceed, "{method}");
    }
}

#[test]
fn im_3_star_is_true_iff_a_current_representation_exists() {
    // Existence, not the kind of tag: a weak current tag still passes `*`.
    for current in [tag("\"v1\""), tag("W/\"v1\""), tag("\"\"")] {
        for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            let d = eval(&method, &[("if-match", "*")], &existing(&current));
            assert_eq!(d, Decision::Proceed, "{method} on {current}");
        }
    }
    // No current representation (PUT may create): false, 412.
    let missing = Target::missing().creatable(true);
    let d = eval(&Method::PUT, &[("if-match", "*")], &missing);
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfMatchNoCurrent));
}

#[test]
fn im_4_true_if_any_listed_tag_matches() {
    let v1 = tag("\"v1\"");
    for list in [
        "\"a\", \"v1\", \"b\"",
        "\"v1\", W/\"x\"",
        "W/\"v1\", \"v1\"",
    ] {
        let d = eval(&Method::PUT, &[("if-match", list)], &existing(&v1));
        assert_eq!(d, Decision::Proceed, "{list}");
    }
    for list in ["\"a\", \"b\"", "W/\"v1\", \"V1\"", "\"v10\""] {
        let d = eval(&Method::PUT, &[("if-match", list)], &existing(&v1));
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfMatchMismatch),
            "{list}"
        );
    }
}

#[test]
fn im_5_otherwise_false_a_malformed_if_match_is_412() {
    let v1 = tag("\"v1\"");
    for bad in [
        "v1",
        "\"v1",
        "W/ \"v1\"",
        "w/\"v1\"",
        "\"v1\" \"v2\"",
        "\"v1\";q=1",
        "**",
        "\"\"v1\"\"",
        "",
        "*, \"v1\"",
    ] {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            let d = eval(&method, &[("if-match", bad)], &existing(&v1));
            assert!(
                is_if_match_malformed(&d),
                "{method} If-Match: {bad:?}: {d:?}"
            );
            if let Decision::PreconditionFailed(failure) = &d {
                assert_eq!(failure.header(), IF_MATCH);
            }
        }
    }
}

#[test]
fn im_6_a_failed_if_match_never_proceeds_strict_412() {
    // Design decision 4: no "already applied" 2xx.
    let v1 = tag("\"v1\"");
    for method in WRITES {
        let d = eval(&method, &[("if-match", "\"v0\"")], &existing(&v1));
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfMatchMismatch),
            "{method}"
        );
    }
}

#[test]
fn im_7_star_in_a_list_is_syntactically_invalid() {
    let v1 = tag("\"v1\"");
    for value in ["\"v1\", *", "*, \"v1\"", "*, *"] {
        let d = eval(&Method::PUT, &[("if-match", value)], &existing(&v1));
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfMatchMalformed(MalformedList::AnyWithOthers)),
            "{value}"
        );
    }
}

#[test]
fn im_8_if_match_on_get_or_head_gives_412_not_200_or_304() {
    let v1 = tag("\"v1\"");
    for method in READS {
        let d = eval(&method, &[("if-match", "\"v0\"")], &existing(&v1));
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfMatchMismatch),
            "{method}"
        );
    }
}

// IM-9 (a cache or intermediary MAY ignore If-Match) does not apply to an
// origin server.

// ---------------------------------------------------------------------------
// 4. If-None-Match (INM-*)
// ---------------------------------------------------------------------------

#[test]
fn inm_1_weak_comparison() {
    let strong = tag("\"v1\"");
    let weak = tag("W/\"v1\"");
    for (header, current) in [
        ("\"v1\"", &strong),
        ("W/\"v1\"", &strong),
        ("\"v1\"", &weak),
        ("W/\"v1\"", &weak),
    ] {
        let d = eval(
            &Method::GET,
            &[("if-none-match", header)],
            &existing(current),
        );
        assert_eq!(d, Decision::NotModified, "GET {header} on {current}");
        let d = eval(
            &Method::PUT,
            &[("if-none-match", header)],
            &existing(current),
        );
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfNoneMatchMatched),
            "PUT {header} on {current}"
        );
    }
    // Weak comparison is still octet-exact.
    let d = eval(
        &Method::GET,
        &[("if-none-match", "W/\"V1\"")],
        &existing(&strong),
    );
    assert_eq!(d, Decision::Proceed);
}

#[test]
fn inm_2_if_none_match_is_evaluated_for_every_method_that_selects_a_representation() {
    let v1 = tag("\"v1\"");
    for method in READS {
        let d = eval(&method, &[("if-none-match", "\"v1\"")], &existing(&v1));
        assert_eq!(d, Decision::NotModified, "{method}");
    }
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let d = eval(&method, &[("if-none-match", "\"v1\"")], &existing(&v1));
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfNoneMatchMatched),
            "{method}"
        );
        let d = eval(&method, &[("if-none-match", "\"v0\"")], &existing(&v1));
        assert_eq!(d, Decision::Proceed, "{method}");
    }
}

#[test]
fn inm_3_star_is_false_iff_a_current_representation_exists() {
    let v1 = tag("\"v1\"");
    for method in READS {
        let d = eval(&method, &[("if-none-match", "*")], &existing(&v1));
        assert_eq!(d, Decision::NotModified, "{method}");
    }
    for method in WRITES {
        let d = eval(&method, &[("if-none-match", "*")], &existing(&v1));
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfNoneMatchMatched),
            "{method}"
        );
    }
    // Missing and creatable: true, the create proceeds (create-once).
    let missing = Target::missing().creatable(true);
    let d = eval(&Method::PUT, &[("if-none-match", "*")], &missing);
    assert_eq!(d, Decision::Proceed);
}

#[test]
fn inm_4_false_if_any_listed_tag_matches() {
    let v1 = tag("\"v1\"");
    let d = eval(
        &Method::GET,
        &[("if-none-match", "\"a\", \"v1\"")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::NotModified);
    let d = eval(
        &Method::GET,
        &[("if-none-match", "\"a\", \"b\"")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::Proceed);
    let d = eval(
        &Method::PATCH,
        &[("if-none-match", "\"a\", W/\"v1\"")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfNoneMatchMatched));
}

#[test]
fn inm_5_malformed_is_ignored_on_get() {
    // Otherwise true: a malformed value never gives 304 (fails open on reads).
    let v1 = tag("\"v1\"");
    for bad in ["v1", "\"v1", "*, \"v1\"", "w/\"v1\"", "\"v1\" x", ""] {
        for method in READS {
            let d = eval(&method, &[("if-none-match", bad)], &existing(&v1));
            assert_eq!(d, Decision::Proceed, "{method} If-None-Match: {bad:?}");
        }
    }
}

#[test]
fn inm_5_malformed_on_writes_fails_closed_with_412() {
    // Design decision 1: on an unsafe method a malformed If-None-Match is 412.
    let v1 = tag("\"v1\"");
    for bad in ["v1", "\"v0", "*, \"v0\"", "\"v0\" x", ""] {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let d = eval(&method, &[("if-none-match", bad)], &existing(&v1));
            assert!(
                matches!(
                    &d,
                    Decision::PreconditionFailed(Failure::IfNoneMatchMalformed(_))
                ),
                "{method} If-None-Match: {bad:?}: {d:?}"
            );
        }
    }
    // Also when creating: no create from a header we cannot read.
    let missing = Target::missing().creatable(true);
    let d = eval(&Method::PUT, &[("if-none-match", "*, *")], &missing);
    assert!(
        matches!(
            d,
            Decision::PreconditionFailed(Failure::IfNoneMatchMalformed(_))
        ),
        "{d:?}"
    );
}

#[test]
fn inm_6_false_is_304_for_get_and_head_and_412_for_every_other_method() {
    let v1 = tag("\"v1\"");
    for method in [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::from_bytes(b"PROPPATCH").unwrap(),
    ] {
        let d = eval(&method, &[("if-none-match", "\"v1\"")], &existing(&v1));
        if method == Method::GET || method == Method::HEAD {
            assert_eq!(d, Decision::NotModified, "{method}");
        } else {
            // Never 304 outside GET/HEAD (304-1).
            assert_eq!(
                d,
                Decision::PreconditionFailed(Failure::IfNoneMatchMatched),
                "{method}"
            );
        }
    }
}

#[test]
fn inm_7_a_list_of_stored_tags_is_304_when_any_is_current() {
    let v3 = tag("\"v3\"");
    let stored = "\"v1\", W/\"v2\", \"v3\"";
    let d = eval(&Method::GET, &[("if-none-match", stored)], &existing(&v3));
    assert_eq!(d, Decision::NotModified);
    let v4 = tag("\"v4\"");
    let d = eval(&Method::GET, &[("if-none-match", stored)], &existing(&v4));
    assert_eq!(d, Decision::Proceed);
}

#[test]
fn inm_8_star_combined_with_tags_is_invalid() {
    let v1 = tag("\"v1\"");
    // Ignored on GET (so no 304 despite `*` and a matching tag) ...
    let d = eval(
        &Method::GET,
        &[("if-none-match", "*, \"v1\"")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::Proceed);
    let d = eval(
        &Method::GET,
        &[("if-none-match", "\"v1\""), ("if-none-match", "*")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::Proceed);
    // ... and 412 for a write.
    let d = eval(
        &Method::PUT,
        &[("if-none-match", "*, \"v0\"")],
        &existing(&v1),
    );
    assert_eq!(
        d,
        Decision::PreconditionFailed(Failure::IfNoneMatchMalformed(MalformedList::AnyWithOthers))
    );
}

// ---------------------------------------------------------------------------
// 5. If-Modified-Since (IMS-*)
// ---------------------------------------------------------------------------

#[test]
fn ims_1_ignored_when_if_none_match_is_present_even_if_invalid() {
    let v1 = tag("\"v1\"");
    let target = existing(&v1);
    // IMS alone would say 304 ...
    assert_eq!(
        eval(&Method::GET, &[("if-modified-since", T)], &target),
        Decision::NotModified
    );
    // ... but any If-None-Match, matching or not, valid or not, wins.
    for inm in ["\"v0\"", "garbage", "*, \"v0\"", ""] {
        let d = eval(
            &Method::GET,
            &[("if-none-match", inm), ("if-modified-since", T)],
            &target,
        );
        assert_eq!(d, Decision::Proceed, "If-None-Match: {inm:?}");
    }
}

#[test]
fn ims_2_ignored_when_invalid_a_list_or_not_get_head() {
    let v1 = tag("\"v1\"");
    let target = existing(&v1);
    // Not a valid HTTP-date.
    for bad in ["yesterday", "Sun, 06 Nov 1994 08:49:37 UTC", "-1"] {
        let d = eval(&Method::GET, &[("if-modified-since", bad)], &target);
        assert_eq!(d, Decision::Proceed, "{bad}");
    }
    // More than one member: on one line, or over two lines.
    let list = "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT";
    assert_eq!(
        eval(&Method::GET, &[("if-modified-since", list)], &target),
        Decision::Proceed
    );
    let two_lines = [("if-modified-since", T), ("if-modified-since", T)];
    assert_eq!(eval(&Method::GET, &two_lines, &target), Decision::Proceed);
    // Not GET/HEAD: ignored (never 304 for a write) ...
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let d = eval_policy(
            &method,
            &[("if-modified-since", T)],
            &target,
            Policy::Optional,
        );
        assert_eq!(d, Decision::Proceed, "{method}");
    }
    // ... and it does not make a write conditional (design decision 2).
    for method in WRITES {
        let d = eval(&method, &[("if-modified-since", T)], &target);
        assert_eq!(d, Decision::PreconditionRequired, "{method}");
    }
}

#[test]
fn ims_3_ignored_without_a_modification_date() {
    let v1 = tag("\"v1\"");
    for target in [
        Target::present(&v1),
        Target::present(&v1).tracking_last_modified(true),
        Target::present(&v1).with_last_modified(None),
    ] {
        let d = eval(&Method::GET, &[("if-modified-since", T)], &target);
        assert_eq!(d, Decision::Proceed);
    }
}

#[test]
fn ims_4_the_date_is_interpreted_on_the_origin_server_clock() {
    // An RFC 850 two-digit year takes its century from the server's clock.
    let date = b"Sunday, 06-Nov-77 08:49:37 GMT"; // 1977-11-06 is a Sunday
    let server_2026 = secs(1_782_864_000); // 2026-07-01
    let server_2090 = secs(3_802_291_200); // 2090-06-28
    let nov_1977 = secs(247_654_177); // 1977-11-06 08:49:37 GMT
    assert_eq!(
        DateField::parse_at(date, server_2026),
        DateField::Valid(nov_1977)
    );
    // In 2090 it names 2077-11-06, a Saturday: not a valid date then.
    assert_eq!(DateField::parse_at(date, server_2090), DateField::Invalid);

    let v1 = tag("\"v1\"");
    let target = Target::present(&v1).with_last_modified(Some(secs(200_000_000))); // 1976
    let get = |field| {
        Preconditions::default()
            .with_if_modified_since(field)
            .evaluate(&Method::GET, &target, Policy::Required)
    };
    assert_eq!(
        get(DateField::parse_at(date, server_2026)),
        Decision::NotModified
    );
    assert_eq!(
        get(DateField::parse_at(date, server_2090)),
        Decision::Proceed
    );
}

#[test]
fn ims_5_evaluated_on_get_and_head_without_if_none_match() {
    let v1 = tag("\"v1\"");
    for method in READS {
        let d = eval(&method, &[("if-modified-since", T)], &existing(&v1));
        assert_eq!(d, Decision::NotModified, "{method}");
        let d = eval(&method, &[("if-modified-since", T_MINUS_1)], &existing(&v1));
        assert_eq!(d, Decision::Proceed, "{method}");
    }
}

#[test]
fn ims_6_earlier_or_equal_is_false_at_second_resolution() {
    let v1 = tag("\"v1\"");
    let at = |lm: SystemTime| Target::present(&v1).with_last_modified(Some(lm));
    let get = |lm| eval(&Method::GET, &[("if-modified-since", T)], &at(lm));
    // Equal, earlier, and later by less than a second (same second): 304.
    assert_eq!(get(t()), Decision::NotModified);
    assert_eq!(get(t() - Duration::from_secs(3600)), Decision::NotModified);
    assert_eq!(get(t() + Duration::from_millis(999)), Decision::NotModified);
    assert_eq!(get(t() + Duration::from_nanos(1)), Decision::NotModified);
    // A second later: modified, 200.
    assert_eq!(get(t() + Duration::from_secs(1)), Decision::Proceed);
    assert_eq!(
        eval(
            &Method::GET,
            &[("if-modified-since", T_PLUS_1)],
            &at(t() + Duration::from_millis(1500))
        ),
        Decision::NotModified
    );
}

#[test]
fn ims_7_a_false_condition_answers_304() {
    let v1 = tag("\"v1\"");
    for method in READS {
        let d = eval(&method, &[("if-modified-since", T_PLUS_1)], &existing(&v1));
        assert_eq!(d, Decision::NotModified, "{method}");
    }
}

#[test]
fn ims_8_a_future_date_is_not_invalid() {
    let v1 = tag("\"v1\"");
    let future = "Fri, 01 Jan 2100 00:00:00 GMT";
    assert!(DateField::parse(future.as_bytes()).valid().is_some());
    let d = eval(
        &Method::GET,
        &[("if-modified-since", future)],
        &existing(&v1),
    );
    assert_eq!(d, Decision::NotModified);
}

// ---------------------------------------------------------------------------
// 6. If-Unmodified-Since (IUS-*)
// ---------------------------------------------------------------------------

#[test]
fn ius_1_ignored_when_if_match_is_present() {
    let v1 = tag("\"v1\"");
    // IUS alone fails (modified at T, after T-1) ...
    assert_eq!(
        eval(
            &Method::PUT,
            &[("if-unmodified-since", T_MINUS_1)],
            &existing(&v1)
        ),
        Decision::PreconditionFailed(Failure::IfUnmodifiedSince)
    );
    // ... but with a passing If-Match it is ignored.
    for im in ["\"v1\"", "*"] {
        let d = eval(
            &Method::PUT,
            &[("if-match", im), ("if-unmodified-since", T_MINUS_1)],
            &existing(&v1),
        );
        assert_eq!(d, Decision::Proceed, "If-Match: {im}");
    }
}

#[test]
fn ius_2_ignored_when_invalid_or_a_list() {
    let v1 = tag("\"v1\"");
    let target = existing(&v1);
    let invalid: [&[(&str, &str)]; 4] = [
        &[("if-unmodified-since", "garbage")],
        &[("if-unmodified-since", "Sun, 06 Nov 1994 08:49:36 UTC")],
        &[(
            "if-unmodified-since",
            "Sun, 06 Nov 1994 08:49:36 GMT, Sun, 06 Nov 1994 08:49:36 GMT",
        )],
        &[
            ("if-unmodified-since", T_MINUS_1),
            ("if-unmodified-since", T_MINUS_1),
        ],
    ];
    for pairs in invalid {
        // Ignored: a write proceeds where a valid IUS would have failed ...
        let d = eval_policy(&Method::PUT, pairs, &target, Policy::Optional);
        assert_eq!(d, Decision::Proceed, "{pairs:?}");
        let d = eval(&Method::GET, pairs, &target);
        assert_eq!(d, Decision::Proceed, "{pairs:?}");
        // ... and an ignored field does not make a write conditional.
        let d = eval(&Method::PUT, pairs, &target);
        assert_eq!(d, Decision::PreconditionRequired, "{pairs:?}");
    }
}

#[test]
fn ius_3_ignored_without_a_modification_date() {
    let v1 = tag("\"v1\"");
    // The model tracks dates but this resource has none: conditional, ignored.
    let target = Target::present(&v1).tracking_last_modified(true);
    let d = eval(&Method::PUT, &[("if-unmodified-since", T_MINUS_1)], &target);
    assert_eq!(d, Decision::Proceed);
    // The model has no dates at all: ignored (and not conditional: 428 when
    // required, design decision 2).
    let target = Target::present(&v1);
    let d = eval_policy(
        &Method::PUT,
        &[("if-unmodified-since", T_MINUS_1)],
        &target,
        Policy::Optional,
    );
    assert_eq!(d, Decision::Proceed);
    let d = eval(&Method::PUT, &[("if-unmodified-since", T_MINUS_1)], &target);
    assert_eq!(d, Decision::PreconditionRequired);
    let d = eval(&Method::GET, &[("if-unmodified-since", T_MINUS_1)], &target);
    assert_eq!(d, Decision::Proceed);
}

#[test]
fn ius_4_the_date_is_interpreted_on_the_origin_server_clock() {
    let date = b"Saturday, 06-Nov-77 08:49:37 GMT"; // 2077-11-06 is a Saturday
    let server_2026 = secs(1_782_864_000);
    let server_2090 = secs(3_802_291_200);
    // In 2026, "77" is 1977 (2077 is more than 50 years ahead): a Sunday,
    // so the weekday is wrong and the date invalid.
    assert_eq!(DateField::parse_at(date, server_2026), DateField::Invalid);
    // In 2090 it is 2077-11-06.
    assert_eq!(
        DateField::parse_at(date, server_2090),
        DateField::Valid(secs(3_403_414_177))
    );

    let v1 = tag("\"v1\"");
    // Modified 2080-01-01: after the 2077 date.
    let target = Target::present(&v1).with_last_modified(Some(secs(3_471_292_800)));
    let put = |field| {
        Preconditions::default()
            .with_if_unmodified_since(field)
            .evaluate(&Method::PUT, &target, Policy::Optional)
    };
    assert_eq!(
        put(DateField::parse_at(date, server_2090)),
        Decision::PreconditionFailed(Failure::IfUnmodifiedSince)
    );
    assert_eq!(
        put(DateField::parse_at(date, server_2026)),
        Decision::Proceed
    );
}

#[test]
fn ius_5_evaluated_without_if_match_and_makes_a_write_conditional() {
    let v1 = tag("\"v1\"");
    for method in WRITES {
        let d = eval(&method, &[("if-unmodified-since", T)], &existing(&v1));
        assert_eq!(d, Decision::Proceed, "{method}");
        let d = eval(
            &method,
            &[("if-unmodified-since", T_MINUS_1)],
            &existing(&v1),
        );
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfUnmodifiedSince),
            "{method}"
        );
    }
    let d = eval(
        &Method::POST,
        &[("if-unmodified-since", T_MINUS_1)],
        &existing(&v1),
    );
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfUnmodifiedSince));
}

#[test]
fn ius_6_earlier_or_equal_is_true_at_second_resolution() {
    let v1 = tag("\"v1\"");
    let at = |lm: SystemTime| Target::present(&v1).with_last_modified(Some(lm));
    let put = |lm| eval(&Method::PUT, &[("if-unmodified-since", T)], &at(lm));
    assert_eq!(put(t()), Decision::Proceed);
    assert_eq!(put(t() - Duration::from_secs(86_400)), Decision::Proceed);
    assert_eq!(put(t() + Duration::from_millis(999)), Decision::Proceed);
    assert_eq!(
        put(t() + Duration::from_secs(1)),
        Decision::PreconditionFailed(Failure::IfUnmodifiedSince)
    );
}

#[test]
fn ius_7_a_false_condition_is_a_strict_412() {
    let v1 = tag("\"v1\"");
    for method in WRITES {
        let d = eval(
            &method,
            &[("if-unmodified-since", T_MINUS_1)],
            &existing(&v1),
        );
        match d {
            Decision::PreconditionFailed(failure) => {
                assert_eq!(failure, Failure::IfUnmodifiedSince);
                assert_eq!(failure.header(), IF_UNMODIFIED_SINCE);
            }
            other => panic!("{method}: expected 412, got {other:?}"),
        }
    }
}

#[test]
fn ius_8_if_unmodified_since_on_get_or_head_gives_412() {
    let v1 = tag("\"v1\"");
    for method in READS {
        let d = eval(
            &method,
            &[("if-unmodified-since", T_MINUS_1)],
            &existing(&v1),
        );
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfUnmodifiedSince),
            "{method}"
        );
    }
}

// ---------------------------------------------------------------------------
// 8. When to evaluate (EV-*)
// ---------------------------------------------------------------------------

#[test]
fn ev_1_preconditions_decide_before_the_body_is_read() {
    // `evaluate` takes no body: a stale tag is 412 whatever the content
    // would be, and the body is only read after `Proceed` (412 beats 422:
    // see S16/S17 in tests/tests/http_rules.rs for the wire side).
    let v1 = tag("\"v1\"");
    for method in [Method::PUT, Method::PATCH] {
        assert_eq!(
            eval(&method, &[("if-match", "\"v0\"")], &existing(&v1)),
            Decision::PreconditionFailed(Failure::IfMatchMismatch)
        );
        assert_eq!(
            eval(&method, &[("if-match", "\"v1\"")], &existing(&v1)),
            Decision::Proceed
        );
    }
}

#[test]
fn ev_2_a_missing_resource_is_404_whatever_the_preconditions() {
    let missing = Target::missing();
    let header_sets: [&[(&str, &str)]; 7] = [
        &[],
        &[("if-match", "\"v1\"")],
        &[("if-match", "*")],
        &[("if-match", "garbage")],
        &[("if-none-match", "*")],
        &[("if-none-match", "\"v1\"")],
        &[("if-unmodified-since", T)],
    ];
    for method in [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ] {
        for pairs in header_sets {
            // Under Required too: 404 beats 428 (design decision 2).
            for policy in [Policy::Required, Policy::Optional] {
                let d = eval_policy(&method, pairs, &missing, policy);
                assert_eq!(d, Decision::NotFound, "{method} {pairs:?} {policy:?}");
            }
        }
    }
    // 401/403/405/415 and redirects beating 412/304 are decided before the
    // engine runs: see tests/tests/http_rules.rs (ev_2_s13_*).
}

#[test]
fn ev_3_options_trace_and_connect_ignore_preconditions() {
    let v1 = tag("\"v1\"");
    let header_sets: [&[(&str, &str)]; 6] = [
        &[("if-match", "\"v0\"")],
        &[("if-match", "garbage")],
        &[("if-none-match", "*")],
        &[("if-none-match", "\"v1\"")],
        &[("if-unmodified-since", T_MINUS_1)],
        &[("if-modified-since", T)],
    ];
    for method in [Method::OPTIONS, Method::TRACE, Method::CONNECT] {
        for pairs in header_sets {
            for target in [existing(&v1), Target::missing()] {
                let d = eval(&method, pairs, &target);
                assert_eq!(d, Decision::Proceed, "{method} {pairs:?}");
            }
        }
        assert_eq!(eval(&method, &[], &existing(&v1)), Decision::Proceed);
    }
}

// EV-4 (an intermediary that cannot cache forwards preconditions) does not
// apply: the framework is an origin server.

#[test]
fn ev_5_head_is_evaluated_exactly_as_get() {
    let v1 = tag("\"v1\"");
    let header_sets: [&[(&str, &str)]; 10] = [
        &[],
        &[("if-none-match", "\"v1\"")],
        &[("if-none-match", "\"v0\"")],
        &[("if-none-match", "garbage")],
        &[("if-match", "\"v0\"")],
        &[("if-match", "\"v1\"")],
        &[("if-modified-since", T)],
        &[("if-modified-since", T_MINUS_1)],
        &[("if-unmodified-since", T_MINUS_1)],
        &[("if-match", "\"v0\""), ("if-none-match", "\"v1\"")],
    ];
    let mut seen_304 = false;
    for pairs in header_sets {
        for target in [existing(&v1), Target::missing()] {
            let get = eval(&Method::GET, pairs, &target);
            let head = eval(&Method::HEAD, pairs, &target);
            assert_eq!(get, head, "{pairs:?}");
            seen_304 |= get == Decision::NotModified;
        }
    }
    assert!(seen_304);
}

#[test]
fn ev_6_every_field_line_is_evaluated() {
    let v1 = tag("\"v1\"");
    // The match is on the last line.
    let d = eval(
        &Method::PUT,
        &[
            ("if-match", "\"a\""),
            ("if-match", "\"b\""),
            ("if-match", "\"v1\""),
        ],
        &existing(&v1),
    );
    assert_eq!(d, Decision::Proceed);
    // A later line is malformed: the field is malformed, despite the match.
    let d = eval(
        &Method::PUT,
        &[("if-match", "\"v1\""), ("if-match", "garbage")],
        &existing(&v1),
    );
    assert!(is_if_match_malformed(&d), "{d:?}");
    // An empty line in between contributes only an empty element.
    let d = eval(
        &Method::GET,
        &[
            ("if-none-match", "\"v0\""),
            ("if-none-match", ""),
            ("if-none-match", "\"v1\""),
        ],
        &existing(&v1),
    );
    assert_eq!(d, Decision::NotModified);
}

// ---------------------------------------------------------------------------
// 9. Precedence (PR-1)
// ---------------------------------------------------------------------------

#[test]
fn pr_1_if_match_is_evaluated_before_if_none_match() {
    let v1 = tag("\"v1\"");
    // If-None-Match alone would give 304; the failed If-Match gives 412.
    let d = eval(
        &Method::GET,
        &[("if-match", "\"v0\""), ("if-none-match", "\"v1\"")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfMatchMismatch));
    // On a write the failure reported is the If-Match one.
    let d = eval(
        &Method::PUT,
        &[("if-match", "\"v0\""), ("if-none-match", "*")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfMatchMismatch));
    // If-Match passes: If-None-Match is evaluated next.
    let d = eval(
        &Method::GET,
        &[("if-match", "\"v1\""), ("if-none-match", "\"v1\"")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::NotModified);
}

#[test]
fn pr_1_a_passing_if_match_makes_a_failing_if_unmodified_since_irrelevant() {
    let v1 = tag("\"v1\"");
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let d = eval(
            &method,
            &[("if-match", "\"v1\""), ("if-unmodified-since", T_MINUS_1)],
            &existing(&v1),
        );
        assert_eq!(d, Decision::Proceed, "{method}");
    }
}

#[test]
fn pr_1_if_unmodified_since_is_evaluated_before_if_none_match() {
    let v1 = tag("\"v1\"");
    let d = eval(
        &Method::GET,
        &[
            ("if-unmodified-since", T_MINUS_1),
            ("if-none-match", "\"v1\""),
        ],
        &existing(&v1),
    );
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfUnmodifiedSince));
    let d = eval(
        &Method::PUT,
        &[("if-unmodified-since", T_MINUS_1), ("if-none-match", "*")],
        &existing(&v1),
    );
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfUnmodifiedSince));
}

#[test]
fn pr_1_matching_if_none_match_is_304_even_if_ims_says_modified() {
    let v1 = tag("\"v1\"");
    let d = eval(
        &Method::GET,
        &[
            ("if-none-match", "\"v1\""),
            ("if-modified-since", T_MINUS_1),
        ],
        &existing(&v1),
    );
    assert_eq!(d, Decision::NotModified);
}

#[test]
fn pr_1_unmatched_if_none_match_is_200_even_if_ims_says_unmodified() {
    let v1 = tag("\"v1\"");
    let d = eval(
        &Method::GET,
        &[("if-none-match", "\"v0\""), ("if-modified-since", T_PLUS_1)],
        &existing(&v1),
    );
    assert_eq!(d, Decision::Proceed);
}

// ---------------------------------------------------------------------------
// 11. Special cases matrix (S1–S18). Current tag "v1", Last-Modified T.
// ---------------------------------------------------------------------------

#[test]
fn s1_get_head_if_none_match_current_weak_or_star_is_304() {
    let v1 = tag("\"v1\"");
    for method in READS {
        for inm in ["\"v1\"", "W/\"v1\"", "*"] {
            let d = eval(&method, &[("if-none-match", inm)], &existing(&v1));
            assert_eq!(d, Decision::NotModified, "{method} {inm}");
        }
    }
}

#[test]
fn s2_write_if_none_match_current_or_star_on_existing_is_412() {
    let v1 = tag("\"v1\"");
    for method in WRITES {
        for inm in ["\"v1\"", "*"] {
            let d = eval(&method, &[("if-none-match", inm)], &existing(&v1));
            assert_eq!(
                d,
                Decision::PreconditionFailed(Failure::IfNoneMatchMatched),
                "{method} {inm}"
            );
        }
    }
}

#[test]
fn s3_write_with_stale_if_match_is_412() {
    let v1 = tag("\"v1\"");
    for method in WRITES {
        let d = eval(&method, &[("if-match", "\"v0\"")], &existing(&v1));
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfMatchMismatch),
            "{method}"
        );
    }
}

#[test]
fn s4_write_with_weak_if_match_is_412() {
    let v1 = tag("\"v1\"");
    for method in WRITES {
        let d = eval(&method, &[("if-match", "W/\"v1\"")], &existing(&v1));
        assert_eq!(
            d,
            Decision::PreconditionFailed(Failure::IfMatchMismatch),
            "{method}"
        );
    }
}

#[test]
fn s5_get_head_with_stale_if_match_is_412() {
    let v1 = tag("\"v1\"");
    for method in READS {
        let d = eval(&method, &[("if-match", "\"v0\"")], &existing(&v1));
        assert!(is_412(&d), "{method}: {d:?}");
    }
}

#[test]
fn s6_put_if_match_on_missing_is_412() {
    let missing = Target::missing().creatable(true);
    for im in ["*", "\"v1\""] {
        for policy in [Policy::Required, Policy::Optional] {
            let d = eval_policy(&Method::PUT, &[("if-match", im)], &missing, policy);
            assert_eq!(
                d,
                Decision::PreconditionFailed(Failure::IfMatchNoCurrent),
                "{im} {policy:?}"
            );
        }
    }
}

#[test]
fn s7_put_if_none_match_star_on_missing_creates() {
    let missing = Target::missing().creatable(true);
    let d = eval(&Method::PUT, &[("if-none-match", "*")], &missing);
    assert_eq!(d, Decision::Proceed);
    // Create-once: the second attempt finds the resource and fails.
    let created = tag("\"v1\"");
    let d = eval(&Method::PUT, &[("if-none-match", "*")], &existing(&created));
    assert_eq!(d, Decision::PreconditionFailed(Failure::IfNoneMatchMatched));
}

#[test]
fn s8_put_if_unmodified_since_on_missing_is_ignored() {
    let pairs = [("if-unmodified-since", T_MINUS_1)];
    // No modification date to compare: ignored, the create proceeds.
    let tracking = Target::missing()
        .creatable(true)
        .tracking_last_modified(true);
    assert_eq!(eval(&Method::PUT, &pairs, &tracking), Decision::Proceed);
    let plain = Target::missing().creatable(true);
    assert_eq!(
        eval_policy(&Method::PUT, &pairs, &plain, Policy::Optional),
        Decision::Proceed
    );
    // Design decision 2: for a model without dates the field does not make
    // the write conditional, so under the default policy it is 428.
    assert_eq!(
        eval(&Method::PUT, &pairs, &plain),
        Decision::PreconditionRequired
    );
}

#[test]
fn s9_patch_on_missing_is_404_whatever_the_preconditions() {
    let missing = Target::missing();
    let header_sets: [&[(&str, &str)]; 5] = [
        &[],
        &[("if-match", "\"v1\"")],
        &[("if-match", "*")],
        &[("if-none-match", "*")],
        &[("if-unmodified-since", T)],
    ];
    for pairs in header_sets {
        assert_eq!(
            eval(&Method::PATCH, pairs, &missing),
            Decision::NotFound,
            "{pairs:?}"
        );
    }
}

#[test]
fn s10_patch_that_creates_evaluates_on_missing() {
    // RFC reading when PATCH may create (PATCH-4). The generated routes
    // never make PATCH create (design decision 3: S9 applies instead).
    let missing = Target::missing().creatable(true);
    assert_eq!(
        eval(&Method::PATCH, &[("if-match", "\"v1\"")], &missing),
        Decision::PreconditionFailed(Failure::IfMatchNoCurrent)
    );
    assert_eq!(
        eval(&Method::PATCH, &[("if-none-match", "*")], &missing),
        Decision::Proceed
    );
}

#[test]
fn s11_delete_on_missing_is_404() {
    let missing = Target::missing();
    for pairs in [
        &[("if-match", "\"v1\"")][..],
        &[("if-match", "*")],
        &[("if-none-match", "*")],
        &[],
    ] {
        assert_eq!(
            eval(&Method::DELETE, pairs, &missing),
            Decision::NotFound,
            "{pairs:?}"
        );
    }
}

/// DELETE can never create a resource, so a missing resource is 404 for
/// DELETE whatever the preconditions (design decision 3, EV-2, S11), even
/// when the target was built as creatable (a handler that lets PUT create
/// and shares one `Target` for every method).
#[test]
fn s11_delete_never_creates_so_missing_is_404_even_on_a_creatable_target() {
    let missing = Target::missing().creatable(true);
    for pairs in [
        &[("if-match", "\"v1\"")][..],
        &[("if-match", "*")],
        &[("if-none-match", "*")],
        &[],
    ] {
        assert_eq!(
            eval(&Method::DELETE, pairs, &missing),
            Decision::NotFound,
            "{pairs:?}"
        );
    }
}

#[test]
fn s12_get_head_on_missing_is_404() {
    for target in [Target::missing(), Target::missing().creatable(true)] {
        for method in READS {
            for pairs in [
                &[("if-match", "*")][..],
                &[("if-none-match", "*")],
                &[("if-modified-since", T)],
            ] {
                assert_eq!(
                    eval(&method, pairs, &target),
                    Decision::NotFound,
                    "{method} {pairs:?}"
                );
            }
        }
    }
}

// S13 (a request failing auth, method or media type gets that error, not
// 412/304) is decided before the engine runs: see tests/tests/http_rules.rs
// (ev_2_s13_wrong_media_type_415_beats_412).

#[test]
fn s14_options_trace_connect_ignore_any_conditional() {
    let v1 = tag("\"v1\"");
    for method in [Method::OPTIONS, Method::TRACE, Method::CONNECT] {
        let d = eval(
            &method,
            &[
                ("if-match", "\"v0\""),
                ("if-none-match", "*"),
                ("if-unmodified-since", T_MINUS_1),
            ],
            &existing(&v1),
        );
        assert_eq!(d, Decision::Proceed, "{method}");
    }
}

#[test]
fn s15_unconditional_write_under_required_policy_is_428() {
    let v1 = tag("\"v1\"");
    for method in WRITES {
        assert_eq!(
            eval(&method, &[], &existing(&v1)),
            Decision::PreconditionRequired,
            "{method}"
        );
        assert_eq!(
            eval_policy(&method, &[], &existing(&v1), Policy::Optional),
            Decision::Proceed,
            "{method}"
        );
        // Any precondition header makes it conditional (then evaluated).
        assert_eq!(
            eval(&method, &[("if-match", "\"v1\"")], &existing(&v1)),
            Decision::Proceed
        );
        assert!(is_412(&eval(
            &method,
            &[("if-match", "nonsense")],
            &existing(&v1)
        )));
        assert_eq!(
            eval(&method, &[("if-none-match", "\"v0\"")], &existing(&v1)),
            Decision::Proceed
        );
        assert_eq!(
            eval(&method, &[("if-unmodified-since", T)], &existing(&v1)),
            Decision::Proceed
        );
    }
    // 428 is for unsafe methods only: POST (a custom action on the
    // resource) is a write too; a POST that creates a collection member is
    // evaluated under `Policy::Optional` by its route.
    assert_eq!(
        eval(&Method::POST, &[], &existing(&v1)),
        Decision::PreconditionRequired
    );
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        assert_eq!(
            eval(&method, &[], &existing(&v1)),
            Decision::Proceed,
            "{method}"
        );
    }
    // A create by PUT without a precondition is 428 too (design decision 3).
    assert_eq!(
        eval(&Method::PUT, &[], &Target::missing().creatable(true)),
        Decision::PreconditionRequired
    );
}

#[test]
fn s16_passing_if_match_proceeds_to_body_validation() {
    // The 400/422 for the invalid body comes after `Proceed`: see
    // tests/tests/http_rules.rs (s16_*).
    let v1 = tag("\"v1\"");
    for method in [Method::PUT, Method::PATCH] {
        assert_eq!(
            eval(&method, &[("if-match", "\"v1\"")], &existing(&v1)),
            Decision::Proceed
        );
    }
}

#[test]
fn s17_failing_if_match_is_412_before_body_validation() {
    let v1 = tag("\"v1\"");
    for method in [Method::PUT, Method::PATCH] {
        assert_eq!(
            eval(&method, &[("if-match", "\"v0\"")], &existing(&v1)),
            Decision::PreconditionFailed(Failure::IfMatchMismatch),
            "{method}"
        );
    }
}

#[test]
fn s18_no_already_applied_2xx() {
    // Even if the requested state equals the current one, a stale tag is
    // 412 (design decision 4): the engine never consults the content.
    let v1 = tag("\"v1\"");
    for method in WRITES {
        for policy in [Policy::Required, Policy::Optional] {
            let d = eval_policy(&method, &[("if-match", "\"v0\"")], &existing(&v1), policy);
            assert_eq!(
                d,
                Decision::PreconditionFailed(Failure::IfMatchMismatch),
                "{method}"
            );
        }
    }
}
