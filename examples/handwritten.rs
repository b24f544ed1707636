//! Conditional handlers written by hand with occ-axum's extractors and
//! responders, for services that do not want generated routes.
//!
//! ```sh
//! cargo run --example handwritten
//! curl -i localhost:3001/notes/1
//! curl -i -X PUT localhost:3001/notes/1 -H 'content-type: application/json' \
//!      -H 'if-match: "note-1-v1"' -d '{"text":"edited"}'
//! ```

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
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
async fn edit(
    State(notes): State<Notes>,
    Path(id): Path<u32>,
    request: Conditional<Json<Edit>>,
) -> Result<Tagged<Note>, Refusal> {
    request
        .merge(&*notes, &id, |Json(edit)| {
            Ok(serde_json::json!({ "text": edit.text }))
        })
        .await
}

/// A custom action: `POST /notes/{id}/pin` is a write like any other (428
/// without a precondition), written here on the general path: read and
/// evaluate, then a compare-and-swap on the version read.
async fn pin(
    State(notes): State<Notes>,
    Path(id): Path<u32>,
    request: ConditionalRequest,
) -> Result<Tagged<Note>, Refusal> {
    let Some(current) = request.check(&*notes, &id).await? else {
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
