//! Dates that cannot lose an update (design decision 13), under injected
//! delays: between a read and its response, across a second boundary, and
//! between a write's stamp and its commit (a keyed write holds its
//! transaction). Writers that know only `If-Unmodified-Since` lose
//! nothing, a quiet row accepts them within about two seconds, and one
//! version keeps one `Last-Modified`. On memory, SQLite, PostgreSQL and
//! MariaDB.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use occ_core::idempotency::{Fingerprint, Finished, IdempotencyKey, KeyPolicy, StoredResponse};
use occ_core::repository::sql::{
    idempotency_table, Dialect, MySqlRepository, PgRepository, SqlRepository, SqliteRepository,
};
use occ_core::repository::Claim;
use occ_core::repository::{
    KnownVersions, MemoryRepository, Page, Repository, RepositoryError, Snapshot, WriteCondition,
    COMMIT_MARGIN,
};
use occ_core::Versioned;
use occ_examples::document::{self, Document, Documents};
use occ_tests::{http, Db, DropOnExit, RawResponse};
use uuid::Uuid;

const KEYS: &str = "dates_keys";

/// A backend, its keys kept, removed when dropped.
struct Backend {
    name: &'static str,
    repo: Arc<Documents>,
    _cleanup: Option<DropOnExit>,
}

impl Backend {
    /// Backend `db` for the test `test`; `None` when its URL is unset.
    async fn open(db: Db, test: &str) -> Option<Self> {
        match db {
            Db::Memory => Some(Self::memory()),
            Db::Sqlite => Some(Self::sqlite(test).await),
            Db::Postgres => Self::postgres(test).await,
            Db::MariaDb => Self::mariadb(test).await,
        }
    }

    fn memory() -> Self {
        Self {
            name: "memory",
            repo: Arc::new(MemoryRepository::<Document>::new()),
            _cleanup: None,
        }
    }

    async fn sqlite(test: &str) -> Self {
        let (pool, _) = occ_tests::sqlite_file_pool(test).await;
        for ddl in [document::SQLITE_SCHEMA, document::SQLITE_TOMBSTONES] {
            sqlx::query(ddl).execute(&pool).await.expect("schema");
        }
        for ddl in idempotency_table(Dialect::Sqlite, KEYS) {
            sqlx::query(sqlx::AssertSqlSafe(ddl))
                .execute(&pool)
                .await
                .expect("keys");
        }
        let repo: SqliteRepository<Document> =
            SqlRepository::new(pool).with_idempotency_keys(KEYS, KeyPolicy::default());
        repo.verify().await.expect("the tables fit");
        Self {
            name: "sqlite",
            repo: Arc::new(repo),
            _cleanup: None,
        }
    }

    async fn postgres(test: &str) -> Option<Self> {
        let (pool, cleanup) =
            occ_tests::postgres_schema(test, &test[..test.len().min(24)], 12).await?;
        for ddl in [document::POSTGRES_SCHEMA, document::POSTGRES_TOMBSTONES] {
            sqlx::query(ddl).execute(&pool).await.expect("schema");
        }
        for ddl in idempotency_table(Dialect::Postgres, KEYS) {
            sqlx::query(sqlx::AssertSqlSafe(ddl))
                .execute(&pool)
                .await
                .expect("keys");
        }
        let repo: PgRepository<Document> =
            SqlRepository::new(pool).with_idempotency_keys(KEYS, KeyPolicy::default());
        repo.verify().await.expect("the tables fit");
        Some(Self {
            name: "postgres",
            repo: Arc::new(repo),
            _cleanup: Some(cleanup),
        })
    }

    async fn mariadb(test: &str) -> Option<Self> {
        let (pool, cleanup) =
            occ_tests::mariadb_database(test, &test[..test.len().min(24)], 12).await?;
        for ddl in [document::MYSQL_SCHEMA, document::MYSQL_TOMBSTONES] {
            sqlx::query(ddl).execute(&pool).await.expect("schema");
        }
        for ddl in idempotency_table(Dialect::MySql, KEYS) {
            sqlx::query(sqlx::AssertSqlSafe(ddl))
                .execute(&pool)
                .await
                .expect("keys");
        }
        let repo: MySqlRepository<Document> =
            SqlRepository::new(pool).with_idempotency_keys(KEYS, KeyPolicy::default());
        repo.verify().await.expect("the tables fit");
        Some(Self {
            name: "mariadb",
            repo: Arc::new(repo),
            _cleanup: Some(cleanup),
        })
    }
}

