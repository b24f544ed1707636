//! Responders: a versioned representation with its validators, and 304.

use std::time::SystemTime;

use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, ETAG, LAST_MODIFIED, LOCATION};
use http::{HeaderValue, StatusCode};
use occ_core::{EntityTag, Versioned};
use serde::Serialize;

use crate::problem::Problem;

/// A [`Versioned`] model as a JSON response with its `ETag` (G-5) and, when
/// the model has one, `Last-Modified`.
///
/// ```
/// use occ_axum::Tagged;
/// use occ_core::Versioned;
///
/// #[derive(serde::Serialize, Versioned)]
/// struct Note { id: u64, #[version] version: u64, text: String }
///
/// async fn read() -> Tagged<Note> {
///     Tagged::ok(Note { id: 1, version: 3, text: "hi".into() })
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Tagged<M> {
    model: M,
    status: StatusCode,
    location: Option<HeaderValue>,
    no_store: bool,
    /// The model's tag, when the caller has it already.
    etag: Option<EntityTag>,
    /// What `Last-Modified` is rounded with, when the caller knows it.
    as_of: Option<SystemTime>,
}

impl<M: Versioned + Serialize> Tagged<M> {
    /// 200 with the representation.
    pub fn ok(model: M) -> Self {
        Self {
            model,
            status: StatusCode::OK,
            location: None,
            no_store: false,
            etag: None,
            as_of: None,
        }
    }

    /// 200 after a write: the new representation, its new tag, and
    /// `Cache-Control: no-store` (design decision 6, docs/design.md).
    pub fn written(model: M) -> Self {
        Self {
            no_store: true,
            // The writes this one does not include come after it, stamped
            // later: the date is rounded down (it passes no state).
            as_of: model.last_modified(),
            ..Self::ok(model)
        }
    }

    /// 201 Created with `Location` (PUT-1), the new tag and `no-store`.
    pub fn created(model: M, location: HeaderValue) -> Self {
        Self {
            status: StatusCode::CREATED,
            location: Some(location),
            ..Self::written(model)
        }
    }

    /// The time its `Last-Modified` is rounded with: no later than the
    /// stamp of any write the representation does not include (a
    /// [`Snapshot::as_of`](occ_core::repository::Snapshot::as_of); the
    /// generated routes and [`ConditionalRequest::read`] set it). Without
    /// it, this server's clock less
    /// [`COMMIT_MARGIN`](occ_core::repository::COMMIT_MARGIN) when the
    /// response is built: right only if the model was read just before.
    ///
    /// [`ConditionalRequest::read`]: crate::ConditionalRequest::read
    pub fn as_of(mut self, as_of: SystemTime) -> Self {
        self.as_of = Some(as_of);
        self
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Reuses `etag`, which must be `model.entity_tag()`, computed already
    /// to evaluate the request's preconditions.
    pub(crate) fn with_entity_tag(mut self, etag: EntityTag) -> Self {
        debug_assert!(etag == self.model.entity_tag());
        self.etag = Some(etag);
        self
    }
}

impl<M: Versioned + Serialize> IntoResponse for Tagged<M> {
    fn into_response(self) -> Response {
        let etag = self.etag.unwrap_or_else(|| self.model.entity_tag());
        let last_modified = self
            .model
            .last_modified()
            .and_then(|modified| last_modified_value(modified, self.as_of));
        let mut response = match serde_json::to_vec(&self.model) {
            Ok(body) => (
                self.status,
                [(http::header::CONTENT_TYPE, crate::headers::JSON)],
                body,
            )
                .into_response(),
            Err(error) => {
                tracing::error!(%error, "cannot serialize the representation");
                return Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response();
            }
        };
        let headers = response.headers_mut();
        headers.insert(ETAG, etag.into_header_value());
        if let Some(lm) = last_modified {
            headers.insert(LAST_MODIFIED, lm);
        }
        if let Some(location) = self.location {
            headers.insert(LOCATION, location);
        }
        if self.no_store {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        response
    }
}

/// `Last-Modified` for a modification at `modified` (full precision),
/// rounded to a whole second with `as_of` (no later than the stamp of any
/// write the representation does not include) so that a date-conditioned
/// write can never pass over a write its client did not see
/// ([`occ_core::date::http_last_modified`], design decision 13).
pub(crate) fn last_modified_value(
    modified: SystemTime,
    as_of: Option<SystemTime>,
) -> Option<HeaderValue> {
    let as_of = as_of.unwrap_or_else(|| {
        let now = SystemTime::now();
        now.checked_sub(occ_core::repository::COMMIT_MARGIN)
            .unwrap_or(now)
    });
    let sent = occ_core::date::http_last_modified(modified, as_of);
    occ_core::fmt_http_date(sent).and_then(|s| HeaderValue::from_str(&s).ok())
}

/// 304 Not Modified: the `ETag` (304-2) and `Last-Modified` where the
/// resource has one, no body, no `Content-Type`, no `Content-Length`
/// (304-3 … 304-5). Add `Cache-Control` or `Vary` when the 200 would carry
/// them.
#[derive(Debug, Clone, Default)]
pub struct NotModified {
    etag: Option<EntityTag>,
    last_modified: Option<SystemTime>,
    as_of: Option<SystemTime>,
    cache_control: Option<HeaderValue>,
    vary: Option<HeaderValue>,
}

impl NotModified {
    /// A 304 carrying `etag`.
    pub fn new(etag: Option<EntityTag>) -> Self {
        Self {
            etag,
            ..Self::default()
        }
    }

    /// Adds `Last-Modified` for a modification at this (full-precision)
    /// time.
    pub fn with_last_modified(mut self, modified: Option<SystemTime>) -> Self {
        self.last_modified = modified;
        self
    }

    /// The time `Last-Modified` is rounded with, as for
    /// [`Tagged::as_of`].
    pub fn as_of(mut self, as_of: SystemTime) -> Self {
        self.as_of = Some(as_of);
        self
    }

    /// Repeats the 200's `Cache-Control`.
    pub fn with_cache_control(mut self, value: HeaderValue) -> Self {
        self.cache_control = Some(value);
        self
    }

    /// Repeats the 200's `Vary`.
    pub fn with_vary(mut self, value: HeaderValue) -> Self {
        self.vary = Some(value);
        self
    }
}

impl IntoResponse for NotModified {
    fn into_response(self) -> Response {
        let mut response = crate::bodiless::response(StatusCode::NOT_MODIFIED);
        let headers = response.headers_mut();
        if let Some(etag) = self.etag {
            headers.insert(ETAG, etag.into_header_value());
        }
        let as_of = self.as_of;
        if let Some(lm) = self
            .last_modified
            .and_then(|modified| last_modified_value(modified, as_of))
        {
            headers.insert(LAST_MODIFIED, lm);
        }
        if let Some(cc) = self.cache_control {
            headers.insert(CACHE_CONTROL, cc);
        }
        if let Some(vary) = self.vary {
            headers.insert(http::header::VARY, vary);
        }
        response
    }
}
