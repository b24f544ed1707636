//! Engine-level conformance tests: one test per rule id of the RFC checklist
//! that can be decided by
//! [`Preconditions::evaluate`] and the entity-tag / HTTP-date parsers alone,
//! following the decisions of docs/design.md.
//!
//! Sections covered: grammar (G-*), comparison (CMP-*), If-Match (IM-*),
//! If-None-Match (INM-*), If-Modified-Since (IMS-*), If-Unmodified-Since
//! (IUS-*), when to evaluate (EV-*), precedence (PR-1) and the special-case
//! matrix S1–S18. Aspects that only exist on the wire (headers of the 304,
//! problem bodies, 401/403/405/415 ordering, status codes of the write
//! itself) belong to the HTTP tests in `tests/tests/testsuite/http_rules.rs`; each is
//! named below where it is skipped.
//!
//! Requests are built as `http::HeaderMap`s and parsed with
//! [`Preconditions::from_headers`], exactly as the extractors do. Most tests
//! are small tables run through [`check`]: a request, a target and the
//! decision wanted; every request is also evaluated with other fields
//! around it, which must not change the decision.
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
const T_PLUS_2: &str = "Sun, 06 Nov 1994 08:49:39 GMT";

const READS: [Method; 2] = [Method::GET, Method::HEAD];
const WRITES: [Method; 3] = [Method::PUT, Method::PATCH, Method::DELETE];
/// The unsafe methods: POST and the writes.
const UNSAFE: [Method; 4] = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
/// The methods that select a representation: reads and unsafe methods.
const SELECTING: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];
/// The methods that ignore preconditions (EV-3).
const IGNORING: [Method; 3] = [Method::OPTIONS, Method::TRACE, Method::CONNECT];

/// The header lines of a request, in order; a repeated name gives several
/// field lines.
type Fields<'a> = &'a [(&'static str, &'static str)];

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

fn headers(pairs: Fields<'_>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    map
}

/// One line of each precondition field, named by its rule prefix.
const fn im(value: &'static str) -> [(&'static str, &'static str); 1] {
    [("if-match", value)]
}

const fn inm(value: &'static str) -> [(&'static str, &'static str); 1] {
    [("if-none-match", value)]
}

const fn ims(value: &'static str) -> [(&'static str, &'static str); 1] {
    [("if-modified-since", value)]
}

const fn ius(value: &'static str) -> [(&'static str, &'static str); 1] {
    [("if-unmodified-since", value)]
}

/// A header map with one field line.
fn field(name: HeaderName, value: HeaderValue) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert(name, value);
    map
}

/// The decision for a request. The same request with 40 unrelated fields
/// added must get the same one: `from_headers` reads a small request in one
/// pass over its fields and a large one by lookups.
fn decide(method: &Method, map: &HeaderMap, target: &Target<'_>, policy: Policy) -> Decision {
    let decision = Preconditions::from_headers(map).evaluate(method, target, policy);
    let mut crowded = map.clone();
    for i in 0..40 {
        let name = HeaderName::from_bytes(format!("x-other-{i}").as_bytes());
        match name {
            Ok(name) => crowded.insert(name, HeaderValue::from_static("other")),
            Err(e) => panic!("bad fixture field name: {e}"),
        };
    }
    let crowded = Preconditions::from_headers(&crowded).evaluate(method, target, policy);
    if crowded != decision {
        panic!("{method} {map:?}: {decision:?} alone, {crowded:?} among other fields");
    }
    decision
}

fn eval(method: &Method, pairs: Fields<'_>, target: &Target<'_>) -> Decision {
    decide(method, &headers(pairs), target, Policy::Required)
}

/// The usual existing resource: last modified at `T`.
fn existing(etag: &EntityTag) -> Target<'_> {
    Target::present(etag).with_last_modified(Some(t()))
}

/// What a case wants: a decision, or a kind of 412 whose details do not
/// matter to the rule.
#[derive(Debug)]
enum Want {
    Is(Decision),
    /// 412: `If-Match` malformed, for whatever reason.
    IfMatchMalformed,
    /// 412: `If-None-Match` malformed, for whatever reason.
    IfNoneMatchMalformed,
    /// 412, for whatever reason.
    Failed,
}

impl Want {
    fn accepts(&self, d: &Decision) -> bool {
        match self {
            Self::Is(want) => d == want,
            Self::IfMatchMalformed => matches!(
                d,
                Decision::PreconditionFailed(Failure::IfMatchMalformed(_))
            ),
            Self::IfNoneMatchMalformed => matches!(
                d,
                Decision::PreconditionFailed(Failure::IfNoneMatchMalformed(_))
            ),
            Self::Failed => matches!(d, Decision::PreconditionFailed(_)),
        }
    }
}

const PROCEED: Want = Want::Is(Decision::Proceed);
const NOT_MODIFIED: Want = Want::Is(Decision::NotModified);
const REQUIRED_428: Want = Want::Is(Decision::PreconditionRequired);
const NOT_FOUND: Want = Want::Is(Decision::NotFound);
const IM_MISMATCH: Want = failed(Failure::IfMatchMismatch);
const IM_NO_CURRENT: Want = failed(Failure::IfMatchNoCurrent);
const IM_MALFORMED: Want = Want::IfMatchMalformed;
const INM_MATCHED: Want = failed(Failure::IfNoneMatchMatched);
const INM_MALFORMED: Want = Want::IfNoneMatchMalformed;
const IUS_FAILED: Want = failed(Failure::IfUnmodifiedSince);

const fn failed(failure: Failure) -> Want {
    Want::Is(Decision::PreconditionFailed(failure))
}

fn im_malformed(why: MalformedList) -> Want {
    failed(Failure::IfMatchMalformed(why))
}

fn inm_malformed(why: MalformedList) -> Want {
    failed(Failure::IfNoneMatchMalformed(why))
}

