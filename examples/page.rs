//! A browser client of the profiles service, served at `GET /app`: one
//! HTML page with inline script and no external assets.
//!
//! It does what a browser app does against the API: reads a profile and its
//! `ETag`, saves an edit with `If-Match`, and on 412 shows the `current`
//! state and `current_etag` the problem carries, so that the user can merge
//! the edit and save again without reading first; a save without a
//! precondition shows the 428. `?api=http://127.0.0.1:3000` points it at
//! the API of another origin (by default its own), which must then allow
//! the page's origin (`CORS_ORIGIN`): a cross-origin script sees the
//! `ETag` header only because the API exposes it. `?id=43` picks another
//! profile than 42.
//!
//! Each outcome is written into an element with a stable id, read by
//! `tests/tests/browser.rs`: `#status` (the status code, `pending`, or
//! `network error` when the browser refused the exchange; its
//! `data-answers` counts the answers shown), `#content-type`,
//! `#etag` (the tag the page holds), `#outcome`, `#problem` (the problem
//! details), and after a 412 `#current-etag` and `#current` (JSON), with
//! `#merge` to apply the edit to that state.

use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;

/// The page.
pub const HTML: &str = include_str!("app.html");

/// `GET /app`: the page, `text/html`, revalidated on every load.
pub fn router() -> Router {
    Router::new().route("/app", get(page))
}

async fn page() -> impl IntoResponse {
    ([(http::header::CACHE_CONTROL, "no-cache")], Html(HTML))
}
