//! The history checker: clients that remember the highest version they
//! have seen of each resource and the newest position their writes were
//! handed, and every response held against that memory.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use occ_core::repository::floor::WalPosition;
use occ_core::repository::sql::ReplicaStats;
use occ_tests::process::Rng;

use super::{minus, stats, tag, version_of, Server, CLIENTS, PHASE};

/// How the clients of a phase behave.
#[derive(Clone, Copy)]
pub(crate) struct Load {
    /// Send the highest tag seen and the newest position handed out.
    pub(crate) tagged: bool,
    /// Share of writes, in percent (the rest reads: a seventh of them lists
    /// when tagged).
    pub(crate) writes: u64,
    /// How long the clients go on.
    pub(crate) duration: Duration,
}

/// One client's memory.
#[derive(Default)]
struct Client {
    seen: HashMap<i64, i64>,
    /// The version of each of its own latest writes per resource.
    wrote: HashMap<i64, i64>,
    created: HashSet<i64>,
    token: Option<String>,
}

#[derive(Default)]
struct Tally {
    reads: u64,
    writes: u64,
    server_errors: u64,
    latencies: Vec<Duration>,
    violations: Vec<String>,
}

async fn client(
    n: usize,
    addrs: Arc<Vec<SocketAddr>>,
    ids: Arc<Mutex<Vec<i64>>>,
    first_id: i64,
    load: Load,
) -> Tally {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((n as u64 + 1) * 0x2545_f491));
    let mut me = Client::default();
    let mut tally = Tally::default();
    let deadline = Instant::now() + load.duration;
    // Three resources of its own to begin with.
    let own = first_id + (n as i64) * 1000;
    for id in own..own + 3 {
        let addr = addrs[rng.below(addrs.len())];
        create(&mut me, &mut tally, addr, id, load).await;
        ids.lock().unwrap().push(id);
    }
    while Instant::now() < deadline {
        let addr = addrs[rng.below(addrs.len())];
        let id = {
            let ids = ids.lock().unwrap();
            // Half the time one of its own.
            if rng.chance(50) {
                let own: Vec<i64> = me.created.iter().copied().collect();
                own[rng.below(own.len())]
            } else {
                ids[rng.below(ids.len())]
            }
        };
        if rng.chance(load.writes) {
            update(&mut me, &mut tally, addr, id, load).await;
        } else if load.tagged && rng.chance(14) {
            list(&mut me, &mut tally, addr).await;
        } else {
            read(&mut me, &mut tally, addr, id, load).await;
        }
    }
    tally
}

fn take_token(me: &mut Client, response: &occ_tests::RawResponse) {
    if let Some(position) = response.header("occ-read-after") {
        let newer = match &me.token {
            None => true,
            Some(old) => {
                let p: WalPosition = position.parse().unwrap();
                let o: WalPosition = old.parse().unwrap();
                p > o
            }
        };
        if newer {
            me.token = Some(position.to_owned());
        }
    }
}

/// `extra`, and the newest position handed out when the client sends it.
fn headers_for<'a>(
    me: &'a Client,
    tagged: bool,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut headers = extra.to_vec();
    if tagged {
        if let Some(token) = &me.token {
            headers.push(("occ-read-after", token.as_str()));
        }
    }
    headers
}

