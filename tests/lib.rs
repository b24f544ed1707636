//! Support for the workspace-level tests: backends to run the same suites
//! against ([`Db`], [`on_every_backend!`]), each isolated so tests run in
//! parallel and cleaned up even when a test panics ([`DropOnExit`]), and
//! clients for the services under test ([`send`] in process, [`http()`]
//! over TCP).
#![forbid(unsafe_code)]
// Test support: a failed setup step should stop the test loudly.
#![allow(clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};

#[path = "support/backend.rs"]
mod backend;
pub use backend::Db;

#[path = "support/process.rs"]
pub mod process;

use occ_core::repository::sql::SqlModel;
use occ_core::repository::{Repository, RetryPolicy};
use occ_core::Versioned;
use serde::{Deserialize, Serialize};
use sqlx::error::BoxDynError;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{
    Arguments, AssertSqlSafe, Database, Encode, FromRow, MySqlPool, PgPool, SqlitePool, Type,
};

/// The model of the repository tests: a named counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromRow, Versioned)]
#[occ(etag = "item-{id}-v{version}")]
pub struct Item {
    /// The id.
    pub id: i64,
    /// The version.
    #[version]
    pub version: i64,
    /// A name.
    pub name: String,
    /// A counter, incremented by the contention tests.
    pub count: i64,
}

impl Item {
    /// A new item at version 1.
    pub fn new(id: i64, name: &str) -> Self {
        Self {
            id,
            version: 1,
            name: name.to_owned(),
            count: 0,
        }
    }
}

/// The mapping written by hand, as a custom model would: one impl for every
/// sqlx database that can store its column types.
impl<DB: Database> SqlModel<DB> for Item
where
    Item: for<'r> FromRow<'r, DB::Row>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
{
    const TABLE: &'static str = "items";
    const ID_COLUMN: &'static str = "id";
    const VERSION_COLUMN: &'static str = "version";
    const DATA_COLUMNS: &'static [&'static str] = &["name", "count"];

    fn bind_id(id: &i64, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
        args.add(*id)
    }

    fn bind_data(&self, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
        args.add(&self.name)?;
        args.add(self.count)
    }
}

/// The `items` table, for SQLite, PostgreSQL and MariaDB/MySQL alike.
pub const ITEMS_DDL: &str = "CREATE TABLE IF NOT EXISTS items (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    count BIGINT NOT NULL
)";

/// Increments item `id`'s counter `increments` times from each of `tasks`
/// concurrent tasks, each increment a read-modify-write retried on
/// conflict. Returns (successful writes, attempts).
pub async fn hammer<R>(repo: std::sync::Arc<R>, id: i64, tasks: u32, increments: u32) -> (u64, u64)
where
    R: Repository<Item> + 'static,
{
    let policy = RetryPolicy {
        max_attempts: 100_000,
        initial_backoff: std::time::Duration::from_micros(200),
        max_backoff: std::time::Duration::from_millis(20),
    };
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let repo = repo.clone();
        handles.push(tokio::spawn(async move {
            let (mut ok, mut attempts) = (0u64, 0u64);
            for _ in 0..increments {
                occ_core::repository::retry_on_conflict(&*repo, &id, policy, |item: &mut Item| {
                    attempts += 1;
                    item.count += 1;
                    Ok(())
                })
                .await
                .expect("increment");
                ok += 1;
            }
            (ok, attempts)
        }));
    }
    let mut total = (0, 0);
    for handle in handles {
        let (ok, attempts) = handle.await.expect("task");
        total.0 += ok;
        total.1 += attempts;
    }
    total
}

