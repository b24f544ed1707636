//! The profiles page (`GET /app`, `examples/page.rs`) in a real browser,
//! headless Chromium driven through chromedriver, as a browser app on
//! another origin uses the API: it reads the `ETag` cross-origin (visible
//! only because `CORS_ORIGIN` exposes it), its stale `If-Match` save gets
//! the 412 whose `current` and `current_etag` it shows, it merges and saves
//! again, and its save without a precondition gets the 428. A page of an
//! origin the API does not allow cannot read the profile at all; the page
//! served by the API itself calls its own origin.
//!
//! Three origins, all on 127.0.0.1: the profiles server (the
//! `occ-profiles-server` process, `CORS_ORIGIN` = the page's origin), the
//! page's (a server of the same page in this test) and one not allowed.
//!
//! Without `chromium` or `chromedriver` the test says it is skipped and
//! passes, unless `OCC_REQUIRE_BROWSER=1` (CI), which makes it fail; CI
//! installs them with `.ci/browser-deps`. It writes a screenshot of the
//! page after the 412 to `target/browser/after-412.png`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use occ_tests::ServerProcess;
use serde_json::{json, Value};

/// The whole test, browser start included.
const WHOLE_TEST: Duration = Duration::from_secs(180);
/// One step of the page: an answer shown, a page loaded.
const STEP: Duration = Duration::from_secs(20);

