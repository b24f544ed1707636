//! The date-based rules (IMS-*, IUS-*, design decision 13) against the
//! `documents` example, on SQLite and PostgreSQL: its `updated_at` is kept
//! by the database at full precision and sent as a `Last-Modified` rounded
//! so that a write conditioned on a date can never pass over a write its
//! client did not see. Every test runs on each backend: SQLite,
//! PostgreSQL and MariaDB.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use occ_core::repository::sql::{MySqlRepository, PgRepository, SqlRepository, SqliteRepository};
use occ_core::Versioned;
use occ_examples::document::{self, Document, Documents};
use occ_tests::{http, Db, RawResponse};
use uuid::Uuid;

/// A backend the documents app runs on, removed when dropped.
struct Backend {
    name: &'static str,
    repo: Arc<Documents>,
    _cleanup: Option<Cleanup>,
}

use occ_tests::DropOnExit as Cleanup;

impl Backend {
    /// Backend `db` for the test `test`; `None` when its URL is unset.
    async fn open(db: Db, test: &str) -> Option<Self> {
        match db {
            Db::Memory => unreachable!("SQL backends only"),
            Db::Sqlite => Some(Self::sqlite(test).await),
            Db::Postgres => Self::postgres(test).await,
            Db::MariaDb => Self::mariadb(test).await,
        }
    }

    /// SQLite, in a file as in production.
    async fn sqlite(test: &str) -> Self {
        let (pool, _) = occ_tests::sqlite_file_pool(test).await;
        for ddl in [document::SQLITE_SCHEMA, document::SQLITE_TOMBSTONES] {
            sqlx::query(ddl).execute(&pool).await.expect("schema");
        }
        let repo: SqliteRepository<Document> = SqlRepository::new(pool);
        repo.verify().await.expect("the table fits");
        Self {
            name: "sqlite",
            repo: Arc::new(repo),
            _cleanup: None,
        }
    }

    /// PostgreSQL, in a schema of the test's own.
    async fn postgres(test: &str) -> Option<Self> {
        let (pool, cleanup) =
            occ_tests::postgres_schema(test, &test[..test.len().min(24)], 8).await?;
        for ddl in [document::POSTGRES_SCHEMA, document::POSTGRES_TOMBSTONES] {
            sqlx::query(ddl).execute(&pool).await.expect("schema");
        }
        let repo: PgRepository<Document> = SqlRepository::new(pool);
        repo.verify().await.expect("the table fits");
        Some(Self {
            name: "postgres",
            repo: Arc::new(repo),
            _cleanup: Some(cleanup),
        })
    }

    /// MariaDB, in a database of the test's own.
    async fn mariadb(test: &str) -> Option<Self> {
        // MariaDB names stop at 64 characters.
        let (pool, cleanup) =
            occ_tests::mariadb_database(test, &test[..test.len().min(24)], 8).await?;
        for ddl in [document::MYSQL_SCHEMA, document::MYSQL_TOMBSTONES] {
            sqlx::query(ddl).execute(&pool).await.expect("schema");
        }
        let repo: MySqlRepository<Document> = SqlRepository::new(pool);
        repo.verify().await.expect("the table fits");
        Some(Self {
            name: "mariadb",
            repo: Arc::new(repo),
            _cleanup: Some(cleanup),
        })
    }
}

