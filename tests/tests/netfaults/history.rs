//! Every request the clients sent and what came back, and the checker
//! that holds the final state of the database against it.
//!
//! Each logical write appends its own marker (`c{client}.{seq}`) to the
//! space-separated list kept in a profile's `city`, from the version it
//! read: so the final list is the order in which writes were applied, its
//! length is the number applied, and a marker seen twice is a write
//! applied twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// One logical write: its client and sequence number.
pub(crate) type WriteId = String;

/// How an exchange ended.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// A whole response.
    Response {
        /// Its status.
        status: u16,
        /// The version in its ETag, if any.
        version: Option<i64>,
        /// The list in its body (a 2xx's), if any.
        list: Option<Vec<String>>,
        /// `Idempotent-Replayed: true`.
        replayed: bool,
    },
    /// No answer within the client's timeout.
    Timeout,
    /// Connection refused, reset, or closed without a whole response.
    Broken(String),
}

/// One request and its outcome.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// Which server (0, 1, 2) it went to.
    pub(crate) server: usize,
    /// `GET` or `PUT`.
    pub(crate) method: &'static str,
    /// The profile.
    pub(crate) resource: i64,
    /// The logical write of a PUT.
    pub(crate) write: Option<WriteId>,
    /// 1 for a logical write's first request, 2 for its first retry, …
    pub(crate) attempt: u32,
    /// The version in the PUT's `If-Match`.
    pub(crate) base: Option<i64>,
    /// Sent.
    pub(crate) start: Instant,
    /// Answered (or given up).
    pub(crate) end: Instant,
    /// What came back.
    pub(crate) outcome: Outcome,
}

impl Record {
    /// The status, if a response came.
    pub(crate) fn status(&self) -> Option<u16> {
        match self.outcome {
            Outcome::Response { status, .. } => Some(status),
            _ => None,
        }
    }
}

/// A fault's window: from its start to its end (the instant the fault is
/// lifted), and the servers it affects.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    /// The fault begins.
    pub(crate) start: Instant,
    /// The fault is lifted.
    pub(crate) end: Instant,
    /// The servers whose recovery is measured.
    pub(crate) affected: Vec<usize>,
}

/// A resource's state: version and list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct State {
    /// The version.
    pub(crate) version: i64,
    /// The markers, in order of application.
    pub(crate) list: Vec<String>,
}

/// What the checker found.
#[derive(Debug, Default, Clone)]
pub(crate) struct Report {
    /// Requests sent (GETs and PUTs, every retry).
    pub(crate) requests: usize,
    /// Logical writes started.
    pub(crate) writes: usize,
    /// Logical writes acknowledged with a 2xx.
    pub(crate) acknowledged: usize,
    /// Logical writes in the final state that were never acknowledged
    /// (their client gave up, or a retry was answered 412).
    pub(crate) applied_unacknowledged: usize,
    /// Logical writes whose client gave up without a definite answer (its
    /// last request timed out, broke, or was answered 5xx or 409).
    pub(crate) abandoned: usize,
    /// Acknowledged writes missing from the final state. Must be 0.
    pub(crate) lost: usize,
    /// Writes whose marker appears more than once. Must be 0.
    pub(crate) applied_twice: usize,
    /// Retries answered 412 although their write had been applied: an
    /// acknowledgement lost to the retry (0 with Idempotency-Key).
    pub(crate) retry_412_after_apply: usize,
    /// Responses replayed (`Idempotent-Replayed: true`).
    pub(crate) replayed: usize,
    /// 409 answers (the same key in flight).
    pub(crate) in_flight_409: usize,
    /// 5xx answers.
    pub(crate) server_errors: usize,
    /// Timeouts and broken connections.
    pub(crate) no_answer: usize,
    /// Every broken rule, in words. Must be empty.
    pub(crate) violations: Vec<String>,
    /// Per window: the longest time over its affected servers from the
    /// end of the window to the first 2xx through that server (`None`:
    /// no 2xx after it).
    pub(crate) recovery: Vec<Option<Duration>>,
}