/// Evaluates a request under `policy` and checks the decision, which it
/// returns for further checks.
#[track_caller]
fn check_map_policy(
    method: &Method,
    map: &HeaderMap,
    target: &Target<'_>,
    policy: Policy,
    want: Want,
) -> Decision {
    let d = decide(method, map, target, policy);
    assert!(
        want.accepts(&d),
        "{method} {map:?} on {target:?} ({policy:?}): got {d:?}, want {want:?}"
    );
    d
}

/// [`check_map_policy`] under the default policy, [`Policy::Required`].
#[track_caller]
fn check_map(method: &Method, map: &HeaderMap, target: &Target<'_>, want: Want) -> Decision {
    check_map_policy(method, map, target, Policy::Required, want)
}

/// [`check_map_policy`] for the header lines `pairs`.
#[track_caller]
fn check_policy(
    method: &Method,
    pairs: Fields<'_>,
    target: &Target<'_>,
    policy: Policy,
    want: Want,
) -> Decision {
    check_map_policy(method, &headers(pairs), target, policy, want)
}

/// [`check_policy`] under the default policy, [`Policy::Required`].
#[track_caller]
fn check(method: &Method, pairs: Fields<'_>, target: &Target<'_>, want: Want) -> Decision {
    check_policy(method, pairs, target, Policy::Required, want)
}

