//! A PostgreSQL instance of the test's own, in the database namespace:
//! `initdb` into a temporary directory owned by the `postgres` user (the
//! server refuses to run as root), listening on that namespace's address
//! only, trust authentication for the test's subnet, and settings that
//! release a partitioned client's locks within seconds. Optionally
//! pgbouncer in front of it, in transaction pooling mode.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::net::{run, Net};

/// The machine's PostgreSQL binaries.
pub(crate) const BIN: &str = "/usr/lib/postgresql/15/bin";
/// The port PostgreSQL listens on, in its own namespace.
pub(crate) const PORT: u16 = 5432;
/// The port pgbouncer listens on, in the same namespace.
pub(crate) const BOUNCER_PORT: u16 = 6432;
/// A session idle inside a transaction for longer is ended by the server.
pub(crate) const IDLE_IN_TRANSACTION: &str = "3s";

/// The `postgres` user's uid and gid.
pub(crate) fn postgres_ids() -> Result<(u32, u32), String> {
    let uid = run("id", &["-u", "postgres"])?;
    let gid = run("id", &["-g", "postgres"])?;
    let parse = |s: String| s.trim().parse::<u32>().map_err(|e| e.to_string());
    Ok((parse(uid)?, parse(gid)?))
}

/// A running PostgreSQL (and maybe pgbouncer), stopped and removed when
/// dropped.
pub(crate) struct Postgres {
    dir: PathBuf,
    ns: String,
    /// Its address.
    pub(crate) addr: SocketAddr,
    bouncer: Option<std::process::Child>,
}

impl Postgres {
    /// initdb, configure and start, in `net`'s `role` namespace.
    pub(crate) fn start(net: &Net, role: &str) -> Result<Postgres, String> {
        let (uid, gid) = postgres_ids()?;
        let dir = std::env::temp_dir().join(occ_tests::unique_name("occ_netfaults_pg"));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        let addr = SocketAddr::new(net.addr(role).into(), PORT);
        let pg = Postgres {
            dir,
            ns: net.ns(role).to_owned(),
            addr,
            bouncer: None,
        };
        let data = pg.data();
        pg.as_postgres(&[
            &format!("{BIN}/initdb"),
            "--no-sync",
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "-D",
            &data,
        ])?;
        let conf = format!(
            "listen_addresses = '{ip}'\n\
             port = {PORT}\n\
             unix_socket_directories = '{dir}'\n\
             max_connections = 200\n\
             fsync = off\n\
             idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION}'\n\
             tcp_keepalives_idle = 1\n\
             tcp_keepalives_interval = 1\n\
             tcp_keepalives_count = 3\n\
             tcp_user_timeout = 4000\n",
            ip = addr.ip(),
            dir = pg.dir.display(),
        );
        append(&format!("{data}/postgresql.conf"), &conf)?;
        std::fs::write(
            format!("{data}/pg_hba.conf"),
            format!("local all all trust\nhost all all {} trust\n", net.subnet()),
        )
        .map_err(|e| e.to_string())?;
        pg.start_server()?;
        Ok(pg)
    }

    fn data(&self) -> String {
        format!("{}/data", self.dir.display())
    }

