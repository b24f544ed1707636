//! Framework overhead in instructions: occ's generated routes vs
//! hand-written axum handlers doing the same correct work, counted by
//! callgrind (through `gungraun`) instead of timed.
//!
//! Both sides are the ones of the `routes` bench (`support/mod.rs`): occ's
//! `ConditionalRoutes::new(..).into_router()` and the hand-written
//! handlers, over the same `MemoryRepository`, so what differs is what the
//! framework does per request. There is one benchmark function per request
//! kind and side:
//!
//! * `get_200`: GET, no precondition, a representation of about 4 KiB;
//! * `get_304`: GET with a matching `If-None-Match`;
//! * `put_200`: PUT with a matching `If-Match`;
//! * `put_412`: PUT with a stale `If-Match`.
//!
//! What is counted: [`REQUESTS`] such requests sent one after the other
//! through tower's `oneshot`, each response collected whole and dropped
//! before the next is sent, as a server would. Not counted (gungraun's
//! `setup` and `teardown`): building the runtime, the repository and the
//! router, one warm-up request of the same kind (lazy initialisation is not
//! per-request work), building the requests, and checking the answers
//! (every status, and the last answer's `ETag` and body).
//!
//! Run it (needs valgrind, and `gungraun-runner` of the same version as the
//! `gungraun` library in Cargo.lock on the `PATH`):
//!
//! ```sh
//! cargo install gungraun-runner --version 0.20.0 --locked
//! cargo bench -p occ-examples --bench instructions
//! ```
//!
//! After gungraun's own report (whose counts are for all [`REQUESTS`]
//! requests of a benchmark), the bench prints a table of instructions per
//! request (callgrind's `Ir` divided by [`REQUESTS`]) and `ratio = occ /
//! hand-written`: 1.00x means occ executes as many instructions as the
//! hand-written handlers for the same request, above 1.00x is the
//! framework's overhead, below it occ does less (the goal is 1.00x or
//! less). The table is read from the callgrind output files that gungraun
//! has just written under `target/gungraun` (or `GUNGRAUN_HOME`); see
//! `print_ratios`.
//!
//! Repeatability: instruction counts do not depend on the machine's load.
//! The hand-written side repeats to the instruction. occ's side moved by up
//! to 0.6% between runs (most runs repeat exactly): axum keeps a router's
//! routes in a `HashMap` with a random seed, and occ's router has several,
//! so the order in which they are built, hence the heap the requests run
//! on, changes from process to process. Two things keep that small: the
//! router is built on a thread of its own, so that its allocations go to
//! that thread's malloc arena (as in a server, whose workers are not the
//! thread that built the router), and a measurement sends [`REQUESTS`]
//! requests rather than one (one request alone, router built on the same
//! thread, moved by up to 3%). Read ratio differences under 0.01 as noise.
//!
//! Under `cargo test --benches` gungraun runs each benchmark once, without
//! valgrind (which checks the answers), and no table is printed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed setup should stop the bench
#![allow(missing_docs)] // gungraun's macros generate undocumented public items

mod support;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::Router;
use gungraun::{library_benchmark, library_benchmark_group, main};
use http::{header, HeaderMap, Method, Request, StatusCode};
use occ_core::repository::MemoryRepository;

use support::{doc, hand_written, occ, request, runtime, send, tag, version_of, Doc, Repo};

/// Requests sent in one measurement.
const REQUESTS: usize = 32;

/// The request kinds, in the table's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Get200,
    Get304,
    Put200,
    Put412,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Get200, Kind::Get304, Kind::Put200, Kind::Put412];

    /// The benchmark group's name.
    fn name(self) -> &'static str {
        match self {
            Kind::Get200 => "get_200",
            Kind::Get304 => "get_304",
            Kind::Put200 => "put_200",
            Kind::Put412 => "put_412",
        }
    }

    /// The status every answer must have.
    fn status(self) -> StatusCode {
        match self {
            Kind::Get200 | Kind::Put200 => StatusCode::OK,
            Kind::Get304 => StatusCode::NOT_MODIFIED,
            Kind::Put412 => StatusCode::PRECONDITION_FAILED,
        }
    }

    /// The version of doc 1 after `sent` requests of this kind, from
    /// `version`: only a PUT that passes its precondition writes.
    fn version_after(self, version: i64, sent: usize) -> i64 {
        match self {
            Kind::Put200 => version + i64::try_from(sent).unwrap(),
            _ => version,
        }
    }

    /// This kind of request for doc 1, whose current version is `version`.
    fn request(self, version: i64) -> Request<Body> {
        let none = Bytes::new();
        let put_body = || Bytes::from(serde_json::to_vec(&doc(1)).unwrap());
        match self {
            Kind::Get200 => request(Method::GET, None, &none),
            Kind::Get304 => request(
                Method::GET,
                Some((header::IF_NONE_MATCH, tag(1, version))),
                &none,
            ),
            Kind::Put200 => request(
                Method::PUT,
                Some((header::IF_MATCH, tag(1, version))),
                &put_body(),
            ),
            Kind::Put412 => request(
                Method::PUT,
                Some((header::IF_MATCH, tag(1, version - 1))),
                &put_body(),
            ),
        }
    }

    /// Asserts that `answer` is the right one for this kind of request sent
    /// when doc 1 was at `version`; returns the version it reports.
    fn check(self, version: i64, answer: &(StatusCode, HeaderMap, Bytes)) -> i64 {
        let (status, headers, body) = answer;
        match self {
            Kind::Get200 => assert!(body.len() > 4000, "representation of {} bytes", body.len()),
            Kind::Get304 => assert!(body.is_empty(), "a 304 with a body"),
            Kind::Put200 | Kind::Put412 => {}
        }
        let reported = version_of(headers, 1);
        assert_eq!(
            (*status, reported),
            (self.status(), self.version_after(version, 1)),
            "{}",
            self.name()
        );
        reported
    }
}