/// `name` on `PATH`.
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The browser and its driver, or `None` (and a line saying the test is
/// skipped) when one is missing; with `OCC_REQUIRE_BROWSER=1` a missing
/// one is a failure.
fn browser_programs(test: &str) -> Option<(PathBuf, PathBuf)> {
    let (chromium, driver) = (program("chromium"), program("chromedriver"));
    if let (Some(chromium), Some(driver)) = (&chromium, &driver) {
        return Some((chromium.clone(), driver.clone()));
    }
    let missing = [("chromium", &chromium), ("chromedriver", &driver)]
        .iter()
        .filter(|(_, found)| found.is_none())
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(" and ");
    assert!(
        std::env::var("OCC_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "{test}: OCC_REQUIRE_BROWSER=1 but {missing} not found on PATH \
         (.ci/browser-deps installs them)"
    );
    // Straight to the file descriptor: libtest captures eprintln! of a
    // passing test, and a skip should be seen.
    let _ = writeln!(
        std::io::stderr(),
        "{test}: skipped, {missing} not found on PATH (.ci/browser-deps installs them)"
    );
    None
}

/// chromedriver in a process group of its own, with the Chromium it
/// starts, and a fresh profile directory: all gone when dropped, whether
/// the test passed or not.
struct Browser {
    driver: Child,
    /// Removed after the processes are ended (fields drop after `drop`).
    dir: TempDir,
    url: String,
}

impl Browser {
    fn start(driver: &Path) -> Self {
        use std::os::unix::process::CommandExt as _;
        let temp = TempDir::new("occ_browser");
        let dir = &temp.0;
        std::fs::create_dir_all(dir.join("profile")).expect("a temporary directory");
        let port = free_port();
        let log = std::fs::File::create(dir.join("chromedriver.log")).expect("a log file");
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                dir.join("chromedriver.log").display()
            ))
            // Chromium's crash reports and caches go there too, not in
            // the home directory.
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", driver.display()));
        Self {
            driver: child,
            dir: temp,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Waits until chromedriver accepts connections. (Its `/status`
    /// answer would say more, but it keeps the connection open whatever
    /// the request says.)
    async fn ready(&mut self) {
        let addr: SocketAddr = self.url["http://".len()..].parse().expect("an address");
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(status) = self.driver.try_wait().expect("chromedriver's status") {
                panic!("chromedriver exited: {status}; {}", self.log());
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not listening: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A headless session on a fresh profile.
    async fn session(&self, chromium: &Path) -> Client {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=900,1400",
            &format!("--user-data-dir={}", self.dir.0.join("profile").display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut builder = ClientBuilder::new(connector);
        builder.capabilities(capabilities);
        let client = tokio::time::timeout(STEP, builder.connect(&self.url))
            .await
            .unwrap_or_else(|_| panic!("no browser session within {STEP:?}; {}", self.log()))
            .unwrap_or_else(|e| panic!("a browser session: {e}; {}", self.log()));
        client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(STEP),
                Some(STEP),
                Some(Duration::ZERO),
            ))
            .await
            .expect("timeouts");
        client
    }

    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.0.join("chromedriver.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        format!(
            "chromedriver's log ends with:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it
        // started, should the session not have ended them.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local address").port()
}

/// Where the screenshot goes: `browser/` in the workspace's target
/// directory (`CARGO_TARGET_DIR`, or `target` beside the workspace's
/// manifest).
fn screenshot_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace.join(dir),
        _ => workspace.join("target"),
    };
    target.join("browser")
}

/// The page, as the browser shows it.
struct Page<'a> {
    client: &'a Client,
    /// The answers seen so far.
    answers: std::cell::Cell<u64>,
}

impl Page<'_> {
    /// The text of element `id`, shown or hidden.
    async fn text(&self, id: &str) -> String {
        let value = self
            .client
            .execute(
                "const e = document.getElementById(arguments[0]); \
                 return e === null ? null : e.textContent;",
                vec![json!(id)],
            )
            .await
            .unwrap_or_else(|e| panic!("#{id}: {e}"));
        value
            .as_str()
            .unwrap_or_else(|| panic!("no element #{id}"))
            .to_owned()
    }

    /// The value of input `id`.
    async fn value(&self, id: &str) -> String {
        let input = self.client.find(Locator::Id(id)).await.expect(id);
        input.prop("value").await.expect(id).unwrap_or_default()
    }

    async fn is_hidden(&self, id: &str) -> bool {
        let e = self.client.find(Locator::Id(id)).await.expect(id);
        !e.is_displayed().await.expect(id)
    }

    async fn click(&self, id: &str) {
        let e = self.client.find(Locator::Id(id)).await.expect(id);
        e.click()
            .await
            .unwrap_or_else(|e| panic!("click #{id}: {e}"));
    }

    async fn type_into(&self, id: &str, text: &str) {
        let e = self.client.find(Locator::Id(id)).await.expect(id);
        e.clear().await.expect(id);
        e.send_keys(text).await.expect(id);
    }

    /// Opens `url` in the browser.
    async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("the page");
        self.answers.set(0);
    }

    /// Waits until `#status` shows the next answer (its `data-answers`
    /// counts them: never a former one still shown), and returns it.
    async fn answer(&self, what: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let shown = self
                .client
                .execute(
                    "const e = document.getElementById('status'); \
                     return [Number(e.dataset.answers), e.textContent];",
                    vec![],
                )
                .await
                .unwrap_or_else(|e| panic!("{what}: #status: {e}"));
            let count = shown[0].as_u64().expect("a count");
            if count > self.answers.get() {
                self.answers.set(count);
                return shown[1].as_str().expect("a status").to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "{what}: no answer shown within {STEP:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything the page shows about the last answer, for failure messages.
    async fn shown(&self) -> String {
        let mut out = String::new();
        for id in [
            "request",
            "status",
            "content-type",
            "etag",
            "outcome",
            "problem-title",
            "problem",
            "current-etag",
            "current",
            "mine",
        ] {
            out.push_str(&format!("\n  #{id}: {}", self.text(id).await));
        }
        out
    }
}

/// Serves the page alone, as a static site of another origin would.
async fn page_origin() -> String {
    let addr = occ_tests::serve(occ_examples::page::router()).await;
    format!("http://{addr}")
}

async fn etag_of(api: SocketAddr) -> String {
    let r = occ_tests::http(api, "GET", "/profiles/42", &[], "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.header("etag").expect("an ETag").to_owned()
}

/// Without a browser too: the profiles service serves the page, with the
/// elements the browser test reads.
#[tokio::test]
async fn the_profiles_service_serves_the_page_at_app() {
    let repo: std::sync::Arc<occ_examples::Profiles> =
        std::sync::Arc::new(occ_core::repository::MemoryRepository::new());
    let app = occ_examples::app(repo);
    let r = occ_tests::send(&app, http::Method::GET, "/app", &[], "").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.text();
    for id in [
        "status",
        "etag",
        "content-type",
        "problem",
        "current-etag",
        "current",
        "mine",
        "merge",
        "save",
        "save-unconditional",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "#{id}");
    }
    // Nothing from elsewhere: the page works on a machine with no network.
    for external in [
        "<script src",
        "<link",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(http",
    ] {
        assert!(!html.contains(external), "{external}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_on_another_origin_reads_the_etag_and_shows_the_412_and_428() {
    let test = "browser";
    let Some((chromium, driver)) = browser_programs(test) else {
        return;
    };
    let started = Instant::now();
    tokio::time::timeout(WHOLE_TEST, scenario(&chromium, &driver))
        .await
        .unwrap_or_else(|_| panic!("{test}: not done within {WHOLE_TEST:?}"));
    let _ = writeln!(
        std::io::stderr(),
        "{test}: done in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

async fn scenario(chromium: &Path, driver: &Path) {
    // The page's origin, the one the API allows, and another.
    let page = page_origin().await;
    let stranger = page_origin().await;
    let dir = TempDir::new("occ_browser_db");
    let database = format!("sqlite://{}", dir.0.join("profiles.db").display());
    let server = ServerProcess::start_with_env(
        env!("CARGO_BIN_EXE_occ-profiles-server"),
        &database,
        &[("CORS_ORIGIN", &page)],
    )
    .await;
    let api = server.addr;

    let mut browser = Browser::start(driver);
    browser.ready().await;
    let client = browser.session(chromium).await;
    // A failed step panics here: the browser's and the server's guards end
    // their processes as the panic unwinds.
    steps(&client, &page, &stranger, api).await;
    let _ = client.close().await;
    drop(browser);
    drop(server);
    drop(dir);
}

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(occ_tests::unique_name(prefix));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn steps(client: &Client, page_origin: &str, stranger: &str, api: SocketAddr) {
    let page = Page {
        client,
        answers: std::cell::Cell::new(0),
    };
    let api_origin = format!("http://{api}");

    // 1. The page loads profile 42 from the API's origin and holds its tag.
    let v7 = etag_of(api).await;
    page.open(&format!("{page_origin}/app?api={api_origin}"))
        .await;
    assert_eq!(page.answer("load").await, "200", "{}", page.shown().await);
    assert_eq!(
        page.text("etag").await,
        v7,
        "the ETag read cross-origin is the API's: {}",
        page.shown().await
    );
    assert_eq!(page.value("name").await, "Ava");
    assert_eq!(page.value("city").await, "Paris");
    assert!(page.is_hidden("conflict").await);

    // 2. Another tab saves first, behind the page's back.
    let r = occ_tests::http(
        api,
        "PUT",
        "/profiles/42",
        &[("if-match", &v7), ("content-type", "application/json")],
        r#"{"name":"Ava Smith"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v8 = r.header("etag").expect("an ETag").to_owned();
    assert_ne!(v8, v7);

    // 3. The page's save, with its stale tag, is 412: it shows the current
    // state and tag the problem carries.
    page.type_into("city", "Lyon").await;
    page.click("save").await;
    assert_eq!(
        page.answer("stale save").await,
        "412",
        "{}",
        page.shown().await
    );
    assert_eq!(page.text("content-type").await, "application/problem+json");
    assert!(!page.is_hidden("conflict").await, "{}", page.shown().await);
    assert_eq!(
        page.text("current-etag").await,
        v8,
        "{}",
        page.shown().await
    );
    let current: Value = serde_json::from_str(&page.text("current").await).expect("JSON");
    assert_eq!(
        current,
        json!({"id": 42, "name": "Ava Smith", "city": "Paris"}),
        "the current state, the other tab's save in it"
    );
    let mine: Value = serde_json::from_str(&page.text("mine").await).expect("JSON");
    assert_eq!(
        mine,
        json!({"city": "Lyon"}),
        "the page's edit, a partial body"
    );
    let problem: Value = serde_json::from_str(&page.text("problem").await).expect("JSON");
    assert_eq!(problem["status"], json!(412));
    assert_eq!(problem["current_etag"], json!(v8));
    // Nothing was written by the refused save.
    assert_eq!(etag_of(api).await, v8);
    let shot = client.screenshot().await.expect("a screenshot");
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    std::fs::write(dir.join("after-412.png"), shot).expect("the screenshot");

    // 4. Merging applies the page's edit to that state and holds its tag:
    // the next save needs no GET and keeps both edits.
    page.click("merge").await;
    assert_eq!(page.text("etag").await, v8);
    assert_eq!(page.value("name").await, "Ava Smith");
    assert_eq!(page.value("city").await, "Lyon");
    page.click("save").await;
    assert_eq!(
        page.answer("merged save").await,
        "200",
        "{}",
        page.shown().await
    );
    let v9 = etag_of(api).await;
    assert_ne!(v9, v8);
    assert_eq!(
        page.text("etag").await,
        v9,
        "the new tag, read cross-origin"
    );
    let r = occ_tests::http(api, "GET", "/profiles/42", &[], "").await;
    assert_eq!(
        r.json(),
        json!({"id": 42, "name": "Ava Smith", "city": "Lyon"})
    );

    // 5. A save without a precondition is 428, a problem the page can read.
    page.type_into("city", "Nice").await;
    page.click("save-unconditional").await;
    assert_eq!(
        page.answer("unconditional save").await,
        "428",
        "{}",
        page.shown().await
    );
    assert_eq!(page.text("content-type").await, "application/problem+json");
    let problem: Value = serde_json::from_str(&page.text("problem").await).expect("JSON");
    assert_eq!(problem["status"], json!(428));
    assert_eq!(etag_of(api).await, v9, "nothing written");

    // 6. The same page from an origin the API does not allow: the browser
    // withholds the answer, so neither the profile nor its tag is seen.
    page.open(&format!("{stranger}/app?api={api_origin}")).await;
    assert_eq!(
        page.answer("load from a stranger").await,
        "network error",
        "{}",
        page.shown().await
    );
    assert_eq!(page.text("etag").await, "");
    assert_eq!(page.value("name").await, "");
    // And a script of that origin cannot read the header itself either.
    let seen = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch(arguments[0]).then(r => done('ETag: ' + r.headers.get('ETag')), \
                                      e => done('refused: ' + e.name));",
            vec![json!(format!("{api_origin}/profiles/42"))],
        )
        .await
        .expect("a script");
    assert_eq!(seen, json!("refused: TypeError"));

    // 7. Served by the API itself, the page calls its own origin.
    page.open(&format!("{api_origin}/app")).await;
    assert_eq!(
        page.answer("same-origin load").await,
        "200",
        "{}",
        page.shown().await
    );
    assert_eq!(page.text("etag").await, v9);
    assert_eq!(page.value("city").await, "Lyon");
}