/// The PostgreSQL URL for tests, from `OCC_TEST_POSTGRES_URL`.
///
/// When it is unset, prints that the calling test is skipped and returns
/// `None`, unless `OCC_REQUIRE_POSTGRES=1`, which makes a missing URL a
/// failure (CI sets both). Such tests also carry
/// `#[cfg_attr(occ_no_postgres, ignore = "OCC_TEST_POSTGRES_URL is not set")]`
/// (see `build.rs`), so that `cargo test` lists them as ignored, with the
/// reason, in its normal output.
pub fn postgres_url(test: &str) -> Option<String> {
    database_url(test, "OCC_TEST_POSTGRES_URL", "OCC_REQUIRE_POSTGRES")
}

/// The MariaDB/MySQL URL for tests, from `OCC_TEST_MYSQL_URL` (for example
/// `mysql://root@127.0.0.1:3306/test`), as [`postgres_url`] does: `None`
/// when unset, a failure when `OCC_REQUIRE_MYSQL=1`. Such tests carry
/// `#[cfg_attr(occ_no_mysql, ignore = "OCC_TEST_MYSQL_URL is not set")]`.
pub fn mysql_url(test: &str) -> Option<String> {
    database_url(test, "OCC_TEST_MYSQL_URL", "OCC_REQUIRE_MYSQL")
}

fn database_url(test: &str, var: &str, require: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var(require).as_deref() != Ok("1"),
                "{test}: {require}=1 but {var} is not set"
            );
            eprintln!("{test}: skipped, {var} is not set");
            None
        }
    }
}

/// A name unique to this process and call, for schemas and files.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A pool whose connections use a fresh schema `schema` (created here), so
/// that unqualified table names are private to one test.
pub async fn postgres_pool_in_schema(url: &str, schema: &str, max: u32) -> PgPool {
    let admin = PgPool::connect(url).await.expect("connect to PostgreSQL");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
    )))
    .execute(&admin)
    .await
    .expect("create schema");
    admin.close().await;
    let options: PgConnectOptions = url.parse().expect("PostgreSQL URL");
    PgPoolOptions::new()
        .max_connections(max)
        .connect_with(options.options([("search_path", schema)]))
        .await
        .expect("connect to PostgreSQL")
}

/// Drops a schema made by [`postgres_pool_in_schema`].
pub async fn drop_schema(url: &str, schema: &str) {
    if let Ok(admin) = PgPool::connect(url).await {
        let _ = sqlx::query(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
        )))
        .execute(&admin)
        .await;
        admin.close().await;
    }
}

/// A PostgreSQL schema or a MariaDB database a test made, dropped when
/// this is: a test holds one for as long as it uses the database.
#[derive(Debug)]
pub enum DropOnExit {
    /// A schema made by [`postgres_pool_in_schema`].
    Schema {
        /// The server's URL.
        url: String,
        /// The schema.
        schema: String,
    },
    /// A database made by [`mysql_pool_in_database`].
    Database {
        /// The server's URL.
        url: String,
        /// The database.
        database: String,
    },
    /// A SQLite file, with its journal (`-wal`, `-shm`).
    File {
        /// The file's path.
        path: std::path::PathBuf,
    },
}

impl DropOnExit {
    /// The schema `schema` on the PostgreSQL server of `url`.
    pub fn schema(url: &str, schema: &str) -> Self {
        Self::Schema {
            url: url.to_owned(),
            schema: schema.to_owned(),
        }
    }

    /// The database `database` on the MariaDB server of `url`.
    pub fn database(url: &str, database: &str) -> Self {
        Self::Database {
            url: url.to_owned(),
            database: database.to_owned(),
        }
    }

    /// The SQLite file of `url` (`sqlite://…`, as [`sqlite_file_pool`]
    /// returns it).
    pub fn sqlite_file(url: &str) -> Self {
        Self::File {
            path: url.trim_start_matches("sqlite://").into(),
        }
    }

    /// The schema's or the database's name (unique to the test run; on
    /// PostgreSQL also the `application_name` of the connections of an
    /// [`example_database`] URL), or the file's path.
    pub fn name(&self) -> String {
        match self {
            Self::Schema { schema, .. } => schema.clone(),
            Self::Database { database, .. } => database.clone(),
            Self::File { path } => path.display().to_string(),
        }
    }

