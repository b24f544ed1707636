//! `Preconditions::from_headers(..).evaluate(..)`.
//!
//! Structured input (`arbitrary`): a method from a fixed set, up to four
//! precondition header lines (raw bytes, `*`, tag lists built from the
//! current tag and others, or HTTP-dates near the last-modified time in the
//! three formats; values `HeaderValue` rejects are skipped), the current
//! entity tag or none, an optional last-modified time, whether the model
//! tracks modification times, whether a missing target may be created, and
//! the policy.
//!
//! Checked on every input:
//! - nothing panics, and evaluation is deterministic;
//! - spec invariants: OPTIONS, TRACE and CONNECT always proceed (EV-3);
//!   GET/HEAD are never 428; 304 only for GET/HEAD (304-1, INM-6); a missing
//!   target is 404 for GET/HEAD/DELETE whatever else, and for PUT/PATCH
//!   when it cannot be created (EV-2, S9, S11, S12); `Policy::Optional` never
//!   gives 428 and differs from `Required` only by 428; no precondition
//!   header on an existing resource proceeds (or 428 for a write); the 412
//!   failure names a header that is present;
//! - the decision equals an oracle written from RFC 9110 §13.2.2 and design
//!   decisions 1-3 (docs/design.md), using the reference list grammar in `common`;
//! - HTTP-dates built in IMF-fixdate, asctime and RFC 850 form parse to the
//!   time they were built from (G-14), surrounding OWS does not change a
//!   date (G-7), and any valid date is whole seconds and survives
//!   `fmt_http_date`.
#![no_main]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use common::{parse_list, RefList, RefTag};
use http::header::{HeaderName, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE};
use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use occ_core::{
    fmt_http_date, DateField, Decision, EntityTag, Failure, MalformedList, Policy, Preconditions,
    Target, MAX_FIELD_BYTES, MAX_LIST_ELEMENTS,
};

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum MethodIn {
    Get,
    Head,
    Put,
    Patch,
    Delete,
    Post,
    Options,
    Trace,
    Connect,
    Extension,
}

impl MethodIn {
    fn method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Head => Method::HEAD,
            Self::Put => Method::PUT,
            Self::Patch => Method::PATCH,
            Self::Delete => Method::DELETE,
            Self::Post => Method::POST,
            Self::Options => Method::OPTIONS,
            Self::Trace => Method::TRACE,
            Self::Connect => Method::CONNECT,
            Self::Extension => Method::from_bytes(b"PROPFIND").expect("valid method"),
        }
    }
    fn is_read(self) -> bool {
        matches!(self, Self::Get | Self::Head)
    }
    fn is_write(self) -> bool {
        matches!(self, Self::Put | Self::Patch | Self::Delete)
    }
    fn is_ignored(self) -> bool {
        matches!(self, Self::Options | Self::Trace | Self::Connect)
    }
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum NameIn {
    IfMatch,
    IfNoneMatch,
    IfModifiedSince,
    IfUnmodifiedSince,
}