async fn create(me: &mut Client, tally: &mut Tally, addr: SocketAddr, id: i64, load: Load) {
    let body = format!(r#"{{"id":{id},"name":"c","city":"start"}}"#);
    let headers = headers_for(me, load.tagged, &[("content-type", "application/json")]);
    let r = occ_tests::http(addr, "POST", "/profiles", &headers, &body).await;
    tally.writes += 1;
    assert_eq!(r.status, 201, "creating {id}: {}", r.text());
    let v = version_of(r.header("etag")).unwrap();
    me.seen.insert(id, v);
    me.wrote.insert(id, v);
    me.created.insert(id);
    take_token(me, &r);
}

async fn update(me: &mut Client, tally: &mut Tally, addr: SocketAddr, id: i64, load: Load) {
    let Some(&seen) = me.seen.get(&id) else {
        // Never seen: read it first.
        return read(me, tally, addr, id, load).await;
    };
    let if_match = tag(id, seen);
    let headers = headers_for(
        me,
        load.tagged,
        &[
            ("content-type", "application/json"),
            ("if-match", &if_match),
        ],
    );
    let r = occ_tests::http(
        addr,
        "PUT",
        &format!("/profiles/{id}"),
        &headers,
        &format!(r#"{{"city":"w{}"}}"#, seen + 1),
    )
    .await;
    tally.writes += 1;
    let version = version_of(r.header("etag"));
    match (r.status, version) {
        (200, Some(v)) => {
            me.seen.insert(id, v);
            me.wrote.insert(id, v);
            take_token(me, &r);
        }
        (412, Some(v)) => {
            if load.tagged && v < seen {
                tally.violations.push(format!(
                    "PUT {id}: 412 shows v{v}, the client has seen v{seen}"
                ));
            }
            me.seen.insert(id, v.max(seen));
        }
        (status, _) if status >= 500 => {
            tally.server_errors += 1;
            tally
                .violations
                .push(format!("PUT {id}: {status} {}", r.text()));
        }
        (status, _) => panic!("PUT {id}: unexpected {status}: {}", r.text()),
    }
}

async fn read(me: &mut Client, tally: &mut Tally, addr: SocketAddr, id: i64, load: Load) {
    let seen = me.seen.get(&id).copied();
    let inm = seen.map(|v| tag(id, v));
    let mut extra = Vec::new();
    if let (true, Some(inm)) = (load.tagged, &inm) {
        extra.push(("if-none-match", inm.as_str()));
    }
    let headers = headers_for(me, load.tagged, &extra);
    let started = Instant::now();
    let r = occ_tests::http(addr, "GET", &format!("/profiles/{id}"), &headers, "").await;
    tally.latencies.push(started.elapsed());
    tally.reads += 1;
    let version = version_of(r.header("etag"));
    match (r.status, version) {
        (200 | 304, Some(v)) => {
            if let (true, Some(seen)) = (load.tagged, seen) {
                if v < seen {
                    tally.violations.push(format!(
                        "GET {id}: {} shows v{v}, the client has seen v{seen}",
                        r.status
                    ));
                }
            }
            me.seen.insert(id, v.max(seen.unwrap_or(0)));
        }
        (404, _) => {
            if load.tagged && me.created.contains(&id) {
                tally
                    .violations
                    .push(format!("GET {id}: 404 for a resource this client created"));
            }
        }
        (status, _) if status >= 500 => {
            tally.server_errors += 1;
            tally
                .violations
                .push(format!("GET {id}: {status} {}", r.text()));
        }
        (status, _) => panic!("GET {id}: unexpected {status}: {}", r.text()),
    }
}

async fn list(me: &mut Client, tally: &mut Tally, addr: SocketAddr) {
    let headers = headers_for(me, true, &[]);
    let started = Instant::now();
    let r = occ_tests::http(addr, "GET", "/profiles?limit=1000", &headers, "").await;
    tally.latencies.push(started.elapsed());
    tally.reads += 1;
    if r.status >= 500 {
        tally.server_errors += 1;
        tally
            .violations
            .push(format!("GET /profiles: {} {}", r.status, r.text()));
        return;
    }
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let listed: HashMap<i64, i64> = body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a page with items: {body}"))
        .iter()
        .map(|item| {
            let id = item["id"].as_i64().unwrap();
            (id, version_of(item["etag"].as_str()).unwrap())
        })
        .collect();
    for (&id, &wrote) in &me.wrote {
        match listed.get(&id) {
            None => tally
                .violations
                .push(format!("list: misses {id}, which this client created")),
            Some(&v) if v < wrote => tally.violations.push(format!(
                "list: shows {id} at v{v}, this client wrote v{wrote}"
            )),
            Some(&v) => {
                let seen = me.seen.entry(id).or_insert(v);
                *seen = (*seen).max(v);
            }
        }
    }
}

/// One phase's figures.
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) reads: u64,
    pub(crate) writes: u64,
    /// Where the repositories sent the reads.
    pub(crate) stats: ReplicaStats,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) server_errors: u64,
    pub(crate) violations: Vec<String>,
}

