//! What the benches share: a document of about 4 KiB, its table, and the
//! hand-written baseline service that does the same correct work as occ's
//! generated routes.
#![allow(dead_code)] // each bench uses its part

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use headers::HeaderMapExt;
use http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use occ_axum::routes::ConditionalRoutes;
use occ_axum::{Problem, Tagged};
use occ_core::repository::{Repository, RepositoryError, WriteCondition};
use occ_core::Versioned;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "bench_http_docs", etag = "doc-{id}-v{version}")]
pub(crate) struct Doc {
    pub(crate) id: i64,
    #[version]
    #[serde(skip)]
    pub(crate) version: i64,
    pub(crate) title: String,
    pub(crate) body: String,
}

pub(crate) const DDL: &str = "CREATE TABLE IF NOT EXISTS bench_http_docs (
    id BIGINT PRIMARY KEY, version BIGINT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL)";

pub(crate) fn doc(id: i64) -> Doc {
    Doc {
        id,
        version: 1,
        title: "A title".into(),
        // About 4 KiB of JSON once serialized.
        body: "lorem ipsum ".repeat(340),
    }
}

pub(crate) type Repo = dyn Repository<Doc>;

// ---- The baseline: what a careful hand-written service does. ----

fn problem(status: StatusCode, current: Option<&Doc>) -> Response {
    let problem = Problem::new(status);
    match current {
        // The same work as occ's 412 (design decision 16): the current
        // tag and the current representation.
        Some(doc) => problem
            .with_current_etag(doc.entity_tag())
            .with_current(doc)
            .into_response(),
        None => problem.into_response(),
    }
}

fn etag_header(doc: &Doc) -> headers::ETag {
    doc.entity_tag().to_string().parse().expect("a valid tag")
}

async fn hand_get(
    State(repo): State<Arc<Repo>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    let doc = match repo.get(&id).await {
        Ok(doc) => doc,
        Err(RepositoryError::NotFound) => return problem(StatusCode::NOT_FOUND, None),
        Err(_) => return problem(StatusCode::SERVICE_UNAVAILABLE, None),
    };
    let etag = etag_header(&doc);
    if let Some(if_none_match) = headers.typed_get::<headers::IfNoneMatch>() {
        if !if_none_match.precondition_passes(&etag) {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            response.headers_mut().typed_insert(etag);
            return response;
        }
    }
    Tagged::ok(doc).into_response()
}

async fn hand_put(
    State(repo): State<Arc<Repo>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers.get(header::CONTENT_TYPE) != Some(&HeaderValue::from_static("application/json")) {
        return problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
    }
    let current = match repo.get(&id).await {
        Ok(doc) => doc,
        Err(RepositoryError::NotFound) => return problem(StatusCode::NOT_FOUND, None),
        Err(_) => return problem(StatusCode::SERVICE_UNAVAILABLE, None),
    };
    let Some(if_match) = headers.typed_get::<headers::IfMatch>() else {
        return problem(StatusCode::PRECONDITION_REQUIRED, None);
    };
    if !if_match.precondition_passes(&etag_header(&current)) {
        return problem(StatusCode::PRECONDITION_FAILED, Some(&current));
    }
    let Ok(mut next) = serde_json::from_slice::<Doc>(&body) else {
        return problem(StatusCode::UNPROCESSABLE_ENTITY, None);
    };
    next.id = current.id;
    next.version = current.version;
    match repo
        .update(next, &WriteCondition::VersionIn(vec![current.version]))
        .await
    {
        Ok(saved) => Tagged::written(saved).into_response(),
        Err(RepositoryError::PreconditionFailed { current }) => {
            problem(StatusCode::PRECONDITION_FAILED, Some(&current))
        }
        Err(_) => problem(StatusCode::SERVICE_UNAVAILABLE, None),
    }
}

pub(crate) fn hand_written(repo: Arc<Repo>) -> Router {
    Router::new().nest(
        "/docs",
        Router::new()
            .route("/{id}", get(hand_get).put(hand_put))
            .with_state(repo),
    )
}

pub(crate) fn occ(repo: Arc<Repo>) -> Router {
    Router::new().nest(
        "/docs",
        ConditionalRoutes::<Doc, Repo>::new(repo).into_router(),
    )
}

// ---- One in-process exchange, the same for both sides. ----

/// A request for doc 1, with one optional header; a non-empty body is sent
/// as JSON.
pub(crate) fn request(
    method: Method,
    header: Option<(header::HeaderName, String)>,
    body: &Bytes,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri("/docs/1");
    if let Some((name, value)) = header {
        builder = builder.header(name, value);
    }
    if body.is_empty() {
        builder.body(Body::empty()).expect("a valid request")
    } else {
        builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.clone()))
            .expect("a valid request")
    }
}

/// Sends `request` through `app` with tower's `oneshot` and collects the
/// whole response.
pub(crate) async fn send(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.expect("a whole body").to_bytes(),
    )
}

