//! What a generated route reads from its request before the pipeline
//! runs: the id in the URL, the caller's scope, the media type, and the
//! `Idempotency-Key` a write runs under.

use std::fmt::Display;

use axum::body::Body;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Request};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};
use occ_core::repository::Scope;
use occ_core::Versioned;
use serde::de::DeserializeOwned;

use super::settings::Config;
use crate::extract::conditional_request::ConditionalRequest;
use crate::headers::{ACCEPT_PATCH, MERGE_PATCH_JSON};
use crate::problem::Problem;
use crate::refusal::Refusal;

/// Runs a write handler `$run(&config, repo, request)` under the
/// request's `Idempotency-Key`, if it has one the repository can keep:
/// through the claimed key's repository, with the response recorded.
macro_rules! keyed {
    ($config:ident, $request:ident, $run:ident) => {
        match crate::idempotency::begin(&*$config.repo, $request, $config.settings.body_limit).await
        {
            crate::idempotency::Keyed::Plain(request) => {
                $run(&$config, &*$config.repo, request).await
            }
            crate::idempotency::Keyed::Claimed(claim, request) => {
                let response = $run(&$config, claim.repository(), request).await;
                crate::idempotency::finish(claim, response).await
            }
            crate::idempotency::Keyed::Replayed(response) => response,
            crate::idempotency::Keyed::Refused(refusal) => refusal.into_response(),
        }
    };
}
pub(super) use keyed;

/// A request's conditions under the route's policy, its id from the path,
/// and its body.
pub(super) async fn split<M, R: ?Sized>(
    request: Request,
    config: &Config<M, R>,
) -> (ConditionalRequest, Result<M::Id, Refusal>, HeaderMap, Body)
where
    M: Versioned + 'static,
    M::Id: DeserializeOwned + Display + Send,
{
    let (mut parts, body) = request.into_parts();
    let conditions = ConditionalRequest::take_from_parts(&mut parts, config.settings.policy)
        .current_in_412(config.settings.current_in_412);
    let id = match scope_check(config, conditions.scope()) {
        Err(refusal) => Err(refusal),
        Ok(()) => match Path::<M::Id>::from_request_parts(&mut parts, &()).await {
            Ok(Path(id)) => match unusable_id(&id) {
                None => Ok(id),
                Some(why) => Err(Problem::new(StatusCode::BAD_REQUEST)
                    .with_detail(format!("the id in the URL is not valid: {why}"))
                    .into()),
            },
            Err(rejection) => Err(invalid_id(rejection)),
        },
    };
    (conditions, id, parts.headers, body)
}

/// Why no resource may have an id that reads as `id` does: an empty id
/// (its `Location` would be the collection's) or one with control
/// characters (which no URL or header shows as they are). Read through
/// `Display` without allocating: it runs on every item request. A
/// primitive integer always reads as digits, so it is not read at all.
pub(super) fn unusable_id<I: Display + 'static>(id: &I) -> Option<&'static str> {
    use std::any::TypeId;
    use std::fmt::Write as _;
    let integers = [
        TypeId::of::<i64>(),
        TypeId::of::<u64>(),
        TypeId::of::<i32>(),
        TypeId::of::<u32>(),
        TypeId::of::<i128>(),
        TypeId::of::<u128>(),
        TypeId::of::<i16>(),
        TypeId::of::<u16>(),
        TypeId::of::<i8>(),
        TypeId::of::<u8>(),
        TypeId::of::<isize>(),
        TypeId::of::<usize>(),
    ];
    if integers.contains(&TypeId::of::<I>()) {
        return None;
    }
    #[derive(Default)]
    struct Seen {
        any: bool,
        control: bool,
    }
    impl std::fmt::Write for Seen {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.any |= !s.is_empty();
            self.control |= s.chars().any(char::is_control);
            Ok(())
        }
    }
    let mut seen = Seen::default();
    let _ = write!(seen, "{id}");
    if !seen.any {
        Some("an id cannot be empty")
    } else if seen.control {
        Some("an id cannot contain control characters")
    } else {
        None
    }
}

/// An id in the URL that does not parse is the client's error (400,
/// design decision 12): such a URL cannot name a resource, and saying so
/// is more use than a 404 that reads like a missing one.
pub(super) fn invalid_id(rejection: PathRejection) -> Refusal {
    let why = match &rejection {
        PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
            // The route and the id type disagree: the service's bug.
            ErrorKind::WrongNumberOfParameters { .. } | ErrorKind::UnsupportedType { .. } => None,
            kind => Some(kind.to_string()),
        },
        _ => None,
    };
    match why {
        Some(why) => Problem::new(StatusCode::BAD_REQUEST)
            .with_detail(format!("the id in the URL is not valid: {why}"))
            .into(),
        None => {
            tracing::error!(%rejection, "the route's id cannot be extracted");
            Problem::internal_error().into()
        }
    }
}

/// A route that requires a scope refuses a request without one: showing
/// every row would be the worse failure. A model with a declared scope
/// (`#[occ(scope)]`) always requires one.
pub(super) fn scope_check<M: Versioned, R: ?Sized>(
    config: &Config<M, R>,
    scope: Option<&Scope>,
) -> Result<(), Refusal> {
    if scope.is_some() || !(config.settings.require_scope || M::SCOPE_COLUMN.is_some()) {
        return Ok(());
    }
    // Once per process: every request of the route fails the same way.
    static LOGGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let column = M::SCOPE_COLUMN.unwrap_or("its scope column");
    if !LOGGED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::error!(
            "a scoped route got a request without a `Scope` in its extensions: add the layer that authenticates the caller and inserts `occ_core::repository::Scope::new(\"{column}\", …)` in front of the routes"
        );
    }
    Err(Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        .with_detail("the service is misconfigured: this route needs the caller's scope, and its authentication layer did not provide one")
        .into())
}

/// Checks the media type (415 beats 412, EV-2) for a body of `expected`.
pub(super) fn require_media_type(
    headers: &HeaderMap,
    expected: &str,
    accept_patch: bool,
) -> Result<(), Refusal> {
    // Most clients send the media type exactly as named, without
    // parameters: that is one comparison.
    let ok = headers.get(CONTENT_TYPE).is_some_and(|value| {
        value.as_bytes() == expected.as_bytes()
            || value
                .to_str()
                .ok()
                .and_then(|v| v.split(';').next())
                .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected))
    });
    if ok {
        return Ok(());
    }
    let mut response = Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        .with_detail(format!("send the body as {expected}"));
    if accept_patch {
        response = response.with_header(ACCEPT_PATCH, HeaderValue::from_static(MERGE_PATCH_JSON));
    }
    Err(response.into())
}