    /// The URL of the server that holds it, for an administrator's
    /// connection (SQLite: the file's).
    pub fn server_url(&self) -> String {
        match self {
            Self::Schema { url, .. } | Self::Database { url, .. } => url.clone(),
            Self::File { path } => format!("sqlite://{}", path.display()),
        }
    }
}

impl Drop for DropOnExit {
    fn drop(&mut self) {
        let what = match self {
            Self::Schema { url, schema } => (url.clone(), schema.clone(), true),
            Self::Database { url, database } => (url.clone(), database.clone(), false),
            Self::File { path } => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
                return;
            }
        };
        // Dropping needs a runtime of its own: the test's is shutting down.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            match what {
                (url, schema, true) => runtime.block_on(drop_schema(&url, &schema)),
                (url, database, false) => runtime.block_on(drop_database(&url, &database)),
            }
        })
        .join();
    }
}

/// A pool whose connections use a fresh database `database` (created
/// here, on the server of `url`), so that table names are private to one
/// test. MariaDB and MySQL have no schemas within a database: a database
/// is the unit of isolation.
pub async fn mysql_pool_in_database(url: &str, database: &str, max: u32) -> MySqlPool {
    let admin = MySqlPool::connect(url).await.expect("connect to MariaDB");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE DATABASE IF NOT EXISTS `{database}`"
    )))
    .execute(&admin)
    .await
    .expect("create database");
    admin.close().await;
    let options: MySqlConnectOptions = url.parse().expect("MariaDB URL");
    MySqlPoolOptions::new()
        .max_connections(max)
        .connect_with(options.database(database))
        .await
        .expect("connect to MariaDB")
}

/// `url` with its database replaced by `database` (query parameters
/// kept), for the tests that hand a URL to a server or a worker process.
pub fn mysql_database_url(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Drops a database made by [`mysql_pool_in_database`].
pub async fn drop_database(url: &str, database: &str) {
    if let Ok(admin) = MySqlPool::connect(url).await {
        let _ = sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS `{database}`"
        )))
        .execute(&admin)
        .await;
        admin.close().await;
    }
}

/// A PostgreSQL schema of the test's own, named after `prefix`: a pool of
/// at most `max` connections that use it, and the guard that drops it when
/// the test ends, even on a panic. `None` (the test `test` said to be
/// skipped) when `OCC_TEST_POSTGRES_URL` is unset.
pub async fn postgres_schema(test: &str, prefix: &str, max: u32) -> Option<(PgPool, DropOnExit)> {
    let url = postgres_url(test)?;
    let schema = unique_name(prefix);
    let guard = DropOnExit::schema(&url, &schema);
    Some((postgres_pool_in_schema(&url, &schema, max).await, guard))
}

/// A MariaDB database of the test's own, as [`postgres_schema`] makes a
/// schema: `None` when `OCC_TEST_MYSQL_URL` is unset.
pub async fn mariadb_database(
    test: &str,
    prefix: &str,
    max: u32,
) -> Option<(MySqlPool, DropOnExit)> {
    let url = mysql_url(test)?;
    let database = unique_name(prefix);
    let guard = DropOnExit::database(&url, &database);
    Some((mysql_pool_in_database(&url, &database, max).await, guard))
}

/// A fresh SQLite file in the system's temporary directory, opened for
/// concurrent writers; returns the pool and the file's URL.
pub async fn sqlite_file_pool(prefix: &str) -> (SqlitePool, String) {
    let path = std::env::temp_dir().join(format!("{}.db", unique_name(prefix)));
    let url = format!("sqlite://{}", path.display());
    let pool = occ_core::repository::sql::sqlite_pool(&url)
        .await
        .expect("open SQLite file");
    (pool, url)
}