/// The wire form of doc `id`'s tag at `version`, as the model makes it.
pub(crate) fn tag(id: i64, version: i64) -> String {
    Doc::entity_tag_for(&id, version).to_string()
}

/// The version in the `ETag` of a response about doc `id`.
pub(crate) fn version_of(headers: &HeaderMap, id: i64) -> i64 {
    let etag = headers[header::ETAG].to_str().expect("an ASCII ETag");
    let tag: occ_core::EntityTag = etag.parse().expect("a valid ETag");
    Doc::version_from_tag(&id, tag.as_tag_ref()).expect("a tag of this doc")
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

// ---- The best hand-written handler: one statement, straight sqlx. ----
//
// What a careful developer writes for PostgreSQL without occ: `If-Match`
// parsed with the `headers` crate, the tag mapped to a version, and the
// condition put in the `UPDATE` itself, so that a successful write is one
// statement. Only when no row is touched does one `SELECT` of the version
// tell 404 from 412 (with the current ETag). A conditional GET is one
// statement that reads the representation only when the client's tag is
// stale, so a 304 reads the version alone. No occ type is used: tags,
// responses and problems are written by hand.

const ONE_SELECT: &str = "SELECT id, version, title, body FROM bench_http_docs WHERE id = $1";
const ONE_SELECT_UNLESS: &str = "SELECT version, \
     CASE WHEN version = ANY($2) THEN NULL ELSE title END, \
     CASE WHEN version = ANY($2) THEN NULL ELSE body END \
     FROM bench_http_docs WHERE id = $1";
const ONE_VERSION: &str = "SELECT version FROM bench_http_docs WHERE id = $1";
const ONE_UPDATE: &str = "UPDATE bench_http_docs SET title = $1, body = $2, version = version + 1 \
     WHERE id = $3 AND version = $4 RETURNING id, version, title, body";
const ONE_UPDATE_ANY_OF: &str = "UPDATE bench_http_docs \
     SET title = $1, body = $2, version = version + 1 \
     WHERE id = $3 AND version = ANY($4) RETURNING id, version, title, body";
const ONE_UPDATE_EXISTING: &str = "UPDATE bench_http_docs \
     SET title = $1, body = $2, version = version + 1 \
     WHERE id = $3 RETURNING id, version, title, body";

/// The wire form of doc `id`'s tag at `version`, written by hand.
fn one_etag(id: i64, version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"doc-{id}-v{version}\"")).expect("a valid tag")
}

/// The versions of doc `id` that a precondition field names: each element
/// of the list that has this resource's tag form, and that `names` (the
/// `headers` crate's comparison) accepts.
fn one_versions(
    headers: &HeaderMap,
    name: header::HeaderName,
    id: i64,
    names: impl Fn(&headers::ETag) -> bool,
) -> Vec<i64> {
    let prefix = format!("\"doc-{id}-v");
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|element| {
            let element = element.trim();
            let opaque = element.strip_prefix("W/").unwrap_or(element);
            let version = opaque.strip_prefix(&prefix)?.strip_suffix('"')?;
            let version: i64 = version.parse().ok()?;
            let tag: headers::ETag = one_etag(id, version).to_str().ok()?.parse().ok()?;
            names(&tag).then_some(version)
        })
        .collect()
}

fn one_problem(status: StatusCode, current: Option<(i64, i64)>) -> Response {
    let mut body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or(""),
        "status": status.as_u16(),
    });
    let mut response = Response::builder().status(status);
    if let Some((id, version)) = current {
        let etag = one_etag(id, version);
        body["current_etag"] = etag.to_str().unwrap_or_default().into();
        response = response.header(header::ETAG, etag);
    }
    response
        .header(header::CONTENT_TYPE, "application/problem+json")
        .body(Body::from(body.to_string()))
        .expect("a valid response")
}

fn one_representation(doc: &Doc, written: bool) -> Response {
    let Ok(json) = serde_json::to_vec(doc) else {
        return one_problem(StatusCode::INTERNAL_SERVER_ERROR, None);
    };
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ETAG, one_etag(doc.id, doc.version));
    if written {
        response = response.header(header::CACHE_CONTROL, "no-store");
    }
    response.body(Body::from(json)).expect("a valid response")
}

