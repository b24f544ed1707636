//! Conditional handlers written by hand with occ-axum's extractors and
//! responders, for services that do not want generated routes.
//!
//! ```sh
//! cargo run --example handwritten
//! curl -i localhost:3001/notes/1
//! curl -i -X PUT localhost:3001/notes/1 -H 'content-type: application/json' \
//!      -H 'if-match: "note-1-v1"' -H 'idempotency-key: "edit-1"' -d '{"text":"edited"}'
//! ```
//!
//! The writes honour `Idempotency-Key` (design decision 17) as the
//! generated routes do, through [`occ_axum::idempotency::attempt`]: the
//! same PUT again, with the same key, is answered with the
//! first 200 and `Idempotent-Replayed: true`, not with 412, and the note is
//! written once; the same key on another request is 422.

use std::sync::Arc;

use axum::extract::{FromRequest, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use occ_axum::idempotency::attempt;
use occ_axum::{Conditional, ConditionalRequest, Refusal, Tagged};
use occ_core::repository::{MemoryRepository, Repository, WriteCondition};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, occ_core::Versioned)]
#[occ(etag = "note-{id}-v{version}")]
struct Note {
    id: u32,
    #[version]
    #[serde(skip)]
    version: u64,
    text: String,
    #[serde(default)]
    pinned: bool,
}

#[derive(Deserialize)]
struct Edit {
    text: String,
}

type Notes = Arc<MemoryRepository<Note>>;

/// The largest body a keyed write may have: [`attempt`] reads it whole
/// to fingerprint the request.
const BODY_LIMIT: usize = 64 * 1024;

/// GET: 200, or 304 / 404 / 412 from the same evaluation as writes; with
/// `If-None-Match` alone, a 304 never reads the representation.
async fn read(
    State(notes): State<Notes>,
    Path(id): Path<u32>,
    request: ConditionalRequest,
) -> Result<Tagged<Note>, Refusal> {
    request.read(&*notes, &id).await
}

/// PUT: preconditions first (428, 412, 404), then the body (400, 422); the
/// edit is a merge of the members it sets, one compare-and-swap.
///
/// Once per `Idempotency-Key`: a request without a key is written as
/// usual; the first with a key is written through the claim's repository
/// and its answer recorded with the write; a retry gets that answer again
/// (or 409 while the first runs, 422 for another request with the same
/// key, 400 for a malformed key).
async fn edit(State(notes): State<Notes>, Path(id): Path<u32>, request: Request) -> Response {
    let (attempt, request) = match attempt(&*notes, request, BODY_LIMIT).await {
        Ok(attempt) => attempt,
        Err(answer) => return answer,
    };
    let response = write_edit(attempt.repository(), id, request).await;
    attempt.finish(response.into_response()).await
}

async fn write_edit(
    notes: &dyn Repository<Note>,
    id: u32,
    request: Request,
) -> Result<Tagged<Note>, Refusal> {
    let Ok(request) = Conditional::<Json<Edit>>::from_request(request, &()).await;
    request
        .merge(notes, &id, |Json(edit)| {
            Ok(serde_json::json!({ "text": edit.text }))
        })
        .await
}

/// A custom action: `POST /notes/{id}/pin` is a write like any other (428
/// without a precondition), written here on the general path: read and
/// evaluate, then a compare-and-swap on the version read. Once per
/// `Idempotency-Key`, as [`edit`].
async fn pin(State(notes): State<Notes>, Path(id): Path<u32>, request: Request) -> Response {
    let (attempt, request) = match attempt(&*notes, request, BODY_LIMIT).await {
        Ok(attempt) => attempt,
        Err(answer) => return answer,
    };
    let response = write_pin(attempt.repository(), id, request).await;
    attempt.finish(response.into_response()).await
}

async fn write_pin(
    notes: &dyn Repository<Note>,
    id: u32,
    request: Request,
) -> Result<Tagged<Note>, Refusal> {
    let request = ConditionalRequest::from_parts(&request.into_parts().0);
    let Some(current) = request.check(notes, &id).await? else {
        return Err(occ_axum::Problem::new(axum::http::StatusCode::NOT_FOUND).into());
    };
    let read_version = current.version;
    let next = Note {
        pinned: true,
        ..current
    };
    let saved = notes
        .update(next, &WriteCondition::VersionIn(vec![read_version]))
        .await?;
    Ok(Tagged::written(saved))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().init();
    let notes: Notes = Arc::new(MemoryRepository::new());
    let first = Note {
        id: 1,
        version: 1,
        text: "hello".into(),
        pinned: false,
    };
    if notes.create(first).await.is_err() {
        return std::process::ExitCode::FAILURE;
    }
    let app = Router::new()
        .route("/notes/{id}", get(read).put(edit))
        .route("/notes/{id}/pin", post(pin))
        .with_state(notes);
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let Ok(listener) = tokio::net::TcpListener::bind(&addr).await else {
        eprintln!("cannot listen on {addr}");
        return std::process::ExitCode::FAILURE;
    };
    // The bound address: with a port of 0 (`LISTEN_ADDR=127.0.0.1:0`),
    // the one the system chose.
    let addr = listener
        .local_addr()
        .map_or(addr, |bound| bound.to_string());
    tracing::info!("notes listening on http://{addr}, in memory");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    if served.is_err() {
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
