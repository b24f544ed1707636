//! occ-client against the example services, on SQLite, PostgreSQL and
//! MariaDB: the reference scenario through the client (304 from its cache,
//! a stale update applied again from the 412's state, create-once, a
//! delete refused), 16 clients × 50 updates of one counter, 16 × 20
//! creates whose answers a proxy drops on the way back; and, against a
//! scripted server, what the client sends again and what it reports.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use occ_client::{Client, Error, RetryPolicy};
use occ_core::Versioned;
use occ_examples::document::{self, Document, Documents};
use occ_examples::{Profile, Profiles};
use occ_tests::{serve, Db, DropOnExit};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

/// An example service on a database of the test's own: its address, and
/// its repository for checking what the clients did.
struct Service<R: ?Sized> {
    addr: SocketAddr,
    base: String,
    repo: Arc<R>,
    _db: DropOnExit,
}

type ProfilesService = Service<Profiles>;
type DocumentsService = Service<Documents>;

impl<R: ?Sized> Service<R> {
    async fn serve(repo: Arc<R>, app: axum::Router, db: DropOnExit) -> Self {
        let addr = serve(app).await;
        Self {
            addr,
            base: format!("http://{addr}"),
            repo,
            _db: db,
        }
    }
}

impl ProfilesService {
    async fn open(db: Db, test: &str) -> Option<Self> {
        let (url, guard) = occ_tests::example_database(db, test).await?;
        let repo = occ_examples::connect(&url)
            .await
            .expect("the profiles service");
        Some(Self::serve(repo.clone(), occ_examples::app(repo), guard).await)
    }
}

impl DocumentsService {
    async fn open(db: Db, test: &str) -> Option<Self> {
        let (url, guard) = occ_tests::example_database(db, test).await?;
        let repo = document::connect(&url)
            .await
            .expect("the documents service");
        Some(Self::serve(repo.clone(), document::app(repo), guard).await)
    }

    /// Every document, in id order.
    async fn all(&self) -> Vec<Document> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.repo.list(after.as_ref(), 100).await.unwrap();
            all.extend(page.items);
            match page.next_after {
                Some(next) => after = Some(next),
                None => return all,
            }
        }
    }
}

occ_tests::on_every_backend!([sqlite, postgres, mariadb] ProfilesService =>
    client_scenario, client_counter_16x50);
occ_tests::on_every_backend!([sqlite, postgres, mariadb] DocumentsService =>
    client_documents, client_lost_answers_16x20);

fn profile(id: i64, name: &str, city: &str) -> Profile {
    Profile {
        id,
        version: 0,
        name: name.into(),
        city: city.into(),
    }
}