/// Checks `records` against the final `states`, the `initial` versions
/// (each list empty), and the fault `windows`; a 5xx counts as inside a
/// window when the request overlapped `[start, end + grace]`.
pub(crate) fn check(
    records: &[Record],
    initial: &BTreeMap<i64, i64>,
    states: &BTreeMap<i64, State>,
    windows: &[Window],
    grace: Duration,
) -> Report {
    let mut report = Report {
        requests: records.len(),
        ..Report::default()
    };
    let mut writes: BTreeSet<&str> = BTreeSet::new();
    // (resource, base) → the logical writes acknowledged from it.
    let mut acked_from: BTreeMap<(i64, i64), BTreeSet<&str>> = BTreeMap::new();
    // write → (resource, version) of its acknowledgements.
    let mut acked: BTreeMap<&str, BTreeSet<(i64, i64)>> = BTreeMap::new();
    for r in records {
        if let Some(w) = &r.write {
            writes.insert(w);
        }
        let Outcome::Response {
            status,
            version,
            list,
            replayed,
        } = &r.outcome
        else {
            report.no_answer += 1;
            continue;
        };
        report.replayed += usize::from(*replayed);
        match status {
            409 => report.in_flight_409 += 1,
            500..=599 => {
                report.server_errors += 1;
                let inside = windows
                    .iter()
                    .any(|w| r.start <= w.end + grace && r.end >= w.start);
                if !inside {
                    report.violations.push(format!(
                        "{} {} on server {}: {status} outside every fault window",
                        r.method, r.resource, r.server
                    ));
                }
            }
            200 | 304 | 412 => {}
            other => report.violations.push(format!(
                "{} {} on server {}: unexpected status {other}",
                r.method, r.resource, r.server
            )),
        }
        let Some(state) = states.get(&r.resource) else {
            report
                .violations
                .push(format!("resource {} has no final state", r.resource));
            continue;
        };
        let v0 = initial.get(&r.resource).copied().unwrap_or(0);
        // Any 2xx body is a prefix of the final list, at its version.
        if (200..300).contains(status) {
            match (version, list) {
                (Some(v), Some(list)) => {
                    let len = usize::try_from(v - v0).unwrap_or(usize::MAX);
                    if state.list.get(..len) != Some(list.as_slice()) {
                        report.violations.push(format!(
                            "{} {} at v{v} answered {list:?}, which is not the first {len} \
                             writes of the final {:?}",
                            r.method, r.resource, state.list
                        ));
                    }
                }
                _ => report.violations.push(format!(
                    "{} {}: a {status} without version or list",
                    r.method, r.resource
                )),
            }
        }
        if r.method != "PUT" {
            continue;
        }
        let (Some(w), Some(base)) = (&r.write, r.base) else {
            report
                .violations
                .push(format!("PUT {} without write id or base", r.resource));
            continue;
        };
        if (200..300).contains(status) {
            let v = version.unwrap_or(-1);
            if v != base + 1 {
                report.violations.push(format!(
                    "write {w} from v{base} acknowledged at v{v}, not v{}",
                    base + 1
                ));
            }
            acked_from.entry((r.resource, base)).or_default().insert(w);
            acked.entry(w).or_default().insert((r.resource, v));
        }
        if *status == 412 && r.attempt > 1 && state.list.iter().any(|m| m == w) {
            report.retry_412_after_apply += 1;
        }
    }
    report.writes = writes.len();
    report.acknowledged = acked.len();
    for ((resource, base), ws) in &acked_from {
        if ws.len() > 1 {
            report.violations.push(format!(
                "{resource}: {} writes acknowledged from v{base}: {ws:?}",
                ws.len()
            ));
        }
    }
    // The final state: one chain with no gap and no repeat.
    let mut counts: HashMap<(i64, &str), usize> = HashMap::new();
    for (resource, state) in states {
        let v0 = initial.get(resource).copied().unwrap_or(0);
        if usize::try_from(state.version - v0).ok() != Some(state.list.len()) {
            report.violations.push(format!(
                "{resource}: version {} from {v0} but {} writes in its list (a gap or a torn write)",
                state.version,
                state.list.len()
            ));
        }
        for m in &state.list {
            *counts.entry((*resource, m.as_str())).or_default() += 1;
            if !writes.contains(m.as_str()) {
                report
                    .violations
                    .push(format!("{resource}: marker {m} of no write sent"));
            }
        }
    }
    report.applied_twice = counts.values().filter(|&&n| n > 1).count();
    let applied: BTreeSet<&str> = counts.keys().map(|(_, m)| *m).collect();
    report.applied_unacknowledged = applied.iter().filter(|m| !acked.contains_key(*m)).count();
    // The last answer of each logical write.
    let mut last: BTreeMap<&str, Option<u16>> = BTreeMap::new();
    for r in records {
        if let Some(w) = &r.write {
            last.insert(w, r.status());
        }
    }
    let abandoned: BTreeSet<&str> = last
        .iter()
        .filter(|(_, s)| !matches!(s, Some(200..=408 | 410..=499)))
        .map(|(w, _)| *w)
        .collect();
    report.abandoned = abandoned.len();
    // No gap: the writes applied are the acknowledged ones, and at most
    // those abandoned without an answer besides.
    let unexplained: Vec<&&str> = applied
        .iter()
        .filter(|m| !acked.contains_key(**m) && !abandoned.contains(**m))
        .collect();
    if !unexplained.is_empty() {
        report.violations.push(format!(
            "{} writes applied although their client was never told, nor gave up (a retry \
             answered 412 where the 2xx should have been replayed): {:?}",
            unexplained.len(),
            unexplained.iter().take(10).collect::<Vec<_>>()
        ));
    }
    for (w, at) in &acked {
        for (resource, v) in at {
            let v0 = initial.get(resource).copied().unwrap_or(0);
            let position = usize::try_from(v - v0 - 1).ok();
            let list = states.get(resource).map(|s| &s.list);
            match (list, position) {
                (Some(list), _) if !list.iter().any(|m| m == w) => {
                    report.lost += 1;
                    report.violations.push(format!(
                        "{resource}: write {w} acknowledged at v{v} is missing"
                    ));
                }
                (Some(list), Some(p)) if list.get(p).map(String::as_str) != Some(*w) => {
                    report.violations.push(format!(
                        "{resource}: write {w} acknowledged at v{v}, but v{v} holds {:?}",
                        list.get(p)
                    ));
                }
                _ => {}
            }
        }
    }
    if report.applied_twice > 0 {
        report
            .violations
            .push(format!("{} writes applied twice", report.applied_twice));
    }
    report.recovery = windows
        .iter()
        .map(|w| {
            w.affected
                .iter()
                .map(|&server| {
                    records
                        .iter()
                        .filter(|r| {
                            r.server == server
                                && r.end >= w.end
                                && r.status().is_some_and(|s| (200..300).contains(&s))
                        })
                        .map(|r| r.end - w.end)
                        .min()
                })
                .try_fold(Duration::ZERO, |worst, d| d.map(|d| worst.max(d)))
        })
        .collect();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(t0: Instant, ms: u64, write: &str, attempt: u32, base: i64, outcome: Outcome) -> Record {
        Record {
            server: 0,
            method: "PUT",
            resource: 1,
            write: Some(write.to_owned()),
            attempt,
            base: Some(base),
            start: t0 + Duration::from_millis(ms),
            end: t0 + Duration::from_millis(ms + 5),
            outcome,
        }
    }

    fn ok(version: i64, list: &[&str]) -> Outcome {
        Outcome::Response {
            status: 200,
            version: Some(version),
            list: Some(list.iter().map(|s| (*s).to_owned()).collect()),
            replayed: false,
        }
    }

    fn status(status: u16) -> Outcome {
        Outcome::Response {
            status,
            version: None,
            list: None,
            replayed: false,
        }
    }

    fn run(records: &[Record], version: i64, list: &[&str], windows: &[Window]) -> Report {
        let initial = BTreeMap::from([(1, 1)]);
        let states = BTreeMap::from([(
            1,
            State {
                version,
                list: list.iter().map(|s| (*s).to_owned()).collect(),
            },
        )]);
        check(
            records,
            &initial,
            &states,
            windows,
            Duration::from_millis(100),
        )
    }

    #[test]
    fn a_clean_chain_passes() {
        let t0 = Instant::now();
        let records = [
            put(t0, 0, "a", 1, 1, ok(2, &["a"])),
            put(t0, 10, "b", 1, 1, status(412)),
            put(t0, 20, "c", 1, 2, Outcome::Timeout),
            put(t0, 30, "c", 2, 2, ok(3, &["a", "c"])),
        ];
        let report = run(&records, 3, &["a", "c"], &[]);
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        assert_eq!(
            (report.acknowledged, report.lost, report.applied_twice),
            (2, 0, 0)
        );
        assert_eq!(report.writes, 3);
    }

    #[test]
    fn a_lost_acknowledged_write_is_found() {
        let t0 = Instant::now();
        let records = [
            put(t0, 0, "a", 1, 1, ok(2, &["a"])),
            put(t0, 10, "b", 1, 1, Outcome::Timeout),
        ];
        // "b" overwrote "a" from the same base: "a" is lost.
        let report = run(&records, 2, &["b"], &[]);
        assert_eq!(report.lost, 1);
        assert!(!report.violations.is_empty());
    }

    #[test]
    fn a_write_applied_twice_is_found() {
        let t0 = Instant::now();
        let records = [
            put(t0, 0, "a", 1, 1, Outcome::Timeout),
            put(t0, 10, "a", 2, 2, ok(3, &["a", "a"])),
        ];
        let report = run(&records, 3, &["a", "a"], &[]);
        assert_eq!(report.applied_twice, 1);
        assert!(!report.violations.is_empty());
    }

    #[test]
    fn two_acknowledgements_from_one_base_and_a_gap_are_found() {
        let t0 = Instant::now();
        let records = [
            put(t0, 0, "a", 1, 1, ok(2, &["a"])),
            put(t0, 10, "b", 1, 1, ok(2, &["b"])),
        ];
        let report = run(&records, 3, &["a"], &[]);
        let all = report.violations.join("\n");
        assert!(all.contains("2 writes acknowledged from v1"), "{all}");
        assert!(all.contains("a gap"), "{all}");
    }

    #[test]
    fn a_retry_answered_412_after_its_write_applied_is_counted() {
        let t0 = Instant::now();
        let records = [
            put(t0, 0, "a", 1, 1, Outcome::Broken("reset".into())),
            put(t0, 10, "a", 2, 1, status(412)),
        ];
        let report = run(&records, 2, &["a"], &[]);
        assert_eq!(report.retry_412_after_apply, 1);
        assert_eq!(report.applied_unacknowledged, 1);
        assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
        assert!(report.violations[0].contains("never told"));
    }

    #[test]
    fn a_write_abandoned_unanswered_may_be_applied() {
        let t0 = Instant::now();
        let records = [
            put(t0, 0, "a", 1, 1, ok(2, &["a"])),
            put(t0, 10, "b", 1, 2, Outcome::Timeout),
            put(t0, 20, "b", 2, 2, status(409)),
        ];
        let report = run(&records, 3, &["a", "b"], &[]);
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        assert_eq!((report.abandoned, report.applied_unacknowledged), (1, 1));
    }

    #[test]
    fn a_5xx_outside_the_windows_is_a_violation_and_recovery_is_measured() {
        let t0 = Instant::now();
        let window = Window {
            start: t0 + Duration::from_millis(100),
            end: t0 + Duration::from_millis(200),
            affected: vec![0],
        };
        let records = [
            put(t0, 150, "a", 1, 1, status(503)),
            put(t0, 320, "a", 2, 1, status(503)),
            put(t0, 400, "a", 3, 1, ok(2, &["a"])),
        ];
        let report = run(&records, 2, &["a"], &[window]);
        assert_eq!(report.server_errors, 2);
        assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
        assert_eq!(report.recovery, vec![Some(Duration::from_millis(205))]);
    }
}
