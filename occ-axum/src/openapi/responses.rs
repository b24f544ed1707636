//! The answers of conditional requests, as OpenAPI responses and
//! headers: the validators, the problem responses, and the sets of
//! refusals a read, a write and a keyed write can get.

use std::collections::BTreeMap;

use serde_json::json;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::IntoResponses;

use super::problem::PROBLEM_SCHEMA;
use super::syntax::{EXAMPLE_TAG, IMF_FIXDATE_PATTERN, TAG_PATTERN};
use crate::headers::{shown, MERGE_PATCH_JSON, PROBLEM_JSON};

/// The `ETag` response header.
///
/// ```
/// assert!(occ_axum::openapi::etag_header().description.is_some());
/// ```
pub fn etag_header() -> Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(TAG_PATTERN)),
        ))
        .description(Some(
            "The entity tag of the representation, to send back in If-Match (writes) or \
             If-None-Match (reads)",
        ))
        .example(Some(json!(EXAMPLE_TAG)))
        .build()
}

/// The `Last-Modified` response header: an IMF-fixdate.
///
/// ```
/// assert!(occ_axum::openapi::last_modified_header().schema.is_some());
/// ```
pub fn last_modified_header() -> Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(IMF_FIXDATE_PATTERN)),
        ))
        .description(Some(
            "When the resource was last written, to send back in If-Unmodified-Since (writes) \
             or If-Modified-Since (reads)",
        ))
        .example(Some(json!("Sun, 06 Nov 1994 08:49:37 GMT")))
        .build()
}

/// The `Location` response header of a 201.
///
/// ```
/// assert!(occ_axum::openapi::location_header().schema.is_some());
/// ```
pub fn location_header() -> Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::Custom("uri-reference".to_owned()))),
        ))
        .description(Some("The URL of the new resource"))
        .build()
}

/// The `Idempotent-Replayed` response header: `true` on a stored answer
/// replayed for a repeated `Idempotency-Key`.
///
/// ```
/// assert!(occ_axum::openapi::idempotent_replayed_header().schema.is_some());
/// ```
pub fn idempotent_replayed_header() -> Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["true"])),
        ))
        .description(Some(
            "`true` when this is the stored answer to an earlier request with the same \
             Idempotency-Key, replayed",
        ))
        .build()
}

pub(super) fn text_header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

pub(super) fn no_store_header() -> Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["no-store"])),
        ))
        .description(Some("`no-store`: the answer must not be cached"))
        .build()
}

pub(super) fn retry_after_header() -> Header {
    text_header("When to retry: a number of seconds (or an HTTP-date)")
}

pub(super) fn problem_ref() -> Ref {
    Ref::from_schema_name(PROBLEM_SCHEMA)
}

/// A refusal answered with an `application/problem+json` body of the
/// [`Problem`](crate::Problem) schema (`#/components/schemas/Problem`).
///
/// ```
/// let conflict = occ_axum::openapi::problem_response("The name is taken");
/// assert!(conflict.content.contains_key("application/problem+json"));
/// ```
pub fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new().schema(Some(problem_ref())).build(),
        )
        .build()
}

/// The description of a 304: the validators again, and no body.
///
/// ```
/// let not_modified = occ_axum::openapi::not_modified_response(false);
/// assert!(not_modified.content.is_empty());
/// assert!(not_modified.headers.contains_key("ETag"));
/// ```
pub fn not_modified_response(last_modified: bool) -> Response {
    let mut response = ResponseBuilder::new()
        .description(
            "Not Modified: the client's copy (If-None-Match, or If-Modified-Since) is current. \
             No body.",
        )
        .header(shown::ETAG, etag_header());
    if last_modified {
        response = response.header(shown::LAST_MODIFIED, last_modified_header());
    }
    response.build()
}