/// The reference scenario as two clients live it.
async fn client_scenario(service: ProfilesService) {
    let alice = Client::new(&service.base).unwrap();
    let profiles = alice.resource::<Profile>("/profiles");

    // G-1: the representation and its tag; the version comes from the tag
    // (the body has none), through the model's own Versioned.
    let ava = profiles.get(&42).await.unwrap();
    assert_eq!(ava.etag().to_string(), "\"prof-42-v7\"");
    assert_eq!(
        *ava.value(),
        Profile {
            version: 7,
            ..profile(42, "Ava", "Paris")
        }
    );

    // INM-1: the second read is conditional, and its 304 is served from
    // the cache.
    let again = profiles.get(&42).await.unwrap();
    assert_eq!(again, ava);
    assert_eq!(alice.stats().not_modified, 1);
    assert_eq!(alice.stats().sends, 2);

    // Bob reads v7 too.
    let bob = Client::new(&service.base).unwrap();
    let bobs = bob.resource::<Profile>("/profiles");
    bobs.get(&42).await.unwrap();

    // IM-1: Alice's update starts from her cache: one PUT, no read.
    let moved = profiles
        .update(&42, |p| p.city = "Lyon".into())
        .await
        .unwrap();
    assert_eq!(moved.etag().to_string(), "\"prof-42-v8\"");
    assert_eq!(
        *moved.value(),
        Profile {
            version: 8,
            ..profile(42, "Ava", "Lyon")
        }
    );
    assert_eq!(alice.stats().sends, 3);

    // Decision 16: Bob's PUT from v7 gets the 412 with the current state;
    // his change is applied to it and sent again, without a GET. Both
    // edits survive.
    let sent = bob.stats().sends;
    let renamed = bobs
        .update(&42, |p| p.name = "Ava Smith".into())
        .await
        .unwrap();
    assert_eq!(
        *renamed.value(),
        Profile {
            version: 9,
            ..profile(42, "Ava Smith", "Lyon")
        }
    );
    assert_eq!(bob.stats().sends - sent, 2, "two PUTs and no read");
    assert_eq!(bob.stats().conflicts, 1);

    // Alice's cached v8 is stale: her read is a 200 with v9, not a 304.
    assert_eq!(profiles.get(&42).await.unwrap().version, 9);
    assert_eq!(alice.stats().not_modified, 1);

    // 428-1: the server refuses a write without a precondition (the
    // client always sends one; `client_reports_refusals_typed` shows how
    // it reports a 428).
    let json_body = [("content-type", "application/json")];
    let blind = occ_tests::http(service.addr, "PUT", "/profiles/42", &json_body, "{}").await;
    assert_eq!(blind.status, 428);

    // S7: create-once with `If-None-Match: *`; a second one is 412 with
    // the state that exists.
    let ben = profiles
        .create_once(&profile(7, "Ben", "Oslo"))
        .await
        .unwrap();
    assert_eq!(ben.etag(), &Profile::entity_tag_for(&7, ben.version));
    match profiles.create_once(&profile(7, "Other", "Rome")).await {
        Err(Error::PreconditionFailed(conflict)) => {
            assert_eq!(
                conflict.current.map(|c| c.into_value().name),
                Some("Ben".into())
            );
        }
        other => panic!("a second create-once: {other:?}"),
    }

    // A delete from a state Bob has not seen is refused, with the state,
    // and not tried again.
    bobs.get(&7).await.unwrap();
    profiles
        .update(&7, |p| p.city = "Bergen".into())
        .await
        .unwrap();
    match bobs.delete(&7).await {
        Err(Error::PreconditionFailed(conflict)) => {
            assert_eq!(conflict.attempts, 1);
            assert_eq!(conflict.current.unwrap().city, "Bergen");
        }
        other => panic!("a stale delete: {other:?}"),
    }
    // Having seen it, he deletes it.
    bobs.delete(&7).await.unwrap();
    assert!(matches!(profiles.get(&7).await, Err(Error::NotFound(_))));
    assert!(matches!(
        profiles.update(&7, |p| p.city.clear()).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(service.repo.get(&7).await.ok().map(|p| p.id), None);
}

/// 16 clients, each with its own cache, add 1 to one counter 50 times:
/// every update lands once, none is lost.
async fn client_counter_16x50(service: ProfilesService) {
    const CLIENTS: u64 = 16;
    const UPDATES: u64 = 50;
    service
        .repo
        .create(Profile {
            version: 1,
            ..profile(1, "counter", "0")
        })
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let base = service.base.clone();
        tasks.push(tokio::spawn(async move {
            // The default policy: it must be enough for this.
            let client = Client::new(&base).unwrap();
            let counter = client.resource::<Profile>("/profiles");
            let (mut acknowledged, mut most) = (0, 0);
            for _ in 0..UPDATES {
                let mut attempts = 0;
                counter
                    .update(&1, |p| {
                        attempts += 1;
                        let n: u64 = p.city.parse().expect("a count");
                        p.city = (n + 1).to_string();
                    })
                    .await
                    .unwrap();
                acknowledged += 1;
                most = most.max(attempts);
            }
            (acknowledged, most, client.stats())
        }));
    }
    let (mut acknowledged, mut conflicts, mut sends, mut most) = (0, 0, 0, 0);
    for task in tasks {
        let (acks, attempts, stats) = task.await.unwrap();
        acknowledged += acks;
        most = most.max(attempts);
        conflicts += stats.conflicts;
        sends += stats.sends;
        assert_eq!(stats.committed, UPDATES);
    }
    let last = service.repo.get(&1).await.unwrap();
    assert_eq!(acknowledged, CLIENTS * UPDATES);
    assert_eq!(last.city, (CLIENTS * UPDATES).to_string(), "no update lost");
    assert_eq!(last.version, 1 + i64::try_from(CLIENTS * UPDATES).unwrap());
    eprintln!(
        "client_counter_16x50: {acknowledged} updates, {conflicts} retried after a 412 \
         ({:.2} per commit, at most {most} attempts for one), {sends} requests",
        conflicts as f64 / acknowledged as f64
    );
}

fn document(title: &str) -> Document {
    Document {
        title: title.into(),
        ..Document::default()
    }
}

/// Server-assigned ids, merge patches, and what a patch does on 412.
async fn client_documents(service: DocumentsService) {
    let client = Client::new(&service.base).unwrap();
    let documents = client.resource::<Document>("/documents");

    // The id is the server's: the client leaves it out of the POST.
    let draft = documents.create(&document("Draft")).await.unwrap();
    assert_ne!(draft.id, Uuid::nil());
    assert_eq!(draft.revision, 1);
    assert!(draft.last_modified().is_some());
    let read = documents.get(&draft.id).await.unwrap();
    assert_eq!(read.etag(), draft.etag());
    assert_eq!(
        client.stats().not_modified,
        1,
        "the create's answer is cached"
    );

    // Another client changes the body meanwhile.
    let other = Client::new(&service.base).unwrap();
    other
        .resource::<Document>("/documents")
        .patch(&draft.id, &json!({"body": "theirs"}))
        .await
        .unwrap();

    // Decision 16: the documents route merges, so a patch of another member
    // from revision 1 passes at once.
    let titled = documents
        .patch(&draft.id, &json!({"title": "Final"}))
        .await
        .unwrap();
    assert_eq!(
        (titled.title.as_str(), titled.body.as_str()),
        ("Final", "theirs")
    );
    assert_eq!(titled.revision, 3);

    // A patch of a member that changed since is refused, naming it.
    other
        .resource::<Document>("/documents")
        .patch(&draft.id, &json!({"tags": "a"}))
        .await
        .unwrap();
    let refused = documents.patch(&draft.id, &json!({"tags": "b"})).await;
    match refused {
        Err(Error::PreconditionFailed(conflict)) => {
            assert_eq!(conflict.conflicts, ["tags"]);
            assert_eq!(conflict.current.unwrap().tags.as_deref(), Some("a"));
        }
        other => panic!("a conflicting patch: {other:?}"),
    }
    // 422 from the route's validation, typed as a refusal.
    match documents.patch(&draft.id, &json!({"title": "  "})).await {
        Err(Error::Refused(problem)) => assert_eq!(problem.status, 422),
        other => panic!("a blank title: {other:?}"),
    }
    documents.delete(&draft.id).await.unwrap();
    assert!(service.all().await.is_empty());
}

/// 16 clients × 20 creates, then an update of each, through a proxy that
/// drops answers on the way back (the write landed; the client sees a
/// broken connection, or no answer before its timeout): each write is sent
/// again with its key and replayed, so there is exactly one document per
/// logical create, updated once.
async fn client_lost_answers_16x20(service: DocumentsService) {
    const CLIENTS: usize = 16;
    const CREATES: usize = 20;
    let proxy = Lossy::start(service.addr).await;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let base = format!("http://{}", proxy.addr);
        tasks.push(tokio::spawn(async move {
            let client = Client::builder(&base)
                .timeout(Duration::from_secs(1))
                .build()
                .unwrap();
            let documents = client.resource::<Document>("/documents");
            let mut replayed = 0;
            let mut ids = Vec::new();
            for i in 0..CREATES {
                let created = documents
                    .create(&document(&format!("c{c}-{i}")))
                    .await
                    .unwrap();
                assert_eq!(created.title, format!("c{c}-{i}"));
                replayed += u32::from(created.is_replayed());
                ids.push(created.id);
            }
            // Then one update of each: a PUT whose answer is lost and sent
            // again must get its 200 replayed, not a 412 for its now stale
            // If-Match (after which the change would be applied twice).
            for id in ids {
                let edited = documents
                    .update(&id, |d| d.body.push_str("edited"))
                    .await
                    .unwrap();
                assert_eq!((edited.revision, edited.body.as_str()), (2, "edited"));
                replayed += u32::from(edited.is_replayed());
            }
            (replayed, client.stats())
        }));
    }
    let (mut replayed, mut resends) = (0, 0);
    for task in tasks {
        let (replays, stats) = task.await.unwrap();
        replayed += replays;
        resends += stats.resends;
    }
    let mut titles: HashMap<String, usize> = HashMap::new();
    for doc in service.all().await {
        assert_eq!(
            (doc.revision, doc.body.as_str()),
            (2, "edited"),
            "updated once"
        );
        *titles.entry(doc.title).or_default() += 1;
    }
    assert_eq!(titles.len(), CLIENTS * CREATES, "one document per create");
    assert!(titles.values().all(|n| *n == 1), "{titles:?}");
    let (dropped, held) = proxy.lost();
    assert!(dropped + held > 0, "the proxy lost no answer");
    // At least: an answer slow past the timeout on a loaded machine is
    // sent again too, and replayed.
    assert!(
        usize::try_from(replayed).unwrap() >= proxy.keys_lost(),
        "every write whose answer was lost is answered by a replay"
    );
    assert!(
        resends >= u64::from(dropped + held),
        "a resend per lost answer"
    );
    eprintln!(
        "client_lost_answers_16x20: {} creates and as many updates, {dropped} answers cut \
         and {held} held past the timeout, {resends} resends, {replayed} replays",
        CLIENTS * CREATES
    );
}