    /// Runs a command as `postgres` inside the database namespace.
    fn as_postgres(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec![
            "netns",
            "exec",
            &self.ns,
            "setpriv",
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// `pg_ctl start`, waiting until it accepts connections.
    pub(crate) fn start_server(&self) -> Result<(), String> {
        let log = format!("{}/postgres.log", self.dir.display());
        self.as_postgres(&[
            &format!("{BIN}/pg_ctl"),
            "-D",
            &self.data(),
            "-l",
            &log,
            "-w",
            "-t",
            "60",
            "start",
        ])
        .map(drop)
        .map_err(|e| format!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()))
    }

    /// `pg_ctl -m fast stop`, waiting until it is down.
    pub(crate) fn stop_fast(&self) -> Result<(), String> {
        self.as_postgres(&[
            &format!("{BIN}/pg_ctl"),
            "-D",
            &self.data(),
            "-m",
            "fast",
            "-w",
            "stop",
        ])
        .map(drop)
    }

    /// `pg_isready` from the test process, over the bridge.
    pub(crate) fn ready(&self) -> bool {
        run(
            &format!("{BIN}/pg_isready"),
            &[
                "-q",
                "-h",
                &self.addr.ip().to_string(),
                "-p",
                &PORT.to_string(),
                "-t",
                "1",
            ],
        )
        .is_ok()
    }

    /// Waits until [`Self::ready`], for at most `limit`.
    pub(crate) fn wait_ready(&self, limit: Duration) -> Result<Duration, String> {
        let started = Instant::now();
        while !self.ready() {
            if started.elapsed() > limit {
                return Err(format!("PostgreSQL not back within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(started.elapsed())
    }

    /// A URL for the `postgres` database at `addr` (PostgreSQL's or
    /// pgbouncer's).
    pub(crate) fn url(addr: SocketAddr) -> String {
        format!("postgres://postgres@{addr}/postgres")
    }

    /// Starts pgbouncer 1.18 in transaction pooling mode in front of this
    /// server, as `postgres`, on [`BOUNCER_PORT`]; returns its address once
    /// it accepts connections.
    pub(crate) fn start_bouncer(&mut self, pool_size: u32) -> Result<SocketAddr, String> {
        let (uid, gid) = postgres_ids()?;
        let ip: Ipv4Addr = match self.addr.ip() {
            std::net::IpAddr::V4(ip) => ip,
            std::net::IpAddr::V6(_) => return Err("an IPv6 address".into()),
        };
        let dir = self.dir.join("bouncer");
        std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        let ini = dir.join("pgbouncer.ini");
        let users = dir.join("userlist.txt");
        std::fs::write(&users, "\"postgres\" \"\"\n").map_err(|e| e.to_string())?;
        std::fs::write(
            &ini,
            format!(
                "[databases]\n\
                 postgres = host={ip} port={PORT} dbname=postgres\n\
                 [pgbouncer]\n\
                 listen_addr = {ip}\n\
                 listen_port = {BOUNCER_PORT}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {users}\n\
                 pool_mode = transaction\n\
                 default_pool_size = {pool_size}\n\
                 max_client_conn = 200\n\
                 ignore_startup_parameters = extra_float_digits\n\
                 logfile = {log}\n\
                 pidfile = {pid}\n",
                users = users.display(),
                log = dir.join("pgbouncer.log").display(),
                pid = dir.join("pgbouncer.pid").display(),
            ),
        )
        .map_err(|e| e.to_string())?;
        let child = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                "setpriv",
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
                "pgbouncer",
                "-q",
            ])
            .arg(&ini)
            .stdin(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("pgbouncer: {e}"))?;
        self.bouncer = Some(child);
        let addr = SocketAddr::new(ip.into(), BOUNCER_PORT);
        let started = Instant::now();
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(Ok(Some(status))) = self.bouncer.as_mut().map(|c| c.try_wait()) {
                return Err(format!(
                    "pgbouncer exited with {status}: {}",
                    std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default()
                ));
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err("pgbouncer does not accept connections".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(addr)
    }

    /// pgbouncer's log so far.
    pub(crate) fn bouncer_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("bouncer/pgbouncer.log")).unwrap_or_default()
    }
}

fn append(path: &str, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{path}: {e}"))
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut bouncer) = self.bouncer.take() {
            let _ = bouncer.kill();
            let _ = bouncer.wait();
        }
        if self.dir.join("data/postmaster.pid").exists() {
            if let Err(e) = self.as_postgres(&[
                &format!("{BIN}/pg_ctl"),
                "-D",
                &self.data(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ]) {
                eprintln!("netfaults: cleanup: {e}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
