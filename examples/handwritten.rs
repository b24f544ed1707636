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
use axum::routing::get;
use axum::{Json, Router};
use occ_axum::{Conditional, Preconditions, Problem, Refused, Tagged};
use occ_core::repository::{MemoryRepository, Repository, WriteCondition};
use occ_core::Versioned;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Versioned)]
#[occ(etag = "note-{id}-v{version}")]
struct Note {
    id: u32,
    #[version]
    #[serde(skip)]
    version: u64,
    text: String,
}

#[derive(Deserialize)]
struct Edit {
    text: String,
}

type Notes = Arc<MemoryRepository<Note>>;

/// GET with 304 and 412 handled by the same evaluation as writes.
async fn read(
    State(notes): State<Notes>,
    Path(id): Path<u32>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    pre: Preconditions,
) -> Result<Tagged<Note>, Refused> {
    let current = notes.get(&id).await.ok();
    let etag = current.as_ref().map(Versioned::entity_tag);
    let target = match (&current, &etag) {
        (Some(note), Some(tag)) => occ_core::Target::of(note, tag),
        _ => occ_core::Target::missing_of::<Note>(),
    };
    let decision = pre.evaluate(&method, &target, occ_axum::Policy::Required);
    if let Some(refused) = Refused::from_decision(decision, &method, uri.path(), etag.as_ref()) {
        return Err(refused);
    }
    current
        .map(Tagged::ok)
        .ok_or_else(|| Refused::Problem(Problem::new(axum::http::StatusCode::NOT_FOUND)))
}

/// PUT: preconditions first (428, 412, 404), then the body (400, 422), then
/// a compare-and-swap on the version the preconditions saw.
async fn edit(
    State(notes): State<Notes>,
    Path(id): Path<u32>,
    request: Conditional<Json<Edit>>,
) -> Result<Tagged<Note>, Refused> {
    let current = notes.get(&id).await.ok();
    let Json(edit) = request.check(current.as_ref()).await?;
    let Some(current) = current else {
        return Err(Refused::Problem(Problem::new(
            axum::http::StatusCode::NOT_FOUND,
        )));
    };
    let read_version = current.version;
    let next = Note {
        text: edit.text,
        ..current
    };
    let saved = notes
        .update(next, &WriteCondition::VersionIn(vec![read_version]))
        .await
        .map_err(|e| Refused::Problem(e.into()))?;
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
    };
    if notes.create(first).await.is_err() {
        return std::process::ExitCode::FAILURE;
    }
    let app = Router::new()
        .route("/notes/{id}", get(read).put(edit))
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