/// A TCP proxy in front of a service that loses answers: after the
/// service has answered a keyed request, it cuts the connection or holds
/// the answer past the client's timeout, at most twice per key, so that
/// every write lands and its client never hears of it the first time.
struct Lossy {
    addr: SocketAddr,
    cut: Arc<AtomicU32>,
    held: Arc<AtomicU32>,
    losses: Arc<Mutex<HashMap<Vec<u8>, u32>>>,
}

impl Lossy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicU32::new(0));
        let held = Arc::new(AtomicU32::new(0));
        let losses: Arc<Mutex<HashMap<Vec<u8>, u32>>> = Arc::default();
        let rng = Arc::new(Mutex::new(occ_tests::process::Rng(0x0cc0_c11e)));
        let (c, h, l) = (cut.clone(), held.clone(), losses.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (cut, held, losses, rng) = (c.clone(), h.clone(), l.clone(), rng.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    relay(client, server, &cut, &held, &losses, &rng).await;
                });
            }
        });
        Self {
            addr,
            cut,
            held,
            losses,
        }
    }

    /// The keys of the writes whose answer was lost at least once.
    fn keys_lost(&self) -> usize {
        self.losses
            .lock()
            .unwrap()
            .values()
            .filter(|n| **n > 0)
            .count()
    }

    /// Answers cut, and answers held past the timeout.
    fn lost(&self) -> (u32, u32) {
        (
            self.cut.load(Ordering::Relaxed),
            self.held.load(Ordering::Relaxed),
        )
    }
}