occ_tests::on_every_backend!(Backend =>
    d13_a_response_delayed_past_its_second_loses_no_update,
    d13_a_keyed_write_held_past_the_margin_does_not_commit,
    d13_a_quiet_row_accepts_a_date_only_write_and_keeps_its_date,
    d13_date_only_writers_under_injected_delays_lose_nothing,
);

/// A repository whose GETs reach their response late: every
/// [`Repository::read`] waits after the read, as a busy runtime may.
struct Delayed {
    inner: Arc<Documents>,
    /// The delay after each read, in milliseconds: fixed, or drawn
    /// between 0 and this when `random`.
    millis: u64,
    random: bool,
}

impl Delayed {
    fn delay(&self) -> Duration {
        let millis = if self.random {
            jitter(self.millis)
        } else {
            self.millis
        };
        Duration::from_millis(millis)
    }
}

#[async_trait]
impl Repository<Document> for Delayed {
    async fn get(&self, id: &Uuid) -> Result<Document, RepositoryError<Document>> {
        self.inner.get(id).await
    }

    async fn read(
        &self,
        id: &Uuid,
        known: &KnownVersions<i32>,
    ) -> Result<Snapshot<Document>, RepositoryError<Document>> {
        let read = self.inner.read(id, known).await;
        tokio::time::sleep(self.delay()).await;
        read
    }

    async fn create(&self, model: Document) -> Result<Document, RepositoryError<Document>> {
        self.inner.create(model).await
    }

    async fn update(
        &self,
        model: Document,
        condition: &WriteCondition<i32>,
    ) -> Result<Document, RepositoryError<Document>> {
        self.inner.update(model, condition).await
    }

    async fn delete(
        &self,
        id: &Uuid,
        condition: &WriteCondition<i32>,
    ) -> Result<Document, RepositoryError<Document>> {
        self.inner.delete(id, condition).await
    }

    async fn list(
        &self,
        after: Option<&Uuid>,
        limit: u32,
    ) -> Result<Page<Document>, RepositoryError<Document>> {
        self.inner.list(after, limit).await
    }

    async fn merge_patch(
        &self,
        id: &Uuid,
        patch: &serde_json::Value,
        condition: &WriteCondition<i32>,
    ) -> Result<Document, RepositoryError<Document>> {
        self.inner.merge_patch(id, patch, condition).await
    }
}

/// A number from 0 to `max`, different on every call.
fn jitter(max: u64) -> u64 {
    use std::hash::{BuildHasher, RandomState};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    RandomState::new().hash_one(n) % (max + 1)
}

/// The app over `repo`, and one stored document whose body is `0`.
async fn serve_one(backend: &Backend, repo: Arc<Documents>) -> (SocketAddr, Document) {
    let addr = occ_tests::serve(document::app(repo)).await;
    let doc = backend
        .repo
        .create(Document {
            id: Uuid::now_v7(),
            revision: 1,
            title: "Counter".into(),
            body: "0".into(),
            tags: None,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        })
        .await
        .expect("created");
    (addr, doc)
}

fn path(doc: &Document) -> String {
    format!("/documents/{}", doc.id)
}

fn body(doc: &Document, text: &str) -> String {
    serde_json::json!({ "id": doc.id, "title": doc.title, "body": text }).to_string()
}

/// PUT with a JSON body and `headers`.
async fn put(
    addr: SocketAddr,
    doc: &Document,
    headers: &[(&str, &str)],
    text: &str,
) -> RawResponse {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    http(addr, "PUT", &path(doc), &all, &body(doc, text)).await
}