impl Row {
    /// The share of the routed reads that replicas answered, in percent.
    pub(crate) fn share(&self) -> f64 {
        let s = &self.stats;
        let routed =
            s.replica_reads + s.primary_after_miss + s.primary_no_replica + s.primary_by_request;
        if routed == 0 {
            0.0
        } else {
            s.replica_reads as f64 * 100.0 / routed as f64
        }
    }
}

pub(crate) async fn run_phase<F, Fut>(
    name: &str,
    servers: &[Server],
    first_id: i64,
    load: Load,
    fault: F,
) -> Row
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let before = stats(servers);
    let addrs = Arc::new(servers.iter().map(|s| s.addr).collect::<Vec<_>>());
    let ids = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(client(n, addrs.clone(), ids.clone(), first_id, load)))
        .collect();
    fault().await;
    let mut all = Tally::default();
    for c in clients {
        let t = c.await.unwrap();
        all.reads += t.reads;
        all.writes += t.writes;
        all.server_errors += t.server_errors;
        all.latencies.extend(t.latencies);
        all.violations.extend(t.violations);
    }
    all.latencies.sort();
    let at = |q: f64| {
        all.latencies
            .get(
                ((all.latencies.len() as f64 * q) as usize)
                    .min(all.latencies.len().saturating_sub(1)),
            )
            .copied()
            .unwrap_or_default()
    };
    Row {
        name: name.to_owned(),
        reads: all.reads,
        writes: all.writes,
        stats: minus(stats(servers), before),
        p50: at(0.50),
        p99: at(0.99),
        server_errors: all.server_errors,
        violations: all.violations,
    }
}

pub(crate) fn table(rows: &[Row]) -> String {
    let mut lines = vec![[
        "phase",
        "reads",
        "writes",
        "on replicas",
        "primary after miss",
        "primary, none in rotation",
        "primary by request",
        "waits",
        "taken out",
        "5xx",
        "violations",
        "read p50",
        "read p99",
    ]
    .map(str::to_owned)];
    for r in rows {
        let s = &r.stats;
        lines.push([
            r.name.clone(),
            r.reads.to_string(),
            r.writes.to_string(),
            format!("{} ({:.1}%)", s.replica_reads, r.share()),
            s.primary_after_miss.to_string(),
            s.primary_no_replica.to_string(),
            s.primary_by_request.to_string(),
            s.waits.to_string(),
            s.taken_out.to_string(),
            r.server_errors.to_string(),
            r.violations.len().to_string(),
            format!("{:.1} ms", r.p50.as_secs_f64() * 1000.0),
            format!("{:.1} ms", r.p99.as_secs_f64() * 1000.0),
        ]);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "\nreplicas: {CLIENTS} clients through 2 servers, a primary and 2 replicas, {PHASE:?} a phase\n"
    );
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| match c {
                0 => format!("{cell:<w$}"),
                _ => format!("{cell:>w$}"),
            })
            .collect();
        out.push_str(&cells.join("  "));
        out.push('\n');
    }
    out.push_str(
        "(reads: GETs and lists the clients sent; on replicas: reads a replica answered, and \
         their share of the reads the repositories routed; primary after miss: the replica was \
         behind the client's tag or position; waits: reads that waited for a replica first)\n",
    );
    out
}