/// One connection: each request goes up whole (they are small), its
/// answer comes back, or is lost.
async fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    cut: &AtomicU32,
    held: &AtomicU32,
    losses: &Mutex<HashMap<Vec<u8>, u32>>,
    rng: &Mutex<occ_tests::process::Rng>,
) {
    let mut buf = vec![0; 64 * 1024];
    loop {
        let Ok(n) = client.read(&mut buf).await else {
            return;
        };
        if n == 0 || server.write_all(&buf[..n]).await.is_err() {
            return;
        }
        let key = idempotency_key(&buf[..n]);
        let Ok(m) = server.read(&mut buf).await else {
            return;
        };
        if m == 0 {
            return;
        }
        if let Some(key) = key {
            let (lose, hold) = {
                let mut rng = rng.lock().unwrap();
                let mut losses = losses.lock().unwrap();
                let count = losses.entry(key).or_default();
                let lose = *count < 2 && rng.chance(50);
                *count += u32::from(lose);
                (lose, rng.chance(25))
            };
            if lose {
                if hold {
                    held.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(1_200)).await;
                } else {
                    cut.fetch_add(1, Ordering::Relaxed);
                }
                return; // both connections close, the answer unsent
            }
        }
        if client.write_all(&buf[..m]).await.is_err() {
            return;
        }
    }
}

