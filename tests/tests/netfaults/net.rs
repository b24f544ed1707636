//! The test's own little network: one bridge in the root namespace (the
//! test process's side, address `.1`), and one network namespace per role
//! (the database, each server), each joined to the bridge by a veth pair,
//! all in one private /24 of 10.100.0.0/12 claimed for this run. Nothing
//! is routed anywhere else: the namespaces have no default route.
//!
//! Every name carries the subnet's index, claimed by creating the bridge
//! (an atomic `ip link add`), so parallel runs cannot clash. [`Drop`]
//! removes the namespaces and the bridge, also when the test fails; a run
//! killed before its cleanup is swept by the next ([`sweep_stale`]).

pub(crate) use occ_tests::process::run;

use std::net::Ipv4Addr;
use std::process::Command;

/// Runs `program` with `input` on its stdin.
pub(crate) fn run_with_input(program: &str, args: &[&str], input: &str) -> Result<(), String> {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    stdin
        .write_all(input.as_bytes())
        .map_err(|e| format!("{program}: {e}"))?;
    drop(stdin);
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}: {}\n{input}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The alias of a run's bridge, followed by the owning process id.
const OWNER: &str = "occ-netfaults";

/// Removes what earlier runs left behind when they were killed before
/// their cleanup ran: for each bridge of ours whose owning process is
/// gone, the processes left in its namespaces (servers, PostgreSQL,
/// pgbouncer: SIGKILL), the namespaces, the bridge, and that process's
/// temporary directories.
pub(crate) fn sweep_stale() {
    let Ok(bridges) = run("ip", &["-o", "link", "show", "type", "bridge"]) else {
        return;
    };
    let namespaces = run("ip", &["netns", "list"]).unwrap_or_default();
    for line in bridges.lines() {
        let Some(name) = line.split(": ").nth(1) else {
            continue;
        };
        let Some(index) = name
            .strip_prefix("onf")
            .and_then(|r| r.strip_suffix("br"))
            .and_then(|i| i.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(owner) = line
            .split(&format!("alias {OWNER} "))
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let prefix = format!("occnf{index}-");
        for ns in namespaces
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|ns| ns.starts_with(&prefix))
        {
            for pid in run("ip", &["netns", "pids", ns])
                .unwrap_or_default()
                .lines()
            {
                let _ = run("kill", &["-KILL", pid.trim()]);
            }
            let _ = run("ip", &["netns", "del", ns]);
        }
        let _ = run("ip", &["link", "del", name]);
        if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
            let marks = [
                format!("occ_netfaults_pg_{owner}_"),
                format!("occ_netfaults_logs_{owner}_"),
            ];
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if marks.iter().any(|m| name.starts_with(m)) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        eprintln!("netfaults: removed the network left by process {owner}");
    }
}

/// The network of one test run.
pub(crate) struct Net {
    index: u32,
    roles: Vec<String>,
    namespaces: Vec<String>,
    bridge: String,
}

impl Net {
    /// Claims a free /24 and builds the bridge and one namespace per role
    /// (at addresses `.2`, `.3`, … in the order given).
    pub(crate) fn create(roles: &[&str]) -> Result<Net, String> {
        sweep_stale();
        let seed = std::process::id()
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
        let taken = format!(
            "{}{}",
            run("ip", &["-4", "-o", "addr", "show"])?,
            run("ip", &["-4", "route", "show", "table", "all"])?
        );
        let mut last_error = String::new();
        for attempt in 0..64 {
            // 16 × 250 subnets: 10.100.0.0/24 … 10.115.249.0/24.
            let index = (seed.wrapping_add(attempt * 7919)) % 4000;
            let prefix = Self::prefix_of(index);
            if taken.contains(&format!("{prefix}.")) {
                continue;
            }
            let bridge = format!("onf{index}br");
            match run("ip", &["link", "add", &bridge, "type", "bridge"]) {
                Ok(_) => {
                    // The owner, for [`sweep_stale`].
                    let owner = format!("{OWNER} {}", std::process::id());
                    run("ip", &["link", "set", "dev", &bridge, "alias", &owner])?;
                    let mut net = Net {
                        index,
                        roles: Vec::new(),
                        namespaces: Vec::new(),
                        bridge,
                    };
                    net.build(roles)?;
                    return Ok(net);
                }
                Err(e) => last_error = e,
            }
        }
        Err(format!("no free subnet for the test network: {last_error}"))
    }

    fn prefix_of(index: u32) -> String {
        format!("10.{}.{}", 100 + index / 250, index % 250)
    }

    fn build(&mut self, roles: &[&str]) -> Result<(), String> {
        let prefix = Self::prefix_of(self.index);
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{prefix}.1/24"),
                "dev",
                &self.bridge,
            ],
        )?;
        run("ip", &["link", "set", &self.bridge, "up"])?;
        for (i, role) in roles.iter().enumerate() {
            let ns = format!("occnf{}-{role}", self.index);
            run("ip", &["netns", "add", &ns])?;
            self.namespaces.push(ns.clone());
            self.roles.push((*role).to_owned());
            let outer = format!("onf{}v{i}", self.index);
            let inner = format!("onf{}v{i}p", self.index);
            run(
                "ip",
                &[
                    "link", "add", &outer, "type", "veth", "peer", "name", &inner, "netns", &ns,
                ],
            )?;
            run("ip", &["link", "set", &outer, "master", &self.bridge])?;
            run("ip", &["link", "set", &outer, "up"])?;
            let addr = format!("{prefix}.{}/24", i + 2);
            run("ip", &["-n", &ns, "addr", "add", &addr, "dev", &inner])?;
            run("ip", &["-n", &ns, "link", "set", &inner, "up"])?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// The namespace of `role`.
    pub(crate) fn ns(&self, role: &str) -> &str {
        let i = self.position(role);
        &self.namespaces[i]
    }

    fn position(&self, role: &str) -> usize {
        self.roles
            .iter()
            .position(|r| r == role)
            .unwrap_or_else(|| panic!("no role {role}"))
    }

    /// The address of `role`.
    pub(crate) fn addr(&self, role: &str) -> Ipv4Addr {
        self.host(self.position(role) + 2)
    }

    /// The test process's address on the bridge.
    pub(crate) fn root_addr(&self) -> Ipv4Addr {
        self.host(1)
    }

    fn host(&self, last: usize) -> Ipv4Addr {
        format!("{}.{last}", Self::prefix_of(self.index))
            .parse()
            .expect("an IPv4 address")
    }

    /// The subnet, as `10.x.y.0/24`.
    pub(crate) fn subnet(&self) -> String {
        format!("{}.0/24", Self::prefix_of(self.index))
    }

    /// Loads an nftables script in `role`'s namespace (`nft -f -`).
    pub(crate) fn nft(&self, role: &str, script: &str) -> Result<(), String> {
        run_with_input(
            "ip",
            &["netns", "exec", self.ns(role), "nft", "-f", "-"],
            script,
        )
    }

    /// A command run inside `role`'s namespace (`ip netns exec`).
    pub(crate) fn command(&self, role: &str, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", self.ns(role), program]);
        command
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of each veth pair, and with
        // it the other end on the bridge.
        for ns in &self.namespaces {
            if let Err(e) = run("ip", &["netns", "del", ns]) {
                eprintln!("netfaults: cleanup: {e}");
            }
        }
        if let Err(e) = run("ip", &["link", "del", &self.bridge]) {
            eprintln!("netfaults: cleanup: {e}");
        }
    }
}
