//! What the tests that start processes of their own share (the network
//! faults and the read replicas): running a command, PostgreSQL's server
//! binaries and its user, appending to a configuration file, and small
//! pseudo-random numbers for clients that spread their load.

use std::process::Command;
use std::time::Duration;

/// The machine's PostgreSQL 15 server binaries (where Debian puts them).
pub const POSTGRES_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Runs a command, returning its stdout, or an error naming it and its
/// stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program} {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The `postgres` user's uid and gid.
pub fn postgres_ids() -> Result<(u32, u32), String> {
    let uid = run("id", &["-u", "postgres"])?;
    let gid = run("id", &["-g", "postgres"])?;
    let parse = |s: String| s.trim().parse::<u32>().map_err(|e| e.to_string());
    Ok((parse(uid)?, parse(gid)?))
}

/// Appends `text` to the file at `path` (a server's configuration).
pub fn append(path: &str, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{path}: {e}"))
}

/// Small pseudo-random numbers (xorshift), seeded per client so that a
/// run can be told from another by its seed alone.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next number of the sequence.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// Between half of `base` and one and a half times it.
    pub fn jitter(&mut self, base: Duration) -> Duration {
        base / 2
            + Duration::from_micros(
                self.next_u64() % u64::try_from(base.as_micros()).unwrap_or(1).max(1),
            )
    }
}