/// A database of the test's own for an example service (`connect` of
/// `occ_examples` or its modules) on the SQL backend `db`: its URL, and
/// the guard that drops it. `None` when the backend's URL is unset (after
/// [`postgres_url`] or [`mysql_url`] said so). On PostgreSQL the URL's
/// connections carry the schema's name as their `application_name`
/// ([`DropOnExit::name`]), so that a test can find (and end) exactly the
/// service's connections.
pub async fn example_database(db: Db, test: &str) -> Option<(String, DropOnExit)> {
    // A name for SQL and files: the test's, lowercase, its odd characters
    // replaced (PostgreSQL folds an unquoted search_path to lowercase).
    let prefix: String = test
        .chars()
        .take(24)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let prefix = prefix.as_str();
    match db {
        Db::Memory => panic!("{test}: the example services run on SQL backends only"),
        Db::Sqlite => {
            let path = std::env::temp_dir().join(format!("{}.db", unique_name(prefix)));
            let url = format!("sqlite://{}", path.display());
            let guard = DropOnExit::sqlite_file(&url);
            // Made here, as the other backends' schemas are, and in WAL
            // mode (`sqlite_pool`'s), which a service's writers need.
            occ_core::repository::sql::sqlite_pool(&url)
                .await
                .expect("create the SQLite file")
                .close()
                .await;
            Some((url, guard))
        }
        Db::Postgres => {
            let url = postgres_url(test)?;
            let schema = unique_name(prefix);
            let guard = DropOnExit::schema(&url, &schema);
            postgres_pool_in_schema(&url, &schema, 1)
                .await
                .close()
                .await;
            let sep = if url.contains('?') { '&' } else { '?' };
            Some((
                format!("{url}{sep}options=-c%20search_path%3D{schema}&application_name={schema}"),
                guard,
            ))
        }
        Db::MariaDb => {
            let url = mysql_url(test)?;
            let database = unique_name(prefix);
            let guard = DropOnExit::database(&url, &database);
            mysql_pool_in_database(&url, &database, 1)
                .await
                .close()
                .await;
            Some((mysql_database_url(&url, &database), guard))
        }
    }
}

/// A response read off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header lines, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// Sends one HTTP/1.1 request over a fresh TCP connection and reads the
/// whole response (`Connection: close`), byte for byte as a client sees it.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    let raw = exchange(addr, method, path, headers, body)
        .await
        .expect("an exchange");
    parse_response(&raw, method == "HEAD").expect("a well-formed response")
}

/// The raw half of [`http()`]: writes the request on a fresh connection and
/// returns every byte the server sent until it closed. An error is an I/O
/// failure (`connect: …`, `send: …`, `read: …`): what a killed server
/// looks like to its clients.
pub async fn exchange(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Vec<u8>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH") {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|e| format!("read: {e}"))?;
    Ok(raw)
}

/// Parses a whole HTTP/1.1 response as read from a closed connection
/// (`head`: the answer to a HEAD, whose framing headers announce no body).
/// A truncated or malformed response is an error, not a panic: the fault
/// tests read responses from servers they kill.
pub fn parse_response(raw: &[u8], head: bool) -> Result<RawResponse, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("incomplete response ({} bytes)", raw.len()))?;
    let head_text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line in {head_text:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if !head {
        if headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
        {
            body = dechunk(&body).ok_or("malformed chunked body")?;
        } else if let Some((_, len)) = headers.iter().find(|(n, _)| n == "content-length") {
            let len: usize = len.parse().map_err(|_| "bad Content-Length")?;
            if body.len() != len {
                return Err(format!("body of {} bytes, expected {len}", body.len()));
            }
        }
    }
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..eol]).ok()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        let chunk = data.get(eol + 2..eol + 2 + size)?;
        out.extend_from_slice(chunk);
        data = data.get(eol + 4 + size..)?;
    }
}

