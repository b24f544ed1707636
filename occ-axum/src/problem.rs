//! Problem details (RFC 9457) as an axum response.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG};
use http::{HeaderName, HeaderValue, StatusCode};
use occ_core::EntityTag;
use serde::Serialize;

use crate::headers::PROBLEM_JSON;

/// The detail of a 404: the URL names nothing, or names a resource that
/// does not exist (whose 404 may name the id instead).
const NO_RESOURCE: &str = "no resource exists at this URL";

/// An `application/problem+json` error response (RFC 9457).
///
/// `type` is `about:blank` unless set, so the `title` is the status's
/// reason phrase (PD-3, PD-4); `detail` tells the client how to fix the
/// request (PD-6). Handlers can return it directly:
///
/// ```
/// use axum::http::StatusCode;
/// use occ_axum::Problem;
///
/// async fn handler() -> Result<String, Problem> {
///     Err(Problem::new(StatusCode::CONFLICT).with_detail("the name is taken"))
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(Box<Fields>);

/// Boxed: a problem travels in `Err` variants, which stay small this way.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    status: StatusCode,
    kind: Option<Cow<'static, str>>,
    title: Cow<'static, str>,
    detail: Option<Cow<'static, str>>,
    current_etag: Option<EntityTag>,
    /// The current representation as JSON text, exactly as a GET serializes
    /// it (design decision 16).
    current: Option<String>,
    /// The members a merging write found changed (design decision 16).
    conflicts: Option<Vec<String>>,
    header: Option<(HeaderName, HeaderValue)>,
    no_store: bool,
    head: bool,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    /// Extension member (PD-6, PD-8): the current entity tag, for a client
    /// that wants to merge and retry without parsing `detail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    current_etag: Option<Cow<'a, str>>,
    /// Extension member: the JSON members a merging write found changed
    /// since the version it was based on (design decision 16).
    #[serde(skip_serializing_if = "Option::is_none")]
    conflicts: Option<&'a [String]>,
}

impl Problem {
    /// A problem with the status's reason phrase as title.
    pub fn new(status: StatusCode) -> Self {
        Self(Box::new(Fields {
            status,
            kind: None,
            title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            detail: None,
            current_etag: None,
            current: None,
            conflicts: None,
            header: None,
            no_store: false,
            head: false,
        }))
    }

    /// The 500 of a failure the client can do nothing about; what failed
    /// stays in the log (PD-11), which the caller writes.
    pub(crate) fn internal_error() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_detail("the server could not complete the request")
    }

    /// The 404 of a URL that names no resource.
    pub(crate) fn no_resource() -> Self {
        Self::new(StatusCode::NOT_FOUND).with_detail(NO_RESOURCE)
    }

    /// Sets the human-readable explanation of this occurrence.
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.0.detail = Some(detail.into());
        self
    }

    /// Sets a problem type URI and its title (PD-9). Without it, the type is
    /// `about:blank` and the title the reason phrase.
    pub fn with_type(
        mut self,
        uri: impl Into<Cow<'static, str>>,
        title: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.0.kind = Some(uri.into());
        self.0.title = title.into();
        self
    }

    /// Sends the resource's current entity tag, in the `ETag` header and as
    /// the `current_etag` member (design decision 5, docs/design.md).
    pub fn with_current_etag(mut self, etag: EntityTag) -> Self {
        self.0.current_etag = Some(etag);
        self
    }

    /// Sends the resource's current representation as the `current`
    /// member, serialized as a GET of the resource serializes it (design
    /// decision 16), so that a client refused with 412 can merge and retry
    /// without reading the resource again. Use it with
    /// [`with_current_etag`](Self::with_current_etag): the tag says which
    /// version `current` is.
    ///
    /// A representation that does not serialize is left out (and logged):
    /// the problem is still sent, with the tag alone.
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// use occ_axum::Problem;
    /// use occ_core::Versioned;
    ///
    /// #[derive(serde::Serialize, Versioned)]
    /// struct Note { id: u64, #[version] version: u64, text: String }
    ///
    /// let note = Note { id: 1, version: 4, text: "hi".into() };
    /// let problem = Problem::new(StatusCode::PRECONDITION_FAILED)
    ///     .with_current_etag(note.entity_tag())
    ///     .with_current(&note);
    /// assert_eq!(problem.current(), Some(r#"{"id":1,"version":4,"text":"hi"}"#));
    /// ```
    pub fn with_current<M: Serialize + ?Sized>(mut self, current: &M) -> Self {
        match serde_json::to_string(current) {
            Ok(text) => self.0.current = Some(text),
            Err(error) => {
                tracing::error!(%error, "cannot serialize the current representation for a problem");
            }
        }
        self
    }

    /// Sends the `conflicts` member: the JSON members of the resource that
    /// changed since the version a merging write was based on (design
    /// decision 16), so that the client knows which of its edits to
    /// reconcile.
    pub fn with_conflicts(mut self, conflicts: Vec<String>) -> Self {
        self.0.conflicts = Some(conflicts);
        self
    }

    /// The `conflicts` member, if any.
    pub fn conflicts(&self) -> Option<&[String]> {
        self.0.conflicts.as_deref()
    }

    /// Sets the current representation from JSON text made already.
    pub(crate) fn set_current_text(&mut self, text: String) {
        self.0.current = Some(text);
    }

    /// Adds a header the problem needs, such as `Allow` on 405 or
    /// `Accept-Patch` on 415 (PATCH-6).
    pub fn with_header(mut self, name: impl Into<HeaderName>, value: HeaderValue) -> Self {
        self.0.header = Some((name.into(), value));
        self
    }

    /// Adds `Cache-Control: no-store` (428-3).
    pub fn no_store(mut self) -> Self {
        self.0.no_store = true;
        self
    }

    /// Leaves the body out, for a response to HEAD (412-2).
    pub fn for_head(mut self, head: bool) -> Self {
        self.0.head = head;
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The explanation, if any.
    pub fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }

    /// The current entity tag carried, if any.
    pub fn current_etag(&self) -> Option<&EntityTag> {
        self.0.current_etag.as_ref()
    }

    /// The current representation carried, as JSON text, if any
    /// ([`with_current`](Self::with_current)).
    pub fn current(&self) -> Option<&str> {
        self.0.current.as_deref()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let etag_text = self
            .0
            .current_etag
            .as_ref()
            .map(|t| Cow::Owned(t.to_string()));
        let body = Body {
            kind: self.0.kind.as_deref().unwrap_or("about:blank"),
            title: &self.0.title,
            status: self.0.status.as_u16(),
            detail: self.0.detail.as_deref(),
            current_etag: etag_text,
            conflicts: self.0.conflicts.as_deref(),
        };
        let bytes = if self.0.head {
            Vec::new()
        } else {
            // Serializing strings and a number cannot fail.
            let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
            if let Some(current) = &self.0.current {
                // The representation's own JSON text, spliced in as the
                // last member, keeps the bytes a GET sends (member order
                // included). The body is an object, so it ends with `}`.
                if bytes.last() == Some(&b'}') {
                    bytes.pop();
                    bytes.extend_from_slice(b",\"current\":");
                    bytes.extend_from_slice(current.as_bytes());
                    bytes.push(b'}');
                }
            }
            bytes
        };
        let mut response = (self.0.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(tag) = &self.0.current_etag {
            headers.insert(ETAG, tag.to_header_value());
        }
        if self.0.no_store {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if let Some((name, value)) = self.0.header {
            headers.insert(name, value);
        }
        response
    }
}