/// Which side answers.
#[derive(Debug, Clone, Copy)]
enum Side {
    Occ,
    HandWritten,
}

/// Everything the measurement needs, built in the setup.
struct Fixture {
    rt: tokio::runtime::Runtime,
    app: Router,
    kind: Kind,
    /// Doc 1's version when the first measured request is sent.
    version: i64,
    /// The [`REQUESTS`] requests to send, in order.
    requests: Vec<Request<Body>>,
    /// The status of each answer (capacity reserved: no allocation while
    /// counting).
    statuses: Vec<StatusCode>,
}

/// What the measurement leaves for the teardown to check and drop.
struct Exchange {
    fixture: Fixture,
    /// The last answer: status, headers, body.
    last: (StatusCode, HeaderMap, Bytes),
}

/// Setup (not counted): a runtime, doc 1 in a fresh in-memory repository,
/// `side`'s router (built on a thread of its own: see "Repeatability" at
/// the top), one warm-up request of the same kind, then the requests to
/// measure, built against the version the warm-up left.
fn prepare(kind: Kind, side: Side) -> Fixture {
    let rt = runtime();
    let repo: Arc<Repo> = Arc::new(MemoryRepository::<Doc>::new());
    rt.block_on(repo.create(doc(1))).unwrap();
    let app = std::thread::spawn(move || match side {
        Side::Occ => occ(repo),
        Side::HandWritten => hand_written(repo),
    })
    .join()
    .unwrap();
    let version = kind.check(1, &rt.block_on(send(&app, kind.request(1))));
    Fixture {
        requests: (0..REQUESTS)
            .map(|sent| kind.request(kind.version_after(version, sent)))
            .collect(),
        statuses: Vec::with_capacity(REQUESTS),
        rt,
        app,
        kind,
        version,
    }
}

/// The measured work: each request through the router, its response
/// collected whole; each answer but the last is dropped here.
fn exchange(mut fixture: Fixture) -> Exchange {
    let mut last = None;
    for request in fixture.requests.drain(..) {
        let answer = fixture.rt.block_on(send(&fixture.app, black_box(request)));
        fixture.statuses.push(answer.0);
        last = Some(answer);
    }
    Exchange {
        last: last.expect("at least one request"),
        fixture,
    }
}

/// Teardown (not counted): every answer had the right status, and the last
/// one is right in full.
fn verify(exchange: Exchange) {
    let Exchange { fixture, last } = exchange;
    let kind = fixture.kind;
    assert_eq!(
        fixture.statuses,
        [kind.status(); REQUESTS],
        "{}",
        kind.name()
    );
    kind.check(kind.version_after(fixture.version, REQUESTS - 1), &last);
}

// ---- One benchmark function per request kind and side. ----

#[library_benchmark(setup = prepare, teardown = verify)]
#[bench::memory(args = (Kind::Get200, Side::Occ))]
fn get_200_occ(fixture: Fixture) -> Exchange {
    exchange(fixture)
}

#[library_benchmark(setup = prepare, teardown = verify)]
#[bench::memory(args = (Kind::Get200, Side::HandWritten))]
fn get_200_hand_written(fixture: Fixture) -> Exchange {
    exchange(fixture)
}

#[library_benchmark(setup = prepare, teardown = verify)]
#[bench::memory(args = (Kind::Get304, Side::Occ))]
fn get_304_occ(fixture: Fixture) -> Exchange {
    exchange(fixture)
}

#[library_benchmark(setup = prepare, teardown = verify)]
#[bench::memory(args = (Kind::Get304, Side::HandWritten))]
fn get_304_hand_written(fixture: Fixture) -> Exchange {
    exchange(fixture)
}

#[library_benchmark(setup = prepare, teardown = verify)]
#[bench::memory(args = (Kind::Put200, Side::Occ))]
fn put_200_occ(fixture: Fixture) -> Exchange {
    exchange(fixture)
}