occ_tests::on_every_sql_backend!(Backend =>
    d12_post_assigns_a_uuid_and_the_hooks_run,
    d12_renamed_revision_column_and_bad_ids,
    ims_1_ignored_when_if_none_match_is_present,
    ims_2_ignored_when_invalid_or_not_get,
    ims_4_and_ims_8_compared_with_the_servers_clock_even_in_the_future,
    ims_5_evaluated_on_get_and_head,
    ims_6_compares_with_the_full_precision_time,
    ims_7_a_304_carries_the_validators_and_no_body,
    ius_1_ignored_when_if_match_is_present,
    ius_2_ignored_when_invalid,
    ius_4_compared_with_the_servers_clock,
    ius_5_evaluated_before_the_write,
    ius_6_compares_with_the_full_precision_time,
    ius_7_a_false_condition_is_a_strict_412_even_if_already_applied,
    ius_8_on_get_a_false_condition_is_412,
    g_15_and_d13_last_modified_is_an_imf_fixdate_never_after_the_clock,
    d13_within_the_second_of_a_write_the_date_sent_passes_no_state,
    d13_a_client_sent_modification_time_is_never_stored,
    d13_patch_conditioned_on_a_date_is_one_atomic_write,
    d13_stress_date_only_writers_lose_no_update,
    d16_disjoint_patches_merge_through_the_hooks,
);

