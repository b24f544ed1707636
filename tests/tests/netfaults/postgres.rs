//! A PostgreSQL instance of the test's own, in the database namespace:
//! `initdb` into a temporary directory owned by the `postgres` user (the
//! server refuses to run as root), listening on that namespace's address
//! only, trust authentication for the test's subnet, and settings that
//! release a partitioned client's locks within seconds; and pgbouncer in
//! front of it when asked.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::net::{run, Net};

use occ_tests::process::append;
pub(crate) use occ_tests::process::{postgres_ids, POSTGRES_BIN as BIN};

/// The port PostgreSQL listens on, in its own namespace.
pub(crate) const PORT: u16 = 5432;
/// A session idle inside a transaction for longer is ended by the server.
pub(crate) const IDLE_IN_TRANSACTION: &str = "3s";

/// A running PostgreSQL (and maybe pgbouncer), stopped and removed when
/// dropped.
pub(crate) struct Postgres {
    dir: PathBuf,
    ns: String,
    /// Its address.
    pub(crate) addr: SocketAddr,
    bouncers: Vec<std::process::Child>,
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
            bouncers: Vec::new(),
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

    /// A URL for the `postgres` database at `addr` (PostgreSQL's or
    /// pgbouncer's).
    pub(crate) fn url(addr: SocketAddr) -> String {
        format!("postgres://postgres@{addr}/postgres")
    }

    /// Starts pgbouncer in front of this server, as `postgres`, in
    /// `pool_mode` (`transaction`, `session`) on `port` of the same
    /// namespace, with a generated ini and user list (trust
    /// authentication); returns its address once it accepts connections.
    pub(crate) fn start_bouncer(
        &mut self,
        pool_mode: &str,
        port: u16,
        pool_size: u32,
    ) -> Result<SocketAddr, String> {
        let (uid, gid) = postgres_ids()?;
        let ip: Ipv4Addr = match self.addr.ip() {
            std::net::IpAddr::V4(ip) => ip,
            std::net::IpAddr::V6(_) => return Err("an IPv6 address".into()),
        };
        let dir = self.dir.join(format!("bouncer-{port}"));
        std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        let ini = dir.join("pgbouncer.ini");
        let users = dir.join("userlist.txt");
        let log = dir.join("pgbouncer.log");
        std::fs::write(&users, "\"postgres\" \"\"\n").map_err(|e| e.to_string())?;
        // sqlx sends extra_float_digits at startup, which pgbouncer refuses
        // unless told to ignore it.
        std::fs::write(
            &ini,
            format!(
                "[databases]\n\
                 postgres = host={ip} port={PORT} dbname=postgres\n\
                 [pgbouncer]\n\
                 listen_addr = {ip}\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {users}\n\
                 pool_mode = {pool_mode}\n\
                 default_pool_size = {pool_size}\n\
                 max_client_conn = 200\n\
                 ignore_startup_parameters = extra_float_digits\n\
                 logfile = {log}\n",
                users = users.display(),
                log = log.display(),
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut child = std::process::Command::new("ip")
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
        let addr = SocketAddr::new(ip.into(), port);
        let started = Instant::now();
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            let ended = child.try_wait().ok().flatten();
            if ended.is_some() || started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "pgbouncer ({ended:?}) does not accept connections: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.bouncers.push(child);
        Ok(addr)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        for mut bouncer in self.bouncers.drain(..) {
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