#[library_benchmark(setup = prepare, teardown = verify)]
#[bench::memory(args = (Kind::Put200, Side::HandWritten))]
fn put_200_hand_written(fixture: Fixture) -> Exchange {
    exchange(fixture)
}

#[library_benchmark(setup = prepare, teardown = verify)]
#[bench::memory(args = (Kind::Put412, Side::Occ))]
fn put_412_occ(fixture: Fixture) -> Exchange {
    exchange(fixture)
}

#[library_benchmark(setup = prepare, teardown = verify)]
#[bench::memory(args = (Kind::Put412, Side::HandWritten))]
fn put_412_hand_written(fixture: Fixture) -> Exchange {
    exchange(fixture)
}

// One group per request kind; `compare_by_id` has gungraun compare the
// two sides (same bench id) in its own report.
library_benchmark_group!(
    name = get_200,
    compare_by_id = true,
    benchmarks = [get_200_hand_written, get_200_occ]
);
library_benchmark_group!(
    name = get_304,
    compare_by_id = true,
    benchmarks = [get_304_hand_written, get_304_occ]
);
library_benchmark_group!(
    name = put_200,
    compare_by_id = true,
    benchmarks = [put_200_hand_written, put_200_occ]
);
library_benchmark_group!(
    name = put_412,
    compare_by_id = true,
    benchmarks = [put_412_hand_written, put_412_occ]
);

/// gungraun's `main!` defines a `main`; inside this module it can be
/// called, so that the table is printed once gungraun is done.
mod overhead {
    use super::*;

    main!(library_benchmark_groups = [get_200, get_304, put_200, put_412]);

    /// Runs the benchmarks, or, when started by gungraun-runner, one of them.
    pub(super) fn run() {
        main();
    }

    /// Where gungraun writes this module's results, relative to its home.
    pub(super) fn results() -> PathBuf {
        module_path!().split("::").collect()
    }
}

fn main() {
    let started = SystemTime::now();
    overhead::run();
    if std::env::args().nth(1).as_deref() != Some("--gungraun-run") {
        print_ratios(started);
    }
}

// ---- The ratio table. ----

/// Prints instructions per request and `occ / hand-written` for each
/// request kind measured by this run, read from the callgrind output files
/// that gungraun wrote after `started`. Prints nothing when there are none
/// (test mode, `--list`, a filter that left no pair).
fn print_ratios(started: SystemTime) {
    let Some(home) = gungraun_home() else {
        return;
    };
    let dir = home.join(env!("CARGO_PKG_NAME")).join(overhead::results());
    let rows: Vec<(Kind, u64, u64)> = Kind::ALL
        .into_iter()
        .filter_map(|kind| {
            let count = |side: &str| instructions(&dir, kind.name(), side, started);
            Some((kind, count("occ")?, count("hand_written")?))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let per_request = |total: u64| total as f64 / REQUESTS as f64;
    println!();
    println!("Instructions per request (callgrind Ir / {REQUESTS}), ratio = occ / hand-written");
    println!();
    println!("| request | occ | hand-written | ratio |");
    println!("| --- | ---: | ---: | ---: |");
    for (kind, occ, hand) in rows {
        println!(
            "| {} | {:.0} | {:.0} | {:.3}x |",
            kind.name(),
            per_request(occ),
            per_request(hand),
            occ as f64 / hand as f64
        );
    }
}

/// `GUNGRAUN_HOME`, or the `gungraun` folder of the target directory this
/// bench was built in (`target/release/deps/instructions-…`).
fn gungraun_home() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("GUNGRAUN_HOME") {
        return Some(home.into());
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .map(|dir| dir.join("gungraun"))
        .find(|home| home.is_dir())
}

/// The `Ir` total of benchmark `{kind}_{side}` (bench id `memory`), if
/// its callgrind output was written after `started`. Callgrind writes one
/// file per thread (`callgrind.NAME.t1.p1.out`, ...; the setup's thread
/// counts nothing): the total is their sum.
fn instructions(dir: &Path, kind: &str, side: &str, started: SystemTime) -> Option<u64> {
    let name = format!("{kind}_{side}.memory");
    let prefix = format!("callgrind.{name}.");
    let mut total = None;
    for entry in std::fs::read_dir(dir.join(kind).join(&name)).ok()? {
        let path = entry.ok()?.path();
        let file = path.file_name()?.to_str()?;
        if !(file.starts_with(&prefix) && file.ends_with(".out")) {
            continue;
        }
        if std::fs::metadata(&path).ok()?.modified().ok()? < started {
            return None;
        }
        *total.get_or_insert(0) += ir_summary(&std::fs::read_to_string(&path).ok()?)?;
    }
    total
}

/// The `Ir` figure of a callgrind output file's `summary:` line.
fn ir_summary(text: &str) -> Option<u64> {
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .map(str::split_whitespace)
    };
    let ir = field("events:")?.position(|event| event == "Ir")?;
    field("summary:")?.nth(ir)?.parse().ok()
}
