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

use criterion::{criterion_group, Criterion};
use headers::HeaderMapExt;
use http::{HeaderMap, HeaderValue, Method};
use occ_core::{Decision, EntityTag, Policy, Preconditions, Target};

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

const GROUPS: [&str; 6] = [
    "if_match/single",
    "if_match/list_of_10",
    "if_match/any",
    "if_none_match/single",
    "if_none_match/list_of_10",
    "if_none_match/any",
];

fn if_match(c: &mut Criterion) {
    let ours_tag: EntityTag = CURRENT.parse().unwrap();
    let theirs_tag: headers::ETag = CURRENT.parse().unwrap();
    for (name, value) in inputs() {
        let map = headers_with(http::header::IF_MATCH, &value);
        // Same answer on both sides before timing anything.
        assert_eq!(
            Preconditions::from_headers(&map).evaluate(
                &Method::PUT,
                &Target::present(&ours_tag),
                Policy::Required
            ),
            Decision::Proceed
        );
        assert!(map
            .typed_get::<headers::IfMatch>()
            .unwrap()
            .precondition_passes(&theirs_tag));

        let mut group = c.benchmark_group(format!("if_match/{name}"));
        group.bench_function("occ", |b| {
            b.iter(|| {
                let preconditions = Preconditions::from_headers(black_box(&map));
                preconditions.evaluate(
                    &Method::PUT,
                    &Target::present(black_box(&ours_tag)),
                    Policy::Required,
                )
            })
        });
        group.bench_function("headers", |b| {
            b.iter(|| {
                black_box(&map)
                    .typed_get::<headers::IfMatch>()
                    .is_some_and(|h| h.precondition_passes(black_box(&theirs_tag)))
            })
        });
        group.finish();
    }
}

fn if_none_match(c: &mut Criterion) {
    let ours_tag: EntityTag = CURRENT.parse().unwrap();
    let theirs_tag: headers::ETag = CURRENT.parse().unwrap();
    for (name, value) in inputs() {
        let map = headers_with(http::header::IF_NONE_MATCH, &value);
        assert_eq!(
            Preconditions::from_headers(&map).evaluate(
                &Method::GET,
                &Target::present(&ours_tag),
                Policy::Required
            ),
            Decision::NotModified
        );
        assert!(!map
            .typed_get::<headers::IfNoneMatch>()
            .unwrap()
            .precondition_passes(&theirs_tag));

        let mut group = c.benchmark_group(format!("if_none_match/{name}"));
        group.bench_function("occ", |b| {
            b.iter(|| {
                let preconditions = Preconditions::from_headers(black_box(&map));
                preconditions.evaluate(
                    &Method::GET,
                    &Target::present(black_box(&ours_tag)),
                    Policy::Required,
                )
            })
        });
        group.bench_function("headers", |b| {
            b.iter(|| {
                // 304 when the precondition does not pass.
                !black_box(&map)
                    .typed_get::<headers::IfNoneMatch>()
                    .is_none_or(|h| h.precondition_passes(black_box(&theirs_tag)))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, if_match, if_none_match);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios::report(&GROUPS, "occ", "headers");
}