impl NameIn {
    fn name(self) -> HeaderName {
        match self {
            Self::IfMatch => IF_MATCH,
            Self::IfNoneMatch => IF_NONE_MATCH,
            Self::IfModifiedSince => IF_MODIFIED_SINCE,
            Self::IfUnmodifiedSince => IF_UNMODIFIED_SINCE,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum TagIn {
    /// The current tag's opaque part.
    Current,
    /// `"v{n}"`.
    Version(u8),
    /// Arbitrary bytes between the quotes.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum DateFormat {
    Imf,
    Rfc850,
    Asctime,
}

#[derive(Arbitrary, Debug)]
enum ValueIn {
    Raw(Vec<u8>),
    Star,
    /// Tags (weak flag, tag) joined with `", "`.
    Tags(Vec<(bool, TagIn)>),
    /// A date `offset` seconds from the last-modified time (or a fixed
    /// time), in one of the three formats.
    Date {
        from_last_modified: bool,
        offset: i32,
        format: DateFormat,
        /// Surrounding OWS, which a recipient excludes (G-7).
        leading_ows: bool,
        trailing_ows: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct CurrentIn {
    weak: bool,
    version: u8,
    /// Add an obs-text octet (G-9).
    obs_text: bool,
    /// Seconds and nanoseconds from the epoch.
    last_modified: Option<(i64, u32)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: MethodIn,
    headers: Vec<(NameIn, ValueIn)>,
    current: Option<CurrentIn>,
    tracks_last_modified: bool,
    creatable: bool,
    required: bool,
}

/// 1994-11-06T08:49:37Z, the RFC's example date.
const FIXED: i64 = 784_111_777;
/// 10000-01-01T00:00:00Z: HTTP-date cannot go further.
const YEAR_10000: i64 = 253_402_300_800;

fn time_of(secs: i64, nanos: u32) -> Option<SystemTime> {
    let nanos = nanos % 1_000_000_000;
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::new(secs.unsigned_abs(), 0))?
            .checked_add(Duration::new(0, nanos))
    }
}

/// Whole seconds, as HTTP-date resolution (IMS-6); times before the epoch
/// are kept as they are.
fn to_second(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => t,
    }
}

fn year_of(imf: &str) -> i64 {
    imf[12..16].parse().expect("four-digit year")
}

/// Builds a date field value and the time it must parse to, if it must.
fn build_date(secs: i64, format: DateFormat) -> (Vec<u8>, Option<SystemTime>) {
    if !(0..YEAR_10000).contains(&secs) {
        return (b"not a date".to_vec(), None);
    }
    let t = UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs());
    let imf = fmt_http_date(t).expect("in range");
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let (wd, dd, mon, yyyy, time) = (
        &imf[0..3],
        &imf[5..7],
        &imf[8..11],
        &imf[12..16],
        &imf[17..25],
    );
    match format {
        DateFormat::Imf => (imf.clone().into_bytes(), Some(t)),
        DateFormat::Asctime => {
            let d = dd.trim_start_matches('0');
            (
                format!("{wd} {mon} {d:>2} {time} {yyyy}").into_bytes(),
                Some(t),
            )
        }
        DateFormat::Rfc850 => {
            let long = match wd {
                "Mon" => "Monday",
                "Tue" => "Tuesday",
                "Wed" => "Wednesday",
                "Thu" => "Thursday",
                "Fri" => "Friday",
                "Sat" => "Saturday",
                _ => "Sunday",
            };
            let value = format!("{long}, {dd}-{mon}-{} {time} GMT", &yyyy[2..]);
            // Two-digit years resolve to [this year - 49, this year + 50].
            let this_year = year_of(&fmt_http_date(SystemTime::now()).expect("now"));
            let year = year_of(&imf);
            let expected = (this_year - 49..=this_year + 50)
                .contains(&year)
                .then_some(t);
            (value.into_bytes(), expected)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Syntax,
    Empty,
    AnyWithOthers,
    TooMany,
    TooLong,
}

fn kind_of(m: &MalformedList) -> Kind {
    match m {
        MalformedList::Syntax { .. } => Kind::Syntax,
        MalformedList::Empty => Kind::Empty,
        MalformedList::AnyWithOthers => Kind::AnyWithOthers,
        MalformedList::TooMany => Kind::TooMany,
        MalformedList::TooLong => Kind::TooLong,
    }
}

fn ref_kind(r: &RefList) -> Kind {
    match r {
        RefList::Syntax => Kind::Syntax,
        RefList::Empty => Kind::Empty,
        RefList::AnyWithOthers => Kind::AnyWithOthers,
        RefList::TooMany => Kind::TooMany,
        RefList::TooLong => Kind::TooLong,
        RefList::Any | RefList::Tags(_) => unreachable!("well formed"),
    }
}

/// The shape of a decision, with which condition failed and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Proceed,
    NotModified,
    IfMatchMalformed(Kind),
    IfMatchNoCurrent,
    IfMatchMismatch,
    IfUnmodifiedSince,
    IfNoneMatchMalformed(Kind),
    IfNoneMatchMatched,
    PreconditionRequired,
    NotFound,
}

fn shape_of(d: &Decision) -> Shape {
    match d {
        Decision::Proceed => Shape::Proceed,
        Decision::NotModified => Shape::NotModified,
        Decision::PreconditionRequired => Shape::PreconditionRequired,
        Decision::NotFound => Shape::NotFound,
        Decision::PreconditionFailed(f) => match f {
            Failure::IfMatchMalformed(m) => Shape::IfMatchMalformed(kind_of(m)),
            Failure::IfMatchNoCurrent => Shape::IfMatchNoCurrent,
            Failure::IfMatchMismatch => Shape::IfMatchMismatch,
            Failure::IfUnmodifiedSince => Shape::IfUnmodifiedSince,
            Failure::IfNoneMatchMalformed(m) => Shape::IfNoneMatchMalformed(kind_of(m)),
            Failure::IfNoneMatchMatched => Shape::IfNoneMatchMatched,
        },
    }
}

/// The lines of each field, as sent.
#[derive(Default)]
struct Fields {
    if_match: Vec<Vec<u8>>,
    if_none_match: Vec<Vec<u8>>,
    if_modified_since: Vec<Vec<u8>>,
    if_unmodified_since: Vec<Vec<u8>>,
}

fn list_field(lines: &[Vec<u8>]) -> Option<RefList> {
    (!lines.is_empty()).then(|| {
        let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        parse_list(&lines, MAX_LIST_ELEMENTS, MAX_FIELD_BYTES)
    })
}

/// `None`: absent; `Some(None)`: present but not one valid HTTP-date
/// (IMS-2, IUS-2); `Some(Some(t))`: valid.
fn date_field(lines: &[Vec<u8>]) -> Option<Option<SystemTime>> {
    match lines {
        [] => None,
        [one] => Some(DateField::parse(one).valid()),
        _ => Some(None),
    }
}

struct World {
    method: MethodIn,
    current: Option<(RefTag, Option<SystemTime>)>,
    tracks_last_modified: bool,
    creatable: bool,
    required: bool,
}

/// RFC 9110 §13.2.2 with design decisions 1-3, from docs/design.md.
fn oracle(w: &World, f: &Fields) -> Shape {
    let m = w.method;
    if m.is_ignored() {
        return Shape::Proceed; // EV-3
    }
    // PUT, PATCH and POST may create a missing target; DELETE never does.
    let may_create = !m.is_read() && m != MethodIn::Delete;
    if w.current.is_none() && !(may_create && w.creatable) {
        return Shape::NotFound; // EV-2, S9, S11, S12
    }
    let im = list_field(&f.if_match);
    let inm = list_field(&f.if_none_match);
    let ims = date_field(&f.if_modified_since);
    let ius = date_field(&f.if_unmodified_since);
    let conditional =
        im.is_some() || inm.is_some() || (w.tracks_last_modified && matches!(ius, Some(Some(_))));
    if w.required && m.is_write() && !conditional {
        return Shape::PreconditionRequired; // design decision 2
    }
    let current_tag = w.current.as_ref().map(|(t, _)| t);
    let last_modified = w.current.as_ref().and_then(|(_, lm)| *lm).map(to_second);

    if let Some(im) = &im {
        // Step 1 (IM-1 … IM-5, S6).
        if !im.is_ok() {
            return Shape::IfMatchMalformed(ref_kind(im));
        }
        if current_tag.is_none() {
            return Shape::IfMatchNoCurrent;
        }
        if im.matches(current_tag, true) != Some(true) {
            return Shape::IfMatchMismatch;
        }
    } else if let (Some(Some(since)), Some(lm)) = (ius, last_modified) {
        // Step 2 (IUS-1 … IUS-6).
        if lm > since {
            return Shape::IfUnmodifiedSince;
        }
    }
    if let Some(inm) = &inm {
        // Step 3 (INM-1 … INM-6, design decision 1).
        if !inm.is_ok() {
            if m.is_read() {
                return Shape::Proceed; // ignored, and IMS stays ignored (IMS-1)
            }
            return Shape::IfNoneMatchMalformed(ref_kind(inm));
        }
        if inm.matches(current_tag, false) == Some(true) {
            return if m.is_read() {
                Shape::NotModified
            } else {
                Shape::IfNoneMatchMatched
            };
        }
    } else if m.is_read() {
        // Step 4 (IMS-1 … IMS-7).
        if let (Some(Some(since)), Some(lm)) = (ims, last_modified) {
            if lm <= since {
                return Shape::NotModified;
            }
        }
    }
    Shape::Proceed
}

/// The one failure found so far, pinned by the regression test
/// `g_7_g_14_ows_around_an_rfc850_date_keeps_the_fifty_year_rule` in
/// `occ-core/tests/testsuite/fuzz_regressions.rs`: with surrounding OWS, an RFC 850
/// date escapes `DateField`'s fifty-year rule and gets `httpdate`'s century
/// instead. While occ-core still does that, such values skip the two date
/// assertions so the run can go on; once it is fixed this returns `false`
/// for every input and the assertions cover them again.
fn known_rfc850_ows_failure(value: &[u8]) -> bool {
    static PRESENT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let present = *PRESENT.get_or_init(|| {
        DateField::parse(b" Saturday, 20-Jul-74 11:52:26 GMT")
            != DateField::parse(b"Saturday, 20-Jul-74 11:52:26 GMT")
    });
    let trimmed = common::trim_ows(value);
    present
        && trimmed.len() != value.len()
        && trimmed
            .iter()
            .position(|&b| b == b',')
            .is_some_and(|comma| {
                [
                    &b"Monday"[..],
                    b"Tuesday",
                    b"Wednesday",
                    b"Thursday",
                    b"Friday",
                    b"Saturday",
                    b"Sunday",
                ]
                .contains(&&trimmed[..comma])
            })
}

/// `OCC_FUZZ_SHAPES=1`: print each input's method and decision shape, to
/// see what a corpus covers (`-runs=0` over the corpus directory).
fn show_shapes() -> bool {
    static SHOW: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SHOW.get_or_init(|| std::env::var_os("OCC_FUZZ_SHAPES").is_some())
}

fuzz_target!(|input: Input| {
    // The current representation.
    let current = input.current.as_ref().map(|c| {
        let mut opaque = format!("v{}", c.version).into_bytes();
        if c.obs_text {
            opaque.push(0xFF);
        }
        let tag = RefTag {
            weak: c.weak,
            opaque,
        };
        let etag = EntityTag::parse_bytes(&tag.wire()).expect("a valid current tag");
        let last_modified = c
            .last_modified
            .and_then(|(secs, nanos)| time_of(secs % (2 * YEAR_10000), nanos));
        (tag, etag, last_modified)
    });
    let lm_secs = current
        .as_ref()
        .and_then(|(_, _, lm)| *lm)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok());

    // The header lines.
    let mut headers = HeaderMap::new();
    let mut fields = Fields::default();
    for (name, value) in input.headers.iter().take(4) {
        let (bytes, expected_date) = match value {
            ValueIn::Raw(bytes) => (bytes.clone(), None),
            ValueIn::Star => (b"*".to_vec(), None),
            ValueIn::Tags(tags) => {
                let parts: Vec<Vec<u8>> = tags
                    .iter()
                    .take(20)
                    .map(|(weak, tag)| {
                        let opaque = match tag {
                            TagIn::Current => current
                                .as_ref()
                                .map_or(b"v0".to_vec(), |(t, _, _)| t.opaque.clone()),
                            TagIn::Version(n) => format!("v{n}").into_bytes(),
                            TagIn::Raw(raw) => raw.clone(),
                        };
                        RefTag {
                            weak: *weak,
                            opaque,
                        }
                        .wire()
                    })
                    .collect();
                (parts.join(&b", "[..]), None)
            }
            ValueIn::Date {
                from_last_modified,
                offset,
                format,
                leading_ows,
                trailing_ows,
            } => {
                let base = if *from_last_modified {
                    lm_secs.unwrap_or(FIXED)
                } else {
                    FIXED
                };
                let (mut bytes, expected) = build_date(base + i64::from(*offset), *format);
                if *leading_ows {
                    bytes.insert(0, b' ');
                }
                if *trailing_ows {
                    bytes.push(b'\t');
                }
                (bytes, expected.map(Some))
            }
        };
        let Ok(header_value) = HeaderValue::from_bytes(&bytes) else {
            continue;
        };
        let known = known_rfc850_ows_failure(&bytes);
        // Dates we built parse to the time they were built from (G-14).
        if let (Some(expected), false) = (expected_date, known) {
            assert_eq!(
                DateField::parse(&bytes).valid(),
                expected,
                "date {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
        // Surrounding OWS does not change a date (G-7).
        assert!(
            known || DateField::parse(&bytes) == DateField::parse(common::trim_ows(&bytes)),
            "OWS changes the date {:?}",
            String::from_utf8_lossy(&bytes)
        );
        // Any valid date is whole seconds and survives formatting.
        if let DateField::Valid(t) = DateField::parse(&bytes) {
            assert_eq!(to_second(t), t, "a date with a fraction of a second");
            if let Some(s) = fmt_http_date(t) {
                assert_eq!(DateField::parse(s.as_bytes()), DateField::Valid(t));
            }
        }
        headers.append(name.name(), header_value);
        match name {
            NameIn::IfMatch => fields.if_match.push(bytes),
            NameIn::IfNoneMatch => fields.if_none_match.push(bytes),
            NameIn::IfModifiedSince => fields.if_modified_since.push(bytes),
            NameIn::IfUnmodifiedSince => fields.if_unmodified_since.push(bytes),
        }
    }

    // The target and the evaluation.
    let target = match &current {
        Some((_, etag, lm)) => Target::present(etag).with_last_modified(*lm),
        None => Target::missing().creatable(input.creatable),
    }
    .tracking_last_modified(input.tracks_last_modified);
    let method = input.method.method();
    let policy = if input.required {
        Policy::Required
    } else {
        Policy::Optional
    };
    let pre = Preconditions::from_headers(&headers);
    assert_eq!(
        pre,
        Preconditions::from_headers(&headers),
        "from_headers is deterministic"
    );
    let decision = pre.evaluate(&method, &target, policy);
    assert_eq!(
        decision,
        pre.evaluate(&method, &target, policy),
        "evaluate is deterministic"
    );
    let _ = format!("{pre:?} {decision:?}");

    assert_eq!(pre.if_match().is_some(), !fields.if_match.is_empty());
    assert_eq!(
        pre.if_none_match().is_some(),
        !fields.if_none_match.is_empty()
    );
    assert_eq!(
        pre.if_modified_since().is_some(),
        !fields.if_modified_since.is_empty()
    );
    assert_eq!(
        pre.if_unmodified_since().is_some(),
        !fields.if_unmodified_since.is_empty()
    );
    assert_eq!(pre.is_empty(), headers.is_empty());

    // Spec invariants.
    let m = input.method;
    if m.is_ignored() {
        assert_eq!(
            decision,
            Decision::Proceed,
            "EV-3: {method} ignores preconditions"
        );
    }
    if m.is_read() {
        assert_ne!(decision, Decision::PreconditionRequired, "428 on {method}");
    }
    if decision == Decision::NotModified {
        assert!(m.is_read(), "304 on {method} (304-1, INM-6)");
    }
    if current.is_none()
        && (m.is_read() || m == MethodIn::Delete || (!input.creatable && m.is_write()))
    {
        assert_eq!(decision, Decision::NotFound, "missing target, {method}");
    }
    let optional = pre.evaluate(&method, &target, Policy::Optional);
    assert_ne!(
        optional,
        Decision::PreconditionRequired,
        "428 under Policy::Optional"
    );
    if decision != Decision::PreconditionRequired {
        assert_eq!(decision, optional, "policy changes more than 428");
    } else {
        assert!(m.is_write() && input.required);
    }
    if current.is_some() && headers.is_empty() && !m.is_ignored() {
        let expected = if m.is_write() && input.required {
            Decision::PreconditionRequired
        } else {
            Decision::Proceed
        };
        assert_eq!(
            decision, expected,
            "no precondition on an existing resource"
        );
    }
    if let Decision::PreconditionFailed(failure) = &decision {
        assert!(
            headers.contains_key(failure.header()),
            "412 names {} which is absent",
            failure.header()
        );
        let _ = failure.to_string();
    }

    // The oracle.
    let world = World {
        method: m,
        current: current.as_ref().map(|(t, _, lm)| (t.clone(), *lm)),
        tracks_last_modified: input.tracks_last_modified,
        creatable: input.creatable,
        required: input.required,
    };
    let expected = oracle(&world, &fields);
    if show_shapes() {
        eprintln!("SHAPE {m:?} {expected:?}");
    }
    assert_eq!(
        shape_of(&decision),
        expected,
        "decision differs from the §13.2.2 oracle; headers = {headers:?}"
    );
});