/// Decision 16: the documents app merges disjoint edits, its hooks
/// included: two PATCHes from revision 1 on different members both
/// succeed (the title trimmed by `before_write`), and a third from
/// revision 1 on the title is 412 naming it.
async fn d16_disjoint_patches_merge_through_the_hooks(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    let path = format!("/documents/{}", doc.id);
    let tag = format!("\"doc-{}-r1\"", doc.id);
    let headers = [
        ("if-match", tag.as_str()),
        ("content-type", "application/merge-patch+json"),
    ];
    let title = occ_tests::http(addr, "PATCH", &path, &headers, r#"{"title":"  Plans  "}"#).await;
    assert_eq!(title.status, 200, "{}: {}", backend.name, title.text());
    let body = occ_tests::http(addr, "PATCH", &path, &headers, r#"{"body":"second draft"}"#).await;
    assert_eq!(body.status, 200, "{}: {}", backend.name, body.text());
    let merged = body.json();
    assert_eq!(merged["title"], "Plans");
    assert_eq!(merged["body"], "second draft");
    let etag = format!("\"doc-{}-r3\"", doc.id);
    assert_eq!(body.header("etag"), Some(etag.as_str()));
    let again = occ_tests::http(addr, "PATCH", &path, &headers, r#"{"title":"Other"}"#).await;
    assert_eq!(again.status, 412, "{}: {}", backend.name, again.text());
    let problem = again.json();
    assert_eq!(problem["conflicts"], serde_json::json!(["title"]));
    assert_eq!(problem["current"]["title"], "Plans");
    assert_eq!(problem["current_etag"], etag.as_str());
}

/// The app over `backend`, and one stored document.
async fn serve_one(backend: &Backend) -> (SocketAddr, Document) {
    let addr = occ_tests::serve(document::app(backend.repo.clone())).await;
    let doc = backend
        .repo
        .create(Document {
            id: Uuid::now_v7(),
            revision: 1,
            title: "Notes".into(),
            body: "first draft".into(),
            tags: None,
            // Ignored: the database sets the time.
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        })
        .await
        .expect("created");
    (addr, doc)
}

fn path(doc: &Document) -> String {
    format!("/documents/{}", doc.id)
}

fn stored(doc: &Document) -> SystemTime {
    SystemTime::from(doc.updated_at)
}

fn date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

fn floor(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn ceil(t: SystemTime) -> SystemTime {
    let f = floor(t);
    if f == t {
        f
    } else {
        f + Duration::from_secs(1)
    }
}

/// Waits until the clock is past the second that ends after `t` and the
/// margin a write may take to commit after its stamp: from then on,
/// `Last-Modified` for `t` is rounded up.
async fn until_past_second_of(t: SystemTime) {
    let target = ceil(t) + occ_core::repository::COMMIT_MARGIN + Duration::from_millis(20);
    if let Ok(wait) = target.duration_since(SystemTime::now()) {
        tokio::time::sleep(wait).await;
    }
}

fn last_modified(response: &RawResponse) -> SystemTime {
    let value = response.header("last-modified").expect("Last-Modified");
    httpdate::parse_http_date(value).expect("an IMF-fixdate")
}

async fn get(addr: SocketAddr, doc: &Document, headers: &[(&str, &str)]) -> RawResponse {
    http(addr, "GET", &path(doc), headers, "").await
}

async fn put(
    addr: SocketAddr,
    doc: &Document,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    http(addr, "PUT", &path(doc), &all, body).await
}

fn body(doc: &Document, text: &str) -> String {
    serde_json::json!({
        "id": doc.id,
        "title": doc.title,
        "body": text,
        "tags": doc.tags,
    })
    .to_string()
}

const FUTURE: &str = "Fri, 01 Jan 2100 00:00:00 GMT";
const PAST: &str = "Sat, 01 Jan 2000 00:00:00 GMT";

// --- If-Modified-Since ---------------------------------------------------

async fn ims_1_ignored_when_if_none_match_is_present(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    // IMS alone would give 304; with a non-matching If-None-Match it
    // is ignored, and INM says 200.
    let r = get(
        addr,
        &doc,
        &[
            ("if-none-match", "\"other\""),
            ("if-modified-since", FUTURE),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", backend.name);
    let etag = doc.entity_tag().to_string();
    let r = get(
        addr,
        &doc,
        &[("if-none-match", &etag), ("if-modified-since", PAST)],
    )
    .await;
    assert_eq!(
        r.status, 304,
        "{}: INM decides, not the earlier IMS",
        backend.name
    );
}

async fn ims_2_ignored_when_invalid_or_not_get(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    for bad in [
        "yesterday",
        "Sat, 01 Jan 2000 00:00:00 GMT, Sun, 02 Jan 2000 00:00:00 GMT",
    ] {
        let r = get(addr, &doc, &[("if-modified-since", bad)]).await;
        assert_eq!(r.status, 200, "{}: {bad}", backend.name);
    }
    // On PUT it is ignored: it does not make the write conditional.
    let r = put(addr, &doc, &[("if-modified-since", PAST)], &body(&doc, "x")).await;
    assert_eq!(r.status, 428, "{}", backend.name);
}

#[tokio::test]
async fn ims_3_ignored_without_a_modification_date() {
    // Profiles have no modification date.
    let repo: Arc<occ_examples::Profiles> = Arc::new(occ_core::repository::MemoryRepository::new());
    occ_examples::seed(&*repo).await.expect("seed");
    let addr = occ_tests::serve(occ_examples::app(repo)).await;
    let r = http(
        addr,
        "GET",
        "/profiles/42",
        &[("if-modified-since", FUTURE)],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("last-modified").is_none());
}

async fn ims_4_and_ims_8_compared_with_the_servers_clock_even_in_the_future(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    let r = get(addr, &doc, &[("if-modified-since", FUTURE)]).await;
    assert_eq!(r.status, 304, "{}", backend.name);
}

async fn ims_5_evaluated_on_get_and_head(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    let later = date(ceil(stored(&doc)) + Duration::from_secs(5));
    let earlier = date(floor(stored(&doc)) - Duration::from_secs(5));
    for method in ["GET", "HEAD"] {
        let r = http(
            addr,
            method,
            &path(&doc),
            &[("if-modified-since", &later)],
            "",
        )
        .await;
        assert_eq!(r.status, 304, "{} {method}", backend.name);
        let r = http(
            addr,
            method,
            &path(&doc),
            &[("if-modified-since", &earlier)],
            "",
        )
        .await;
        assert_eq!(r.status, 200, "{} {method}", backend.name);
    }
}

async fn ims_6_compares_with_the_full_precision_time(backend: Backend) {
    // A write stamped on a whole second (one in a thousand on a clock of
    // milliseconds) cannot show the difference: write another.
    let mut writes = 1;
    let (addr, doc) = loop {
        let (addr, doc) = serve_one(&backend).await;
        if floor(stored(&doc)) != stored(&doc) || writes == 5 {
            break (addr, doc);
        }
        writes += 1;
    };
    let t = stored(&doc);
    assert_ne!(
        floor(t),
        t,
        "{}: the database keeps sub-second times",
        backend.name
    );
    // The start of the write's second is before the write: modified.
    let r = get(addr, &doc, &[("if-modified-since", &date(floor(t)))]).await;
    assert_eq!(r.status, 200, "{}", backend.name);
    // The end of it is not.
    let r = get(addr, &doc, &[("if-modified-since", &date(ceil(t)))]).await;
    assert_eq!(r.status, 304, "{}", backend.name);
}

async fn ims_7_a_304_carries_the_validators_and_no_body(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    until_past_second_of(stored(&doc)).await;
    let r = get(addr, &doc, &[("if-modified-since", FUTURE)]).await;
    assert_eq!(r.status, 304, "{}", backend.name);
    assert_eq!(
        r.header("etag"),
        Some(doc.entity_tag().to_string().as_str())
    );
    assert_eq!(last_modified(&r), ceil(stored(&doc)), "{}", backend.name);
    assert!(r.body.is_empty() && r.header("content-type").is_none());
    // The version-only read of a conditional GET carries it too.
    let etag = doc.entity_tag().to_string();
    let r = get(addr, &doc, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status, 304, "{}", backend.name);
    assert_eq!(last_modified(&r), ceil(stored(&doc)), "{}", backend.name);
}

// --- If-Unmodified-Since -------------------------------------------------

async fn ius_1_ignored_when_if_match_is_present(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    let etag = doc.entity_tag().to_string();
    let r = put(
        addr,
        &doc,
        &[("if-match", &etag), ("if-unmodified-since", PAST)],
        &body(&doc, "x"),
    )
    .await;
    assert_eq!(r.status, 200, "{}: If-Match decides", backend.name);
}

async fn ius_2_ignored_when_invalid(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    // Ignored: the write is then unconditional, which the route refuses.
    let r = put(
        addr,
        &doc,
        &[("if-unmodified-since", "soon")],
        &body(&doc, "x"),
    )
    .await;
    assert_eq!(r.status, 428, "{}", backend.name);
    let r = get(addr, &doc, &[("if-unmodified-since", "soon")]).await;
    assert_eq!(r.status, 200, "{}", backend.name);
}

#[tokio::test]
async fn ius_3_ignored_without_a_modification_date() {
    let repo: Arc<occ_examples::Profiles> = Arc::new(occ_core::repository::MemoryRepository::new());
    occ_examples::seed(&*repo).await.expect("seed");
    let addr = occ_tests::serve(occ_examples::app(repo)).await;
    let r = http(
        addr,
        "GET",
        "/profiles/42",
        &[("if-unmodified-since", PAST)],
        "",
    )
    .await;
    assert_eq!(r.status, 200, "ignored, not 412");
    let r = http(
        addr,
        "PUT",
        "/profiles/42",
        &[
            ("content-type", "application/json"),
            ("if-unmodified-since", FUTURE),
        ],
        r#"{"city":"Lyon"}"#,
    )
    .await;
    assert_eq!(r.status, 428, "it does not make the write conditional");
}

async fn ius_4_compared_with_the_servers_clock(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    let r = put(
        addr,
        &doc,
        &[("if-unmodified-since", FUTURE)],
        &body(&doc, "x"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", backend.name);
}

async fn ius_5_evaluated_before_the_write(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    let before = date(floor(stored(&doc)) - Duration::from_secs(1));
    let r = put(
        addr,
        &doc,
        &[("if-unmodified-since", &before)],
        &body(&doc, "lost?"),
    )
    .await;
    assert_eq!(r.status, 412, "{}", backend.name);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let now = backend.repo.get(&doc.id).await.expect("still there");
    assert_eq!(
        (now.revision, now.body.as_str()),
        (1, "first draft"),
        "{}",
        backend.name
    );
    let after = date(ceil(stored(&doc)));
    let r = put(
        addr,
        &doc,
        &[("if-unmodified-since", &after)],
        &body(&doc, "second"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", backend.name);
    assert_eq!(r.json()["body"], "second");
}

async fn ius_6_compares_with_the_full_precision_time(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    let t = stored(&doc);
    // A date in the write's own second, before it: the write is a
    // change the date's holder did not see.
    let r = put(
        addr,
        &doc,
        &[("if-unmodified-since", &date(floor(t)))],
        &body(&doc, "x"),
    )
    .await;
    assert_eq!(r.status, 412, "{}", backend.name);
    let r = put(
        addr,
        &doc,
        &[("if-unmodified-since", &date(ceil(t)))],
        &body(&doc, "x"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", backend.name);
}

async fn ius_7_a_false_condition_is_a_strict_412_even_if_already_applied(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    let before = date(floor(stored(&doc)) - Duration::from_secs(1));
    // The body equals the stored state: still 412, never 2xx.
    let r = put(
        addr,
        &doc,
        &[("if-unmodified-since", &before)],
        &body(&doc, "first draft"),
    )
    .await;
    assert_eq!(r.status, 412, "{}", backend.name);
    assert_eq!(r.json()["current_etag"], doc.entity_tag().to_string());
}

async fn ius_8_on_get_a_false_condition_is_412(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    let r = get(addr, &doc, &[("if-unmodified-since", PAST)]).await;
    assert_eq!(r.status, 412, "{}", backend.name);
    let r = get(addr, &doc, &[("if-unmodified-since", FUTURE)]).await;
    assert_eq!(r.status, 200, "{}", backend.name);
}

// --- Design decision 13: the server's clock, rounded safely --------------

async fn g_15_and_d13_last_modified_is_an_imf_fixdate_never_after_the_clock(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    for _ in 0..3 {
        let r = get(addr, &doc, &[]).await;
        let value = r.header("last-modified").expect("Last-Modified on 200");
        assert!(value.ends_with(" GMT") && value.len() == 29, "{value}");
        assert!(
            last_modified(&r) <= SystemTime::now(),
            "{}: later than the clock",
            backend.name
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

async fn d13_within_the_second_of_a_write_the_date_sent_passes_no_state(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    let etag = doc.entity_tag().to_string();
    // Write, and read back at once: the date sent is rounded down when
    // the response leaves within the write's second, so that a write
    // still to come in that second cannot be passed over.
    let r = put(addr, &doc, &[("if-match", &etag)], &body(&doc, "v2")).await;
    assert_eq!(r.status, 200, "{}", backend.name);
    let written = backend.repo.get(&doc.id).await.expect("read");
    let sent = last_modified(&r);
    let t = stored(&written);
    assert!(
        sent == floor(t) || sent == ceil(t),
        "{}: {sent:?} for {t:?}",
        backend.name
    );
    let ius = date(sent);
    let status = put(
        addr,
        &doc,
        &[("if-unmodified-since", &ius)],
        &body(&doc, "v3"),
    )
    .await
    .status;
    if sent < t {
        assert_eq!(
            status, 412,
            "{}: a rounded-down date passes nothing",
            backend.name
        );
        // A second later, a fresh read gives a date that passes.
        until_past_second_of(t).await;
        let r = get(addr, &doc, &[]).await;
        assert_eq!(last_modified(&r), ceil(t), "{}", backend.name);
        let ius = date(last_modified(&r));
        let r = put(
            addr,
            &doc,
            &[("if-unmodified-since", &ius)],
            &body(&doc, "v3"),
        )
        .await;
        assert_eq!(r.status, 200, "{}: not starved", backend.name);
    } else {
        // The response left after the second ended: the date passes.
        assert_eq!(status, 200, "{}", backend.name);
    }
}

async fn d13_a_client_sent_modification_time_is_never_stored(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    assert!(
        stored(&doc) > SystemTime::now() - Duration::from_secs(60),
        "{}: created with the database's time",
        backend.name
    );
    let etag = doc.entity_tag().to_string();
    let mut forged: serde_json::Value = serde_json::from_str(&body(&doc, "x")).unwrap();
    forged["updated_at"] = "2001-01-01T00:00:00Z".into();
    let r = put(addr, &doc, &[("if-match", &etag)], &forged.to_string()).await;
    assert_eq!(r.status, 200, "{}", backend.name);
    let now = backend.repo.get(&doc.id).await.expect("read");
    assert!(
        now.updated_at > doc.updated_at,
        "{}: {:?}",
        backend.name,
        now.updated_at
    );
    assert_ne!(r.json()["updated_at"], "2001-01-01T00:00:00Z");
}

async fn d13_patch_conditioned_on_a_date_is_one_atomic_write(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    until_past_second_of(stored(&doc)).await;
    let ius = date(last_modified(&get(addr, &doc, &[]).await));
    let patch = |text: &str| serde_json::json!({ "body": text }).to_string();
    let headers = [
        ("content-type", "application/merge-patch+json"),
        ("if-unmodified-since", ius.as_str()),
    ];
    let r = http(addr, "PATCH", &path(&doc), &headers, &patch("patched")).await;
    assert_eq!(r.status, 200, "{}", backend.name);
    // The same date again: the first patch changed it since.
    let r = http(addr, "PATCH", &path(&doc), &headers, &patch("again")).await;
    assert_eq!(r.status, 412, "{}", backend.name);
    let now = backend.repo.get(&doc.id).await.expect("read");
    assert_eq!(
        (now.revision, now.body.as_str()),
        (2, "patched"),
        "{}",
        backend.name
    );
}

// --- The example's own routes --------------------------------------------

/// `POST /documents` without an id: a UUID v7 from the server, 201 with
/// `Location`, `ETag` and `Last-Modified` (design decisions 12 and 13); the
/// hooks trim the title and refuse an empty one; a client's id is refused.
async fn d12_post_assigns_a_uuid_and_the_hooks_run(backend: Backend) {
    let (addr, _) = serve_one(&backend).await;
    let json = [("content-type", "application/json")];
    let r = http(
        addr,
        "POST",
        "/documents",
        &json,
        r#"{"title":"  Plan ","body":"b","tags":"x,y"}"#,
    )
    .await;
    assert_eq!(r.status, 201, "{}: {}", backend.name, r.text());
    let location = r.header("location").expect("Location").to_owned();
    let id: Uuid = location
        .trim_start_matches("/documents/")
        .parse()
        .expect("a UUID");
    assert_eq!(id.get_version_num(), 7, "{}", backend.name);
    assert_eq!(r.header("etag"), Some(format!("\"doc-{id}-r1\"").as_str()));
    assert!(
        r.header("last-modified").is_some(),
        "{}: 201 carries Last-Modified",
        backend.name
    );
    assert_eq!(
        r.json()["title"],
        "Plan",
        "{}: trimmed before the write",
        backend.name
    );
    let r = http(addr, "GET", &location, &[], "").await;
    assert_eq!(
        (r.status, r.json()["tags"].as_str()),
        (200, Some("x,y")),
        "{}",
        backend.name
    );
    let second = http(
        addr,
        "POST",
        "/documents",
        &json,
        r#"{"title":"Other","body":"","tags":null}"#,
    )
    .await;
    assert_eq!(second.status, 201, "{}", backend.name);
    assert_ne!(
        second.header("location"),
        Some(location.as_str()),
        "{}",
        backend.name
    );

    let r = http(
        addr,
        "POST",
        "/documents",
        &json,
        r#"{"title":"   ","body":"b","tags":null}"#,
    )
    .await;
    assert_eq!(r.status, 422, "{}", backend.name);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert!(
        r.text().contains("a document needs a title"),
        "{}",
        r.text()
    );
    let chosen = format!(
        r#"{{"id":"{}","title":"Mine","body":"","tags":null}}"#,
        Uuid::now_v7()
    );
    let r = http(addr, "POST", "/documents", &json, &chosen).await;
    assert_eq!(r.status, 422, "{}: ids are the server's", backend.name);
    let page = backend.repo.list(None, 10).await.expect("list");
    assert_eq!(
        page.items.len(),
        3,
        "{}: the refused POSTs wrote nothing",
        backend.name
    );
}

/// A version column named `rev` and an `i32` revision: ETags count it, a
/// conditional GET reads just it, and a bad UUID in the path is 400.
async fn d12_renamed_revision_column_and_bad_ids(backend: Backend) {
    let (addr, doc) = serve_one(&backend).await;
    let etag = doc.entity_tag().to_string();
    let r = put(addr, &doc, &[("if-match", &etag)], &body(&doc, "two")).await;
    assert_eq!(r.status, 200, "{}", backend.name);
    let r2 = format!("\"doc-{}-r2\"", doc.id);
    assert_eq!(r.header("etag"), Some(r2.as_str()), "{}", backend.name);
    let r = get(addr, &doc, &[("if-none-match", &r2)]).await;
    assert_eq!(r.status, 304, "{}", backend.name);
    let r = http(addr, "GET", "/documents/not-a-uuid", &[], "").await;
    assert_eq!(r.status, 400, "{}", backend.name);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}

// --- Stress: writers conditioned on If-Unmodified-Since alone ------------

/// Writers that know only dates: each reads the document (a counter in its
/// body), and writes the counter plus one with `If-Unmodified-Since` set to
/// the `Last-Modified` it read; on 412 it reads again. No lost update: the
/// counter ends equal to the writes acknowledged, and to the revision
/// minus one. Writes keep succeeding; conflicts are counted.
async fn d13_stress_date_only_writers_lose_no_update(backend: Backend) {
    const WRITERS: usize = 6;
    let run_for = Duration::from_secs(if std::env::var_os("OCC_LONG_TESTS").is_some() {
        30
    } else {
        7
    });
    let (addr, doc) = serve_one(&backend).await;
    let reset = backend.repo.get(&doc.id).await.expect("read");
    let etag = reset.entity_tag().to_string();
    let r = put(addr, &doc, &[("if-match", &etag)], &body(&doc, "0")).await;
    assert_eq!(r.status, 200);
    let acknowledged = Arc::new(AtomicU64::new(0));
    let conflicts = Arc::new(AtomicU64::new(0));
    let deadline = tokio::time::Instant::now() + run_for;
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let (doc, acknowledged, conflicts) = (doc.clone(), acknowledged.clone(), conflicts.clone());
        tasks.push(tokio::spawn(async move {
            while tokio::time::Instant::now() < deadline {
                let r = get(addr, &doc, &[]).await;
                assert_eq!(r.status, 200);
                let n: u64 = r.json()["body"].as_str().unwrap().parse().unwrap();
                let ius = date(last_modified(&r));
                let w = put(
                    addr,
                    &doc,
                    &[("if-unmodified-since", &ius)],
                    &body(&doc, &(n + 1).to_string()),
                )
                .await;
                match w.status {
                    200 => {
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                    412 => {
                        conflicts.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    other => panic!("unexpected {other}: {}", w.text()),
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    let acked = acknowledged.load(Ordering::Relaxed);
    let refused = conflicts.load(Ordering::Relaxed);
    let end = backend.repo.get(&doc.id).await.expect("read");
    let counter: u64 = end.body.parse().expect("a counter");
    println!(
        "{}: {WRITERS} date-only writers for {run_for:?}: {acked} writes acknowledged, {refused} refused with 412, counter {counter}, revision {}",
        backend.name, end.revision
    );
    assert_eq!(counter, acked, "{}: lost updates", backend.name);
    assert_eq!(
        u64::try_from(end.revision).unwrap(),
        acked + 2,
        "{}",
        backend.name
    );
    // A row quiet for a second and the commit margin accepts a date-only
    // write: at least one every two seconds or so.
    assert!(
        acked >= 2,
        "{}: date-only writers starved ({acked} in {run_for:?})",
        backend.name
    );
    assert!(
        refused > 0,
        "{}: the writers never conflicted",
        backend.name
    );
}