async fn one_get(
    State(pool): State<sqlx::PgPool>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    // A malformed If-None-Match is ignored on GET.
    let (any, known) = match headers.typed_get::<headers::IfNoneMatch>() {
        None => (false, Vec::new()),
        // A valid field holding `*` holds nothing else.
        Some(_)
            if headers
                .get(header::IF_NONE_MATCH)
                .is_some_and(|v| v.as_bytes().trim_ascii() == b"*") =>
        {
            (true, Vec::new())
        }
        Some(inm) => (
            false,
            one_versions(&headers, header::IF_NONE_MATCH, id, |tag| {
                !inm.precondition_passes(tag)
            }),
        ),
    };
    let not_modified = |version: i64| {
        Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, one_etag(id, version))
            .body(Body::empty())
            .expect("a valid response")
    };
    if any {
        return match sqlx::query_scalar::<_, i64>(ONE_VERSION)
            .bind(id)
            .fetch_optional(&pool)
            .await
        {
            Ok(Some(version)) => not_modified(version),
            Ok(None) => one_problem(StatusCode::NOT_FOUND, None),
            Err(_) => one_problem(StatusCode::SERVICE_UNAVAILABLE, None),
        };
    }
    if known.is_empty() {
        return match sqlx::query_as::<_, Doc>(ONE_SELECT)
            .bind(id)
            .fetch_optional(&pool)
            .await
        {
            Ok(Some(doc)) => one_representation(&doc, false),
            Ok(None) => one_problem(StatusCode::NOT_FOUND, None),
            Err(_) => one_problem(StatusCode::SERVICE_UNAVAILABLE, None),
        };
    }
    match sqlx::query_as::<_, (i64, Option<String>, Option<String>)>(ONE_SELECT_UNLESS)
        .bind(id)
        .bind(&known)
        .fetch_optional(&pool)
        .await
    {
        Ok(Some((version, Some(title), Some(body)))) => one_representation(
            &Doc {
                id,
                version,
                title,
                body,
            },
            false,
        ),
        Ok(Some((version, _, _))) => not_modified(version),
        Ok(None) => one_problem(StatusCode::NOT_FOUND, None),
        Err(_) => one_problem(StatusCode::SERVICE_UNAVAILABLE, None),
    }
}

async fn one_put(
    State(pool): State<sqlx::PgPool>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return one_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
    }
    // Absent, or present but malformed (then it fails, as an If-Match that
    // cannot be understood must).
    let if_match = headers.typed_get::<headers::IfMatch>();
    let parsed = serde_json::from_slice::<Doc>(&body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::BAD_REQUEST,
    });
    let parsed = parsed.and_then(|doc| {
        if doc.id == id {
            Ok(doc)
        } else {
            Err(StatusCode::UNPROCESSABLE_ENTITY)
        }
    });
    if let (Some(if_match), Ok(doc)) = (&if_match, &parsed) {
        let versions = if if_match.is_any() {
            None
        } else {
            Some(one_versions(&headers, header::IF_MATCH, id, |tag| {
                if_match.precondition_passes(tag)
            }))
        };
        let sql = match versions.as_deref() {
            None => Some(ONE_UPDATE_EXISTING),
            Some([]) => None, // no tag of this resource: nothing can match
            Some([_]) => Some(ONE_UPDATE),
            Some(_) => Some(ONE_UPDATE_ANY_OF),
        };
        if let Some(sql) = sql {
            let update = sqlx::query_as::<_, Doc>(sql)
                .bind(&doc.title)
                .bind(&doc.body)
                .bind(id);
            let update = match versions.as_deref() {
                Some([version]) => update.bind(*version),
                Some(versions) => update.bind(versions.to_vec()),
                None => update,
            };
            match update.fetch_optional(&pool).await {
                Ok(Some(saved)) => return one_representation(&saved, true),
                Ok(None) => {}
                Err(_) => return one_problem(StatusCode::SERVICE_UNAVAILABLE, None),
            }
        }
    }
    // Nothing written: one read of the version says why, in the order of
    // RFC 9110 (404, then 428, then 412, and the body's error last).
    let current = match sqlx::query_scalar::<_, i64>(ONE_VERSION)
        .bind(id)
        .fetch_optional(&pool)
        .await
    {
        Ok(Some(version)) => version,
        Ok(None) => return one_problem(StatusCode::NOT_FOUND, None),
        Err(_) => return one_problem(StatusCode::SERVICE_UNAVAILABLE, None),
    };
    let passes = match &if_match {
        None if !headers.contains_key(header::IF_MATCH) => {
            return one_problem(StatusCode::PRECONDITION_REQUIRED, None)
        }
        None => false,
        Some(if_match) => if_match.precondition_passes(
            &one_etag(id, current)
                .to_str()
                .unwrap_or_default()
                .parse()
                .expect("a valid tag"),
        ),
    };
    match parsed {
        // The body is judged only once the precondition passed; a write
        // that passes now but touched nothing lost a race: 412 too.
        Err(status) if passes => one_problem(status, None),
        _ => one_problem(StatusCode::PRECONDITION_FAILED, Some((id, current))),
    }
}

/// The single-statement hand-written service, on a PostgreSQL pool.
pub(crate) fn one_statement(pool: sqlx::PgPool) -> Router {
    Router::new().nest(
        "/docs",
        Router::new()
            .route("/{id}", get(one_get).put(one_put))
            .with_state(pool),
    )
}
