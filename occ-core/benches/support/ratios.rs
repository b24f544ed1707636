//! Prints, after a `cargo bench` run, each group's ratio between occ and
//! its baseline, read from criterion's own estimates of this run.

use std::path::PathBuf;

/// Where criterion wrote its estimates.
fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(home));
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(target).join("criterion"));
    }
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let candidate = dir.join("target").join("criterion");
        if candidate.is_dir() {
            return Some(candidate);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// The mean time per iteration, in nanoseconds, of `group`/`function`.
fn mean_ns(group: &str, function: &str) -> Option<f64> {
    let path = criterion_dir()?
        .join(group.replace('/', "_"))
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

/// Prints `baseline time / occ time` for every group: above 1.0, occ is
/// faster. Only in a real bench run (`cargo bench` passes `--bench`), not
/// in `cargo test --benches`.
pub(crate) fn report(groups: &[&str], occ: &str, baseline: &str) {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    println!("\nratio = {baseline} time / {occ} time (at least 1.0: occ is as fast or faster)");
    for group in groups {
        match (mean_ns(group, occ), mean_ns(group, baseline)) {
            (Some(ours), Some(theirs)) => println!(
                "{group:<40} {occ} {ours:>10.1} ns  {baseline} {theirs:>10.1} ns  ratio {:.3}",
                theirs / ours
            ),
            _ => println!("{group:<40} (not measured in this run)"),
        }
    }
}

/// Prints how many times faster `fast` is than `slow` for `function`: the
/// 304 vs 200 figure.
#[allow(dead_code)] // not every bench has such a pair
pub(crate) fn report_pair(slow: &str, fast: &str, function: &str) {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    if let (Some(slow_ns), Some(fast_ns)) = (mean_ns(slow, function), mean_ns(fast, function)) {
        println!(
            "{fast} is {:.2} times as fast as {slow} ({function}: {fast_ns:.0} ns vs {slow_ns:.0} ns)",
            slow_ns / fast_ns
        );
    }
}
