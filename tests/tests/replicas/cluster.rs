//! A PostgreSQL 15 primary and its streaming replicas, of the test's own:
//! `initdb` into a temporary directory owned by the `postgres` user (the
//! server refuses to run as root), each server on a free loopback port,
//! trust authentication from 127.0.0.1, replicas cloned with
//! `pg_basebackup -R` (which writes their `primary_conninfo`). A replica's
//! lag is made deterministic with `recovery_min_apply_delay`. Everything
//! is stopped and removed when the cluster is dropped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use occ_tests::process::append;
pub(crate) use occ_tests::process::{postgres_ids, run, POSTGRES_BIN as BIN};

/// Runs a command as the `postgres` user.
fn as_postgres(args: &[&str]) -> Result<String, String> {
    let mut all = vec![
        "--reuid=postgres",
        "--regid=postgres",
        "--init-groups",
        "--",
    ];
    all.extend_from_slice(args);
    run("setpriv", &all)
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// One server of the cluster: its data directory and port.
pub(crate) struct Server {
    data: String,
    log: String,
    /// Its address.
    pub(crate) addr: SocketAddr,
}

impl Server {
    /// `pg_ctl start`, waiting until it accepts connections.
    pub(crate) fn start(&self) -> Result<(), String> {
        as_postgres(&[
            &format!("{BIN}/pg_ctl"),
            "-D",
            &self.data,
            "-l",
            &self.log,
            "-w",
            "-t",
            "60",
            "start",
        ])
        .map(drop)
        .map_err(|e| {
            format!(
                "{e}\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            )
        })
    }

    /// `pg_ctl -m fast stop`, waiting until it is down.
    pub(crate) fn stop(&self) -> Result<(), String> {
        as_postgres(&[
            &format!("{BIN}/pg_ctl"),
            "-D",
            &self.data,
            "-m",
            "fast",
            "-w",
            "stop",
        ])
        .map(drop)
    }

    /// `pg_ctl promote`: a replica becomes a primary of its own.
    pub(crate) fn promote(&self) -> Result<(), String> {
        as_postgres(&[&format!("{BIN}/pg_ctl"), "-D", &self.data, "-w", "promote"]).map(drop)
    }

    /// Sets `recovery_min_apply_delay` (a replica's deterministic lag) and
    /// reloads the configuration.
    pub(crate) fn set_apply_delay(&self, delay: Duration) -> Result<(), String> {
        append(
            &format!("{}/postgresql.conf", self.data),
            &format!("recovery_min_apply_delay = '{}ms'\n", delay.as_millis()),
        )?;
        as_postgres(&[&format!("{BIN}/pg_ctl"), "-D", &self.data, "reload"]).map(drop)
    }

    /// A URL for the `postgres` database.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@{}/postgres", self.addr)
    }
}

/// A primary and its replicas, stopped and removed when dropped.
pub(crate) struct Cluster {
    dir: PathBuf,
    /// The primary.
    pub(crate) primary: Server,
    /// Its streaming replicas.
    pub(crate) replicas: Vec<Server>,
}

impl Cluster {
    /// A primary with `replicas` streaming replicas, all started.
    pub(crate) fn start(replicas: usize) -> Result<Cluster, String> {
        let (uid, gid) = postgres_ids()?;
        let dir = std::env::temp_dir().join(occ_tests::unique_name("occ_replicas"));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        let server = |name: &str| -> Result<Server, String> {
            Ok(Server {
                data: format!("{}/{name}", dir.display()),
                log: format!("{}/{name}.log", dir.display()),
                addr: SocketAddr::from(([127, 0, 0, 1], free_port()?)),
            })
        };
        let mut cluster = Cluster {
            primary: server("primary")?,
            replicas: Vec::new(),
            dir: dir.clone(),
        };
        let primary = &cluster.primary;
        as_postgres(&[
            &format!("{BIN}/initdb"),
            "--no-sync",
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "-D",
            &primary.data,
        ])?;
        let conf = |port: u16| {
            format!(
                "listen_addresses = '127.0.0.1'\n\
                 port = {port}\n\
                 unix_socket_directories = '{dir}'\n\
                 max_connections = 100\n\
                 fsync = off\n\
                 wal_level = replica\n\
                 max_wal_senders = 10\n\
                 hot_standby_feedback = on\n",
                dir = dir.display(),
            )
        };
        append(
            &format!("{}/postgresql.conf", primary.data),
            &conf(primary.addr.port()),
        )?;
        std::fs::write(
            format!("{}/pg_hba.conf", primary.data),
            "local all all trust\nlocal replication all trust\n\
             host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
        )
        .map_err(|e| e.to_string())?;
        primary.start()?;
        for i in 0..replicas {
            let replica = server(&format!("replica{i}"))?;
            as_postgres(&[
                &format!("{BIN}/pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                &cluster.primary.addr.port().to_string(),
                "-U",
                "postgres",
                "-D",
                &replica.data,
                "-R",
                "-X",
                "stream",
                "--no-sync",
                "-c",
                "fast",
            ])?;
            // The port is the clone's own; the rest is the primary's.
            append(
                &format!("{}/postgresql.conf", replica.data),
                &format!("port = {}\n", replica.addr.port()),
            )?;
            replica.start()?;
            cluster.replicas.push(replica);
        }
        Ok(cluster)
    }

    fn stop_all(&self) {
        for server in self.replicas.iter().chain([&self.primary]) {
            if std::path::Path::new(&format!("{}/postmaster.pid", server.data)).exists() {
                if let Err(e) = as_postgres(&[
                    &format!("{BIN}/pg_ctl"),
                    "-D",
                    &server.data,
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ]) {
                    eprintln!("replicas: cleanup: {e}");
                }
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_all();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
