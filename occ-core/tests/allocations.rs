//! Parsing and evaluating preconditions allocates nothing: the tag lists
//! are read in place, from the request's own header buffer.
//!
//! One test in this binary on purpose: the counting allocator is global,
//! and tests running beside it would count too.
#![allow(clippy::expect_used)] // fixed, valid inputs

use http::{HeaderMap, HeaderValue, Method};
use occ_core::{Decision, EntityTag, Policy, Preconditions, Target};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

fn headers(name: http::HeaderName, value: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    // A request's header values share the buffer they were read into;
    // `from_maybe_shared` over `Bytes` is the same kind of value.
    let shared = bytes_of(value);
    map.insert(name, shared);
    map
}

fn bytes_of(value: &str) -> HeaderValue {
    let value = HeaderValue::from_str(value).expect("a valid header value");
    // Make the buffer shared now, as a parsed request's is, so that
    // cloning it later only counts a reference.
    drop(value.clone());
    value
}

#[test]
fn evaluation_allocates_nothing() {
    let current: EntityTag = "\"prof-42-v7\"".parse().expect("a valid tag");
    let list = (0..9)
        .map(|v| format!("\"prof-42-v{v}\""))
        .chain(["\"prof-42-v7\"".to_owned()])
        .collect::<Vec<_>>()
        .join(", ");
    let cases = [
        (
            Method::PUT,
            headers(http::header::IF_MATCH, "\"prof-42-v7\""),
            Decision::Proceed,
        ),
        (
            Method::PUT,
            headers(http::header::IF_MATCH, &list),
            Decision::Proceed,
        ),
        (
            Method::PUT,
            headers(http::header::IF_MATCH, "*"),
            Decision::Proceed,
        ),
        (
            Method::GET,
            headers(http::header::IF_NONE_MATCH, "\"prof-42-v7\""),
            Decision::NotModified,
        ),
        (
            Method::GET,
            headers(http::header::IF_NONE_MATCH, &list),
            Decision::NotModified,
        ),
        (
            Method::GET,
            headers(http::header::IF_NONE_MATCH, "*"),
            Decision::NotModified,
        ),
        (
            Method::GET,
            headers(
                http::header::IF_MODIFIED_SINCE,
                "Sun, 06 Nov 1994 08:49:37 GMT",
            ),
            Decision::Proceed,
        ),
    ];
    for (method, map, expected) in &cases {
        let target = Target::present(&current);
        let region = Region::new(GLOBAL);
        let decision = Preconditions::from_headers(map).evaluate(method, &target, Policy::Required);
        let change = region.change();
        assert_eq!(&decision, expected, "{method} {map:?}");
        assert_eq!(
            change.allocations, 0,
            "{method} {map:?} allocated: {change:?}"
        );
    }
}