/// The 412. `current`: the model's schema, when the problem carries the
/// current representation in its `current` member; the body's schema is
/// then the problem's with `current` of that schema, so that a generated
/// client reads it as the model.
pub(super) fn precondition_failed_response(
    head: bool,
    current: Option<Ref>,
    merging: bool,
) -> Response {
    let base = "Precondition Failed: If-Match, If-None-Match or If-Unmodified-Since does not \
                hold. When the resource exists, its current entity tag is in the ETag header \
                and the `current_etag` member";
    let current = current.filter(|_| !head);
    let current_text = if current.is_some() {
        ", and its current representation, as a GET returns it, in the `current` member"
    } else {
        ""
    };
    let conflicts = if merging && !head {
        "; a merge whose members changed since the version in If-Match names them in \
         `conflicts`"
    } else {
        ""
    };
    let (base, end) = if head {
        (
            base.replace(" and the `current_etag` member", ""),
            ". No body (HEAD).",
        )
    } else {
        (base.to_owned(), ".")
    };
    let response = ResponseBuilder::new()
        .description(format!("{base}{current_text}{conflicts}{end}"))
        .header(shown::ETAG, etag_header());
    if head {
        return response.build();
    }
    let schema: RefOr<_> = match current {
        Some(model) => AllOfBuilder::new()
            .item(problem_ref())
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("current", model),
            )
            .into(),
        None => problem_ref().into(),
    };
    response
        .content(
            PROBLEM_JSON,
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

pub(super) fn precondition_required_response() -> Response {
    let mut response = problem_response(
        "Precondition Required: this write needs a precondition. Send If-Match with the ETag \
         of a GET, or If-Unmodified-Since with its Last-Modified (where the resource has a \
         modification time), or, where PUT creates, If-None-Match: *.",
    );
    response
        .headers
        .insert(shown::CACHE_CONTROL.to_owned(), no_store_header().into());
    response
}

/// The answers of a write under an `Idempotency-Key` that it did not run,
/// for `responses(…)` of `#[utoipa::path]`: 400 (a malformed key), 409
/// (the key's first request still running, with `Retry-After`) and 422
/// (the key used for another request). A replay answers as the first
/// request did, with `Idempotent-Replayed: true`.
///
/// ```
/// use utoipa::IntoResponses;
/// let statuses: Vec<String> = occ_axum::openapi::KeyRefusals::responses().into_keys().collect();
/// assert_eq!(statuses, ["400", "409", "422"]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyRefusals;

impl IntoResponses for KeyRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            (
                "400".to_owned(),
                problem_response("Bad Request: the Idempotency-Key is not a valid sf-string")
                    .into(),
            ),
            (
                "409".to_owned(),
                problem_response(
                    "Conflict: a request with this Idempotency-Key is still being processed \
                     (with Retry-After)",
                )
                .into(),
            ),
            (
                "422".to_owned(),
                problem_response(
                    "Unprocessable Content: this Idempotency-Key was used for a different request",
                )
                .into(),
            ),
        ])
    }
}

/// The refusals of a conditional read, for `responses(…)` of
/// `#[utoipa::path]`: 304 (no body), 404 and 412 (problem+json).
///
/// ```
/// use utoipa::IntoResponses;
/// let statuses: Vec<String> = occ_axum::openapi::ReadRefusals::responses().into_keys().collect();
/// assert_eq!(statuses, ["304", "404", "412"]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadRefusals;

impl IntoResponses for ReadRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            ("304".to_owned(), not_modified_response(false).into()),
            (
                "404".to_owned(),
                problem_response("No resource at this URL").into(),
            ),
            (
                "412".to_owned(),
                precondition_failed_response(false, None, false).into(),
            ),
        ])
    }
}

/// The refusals of a conditional write, for `responses(…)` of
/// `#[utoipa::path]`: 404, 412 and 428 (problem+json).
///
/// ```
/// use utoipa::IntoResponses;
/// let statuses: Vec<String> = occ_axum::openapi::WriteRefusals::responses().into_keys().collect();
/// assert_eq!(statuses, ["404", "412", "428"]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteRefusals;

impl IntoResponses for WriteRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            (
                "404".to_owned(),
                problem_response("No resource at this URL").into(),
            ),
            (
                "412".to_owned(),
                precondition_failed_response(false, None, false).into(),
            ),
            ("428".to_owned(), precondition_required_response().into()),
        ])
    }
}

pub(super) fn accept_patch_header() -> Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([MERGE_PATCH_JSON])),
        ))
        .description(Some("The patch format PATCH takes"))
        .build()
}
