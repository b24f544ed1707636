//! Parsing and evaluating `If-Match` / `If-None-Match` with occ vs the
//! `headers` crate's `IfMatch` / `IfNoneMatch`, on the same header maps in
//! the same run: one tag, a ten-tag list whose match is last, and `*`.
//!
//! Both sides start from a `HeaderMap` and end with the answer a server
//! needs: does the write proceed (If-Match on PUT), is the read a 304
//! (If-None-Match on GET).
#![allow(clippy::unwrap_used, clippy::expect_used)] // fixed, valid inputs

#[path = "support/ratios.rs"]
mod ratios;

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{criterion_group, Criterion};
use headers::HeaderMapExt;
use http::{HeaderMap, HeaderValue, Method};
use occ_core::{Comparison, Decision, EntityTag, EntityTagList, Policy, Preconditions, Target};

const CURRENT: &str = "\"prof-42-v7\"";

fn inputs() -> [(&'static str, HeaderValue); 3] {
    let list = (0..9)
        .map(|v| format!("\"prof-42-v{v}\""))
        .chain(std::iter::once(CURRENT.to_owned()))
        .collect::<Vec<_>>()
        .join(", ");
    [
        ("single", HeaderValue::from_static(CURRENT)),
        ("list_of_10", HeaderValue::from_str(&list).unwrap()),
        ("any", HeaderValue::from_static("*")),
    ]
}

fn headers_with(name: http::HeaderName, value: &HeaderValue) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(name, value.clone());
    headers
}

const GROUPS: [&str; 12] = [
    "if_match/single",
    "if_match/list_of_10",
    "if_match/any",
    "if_none_match/single",
    "if_none_match/list_of_10",
    "if_none_match/any",
    "evaluate_put/single",
    "evaluate_put/list_of_10",
    "evaluate_put/any",
    "evaluate_get/single",
    "evaluate_get/list_of_10",
    "evaluate_get/any",
];

/// One field, parsed and compared: what `headers`' typed header does.
fn single_field(c: &mut Criterion) {
    let ours_tag: EntityTag = CURRENT.parse().unwrap();
    let theirs_tag: headers::ETag = CURRENT.parse().unwrap();
    for (name, value) in inputs() {
        let map = headers_with(http::header::IF_MATCH, &value);
        // Same answer on both sides before timing anything.
        let ours = EntityTagList::from_lines(map.get_all(http::header::IF_MATCH))
            .map(|list| list.matches(Some(ours_tag.as_tag_ref()), Comparison::Strong));
        assert_eq!(ours, Some(Ok(true)));
        assert!(map
            .typed_get::<headers::IfMatch>()
            .unwrap()
            .precondition_passes(&theirs_tag));

        let mut group = c.benchmark_group(format!("if_match/{name}"));
        group.bench_function("occ", |b| {
            b.iter(|| {
                EntityTagList::from_lines(black_box(&map).get_all(http::header::IF_MATCH)).map(
                    |list| {
                        list.matches(Some(black_box(&ours_tag).as_tag_ref()), Comparison::Strong)
                    },
                )
            })
        });
        group.bench_function("headers", |b| {
            b.iter(|| {
                black_box(&map)
                    .typed_get::<headers::IfMatch>()
                    .map(|h| h.precondition_passes(black_box(&theirs_tag)))
            })
        });
        group.finish();

        let map = headers_with(http::header::IF_NONE_MATCH, &value);
        let mut group = c.benchmark_group(format!("if_none_match/{name}"));
        group.bench_function("occ", |b| {
            b.iter(|| {
                EntityTagList::from_lines(black_box(&map).get_all(http::header::IF_NONE_MATCH)).map(
                    |list| list.matches(Some(black_box(&ours_tag).as_tag_ref()), Comparison::Weak),
                )
            })
        });
        group.bench_function("headers", |b| {
            b.iter(|| {
                black_box(&map)
                    .typed_get::<headers::IfNoneMatch>()
                    .map(|h| !h.precondition_passes(black_box(&theirs_tag)))
            })
        });
        group.finish();
    }
}

/// The `headers` crate's types put together in the order of RFC 9110
/// §13.2.2, as a hand-written handler would: 200, 304 or 412.
fn headers_evaluate(
    map: &HeaderMap,
    method: &Method,
    etag: &headers::ETag,
    modified: SystemTime,
) -> u16 {
    let read = method == Method::GET || method == Method::HEAD;
    if let Some(if_match) = map.typed_get::<headers::IfMatch>() {
        if !if_match.precondition_passes(etag) {
            return 412;
        }
    } else if let Some(since) = map.typed_get::<headers::IfUnmodifiedSince>() {
        if !since.precondition_passes(modified) {
            return 412;
        }
    }
    if let Some(if_none_match) = map.typed_get::<headers::IfNoneMatch>() {
        if !if_none_match.precondition_passes(etag) {
            return if read { 304 } else { 412 };
        }
    } else if read {
        if let Some(since) = map.typed_get::<headers::IfModifiedSince>() {
            if !since.is_modified(modified) {
                return 304;
            }
        }
    }
    200
}

/// All four precondition fields read and evaluated in order (PR-1).
fn full_evaluation(c: &mut Criterion) {
    let ours_tag: EntityTag = CURRENT.parse().unwrap();
    let theirs_tag: headers::ETag = CURRENT.parse().unwrap();
    let modified = SystemTime::UNIX_EPOCH;
    for (method, field, expected) in [
        (
            Method::PUT,
            http::header::IF_MATCH,
            (Decision::Proceed, 200),
        ),
        (
            Method::GET,
            http::header::IF_NONE_MATCH,
            (Decision::NotModified, 304),
        ),
    ] {
        for (name, value) in inputs() {
            let map = headers_with(field.clone(), &value);
            let target = Target::present(&ours_tag);
            assert_eq!(
                Preconditions::from_headers(&map).evaluate(&method, &target, Policy::Required),
                expected.0
            );
            assert_eq!(
                headers_evaluate(&map, &method, &theirs_tag, modified),
                expected.1
            );

            let mut group = c.benchmark_group(format!(
                "evaluate_{}/{name}",
                method.as_str().to_lowercase()
            ));
            group.bench_function("occ", |b| {
                b.iter(|| {
                    Preconditions::from_headers(black_box(&map)).evaluate(
                        &method,
                        &Target::present(black_box(&ours_tag)),
                        Policy::Required,
                    )
                })
            });
            group.bench_function("headers", |b| {
                b.iter(|| {
                    headers_evaluate(black_box(&map), &method, black_box(&theirs_tag), modified)
                })
            });
            group.finish();
        }
    }
}

criterion_group!(benches, single_field, full_evaluation);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios::report(&GROUPS, "occ", "headers");
}