/// Serves `app` on an ephemeral loopback port until the test ends.
pub async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// The binary of the occ-examples example `name` (`client`,
/// `handwritten`) beside the running test's, built (or brought up to date:
/// a run of this package alone does not build the examples) first. Built
/// with the whole workspace's features, as `cargo test --workspace` builds
/// it: `-p occ-examples` alone would resolve other features and compile
/// every dependency a second time.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "--workspace", "--example", name]);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building the {name} example");
    profile_dir.join("examples").join(name)
}

/// A server process (such as `occ-profiles-server`) on a free port, killed
/// when dropped. The binary prints its bound address alone on one line.
pub struct ServerProcess {
    child: std::process::Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
}

impl ServerProcess {
    /// Starts `binary` with `LISTEN_ADDR=127.0.0.1:0` and `database_url`,
    /// and waits for the address it prints. Integration tests pass
    /// `env!("CARGO_BIN_EXE_<name>")`.
    pub async fn start(binary: &'static str, database_url: &str) -> Self {
        Self::start_with_env(binary, database_url, &[]).await
    }

    /// [`start`](Self::start) with the variables `env` set too, such as
    /// `CORS_ORIGIN`.
    pub async fn start_with_env(
        binary: &'static str,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let url = database_url.to_owned();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        tokio::task::spawn_blocking(move || Self::start_blocking(binary, &url, &env))
            .await
            .expect("the starting thread")
    }

    fn start_blocking(binary: &str, database_url: &str, env: &[(String, String)]) -> Self {
        let mut command = std::process::Command::new(binary);
        command
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", database_url)
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stderr(std::process::Stdio::inherit());
        Self::spawn(command).unwrap_or_else(|e| panic!("{binary}: {e}"))
    }

    /// Spawns `command` (a server that prints its bound address alone on
    /// one line of stdout, its stdin and stdout redirected here), waits for
    /// that line for at most a minute, and returns the running process; or
    /// why not, naming its exit status when it ended first.
    pub fn spawn(mut command: std::process::Command) -> Result<Self, String> {
        use std::io::BufRead as _;
        use std::process::Stdio;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let stdout = child.stdout.take().expect("a piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(read.map(|_| line));
        });
        let line = match rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(Ok(line)) => line,
            other => {
                let _ = child.kill();
                let status = child.wait();
                return Err(format!(
                    "did not report its address ({other:?}), ended with {status:?}"
                ));
            }
        };
        let Ok(addr) = line.trim().parse() else {
            let _ = child.kill();
            let status = child.wait();
            return Err(format!("printed {line:?} and ended with {status:?}"));
        };
        Ok(Self { child, addr })
    }

    /// Panics unless the process is still running.
    pub fn assert_alive(&mut self) {
        let status = self.child.try_wait().expect("the process status");
        assert!(status.is_none(), "server {} exited: {status:?}", self.addr);
    }

    /// SIGKILL (`Child::kill` on Unix), then reaps the process.
    pub fn kill(&mut self) -> std::process::ExitStatus {
        self.assert_alive();
        self.child.kill().expect("kill");
        self.child.wait().expect("reap")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response from an in-process exchange with [`send`].
pub struct Reply {
    /// The status.
    pub status: http::StatusCode,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The whole body.
    pub body: Vec<u8>,
}

/// The body as text, so that a failed assertion shows what was sent.
impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.text())
            .finish()
    }
}

impl Reply {
    /// Header `name`, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON; the test fails, showing the body, when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("JSON body, got {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request through `app` in process (tower's `oneshot`) and
/// collects the whole response.
pub async fn send(
    app: &axum::Router,
    method: http::Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut request = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(axum::body::Body::from(body.to_owned()))
        .expect("a valid request");
    send_request(app, request).await
}

/// [`send`] for a request built by the caller (with extensions, say).
pub async fn send_request(app: &axum::Router, request: http::Request<axum::body::Body>) -> Reply {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body
            .collect()
            .await
            .expect("a whole body")
            .to_bytes()
            .to_vec(),
    }
}