/// The `Idempotency-Key` of a request's head, if it has one.
fn idempotency_key(request: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(request.split(|b| *b == 0).next()?).ok()?;
    head.lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("idempotency-key")
                .then(|| value.trim().as_bytes().to_vec())
        })
}

/// A note for the scripted server.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Versioned)]
#[occ(etag = "note-{id}-v{version}")]
struct Note {
    id: u64,
    #[version]
    #[serde(skip)]
    version: u64,
    text: String,
}

/// What the scripted server saw: the keys of each write, in order.
#[derive(Default)]
struct Script {
    step: AtomicU32,
    keys: Mutex<Vec<String>>,
}

fn note_answer(status: StatusCode, version: u64, text: &str) -> Response {
    (
        status,
        [
            ("etag", format!("\"note-1-v{version}\"")),
            ("content-type", "application/json".to_owned()),
        ],
        json!({"id": 1, "text": text}).to_string(),
    )
        .into_response()
}

fn problem(status: StatusCode, extra: serde_json::Value) -> Response {
    let mut body = json!({"type": "about:blank", "title": "t", "status": status.as_u16()});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    (
        status,
        [("content-type", "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// A server whose answers the test scripts, one per step.
async fn scripted(
    handler: impl Fn(u32, &str, &HeaderMap) -> Response + Clone + Send + Sync + 'static,
) -> (String, Arc<Script>) {
    let script = Arc::new(Script::default());
    let app = axum::Router::new()
        .route(
            "/notes/{id}",
            axum::routing::any(
                move |State(script): State<Arc<Script>>,
                      method: axum::http::Method,
                      headers: HeaderMap| {
                    let handler = handler.clone();
                    async move {
                        let step = script.step.fetch_add(1, Ordering::SeqCst);
                        if let Some(key) = headers.get("idempotency-key") {
                            script
                                .keys
                                .lock()
                                .unwrap()
                                .push(key.to_str().unwrap().to_owned());
                        }
                        handler(step, method.as_str(), &headers)
                    }
                },
            ),
        )
        .with_state(script.clone());
    let addr = serve(app).await;
    (format!("http://{addr}"), script)
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        ..RetryPolicy::default()
    }
}

/// A 5xx (even one that is not problem details) and a 409 with
/// `Retry-After` are sent again with the same key; the replay is reported.
#[tokio::test]
async fn client_resends_a_write_with_its_key() {
    let (base, script) = scripted(|step, method, _| match (step, method) {
        (0, "GET") => note_answer(StatusCode::OK, 1, "a"),
        (1, "PUT") => (StatusCode::BAD_GATEWAY, "<h1>bad gateway</h1>").into_response(),
        (2, "PUT") => {
            let mut r = problem(StatusCode::CONFLICT, json!({}));
            r.headers_mut().insert("retry-after", "0".parse().unwrap());
            r
        }
        (3, "PUT") => {
            let mut r = note_answer(StatusCode::OK, 2, "b");
            r.headers_mut()
                .insert("idempotent-replayed", "true".parse().unwrap());
            r
        }
        _ => StatusCode::IM_A_TEAPOT.into_response(),
    })
    .await;
    let client = Client::builder(&base).retry(fast()).build().unwrap();
    let notes = client.resource::<Note>("/notes");
    let written = notes.update(&1, |n| n.text = "b".into()).await.unwrap();
    assert!(written.is_replayed());
    assert_eq!((written.version, written.text.as_str()), (2, "b"));
    let keys = script.keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 3);
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "one key for one write: {keys:?}"
    );
    let stats = client.stats();
    assert_eq!((stats.sends, stats.resends, stats.replays), (4, 2, 1));
}

/// A 409 without `Retry-After` (the id is taken) is an answer, not a
/// reason to send again; a 428 and a 404 are typed.
#[tokio::test]
async fn client_reports_refusals_typed() {
    let (base, _) = scripted(|step, _, _| match step {
        0 => note_answer(StatusCode::OK, 1, "a"),
        1 => problem(StatusCode::CONFLICT, json!({"detail": "taken"})),
        2 => problem(StatusCode::PRECONDITION_REQUIRED, json!({})),
        _ => problem(StatusCode::NOT_FOUND, json!({})),
    })
    .await;
    let client = Client::builder(&base).retry(fast()).build().unwrap();
    let notes = client.resource::<Note>("/notes");
    notes.get(&1).await.unwrap();
    match notes.update(&1, |n| n.text.push('!')).await {
        Err(Error::Refused(problem)) => {
            assert_eq!(
                (problem.status, problem.detail.as_deref()),
                (StatusCode::CONFLICT, Some("taken"))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        notes.update(&1, |n| n.text.push('!')).await,
        Err(Error::PreconditionRequired(_))
    ));
    assert!(matches!(notes.get(&1).await, Err(Error::NotFound(_))));
    assert!(notes.cached(&1).is_none(), "a 404 forgets the resource");
    assert_eq!(client.stats().resends, 0);
}

/// The first 412's state is used as it came; a 412 without the state
/// costs a read, and so does every 412 after the first, whose wait is long
/// enough for the state it carried to have aged (a conditional read: a 304
/// keeps it). A resource that keeps changing ends the update after the
/// policy's attempts, with a new key for each.
#[tokio::test]
async fn client_gives_up_after_its_attempts() {
    let (base, script) = scripted(|step, method, headers| match (step, method) {
        (2, "PUT") => problem(StatusCode::PRECONDITION_FAILED, json!({})),
        (5, "GET") => {
            assert_eq!(headers.get("if-none-match").unwrap(), "\"note-1-v104\"");
            (StatusCode::NOT_MODIFIED, [("etag", "\"note-1-v104\"")]).into_response()
        }
        (_, "GET") => note_answer(StatusCode::OK, u64::from(step) + 1, "read"),
        _ => problem(
            StatusCode::PRECONDITION_FAILED,
            json!({"current_etag": format!("\"note-1-v{}\"", 100 + step),
                   "current": {"id": 1, "text": "theirs"}}),
        ),
    })
    .await;
    let client = Client::builder(&base)
        .retry(RetryPolicy {
            max_attempts: 5,
            ..fast()
        })
        .build()
        .unwrap();
    let notes = client.resource::<Note>("/notes");
    let mut bases = Vec::new();
    match notes
        .update(&1, |n| {
            bases.push(n.version);
            n.text.push('!');
        })
        .await
    {
        Err(Error::PreconditionFailed(conflict)) => {
            assert_eq!(conflict.attempts, 5);
            assert_eq!(conflict.current.unwrap().version, 108);
        }
        other => panic!("{other:?}"),
    }
    // 0 GET v1; 1 PUT → 412 v101, the next base as it came; 2 PUT → 412
    // bare; 3 GET v4; 4 PUT → 412 v104; 5 GET → 304, v104 kept; 6 PUT →
    // 412 v106; 7 GET v8; 8 PUT → 412 v108: five attempts spent.
    assert_eq!(bases, [1, 101, 4, 104, 8]);
    let stats = client.stats();
    assert_eq!(
        (stats.sends, stats.conflicts, stats.not_modified),
        (9, 4, 1)
    );
    let keys = script.keys.lock().unwrap().clone();
    let distinct: std::collections::HashSet<_> = keys.iter().collect();
    assert_eq!(
        (keys.len(), distinct.len()),
        (5, 5),
        "a new key per attempt"
    );
}

fn with_header(mut response: Response, name: &'static str, value: &str) -> Response {
    response.headers_mut().insert(name, value.parse().unwrap());
    response
}

/// A merge patch refused with 412 is sent again, with the tag of the state
/// the refusal carries, only when the members it sets did not change; a
/// refusal without that state is returned, as is one where they changed.
#[tokio::test]
async fn client_patch_is_sent_again_only_over_other_members() {
    let (base, script) = scripted(|step, method, headers| {
        let current = |version: u32, text: &str, extra: &str| {
            problem(
                StatusCode::PRECONDITION_FAILED,
                json!({"current_etag": format!("\"note-1-v{version}\""),
                       "current": {"id": 1, "text": text, "extra": extra}}),
            )
        };
        match (step, method) {
            (0, "GET") => note_answer(StatusCode::OK, 1, "a"),
            // Another member (one the model does not even have) changed.
            (1, "PATCH") => current(2, "a", "theirs"),
            (2, "PATCH") => {
                assert_eq!(headers.get("if-match").unwrap(), "\"note-1-v2\"");
                note_answer(StatusCode::OK, 3, "mine")
            }
            // The member the patch sets changed: returned, naming it.
            (3, "PATCH") => current(4, "theirs", "theirs"),
            // No state to compare: returned.
            (4, "PATCH") => problem(StatusCode::PRECONDITION_FAILED, json!({})),
            // A member the model skips counts: `extra` is in the JSON only.
            (5, "GET") => note_answer(StatusCode::OK, 6, "x"),
            (6, "PATCH") => current(7, "x", "changed"),
            _ => StatusCode::IM_A_TEAPOT.into_response(),
        }
    })
    .await;
    let client = Client::builder(&base).retry(fast()).build().unwrap();
    let notes = client.resource::<Note>("/notes");
    let patched = notes.patch(&1, &json!({"text": "mine"})).await.unwrap();
    assert_eq!((patched.version, patched.text.as_str()), (3, "mine"));
    match notes.patch(&1, &json!({"text": "again"})).await {
        Err(Error::PreconditionFailed(conflict)) => {
            assert_eq!(conflict.conflicts, ["text"]);
            assert_eq!(conflict.current.unwrap().version, 4);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        notes.patch(&1, &json!({"text": "b"})).await,
        Err(Error::PreconditionFailed(c)) if c.current.is_none() && c.conflicts.is_empty()
    ));
    match notes.patch(&1, &json!({"extra": "mine"})).await {
        Err(Error::PreconditionFailed(conflict)) => assert_eq!(conflict.conflicts, ["extra"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(script.step.load(Ordering::SeqCst), 7);
    assert_eq!(client.stats().conflicts, 1);
}

/// A write still without an outcome when the sends run out, or whose
/// server asks for a longer wait than the policy allows, is
/// `Unconfirmed`, with its key: it may have been applied.
#[tokio::test]
async fn client_reports_a_write_it_could_not_confirm() {
    let (base, script) = scripted(|step, method, _| match (step, method) {
        (_, "GET") => note_answer(StatusCode::OK, 1, "a"),
        // Five sends of one write, each answered 503.
        (1..=5, _) => problem(StatusCode::SERVICE_UNAVAILABLE, json!({})),
        // The next write: "still running, come back in an hour".
        _ => with_header(
            problem(StatusCode::CONFLICT, json!({})),
            "retry-after",
            "3600",
        ),
    })
    .await;
    let client = Client::builder(&base).retry(fast()).build().unwrap();
    let notes = client.resource::<Note>("/notes");
    match notes.update(&1, |n| n.text.push('!')).await {
        Err(Error::Unconfirmed {
            key,
            problem: Some(problem),
            ..
        }) => {
            assert_eq!(problem.status, 503);
            let keys = script.keys.lock().unwrap().clone();
            assert_eq!(keys, vec![key; 5], "five sends, one key");
        }
        other => panic!("{other:?}"),
    }
    let started = std::time::Instant::now();
    match notes.update(&1, |n| n.text.push('!')).await {
        Err(Error::Unconfirmed {
            problem: Some(problem),
            ..
        }) => assert_eq!(problem.status, 409),
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not sent again early"
    );
    assert_eq!(client.stats().sends, 7);
}

/// Within a `max-age` the server gave, a read is answered from the cache
/// without a request; the `Occ-Read-After` position a write's answer
/// carries goes back on the next reads, never lowered, never replaced by
/// one that does not parse; a redirect is not followed.
#[tokio::test]
async fn client_keeps_freshness_positions_and_redirects_to_itself() {
    let (base, script) = scripted(|step, method, headers| match (step, method) {
        (0, "GET") => with_header(
            note_answer(StatusCode::OK, 1, "a"),
            "cache-control",
            "max-age=60",
        ),
        (1, "PUT") => with_header(
            note_answer(StatusCode::OK, 2, "b"),
            "occ-read-after",
            "0/10",
        ),
        (2, "PUT") => with_header(note_answer(StatusCode::OK, 3, "c"), "occ-read-after", "0/5"),
        (3, "PUT") => with_header(
            note_answer(StatusCode::OK, 4, "d"),
            "occ-read-after",
            "soon",
        ),
        (4, "GET") => {
            assert_eq!(headers.get("occ-read-after").unwrap(), "0/10");
            note_answer(StatusCode::OK, 4, "d")
        }
        _ => with_header(
            StatusCode::TEMPORARY_REDIRECT.into_response(),
            "location",
            "/elsewhere",
        ),
    })
    .await;
    let client = Client::builder(&base).retry(fast()).build().unwrap();
    let notes = client.resource::<Note>("/notes");
    notes.get(&1).await.unwrap();
    assert_eq!(notes.get(&1).await.unwrap().version, 1);
    assert_eq!((client.stats().fresh, client.stats().sends), (1, 1));
    for text in ["b", "c", "d"] {
        notes.update(&1, |n| n.text = text.into()).await.unwrap();
    }
    // A read from the server (the cache forgotten) carries the position.
    notes.forget(&1);
    assert_eq!(notes.get(&1).await.unwrap().version, 4);
    match notes.update(&1, |n| n.text.push('!')).await {
        Err(Error::Refused(problem)) => assert_eq!(problem.status, 307),
        other => panic!("{other:?}"),
    }
    assert_eq!(script.step.load(Ordering::SeqCst), 6);
}

/// `delete_state` deletes only the state it is given.
#[tokio::test]
async fn client_deletes_only_the_state_it_holds() {
    let (base, _) = scripted(|step, method, headers| match (step, method) {
        (0, "GET") => note_answer(StatusCode::OK, 1, "a"),
        (1, "DELETE") => {
            assert_eq!(headers.get("if-match").unwrap(), "\"note-1-v1\"");
            problem(
                StatusCode::PRECONDITION_FAILED,
                json!({"current_etag": "\"note-1-v2\"", "current": {"id": 1, "text": "b"}}),
            )
        }
        _ => StatusCode::NO_CONTENT.into_response(),
    })
    .await;
    let client = Client::new(&base).unwrap();
    let notes = client.resource::<Note>("/notes");
    let seen = notes.get(&1).await.unwrap();
    match notes.delete_state(&seen).await {
        Err(Error::PreconditionFailed(conflict)) => {
            let current = conflict.current.unwrap();
            assert_eq!((current.version, current.text.as_str()), (2, "b"));
            notes.delete_state(&current).await.unwrap();
        }
        other => panic!("{other:?}"),
    }
    assert!(notes.cached(&1).is_none());
}

/// Every operation's future is `Send` when the model is: it can run in
/// `tokio::spawn`.
#[allow(dead_code)] // checked by the compiler, never run
fn client_futures_are_send(notes: occ_client::Resource<Note>, state: occ_client::Tagged<Note>) {
    fn send<T: Send>(_: T) {}
    send(notes.get(&1));
    send(notes.update(&1, |n| n.text.clear()));
    send(notes.patch(&1, &json!({"text": "x"})));
    send(notes.create(&state));
    send(notes.create_once(&state));
    send(notes.delete(&1));
    send(notes.delete_state(&state));
}

/// A weakly tagged resource cannot be written conditionally (IM-1 compares
/// strongly): the client says so rather than collecting 412s.
#[tokio::test]
async fn client_refuses_to_write_under_a_weak_tag() {
    let (base, script) = scripted(|_, _, _| {
        with_header(
            note_answer(StatusCode::OK, 1, "a"),
            "etag",
            "W/\"note-1-v1\"",
        )
    })
    .await;
    let client = Client::new(&base).unwrap();
    let notes = client.resource::<Note>("/notes");
    assert!(matches!(
        notes.update(&1, |n| n.text.push('!')).await,
        Err(Error::Protocol(_))
    ));
    assert_eq!(script.step.load(Ordering::SeqCst), 1, "the read only");
}