fn last_modified(response: &RawResponse) -> SystemTime {
    let value = response.header("last-modified").expect("Last-Modified");
    httpdate::parse_http_date(value).expect("an IMF-fixdate")
}

fn second_of(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

/// Waits until the clock is `millis` into a second.
async fn until_millis_into_a_second(millis: u64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into = u64::from(now.subsec_millis());
    let wait = if into < millis {
        millis - into
    } else {
        1_000 - into + millis
    };
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

/// A GET reads the row early in a second and answers after that second
/// has ended; meanwhile another client writes. The date the GET sends
/// must pass neither state: `If-Unmodified-Since` with it is 412, and the
/// other client's write stays. (Rounded with the clock when the response
/// is built, the date would be the second's end, which the other write,
/// stamped within that second, passes.)
async fn d13_a_response_delayed_past_its_second_loses_no_update(backend: Backend) {
    let delayed: Arc<Documents> = Arc::new(Delayed {
        inner: backend.repo.clone(),
        millis: 1_300,
        random: false,
    });
    let (addr, doc) = serve_one(&backend, delayed).await;
    until_millis_into_a_second(50).await;
    // Written early in the second S.
    let etag = doc.entity_tag().to_string();
    let r = put(addr, &doc, &[("if-match", &etag)], "1").await;
    assert_eq!(r.status, 200, "{}: {}", backend.name, r.text());
    let written = backend.repo.get(&doc.id).await.expect("read");
    // The slow GET reads now and answers after S has ended.
    let slow =
        tokio::spawn(
            async move { http(addr, "GET", &format!("/documents/{}", doc.id), &[], "").await },
        );
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Another client writes within S, after the slow GET's read.
    let etag = written.entity_tag().to_string();
    let r = put(addr, &doc, &[("if-match", &etag)], "other").await;
    assert_eq!(r.status, 200, "{}: {}", backend.name, r.text());
    let other = backend.repo.get(&doc.id).await.expect("read");
    let seen = slow.await.expect("the slow GET");
    assert_eq!(seen.status, 200, "{}", backend.name);
    assert_eq!(
        seen.json()["body"],
        "1",
        "{}: the GET read before the other write",
        backend.name
    );
    let sent = last_modified(&seen);
    assert!(
        SystemTime::from(other.updated_at) > sent,
        "{}: the date sent ({sent:?}) passes a write its client did not see ({:?})",
        backend.name,
        other.updated_at
    );
    // The date-only client writes on what it saw: refused.
    let ius = httpdate::fmt_http_date(sent);
    let r = put(addr, &doc, &[("if-unmodified-since", &ius)], "2").await;
    assert_eq!(r.status, 412, "{}: {}", backend.name, r.text());
    let now = backend.repo.get(&doc.id).await.expect("read");
    assert_eq!(
        now.body, "other",
        "{}: the other client's write was lost",
        backend.name
    );
}

/// A keyed write whose transaction stays open past half the commit margin
/// after it stamped its row does not commit: its record is refused, the
/// row keeps its state, and the key is free for a retry. One that finishes
/// promptly commits. (The memory repository writes at once: no margin.)
async fn d13_a_keyed_write_held_past_the_margin_does_not_commit(backend: Backend) {
    let doc = backend
        .repo
        .create(Document {
            id: Uuid::now_v7(),
            revision: 1,
            title: "Held".into(),
            body: "0".into(),
            tags: None,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        })
        .await
        .expect("created");
    let held = COMMIT_MARGIN / 2 + Duration::from_millis(300);
    let key = IdempotencyKey::new("held-too-long").unwrap();
    let fingerprint = Fingerprint::builder().part(b"PUT").finish();
    let outcome = keyed_increment(&*backend.repo, &doc.id, &key, &fingerprint, held).await;
    let after = backend.repo.get(&doc.id).await.expect("read");
    if backend.name == "memory" {
        assert_eq!(outcome, Ok(Finished::Recorded));
        assert_eq!(after.body, "1");
        return;
    }
    assert!(outcome.is_err(), "{}: {outcome:?}", backend.name);
    assert_eq!(
        (after.body.as_str(), after.revision),
        ("0", 1),
        "{}",
        backend.name
    );
    // The key was released: the same key runs again, promptly this time.
    let outcome =
        keyed_increment(&*backend.repo, &doc.id, &key, &fingerprint, Duration::ZERO).await;
    assert_eq!(outcome, Ok(Finished::Recorded), "{}", backend.name);
    let after = backend.repo.get(&doc.id).await.expect("read");
    assert_eq!(
        (after.body.as_str(), after.revision),
        ("1", 2),
        "{}",
        backend.name
    );
}

/// Under `key`: reads the counter, writes it plus one on the version read,
/// holds the transaction `hold`, and records the answer.
async fn keyed_increment(
    repo: &Documents,
    id: &Uuid,
    key: &IdempotencyKey,
    fingerprint: &Fingerprint,
    hold: Duration,
) -> Result<Finished, String> {
    let claim = repo
        .claim_key(key, "dates", fingerprint)
        .await
        .map_err(|e| e.to_string())?;
    let Claim::Claimed(write) = claim else {
        return Err(format!("not claimed: {claim:?}"));
    };
    let written = async {
        let mut current = write.repository().get(id).await?;
        let version = current.revision;
        let n: u64 = current.body.parse().expect("a counter");
        current.body = (n + 1).to_string();
        write
            .repository()
            .update(current, &WriteCondition::VersionIn(vec![version]))
            .await
    }
    .await;
    if let Err(e) = written {
        write.abandon().await;
        return Err(e.to_string());
    }
    tokio::time::sleep(hold).await;
    let response = StoredResponse {
        status: 200,
        headers: Vec::new(),
        body: Vec::new(),
    };
    write.finish(&response).await.map_err(|e| e.to_string())
}

/// A row written once and then left alone: a date-only writer polling it
/// succeeds within a second and the commit margin after the second of the
/// write; from then on every GET and 304 of that version sends the same
/// `Last-Modified`.
async fn d13_a_quiet_row_accepts_a_date_only_write_and_keeps_its_date(backend: Backend) {
    let (addr, doc) = serve_one(&backend, backend.repo.clone()).await;
    let etag = doc.entity_tag().to_string();
    let r = put(addr, &doc, &[("if-match", &etag)], "1").await;
    assert_eq!(r.status, 200, "{}", backend.name);
    let written = SystemTime::from(backend.repo.get(&doc.id).await.expect("read").updated_at);
    let started = Instant::now();
    let mut dates = Vec::new();
    let waited = loop {
        let r = http(addr, "GET", &path(&doc), &[], "").await;
        assert_eq!(r.status, 200);
        let ius = httpdate::fmt_http_date(last_modified(&r));
        let w = put(addr, &doc, &[("if-unmodified-since", &ius)], "2").await;
        match w.status {
            200 => break started.elapsed(),
            412 => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("{}: {other} {}", backend.name, w.text()),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{}: starved",
            backend.name
        );
    };
    // Whole seconds: up to one, and the margin, and a poll.
    let bound = Duration::from_secs(1) + COMMIT_MARGIN + Duration::from_millis(400);
    println!(
        "{}: a quiet row accepted a date-only write after {waited:?} (written {:?} into its second)",
        backend.name,
        written.duration_since(UNIX_EPOCH).unwrap().subsec_millis()
    );
    assert!(waited <= bound, "{}: waited {waited:?}", backend.name);
    // One version, one date, once its second and the margin have passed.
    let current = backend.repo.get(&doc.id).await.expect("read");
    let stamped = SystemTime::from(current.updated_at);
    let settled = UNIX_EPOCH + Duration::from_secs(second_of(stamped) + 1) + COMMIT_MARGIN;
    if let Ok(wait) = settled.duration_since(SystemTime::now()) {
        tokio::time::sleep(wait + Duration::from_millis(50)).await;
    }
    let etag = current.entity_tag().to_string();
    for _ in 0..4 {
        let r = http(addr, "GET", &path(&doc), &[], "").await;
        dates.push(last_modified(&r));
        let r = http(addr, "GET", &path(&doc), &[("if-none-match", &etag)], "").await;
        assert_eq!(r.status, 304);
        dates.push(last_modified(&r));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let ceil = UNIX_EPOCH + Duration::from_secs(second_of(stamped) + 1);
    assert!(
        dates.iter().all(|d| *d == ceil),
        "{}: {dates:?}",
        backend.name
    );
}

/// Writers that know only dates (GET, then PUT the counter plus one with
/// `If-Unmodified-Since`), their GETs answered up to 1.2 s after the read;
/// beside them, keyed writers that hold their transaction up to 0.8 s
/// after their write (some past the margin: rolled back). The counter ends
/// equal to the writes acknowledged: nothing lost.
async fn d13_date_only_writers_under_injected_delays_lose_nothing(backend: Backend) {
    const DATE_WRITERS: usize = 4;
    const KEYED_WRITERS: usize = 2;
    let run_for = Duration::from_secs(6);
    let delayed: Arc<Documents> = Arc::new(Delayed {
        inner: backend.repo.clone(),
        millis: 1_200,
        random: true,
    });
    let (addr, doc) = serve_one(&backend, delayed).await;
    let acknowledged = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let rolled_back = Arc::new(AtomicU64::new(0));
    let deadline = tokio::time::Instant::now() + run_for;
    let mut tasks = Vec::new();
    for _ in 0..DATE_WRITERS {
        let (doc, acknowledged, refused) = (doc.clone(), acknowledged.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            while tokio::time::Instant::now() < deadline {
                let r = http(addr, "GET", &path(&doc), &[], "").await;
                assert_eq!(r.status, 200);
                let n: u64 = r.json()["body"].as_str().unwrap().parse().unwrap();
                let ius = httpdate::fmt_http_date(last_modified(&r));
                let w = put(
                    addr,
                    &doc,
                    &[("if-unmodified-since", &ius)],
                    &(n + 1).to_string(),
                )
                .await;
                match w.status {
                    200 => acknowledged.fetch_add(1, Ordering::Relaxed),
                    412 => refused.fetch_add(1, Ordering::Relaxed),
                    other => panic!("unexpected {other}: {}", w.text()),
                };
            }
        }));
    }
    for writer in 0..KEYED_WRITERS {
        let (repo, id) = (backend.repo.clone(), doc.id);
        let (acknowledged, refused, rolled_back) =
            (acknowledged.clone(), refused.clone(), rolled_back.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while tokio::time::Instant::now() < deadline {
                n += 1;
                let key = IdempotencyKey::new(format!("w{writer}-{n}")).unwrap();
                let fingerprint = Fingerprint::builder()
                    .part(key.as_str().as_bytes())
                    .finish();
                let hold = Duration::from_millis(jitter(800));
                match keyed_increment(&*repo, &id, &key, &fingerprint, hold).await {
                    Ok(Finished::Recorded) => acknowledged.fetch_add(1, Ordering::Relaxed),
                    Ok(Finished::Superseded) => panic!("superseded"),
                    // The version read was no longer current.
                    Err(e) if e.contains("precondition") || e.contains("changed") => {
                        refused.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(_) => rolled_back.fetch_add(1, Ordering::Relaxed),
                };
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    let acked = acknowledged.load(Ordering::Relaxed);
    let end = backend.repo.get(&doc.id).await.expect("read");
    let counter: u64 = end.body.parse().expect("a counter");
    println!(
        "{}: {DATE_WRITERS} date-only writers (GETs delayed up to 1.2 s) and {KEYED_WRITERS} keyed writers (held up to 0.8 s) for {run_for:?}: {acked} acknowledged, {} refused, {} rolled back for holding too long, counter {counter}, lost {}",
        backend.name,
        refused.load(Ordering::Relaxed),
        rolled_back.load(Ordering::Relaxed),
        acked.saturating_sub(counter),
    );
    assert_eq!(counter, acked, "{}: lost updates", backend.name);
    assert_eq!(
        u64::try_from(end.revision).unwrap(),
        acked + 1,
        "{}",
        backend.name
    );
    assert!(acked >= 2, "{}: starved", backend.name);
}