/// [`check`] on the usual resource: `"v1"`, last modified at `T`.
#[track_caller]
fn check_v1(method: &Method, pairs: Fields<'_>, want: Want) -> Decision {
    let v1 = tag(r#""v1""#);
    check(method, pairs, &existing(&v1), want)
}

// ---------------------------------------------------------------------------
// 1. Grammar (G-*)
// ---------------------------------------------------------------------------

#[test]
fn g_1_lowercase_weak_prefix_is_not_an_entity_tag() {
    assert!(r#"w/"v1""#.parse::<EntityTag>().is_err());
    assert!(tag(r#"W/"v1""#).is_weak());

    check_v1(&Method::PUT, &im(r#"w/"v1""#), IM_MALFORMED);
    // On GET a malformed If-None-Match is ignored: 200, not 304 ...
    check_v1(&Method::GET, &inm(r#"w/"v1""#), PROCEED);
    // ... while the case-correct weak tag does match (INM-1).
    check_v1(&Method::GET, &inm(r#"W/"v1""#), NOT_MODIFIED);
}

#[test]
fn g_2_etagc_includes_comma_star_semicolon_and_empty_excludes_space() {
    // A comma inside a tag does not split the list.
    let ab = tag(r#""a,b""#);
    assert_eq!(ab.opaque(), b"a,b");
    let a_then_b = im(r#""a", "b""#);
    check(&Method::PUT, &a_then_b, &existing(&ab), IM_MISMATCH);

    // `"*"` is a tag whose opaque part is a star, not the wildcard.
    check_v1(&Method::PUT, &im(r#""*""#), IM_MISMATCH);

    // Each of these is a valid tag that matches itself, including `;` as
    // an ordinary octet and the empty opaque-tag.
    for wire in [r#""a,b""#, r#""*""#, r#""a;b""#, r#""""#] {
        check(&Method::PUT, &im(wire), &existing(&tag(wire)), PROCEED);
    }
    assert_eq!(tag(r#""""#).opaque(), b"");

    // SP, HTAB, DEL inside the quotes are not etagc.
    for bad in [r#""a b""#, "\"a\tb\""] {
        assert!(bad.parse::<EntityTag>().is_err(), "{bad:?}");
        let map = field(IF_MATCH, HeaderValue::from_str(bad).unwrap());
        check_map(&Method::PUT, &map, &existing(&tag(r#""v1""#)), IM_MALFORMED);
    }
    assert!(EntityTag::parse_bytes(b"\"a\x7fb\"").is_err());
}

#[test]
fn g_3_backslash_is_an_ordinary_octet_and_never_generated() {
    // `"a\"` is the tag with opaque `a\`: the backslash escapes nothing.
    let current = tag(r#""a\""#);
    assert_eq!(current.opaque(), b"a\\");
    check(&Method::PUT, &im(r#""a\""#), &existing(&current), PROCEED);
    // `"a\"b"` is therefore `"a\"` followed by garbage.
    let garbage = &im(r#""a\"b""#);
    check(&Method::PUT, garbage, &existing(&current), IM_MALFORMED);
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
    let doc = WeakDoc { id: 7, version: 3 };
    let weak = doc.entity_tag();
    assert!(weak.is_weak());
    assert!(weak.as_bytes().starts_with(b"W/\""), "{weak}");
    let strong = StrongDoc { id: 7, version: 3 }.entity_tag();
    assert!(!strong.is_weak());
    assert_eq!(weak.opaque(), strong.opaque());

    // Being weak, it can validate a cache (INM) but never a write (IM-1).
    let target = Target::of(&doc, &weak);
    let if_match = field(IF_MATCH, weak.to_header_value());
    check_map(&Method::PUT, &if_match, &target, IM_MISMATCH);
    let if_none_match = field(IF_NONE_MATCH, weak.to_header_value());
    check_map(&Method::GET, &if_none_match, &target, NOT_MODIFIED);
}

// G-5 (always send ETag on 200 GET/HEAD) is a response property: see
// tests/tests/testsuite/http_rules.rs.

#[test]
fn g_6_an_encoded_variant_has_a_distinct_tag() {
    // The gzip variant of version 7 carries "v7-gz": the plain tag must
    // not validate it, strongly or weakly.
    let gz = tag(r#""v7-gz""#);
    check(&Method::PUT, &im(r#""v7""#), &existing(&gz), IM_MISMATCH);
    check(&Method::GET, &inm(r#""v7""#), &existing(&gz), PROCEED);
}

#[test]
fn g_7_surrounding_whitespace_is_excluded() {
    check_v1(&Method::PUT, &im(" \t\"v1\"\t "), PROCEED);
    check_v1(&Method::GET, &inm("\t \"v1\" "), NOT_MODIFIED);
    check_v1(&Method::GET, &im("  *  "), PROCEED);
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
    for (method, name, value, want) in [
        (Method::PUT, IF_MATCH, &b"\"caf\xe9\""[..], PROCEED),
        // UTF-8 `é` is other octets: no match.
        (Method::PUT, IF_MATCH, "\"café\"".as_bytes(), IM_MISMATCH),
        (Method::GET, IF_NONE_MATCH, b"W/\"caf\xe9\"", NOT_MODIFIED),
    ] {
        let map = field(name, HeaderValue::from_bytes(value).unwrap());
        check_map(&method, &map, &existing(&current), want);
    }
}

#[test]
fn g_10_empty_list_elements_and_ows_are_ignored_and_the_count_is_capped() {
    check_v1(&Method::PUT, &im(r#", "v0" ,, "v1","#), PROCEED);
    check_v1(&Method::GET, &inm(" ,\t,\"v1\" , ,"), NOT_MODIFIED);

    // Exactly the cap: fine. One more: malformed, even though it matches.
    let v1 = tag(r#""v1""#);
    for (count, want) in [
        (MAX_LIST_ELEMENTS, PROCEED),
        (MAX_LIST_ELEMENTS + 1, im_malformed(MalformedList::TooMany)),
    ] {
        let list = vec![r#""v1""#; count].join(", ");
        let map = field(IF_MATCH, HeaderValue::from_str(&list).unwrap());
        check_map(&Method::PUT, &map, &existing(&v1), want);
    }
}

#[test]
fn g_11_an_empty_list_is_malformed_if_match_fails_if_none_match_ignored_on_get() {
    for empty in ["", " ", " , ,"] {
        // Present, so it is not the "no precondition" case (no 428) either.
        let empty_list = im_malformed(MalformedList::Empty);
        check_v1(&Method::PUT, &im(empty), empty_list);
        // On GET the empty If-None-Match is true either way: 200.
        check_v1(&Method::GET, &inm(empty), PROCEED);
        // On a write, design decision 1 fails closed.
        let empty_list = inm_malformed(MalformedList::Empty);
        check_v1(&Method::PUT, &inm(empty), empty_list);
    }
}

#[test]
fn g_12_field_lines_combine_in_order() {
    let lines = [("if-match", r#""v0""#), ("if-match", r#""v1""#)];
    check_v1(&Method::PUT, &lines, PROCEED);
    let lines = [("if-none-match", r#""v0""#), ("if-none-match", r#"W/"v1""#)];
    check_v1(&Method::GET, &lines, NOT_MODIFIED);
    // `*` on one line and a tag on another combine into an invalid value.
    let lines = [("if-match", "*"), ("if-match", r#""v1""#)];
    let malformed = im_malformed(MalformedList::AnyWithOthers);
    check_v1(&Method::PUT, &lines, malformed);
}

#[test]
fn g_13_star_with_other_members_is_malformed() {
    for value in [r#"*, "v1""#, r#""v1", *"#, "*, *", "*,*"] {
        let malformed = im_malformed(MalformedList::AnyWithOthers);
        check_v1(&Method::PUT, &im(value), malformed);
        check_v1(&Method::GET, &inm(value), PROCEED);
        let malformed = inm_malformed(MalformedList::AnyWithOthers);
        check_v1(&Method::DELETE, &inm(value), malformed);
    }
}

#[test]
fn g_14_all_three_date_formats_are_accepted_and_nothing_else() {
    // Last-Modified equals the date: If-Modified-Since is false, 304.
    for date in [
        T,
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ] {
        check_v1(&Method::GET, &ims(date), NOT_MODIFIED);
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
        check_v1(&Method::GET, &ims(date), PROCEED);
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
    for bad in [
        "v1",
        r#""v1"#,
        r#"v1""#,
        "'v1'",
        r#"\"v1\""#,
        r#"W/ "v1""#,
        r#""v1" "v2""#,
        r#""v1";q=1"#,
        r#""v1", garbage"#,
    ] {
        check_v1(&Method::PUT, &im(bad), IM_MALFORMED);
        // No lenient 304 on GET either: the field is ignored.
        check_v1(&Method::GET, &inm(bad), PROCEED);
    }
}

// ---------------------------------------------------------------------------
// 2. Comparison (CMP-*)
// ---------------------------------------------------------------------------

#[test]
fn cmp_1_strong_comparison_needs_both_strong_and_same_octets() {
    for (a, b, equal) in [
        (r#""1""#, r#""1""#, true),
        (r#"W/"1""#, r#""1""#, false),
        (r#""1""#, r#"W/"1""#, false),
        (r#"W/"1""#, r#"W/"1""#, false),
        (r#""1""#, r#""10""#, false),
    ] {
        assert_eq!(tag(a).strong_eq(&tag(b)), equal, "{a} strong {b}");
    }
    // If-Match is where the engine uses it.
    let one = tag(r#""1""#);
    check(&Method::PUT, &im(r#"W/"1""#), &existing(&one), IM_MISMATCH);
}

#[test]
fn cmp_2_weak_comparison_ignores_weakness_only() {
    for (a, b, equal) in [
        (r#"W/"1""#, r#""1""#, true),
        (r#""1""#, r#"W/"1""#, true),
        (r#"W/"1""#, r#"W/"1""#, true),
        (r#"W/"1""#, r#"W/"2""#, false),
        (r#""1""#, r#""1x""#, false),
    ] {
        assert_eq!(tag(a).weak_eq(&tag(b)), equal, "{a} weak {b}");
    }
    // If-None-Match is where the engine uses it.
    let weak = tag(r#"W/"1""#);
    check(&Method::GET, &inm(r#""1""#), &existing(&weak), NOT_MODIFIED);
}

#[test]
fn cmp_3_comparison_table_and_case_sensitivity() {
    // (tag 1, tag 2, strong, weak): RFC 9110 Table 3, plus case.
    let table = [
        (r#"W/"1""#, r#"W/"1""#, false, true),
        (r#"W/"1""#, r#"W/"2""#, false, false),
        (r#"W/"1""#, r#""1""#, false, true),
        (r#""1""#, r#""1""#, true, true),
        (r#""foo""#, r#""Foo""#, false, false),
    ];
    for (a, b, strong, weak) in table {
        for (x, y) in [(a, b), (b, a)] {
            let (tx, ty) = (tag(x), tag(y));
            assert_eq!(tx.strong_eq(&ty), strong, "{x} strong {y}");
            assert_eq!(tx.weak_eq(&ty), weak, "{x} weak {y}");
            assert_eq!(tx.as_tag_ref().strong_eq(ty.as_tag_ref()), strong);
            assert_eq!(tx.as_tag_ref().weak_eq(ty.as_tag_ref()), weak);

            // Through the engine: If-Match x on current y, If-None-Match x on GET.
            let if_match = field(IF_MATCH, tx.to_header_value());
            let want = if strong { PROCEED } else { IM_MISMATCH };
            check_map(&Method::PUT, &if_match, &existing(&ty), want);
            let if_none_match = field(IF_NONE_MATCH, tx.to_header_value());
            let want = if weak { NOT_MODIFIED } else { PROCEED };
            check_map(&Method::GET, &if_none_match, &existing(&ty), want);
        }
    }
}

// ---------------------------------------------------------------------------
// 3. If-Match (IM-*)
// ---------------------------------------------------------------------------

#[test]
fn im_1_strong_comparison_only() {
    let (strong, weak) = (tag(r#""v1""#), tag(r#"W/"v1""#));
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        for (header, current, want) in [
            (r#""v1""#, &strong, PROCEED),
            (r#"W/"v1""#, &strong, IM_MISMATCH),
            (r#"W/"v1""#, &weak, IM_MISMATCH),
            (r#""v1""#, &weak, IM_MISMATCH),
        ] {
            check(&method, &im(header), &existing(current), want);
        }
    }
}

#[test]
fn im_2_if_match_is_evaluated_for_every_method_that_selects_a_representation() {
    for method in SELECTING {
        check_v1(&method, &im(r#""v0""#), IM_MISMATCH);
        check_v1(&method, &im(r#""v1""#), PROCEED);
    }
}

#[test]
fn im_3_star_is_true_iff_a_current_representation_exists() {
    // Existence, not the kind of tag: a weak current tag still passes `*`.
    for current in [tag(r#""v1""#), tag(r#"W/"v1""#), tag(r#""""#)] {
        for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            check(&method, &im("*"), &existing(&current), PROCEED);
        }
    }
    // No current representation (PUT may create): false, 412.
    let missing = Target::missing().creatable(true);
    check(&Method::PUT, &im("*"), &missing, IM_NO_CURRENT);
}

#[test]
fn im_4_true_if_any_listed_tag_matches() {
    for (list, want) in [
        (r#""a", "v1", "b""#, PROCEED),
        (r#""v1", W/"x""#, PROCEED),
        (r#"W/"v1", "v1""#, PROCEED),
        (r#""a", "b""#, IM_MISMATCH),
        (r#"W/"v1", "V1""#, IM_MISMATCH),
        (r#""v10""#, IM_MISMATCH),
    ] {
        check_v1(&Method::PUT, &im(list), want);
    }
}

#[test]
fn im_5_otherwise_false_a_malformed_if_match_is_412() {
    for bad in [
        "v1",
        r#""v1"#,
        r#"W/ "v1""#,
        r#"w/"v1""#,
        r#""v1" "v2""#,
        r#""v1";q=1"#,
        "**",
        r#"""v1"""#,
        "",
        r#"*, "v1""#,
    ] {
        for method in READS.into_iter().chain(WRITES) {
            let d = check_v1(&method, &im(bad), IM_MALFORMED);
            if let Decision::PreconditionFailed(failure) = &d {
                assert_eq!(failure.header(), IF_MATCH);
            }
        }
    }
}

#[test]
fn im_6_a_failed_if_match_never_proceeds_strict_412() {
    // design decision 4: no "already applied" 2xx.
    for method in WRITES {
        check_v1(&method, &im(r#""v0""#), IM_MISMATCH);
    }
}

#[test]
fn im_7_star_in_a_list_is_syntactically_invalid() {
    for value in [r#""v1", *"#, r#"*, "v1""#, "*, *"] {
        let malformed = im_malformed(MalformedList::AnyWithOthers);
        check_v1(&Method::PUT, &im(value), malformed);
    }
}

#[test]
fn im_8_if_match_on_get_or_head_gives_412_not_200_or_304() {
    for method in READS {
        check_v1(&method, &im(r#""v0""#), IM_MISMATCH);
    }
}

// IM-9 (a cache or intermediary MAY ignore If-Match) does not apply to an
// origin server.

// ---------------------------------------------------------------------------
// 4. If-None-Match (INM-*)
// ---------------------------------------------------------------------------

#[test]
fn inm_1_weak_comparison() {
    let (strong, weak) = (tag(r#""v1""#), tag(r#"W/"v1""#));
    for (header, current) in [
        (r#""v1""#, &strong),
        (r#"W/"v1""#, &strong),
        (r#""v1""#, &weak),
        (r#"W/"v1""#, &weak),
    ] {
        let pairs = &inm(header);
        check(&Method::GET, pairs, &existing(current), NOT_MODIFIED);
        check(&Method::PUT, pairs, &existing(current), INM_MATCHED);
    }
    // Weak comparison is still octet-exact.
    check(&Method::GET, &inm(r#"W/"V1""#), &existing(&strong), PROCEED);
}

#[test]
fn inm_2_if_none_match_is_evaluated_for_every_method_that_selects_a_representation() {
    for method in READS {
        check_v1(&method, &inm(r#""v1""#), NOT_MODIFIED);
    }
    for method in UNSAFE {
        check_v1(&method, &inm(r#""v1""#), INM_MATCHED);
        check_v1(&method, &inm(r#""v0""#), PROCEED);
    }
}

#[test]
fn inm_3_star_is_false_iff_a_current_representation_exists() {
    for method in READS {
        check_v1(&method, &inm("*"), NOT_MODIFIED);
    }
    for method in WRITES {
        check_v1(&method, &inm("*"), INM_MATCHED);
    }
    // Missing and creatable: true, the create proceeds (create-once).
    let missing = Target::missing().creatable(true);
    check(&Method::PUT, &inm("*"), &missing, PROCEED);
}

#[test]
fn inm_4_false_if_any_listed_tag_matches() {
    for (method, list, want) in [
        (Method::GET, r#""a", "v1""#, NOT_MODIFIED),
        (Method::GET, r#""a", "b""#, PROCEED),
        (Method::PATCH, r#""a", W/"v1""#, INM_MATCHED),
    ] {
        check_v1(&method, &inm(list), want);
    }
}

#[test]
fn inm_5_malformed_is_ignored_on_get() {
    // Otherwise true: a malformed value never gives 304 (fails open on reads).
    for bad in ["v1", r#""v1"#, r#"*, "v1""#, r#"w/"v1""#, r#""v1" x"#, ""] {
        for method in READS {
            check_v1(&method, &inm(bad), PROCEED);
        }
    }
}

#[test]
fn inm_5_malformed_on_writes_fails_closed_with_412() {
    // design decision 1: on an unsafe method a malformed If-None-Match is 412.
    for bad in ["v1", r#""v0"#, r#"*, "v0""#, r#""v0" x"#, ""] {
        for method in UNSAFE {
            check_v1(&method, &inm(bad), INM_MALFORMED);
        }
    }
    // Also when creating: no create from a header we cannot read.
    let missing = Target::missing().creatable(true);
    check(&Method::PUT, &inm("*, *"), &missing, INM_MALFORMED);
}

#[test]
fn inm_6_false_is_304_for_get_and_head_and_412_for_every_other_method() {
    let proppatch = Method::from_bytes(b"PROPPATCH").unwrap();
    for method in SELECTING.into_iter().chain([proppatch]) {
        // Never 304 outside GET/HEAD (304-1).
        let want = if READS.contains(&method) {
            NOT_MODIFIED
        } else {
            INM_MATCHED
        };
        check_v1(&method, &inm(r#""v1""#), want);
    }
}

#[test]
fn inm_7_a_list_of_stored_tags_is_304_when_any_is_current() {
    let stored = &inm(r#""v1", W/"v2", "v3""#);
    let (v3, v4) = (tag(r#""v3""#), tag(r#""v4""#));
    check(&Method::GET, stored, &existing(&v3), NOT_MODIFIED);
    check(&Method::GET, stored, &existing(&v4), PROCEED);
}

#[test]
fn inm_8_star_combined_with_tags_is_invalid() {
    // Ignored on GET (so no 304 despite `*` and a matching tag) ...
    check_v1(&Method::GET, &inm(r#"*, "v1""#), PROCEED);
    let lines = [("if-none-match", r#""v1""#), ("if-none-match", "*")];
    check_v1(&Method::GET, &lines, PROCEED);
    // ... and 412 for a write.
    let malformed = inm_malformed(MalformedList::AnyWithOthers);
    check_v1(&Method::PUT, &inm(r#"*, "v0""#), malformed);
}

// ---------------------------------------------------------------------------
// 5. If-Modified-Since (IMS-*)
// ---------------------------------------------------------------------------

#[test]
fn ims_1_ignored_when_if_none_match_is_present_even_if_invalid() {
    // IMS alone would say 304 ...
    check_v1(&Method::GET, &ims(T), NOT_MODIFIED);
    // ... but any If-None-Match, matching or not, valid or not, wins.
    for value in [r#""v0""#, "garbage", r#"*, "v0""#, ""] {
        let pairs = [("if-none-match", value), ("if-modified-since", T)];
        check_v1(&Method::GET, &pairs, PROCEED);
    }
}

#[test]
fn ims_2_ignored_when_invalid_a_list_or_not_get_head() {
    let v1 = tag(r#""v1""#);
    // Not a valid HTTP-date, or more than one member: on one line, or over
    // two lines.
    let list = "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT";
    for pairs in [
        &ims("yesterday")[..],
        &ims("Sun, 06 Nov 1994 08:49:37 UTC"),
        &ims("-1"),
        &ims(list),
        &[("if-modified-since", T), ("if-modified-since", T)],
    ] {
        check_v1(&Method::GET, pairs, PROCEED);
    }
    let since_t = &ims(T);
    // Not GET/HEAD: ignored (never 304 for a write) ...
    for method in UNSAFE {
        check_policy(&method, since_t, &existing(&v1), Policy::Optional, PROCEED);
    }
    // ... and it does not make a write conditional (design decision 2).
    for method in WRITES {
        check_v1(&method, since_t, REQUIRED_428);
    }
}

#[test]
fn ims_3_ignored_without_a_modification_date() {
    let v1 = tag(r#""v1""#);
    for target in [
        Target::present(&v1),
        Target::present(&v1).tracking_last_modified(true),
        Target::present(&v1).with_last_modified(None),
    ] {
        check(&Method::GET, &ims(T), &target, PROCEED);
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

    let v1 = tag(r#""v1""#);
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
    for method in READS {
        check_v1(&method, &ims(T), NOT_MODIFIED);
        check_v1(&method, &ims(T_MINUS_1), PROCEED);
    }
}

#[test]
fn ims_6_earlier_or_equal_is_false_against_the_full_precision_time() {
    let v1 = tag(r#""v1""#);
    // (modification time, If-Modified-Since, decision). The time is kept
    // at full precision and the date a client holds was rounded so that
    // comparing with it is safe (design decision 13): a modification later
    // in the same second is later than the date.
    for (last_modified, since, want) in [
        // Equal and earlier: 304.
        (t(), T, NOT_MODIFIED),
        (t() - Duration::from_secs(3600), T, NOT_MODIFIED),
        (t() + Duration::from_millis(1500), T_PLUS_2, NOT_MODIFIED),
        // Later, even within the second: modified, 200.
        (t() + Duration::from_millis(999), T, PROCEED),
        (t() + Duration::from_nanos(1), T, PROCEED),
        (t() + Duration::from_secs(1), T, PROCEED),
        (t() + Duration::from_millis(1500), T_PLUS_1, PROCEED),
    ] {
        let target = Target::present(&v1).with_last_modified(Some(last_modified));
        check(&Method::GET, &ims(since), &target, want);
    }
}

#[test]
fn ims_7_a_false_condition_answers_304() {
    for method in READS {
        check_v1(&method, &ims(T_PLUS_1), NOT_MODIFIED);
    }
}

#[test]
fn ims_8_a_future_date_is_not_invalid() {
    let future = "Fri, 01 Jan 2100 00:00:00 GMT";
    assert!(DateField::parse(future.as_bytes()).valid().is_some());
    check_v1(&Method::GET, &ims(future), NOT_MODIFIED);
}

// ---------------------------------------------------------------------------
// 6. If-Unmodified-Since (IUS-*)
// ---------------------------------------------------------------------------

#[test]
fn ius_1_ignored_when_if_match_is_present() {
    // IUS alone fails (modified at T, after T-1) ...
    check_v1(&Method::PUT, &ius(T_MINUS_1), IUS_FAILED);
    // ... but with a passing If-Match it is ignored.
    for value in [r#""v1""#, "*"] {
        let pairs = [("if-match", value), ("if-unmodified-since", T_MINUS_1)];
        check_v1(&Method::PUT, &pairs, PROCEED);
    }
}

#[test]
fn ius_2_ignored_when_invalid_or_a_list() {
    let v1 = tag(r#""v1""#);
    let target = existing(&v1);
    let list = "Sun, 06 Nov 1994 08:49:36 GMT, Sun, 06 Nov 1994 08:49:36 GMT";
    for pairs in [
        &ius("garbage")[..],
        &ius("Sun, 06 Nov 1994 08:49:36 UTC"),
        &ius(list),
        &[
            ("if-unmodified-since", T_MINUS_1),
            ("if-unmodified-since", T_MINUS_1),
        ],
    ] {
        // Ignored: a write proceeds where a valid IUS would have failed ...
        check_policy(&Method::PUT, pairs, &target, Policy::Optional, PROCEED);
        check(&Method::GET, pairs, &target, PROCEED);
        // ... and an ignored field does not make a write conditional.
        check(&Method::PUT, pairs, &target, REQUIRED_428);
    }
}

#[test]
fn ius_3_ignored_without_a_modification_date() {
    let v1 = tag(r#""v1""#);
    let since = &ius(T_MINUS_1);
    // The model tracks dates but this resource has none: conditional, ignored.
    let tracking = Target::present(&v1).tracking_last_modified(true);
    check(&Method::PUT, since, &tracking, PROCEED);
    // The model has no dates at all: ignored (and not conditional: 428 when
    // required, design decision 2).
    let plain = Target::present(&v1);
    check_policy(&Method::PUT, since, &plain, Policy::Optional, PROCEED);
    check(&Method::PUT, since, &plain, REQUIRED_428);
    check(&Method::GET, since, &plain, PROCEED);
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

    let v1 = tag(r#""v1""#);
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
    for method in WRITES {
        check_v1(&method, &ius(T), PROCEED);
        check_v1(&method, &ius(T_MINUS_1), IUS_FAILED);
    }
    check_v1(&Method::POST, &ius(T_MINUS_1), IUS_FAILED);
}

#[test]
fn ius_6_earlier_or_equal_is_true_against_the_full_precision_time() {
    let v1 = tag(r#""v1""#);
    // Full precision (design decision 13): a write later within the same
    // second as the date is a change the client did not see.
    for (last_modified, want) in [
        (t(), PROCEED),
        (t() - Duration::from_secs(86_400), PROCEED),
        (t() + Duration::from_millis(999), IUS_FAILED),
        (t() + Duration::from_nanos(1), IUS_FAILED),
        (t() + Duration::from_secs(1), IUS_FAILED),
    ] {
        let target = Target::present(&v1).with_last_modified(Some(last_modified));
        check(&Method::PUT, &ius(T), &target, want);
    }
}

#[test]
fn ius_7_a_false_condition_is_a_strict_412() {
    for method in WRITES {
        let d = check_v1(&method, &ius(T_MINUS_1), IUS_FAILED);
        if let Decision::PreconditionFailed(failure) = d {
            assert_eq!(failure.header(), IF_UNMODIFIED_SINCE);
        }
    }
}

#[test]
fn ius_8_if_unmodified_since_on_get_or_head_gives_412() {
    for method in READS {
        check_v1(&method, &ius(T_MINUS_1), IUS_FAILED);
    }
}

// ---------------------------------------------------------------------------
// 8. When to evaluate (EV-*)
// ---------------------------------------------------------------------------

#[test]
fn ev_1_preconditions_decide_before_the_body_is_read() {
    // `evaluate` takes no body: a stale tag is 412 whatever the content
    // would be, and the body is only read after `Proceed` (412 beats 422:
    // see S16/S17 in tests/tests/testsuite/http_rules.rs for the wire side).
    for method in [Method::PUT, Method::PATCH] {
        check_v1(&method, &im(r#""v0""#), IM_MISMATCH);
        check_v1(&method, &im(r#""v1""#), PROCEED);
    }
}

#[test]
fn ev_2_a_missing_resource_is_404_whatever_the_preconditions() {
    let missing = Target::missing();
    let header_sets: [Fields<'_>; 7] = [
        &[],
        &im(r#""v1""#),
        &im("*"),
        &im("garbage"),
        &inm("*"),
        &inm(r#""v1""#),
        &ius(T),
    ];
    for method in SELECTING {
        for pairs in header_sets {
            // Under Required too: 404 beats 428 (design decision 2).
            for policy in [Policy::Required, Policy::Optional] {
                check_policy(&method, pairs, &missing, policy, NOT_FOUND);
            }
        }
    }
    // 401/403/405/415 and redirects beating 412/304 are decided before the
    // engine runs: see tests/tests/testsuite/http_rules.rs (ev_2_s13_*).
}

#[test]
fn ev_3_options_trace_and_connect_ignore_preconditions() {
    let v1 = tag(r#""v1""#);
    let header_sets: [Fields<'_>; 7] = [
        &im(r#""v0""#),
        &im("garbage"),
        &inm("*"),
        &inm(r#""v1""#),
        &ius(T_MINUS_1),
        &ims(T),
        &[],
    ];
    for method in IGNORING {
        for pairs in header_sets {
            for target in [existing(&v1), Target::missing()] {
                check(&method, pairs, &target, PROCEED);
            }
        }
    }
}

// EV-4 (an intermediary that cannot cache forwards preconditions) does not
// apply: the framework is an origin server.

#[test]
fn ev_5_head_is_evaluated_exactly_as_get() {
    let v1 = tag(r#""v1""#);
    let header_sets: [Fields<'_>; 10] = [
        &[],
        &inm(r#""v1""#),
        &inm(r#""v0""#),
        &inm("garbage"),
        &im(r#""v0""#),
        &im(r#""v1""#),
        &ims(T),
        &ims(T_MINUS_1),
        &ius(T_MINUS_1),
        &[("if-match", r#""v0""#), ("if-none-match", r#""v1""#)],
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
    // The match is on the last line.
    let lines = [
        ("if-match", r#""a""#),
        ("if-match", r#""b""#),
        ("if-match", r#""v1""#),
    ];
    check_v1(&Method::PUT, &lines, PROCEED);
    // A later line is malformed: the field is malformed, despite the match.
    let lines = [("if-match", r#""v1""#), ("if-match", "garbage")];
    check_v1(&Method::PUT, &lines, IM_MALFORMED);
    // An empty line in between contributes only an empty element.
    let lines = [
        ("if-none-match", r#""v0""#),
        ("if-none-match", ""),
        ("if-none-match", r#""v1""#),
    ];
    check_v1(&Method::GET, &lines, NOT_MODIFIED);
}

// ---------------------------------------------------------------------------
// 9. Precedence (PR-1)
// ---------------------------------------------------------------------------

#[test]
fn pr_1_if_match_is_evaluated_before_if_none_match() {
    for (method, pairs, want) in [
        // If-None-Match alone would give 304; the failed If-Match gives 412.
        (
            Method::GET,
            [("if-match", r#""v0""#), ("if-none-match", r#""v1""#)],
            IM_MISMATCH,
        ),
        // On a write the failure reported is the If-Match one.
        (
            Method::PUT,
            [("if-match", r#""v0""#), ("if-none-match", "*")],
            IM_MISMATCH,
        ),
        // If-Match passes: If-None-Match is evaluated next.
        (
            Method::GET,
            [("if-match", r#""v1""#), ("if-none-match", r#""v1""#)],
            NOT_MODIFIED,
        ),
    ] {
        check_v1(&method, &pairs, want);
    }
}

#[test]
fn pr_1_a_passing_if_match_makes_a_failing_if_unmodified_since_irrelevant() {
    let pairs = [("if-match", r#""v1""#), ("if-unmodified-since", T_MINUS_1)];
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        check_v1(&method, &pairs, PROCEED);
    }
}

#[test]
fn pr_1_if_unmodified_since_is_evaluated_before_if_none_match() {
    let pairs = [
        ("if-unmodified-since", T_MINUS_1),
        ("if-none-match", r#""v1""#),
    ];
    check_v1(&Method::GET, &pairs, IUS_FAILED);
    let pairs = [("if-unmodified-since", T_MINUS_1), ("if-none-match", "*")];
    check_v1(&Method::PUT, &pairs, IUS_FAILED);
}

#[test]
fn pr_1_matching_if_none_match_is_304_even_if_ims_says_modified() {
    let pairs = [
        ("if-none-match", r#""v1""#),
        ("if-modified-since", T_MINUS_1),
    ];
    check_v1(&Method::GET, &pairs, NOT_MODIFIED);
}

#[test]
fn pr_1_unmatched_if_none_match_is_200_even_if_ims_says_unmodified() {
    let pairs = [
        ("if-none-match", r#""v0""#),
        ("if-modified-since", T_PLUS_1),
    ];
    check_v1(&Method::GET, &pairs, PROCEED);
}

// ---------------------------------------------------------------------------
// 11. Special cases matrix (S1–S18). Current tag "v1", Last-Modified T.
// ---------------------------------------------------------------------------

#[test]
fn s1_get_head_if_none_match_current_weak_or_star_is_304() {
    for method in READS {
        for value in [r#""v1""#, r#"W/"v1""#, "*"] {
            check_v1(&method, &inm(value), NOT_MODIFIED);
        }
    }
}

#[test]
fn s2_write_if_none_match_current_or_star_on_existing_is_412() {
    for method in WRITES {
        for value in [r#""v1""#, "*"] {
            check_v1(&method, &inm(value), INM_MATCHED);
        }
    }
}

#[test]
fn s3_write_with_stale_if_match_is_412() {
    for method in WRITES {
        check_v1(&method, &im(r#""v0""#), IM_MISMATCH);
    }
}

#[test]
fn s4_write_with_weak_if_match_is_412() {
    for method in WRITES {
        check_v1(&method, &im(r#"W/"v1""#), IM_MISMATCH);
    }
}

#[test]
fn s5_get_head_with_stale_if_match_is_412() {
    for method in READS {
        check_v1(&method, &im(r#""v0""#), Want::Failed);
    }
}

#[test]
fn s6_put_if_match_on_missing_is_412() {
    let missing = Target::missing().creatable(true);
    for value in ["*", r#""v1""#] {
        for policy in [Policy::Required, Policy::Optional] {
            check_policy(&Method::PUT, &im(value), &missing, policy, IM_NO_CURRENT);
        }
    }
}

#[test]
fn s7_put_if_none_match_star_on_missing_creates() {
    let missing = Target::missing().creatable(true);
    check(&Method::PUT, &inm("*"), &missing, PROCEED);
    // Create-once: the second attempt finds the resource and fails.
    check_v1(&Method::PUT, &inm("*"), INM_MATCHED);
}

#[test]
fn s8_put_if_unmodified_since_on_missing_is_ignored() {
    let pairs = &ius(T_MINUS_1);
    // No modification date to compare: ignored, the create proceeds.
    let tracking = Target::missing()
        .creatable(true)
        .tracking_last_modified(true);
    check(&Method::PUT, pairs, &tracking, PROCEED);
    let plain = Target::missing().creatable(true);
    check_policy(&Method::PUT, pairs, &plain, Policy::Optional, PROCEED);
    // design decision 2: for a model without dates the field does not make
    // the write conditional, so under the default policy it is 428.
    check(&Method::PUT, pairs, &plain, REQUIRED_428);
}

#[test]
fn s9_patch_on_missing_is_404_whatever_the_preconditions() {
    let header_sets: [Fields<'_>; 5] = [&[], &im(r#""v1""#), &im("*"), &inm("*"), &ius(T)];
    for pairs in header_sets {
        check(&Method::PATCH, pairs, &Target::missing(), NOT_FOUND);
    }
}

#[test]
fn s10_patch_that_creates_evaluates_on_missing() {
    // RFC reading when PATCH may create (PATCH-4). The generated routes
    // never make PATCH create (design decision 3: S9 applies instead).
    let missing = Target::missing().creatable(true);
    check(&Method::PATCH, &im(r#""v1""#), &missing, IM_NO_CURRENT);
    check(&Method::PATCH, &inm("*"), &missing, PROCEED);
}

/// The requests of S11, all 404 for DELETE on a missing resource.
const S11_HEADER_SETS: [Fields<'static>; 4] = [&im(r#""v1""#), &im("*"), &inm("*"), &[]];

#[test]
fn s11_delete_on_missing_is_404() {
    for pairs in S11_HEADER_SETS {
        check(&Method::DELETE, pairs, &Target::missing(), NOT_FOUND);
    }
}

/// DELETE can never create a resource, so a missing resource is 404 for
/// DELETE whatever the preconditions (design decision 3, EV-2, S11), even
/// when the target was built as creatable (a handler that lets PUT create
/// and shares one `Target` for every method).
#[test]
fn s11_delete_never_creates_so_missing_is_404_even_on_a_creatable_target() {
    let missing = Target::missing().creatable(true);
    for pairs in S11_HEADER_SETS {
        check(&Method::DELETE, pairs, &missing, NOT_FOUND);
    }
}

#[test]
fn s12_get_head_on_missing_is_404() {
    for target in [Target::missing(), Target::missing().creatable(true)] {
        for method in READS {
            for pairs in [&im("*")[..], &inm("*"), &ims(T)] {
                check(&method, pairs, &target, NOT_FOUND);
            }
        }
    }
}

// S13 (a request failing auth, method or media type gets that error, not
// 412/304) is decided before the engine runs: see tests/tests/testsuite/http_rules.rs
// (ev_2_s13_wrong_media_type_415_beats_412).

#[test]
fn s14_options_trace_connect_ignore_any_conditional() {
    let pairs = [
        ("if-match", r#""v0""#),
        ("if-none-match", "*"),
        ("if-unmodified-since", T_MINUS_1),
    ];
    for method in IGNORING {
        check_v1(&method, &pairs, PROCEED);
    }
}

#[test]
fn s15_unconditional_write_under_required_policy_is_428() {
    let v1 = tag(r#""v1""#);
    for method in WRITES {
        check_v1(&method, &[], REQUIRED_428);
        check_policy(&method, &[], &existing(&v1), Policy::Optional, PROCEED);
        // Any precondition header makes it conditional (then evaluated).
        for (pairs, want) in [
            (im(r#""v1""#), PROCEED),
            (im("nonsense"), Want::Failed),
            (inm(r#""v0""#), PROCEED),
            (ius(T), PROCEED),
        ] {
            check_v1(&method, &pairs, want);
        }
    }
    // 428 is for unsafe methods only: POST (a custom action on the
    // resource) is a write too; a POST that creates a collection member is
    // evaluated under `Policy::Optional` by its route.
    check_v1(&Method::POST, &[], REQUIRED_428);
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        check_v1(&method, &[], PROCEED);
    }
    // A create by PUT without a precondition is 428 too (design decision 3).
    let missing = Target::missing().creatable(true);
    check(&Method::PUT, &[], &missing, REQUIRED_428);
}

#[test]
fn s16_passing_if_match_proceeds_to_body_validation() {
    // The 400/422 for the invalid body comes after `Proceed`: see
    // tests/tests/testsuite/http_rules.rs (s16_*).
    for method in [Method::PUT, Method::PATCH] {
        check_v1(&method, &im(r#""v1""#), PROCEED);
    }
}

#[test]
fn s17_failing_if_match_is_412_before_body_validation() {
    for method in [Method::PUT, Method::PATCH] {
        check_v1(&method, &im(r#""v0""#), IM_MISMATCH);
    }
}

#[test]
fn s18_no_already_applied_2xx() {
    // Even if the requested state equals the current one, a stale tag is
    // 412 (design decision 4): the engine never consults the content.
    let v1 = tag(r#""v1""#);
    for method in WRITES {
        for policy in [Policy::Required, Policy::Optional] {
            let stale = &im(r#""v0""#);
            check_policy(&method, stale, &existing(&v1), policy, IM_MISMATCH);
        }
    }
}
