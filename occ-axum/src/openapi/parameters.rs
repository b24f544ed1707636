//! The request headers of conditional requests, as OpenAPI parameters:
//! one at a time, or as the sets a read and a write take.

use serde_json::json;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::Required;
use utoipa::IntoParams;

use super::syntax::{string_schema, EXAMPLE_TAG, SF_STRING_PATTERN, TAG_LIST_PATTERN};
use crate::headers::shown;

pub(super) fn header_parameter(name: &str, description: &str, schema: ObjectBuilder) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// The `If-Match` header parameter: the request applies only if the
/// resource's current entity tag is among those listed (or, with `*`, if
/// it exists); otherwise 412 with the current `ETag`.
///
/// `required` marks it required, for an operation where no other
/// precondition will do; the generated routes never do, since
/// `If-Unmodified-Since` (and, on a creating PUT, `If-None-Match: *`)
/// satisfies their policy too, and say so in the description and in their
/// 428 response instead.
///
/// ```
/// use utoipa::openapi::path::ParameterIn;
/// use utoipa::openapi::Required;
///
/// let header = occ_axum::openapi::if_match(true);
/// assert_eq!(header.name, "If-Match");
/// assert!(header.parameter_in == ParameterIn::Header);
/// assert!(header.required == Required::True);
/// ```
pub fn if_match(required: bool) -> Parameter {
    let mut parameter = header_parameter(
        shown::IF_MATCH,
        "Entity tags from an earlier GET, comma-separated, or `*`: the \
         request is applied only if the resource's current tag is one of them (`*`: if it \
         exists), compared strongly, so a weak tag never matches. Otherwise 412 with the \
         current ETag; a value that does not parse is 412 too.",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(TAG_LIST_PATTERN))
            .examples([json!(EXAMPLE_TAG)]),
    );
    if required {
        parameter.required = Required::True;
    }
    parameter
}

/// The `If-None-Match` header parameter of a write: `*` means "only if
/// it does not exist" (a creating PUT), and a listed tag that matches is
/// 412. ([`ReadPreconditions`] has it as GET and HEAD take it: 304 when
/// the client's copy is current, and any value, since one that does not
/// parse is ignored there.)
///
/// ```
/// assert_eq!(occ_axum::openapi::if_none_match().name, "If-None-Match");
/// ```
pub fn if_none_match() -> Parameter {
    header_parameter(
        shown::IF_NONE_MATCH,
        "Entity tags the client holds, comma-separated, or `*`, compared weakly: the write is \
         applied only if none matches the current tag (`*`: only if the resource does not \
         exist), otherwise 412; a value that does not parse is 412 too.",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(TAG_LIST_PATTERN))
            .examples([json!(EXAMPLE_TAG)]),
    )
}

/// `If-None-Match` on GET and HEAD, where a value that does not parse is
/// ignored (RFC 9110 §13.1.2), so that any string is valid.
pub(super) fn if_none_match_on_read() -> Parameter {
    header_parameter(
        shown::IF_NONE_MATCH,
        "Entity tags the client holds, comma-separated, or `*`, compared \
         weakly: 304 Not Modified when one matches the current tag. A value that does not \
         parse is ignored.",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .examples([json!(EXAMPLE_TAG)]),
    )
}

/// The `If-Modified-Since` header parameter: 304 on GET and HEAD when the
/// resource has not changed since the date. Ignored with `If-None-Match`,
/// and for models without a modification time.
///
/// ```
/// assert_eq!(occ_axum::openapi::if_modified_since().name, "If-Modified-Since");
/// ```
pub fn if_modified_since() -> Parameter {
    header_parameter(
        shown::IF_MODIFIED_SINCE,
        "An HTTP-date (RFC 9110 §5.6.7; the `Last-Modified` of an earlier GET): GET and HEAD \
         answer 304 Not Modified when the resource has not changed since. Ignored when \
         If-None-Match is sent, and when it is not a valid date.",
        string_schema("An HTTP-date").examples([json!("Sun, 06 Nov 1994 08:49:37 GMT")]),
    )
}

/// The `If-Unmodified-Since` header parameter: the request applies only
/// if the resource has not changed since the date; otherwise 412. Ignored
/// with `If-Match`, and for models without a modification time.
///
/// ```
/// assert_eq!(occ_axum::openapi::if_unmodified_since().name, "If-Unmodified-Since");
/// ```
pub fn if_unmodified_since() -> Parameter {
    header_parameter(
        shown::IF_UNMODIFIED_SINCE,
        "An HTTP-date (RFC 9110 §5.6.7; the `Last-Modified` of an earlier GET): the request \
         is applied only if the resource has not changed since, otherwise 412. Compared with \
         the modification time at full precision. Ignored when If-Match is sent, and when it \
         is not a valid date.",
        string_schema("An HTTP-date").examples([json!("Sun, 06 Nov 1994 08:49:37 GMT")]),
    )
}

/// The optional `Idempotency-Key` header parameter of a write: a retry
/// with the same key gets the first answer again.
///
/// ```
/// let key = occ_axum::openapi::idempotency_key();
/// assert_eq!(key.name, "Idempotency-Key");
/// ```
pub fn idempotency_key() -> Parameter {
    header_parameter(
        shown::IDEMPOTENCY_KEY,
        "A key the client makes for this one operation, so that it can retry it safely: an \
         RFC 8941 sf-string (the key in double quotes, `\"` and `\\` escaped with `\\`), of 1 \
         to 255 characters once unescaped. A repeated request with the same key and the same request \
         (method, URL, preconditions and body) gets the stored response again (same status, \
         headers and body) with `Idempotent-Replayed: true`, and is not applied a second \
         time. The same key with a different request is 422; the same key while the first \
         request is still being processed is 409 with `Retry-After`; a key that is not a \
         valid sf-string is 400.",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(SF_STRING_PATTERN))
            .examples([json!("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"")]),
    )
}

/// The precondition headers of a read (GET, HEAD), for `params(…)` of
/// `#[utoipa::path]`: `If-None-Match`, `If-Modified-Since`, `If-Match`,
/// `If-Unmodified-Since`, all optional.
///
/// ```
/// use utoipa::IntoParams;
/// let names: Vec<String> = occ_axum::openapi::ReadPreconditions::into_params(|| None)
///     .into_iter()
///     .map(|p| p.name)
///     .collect();
/// assert_eq!(names, ["If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadPreconditions;

impl IntoParams for ReadPreconditions {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            if_none_match_on_read(),
            if_modified_since(),
            if_match(false),
            if_unmodified_since(),
        ]
    }
}

/// The headers of a conditional write (PUT, PATCH, DELETE), for
/// `params(…)` of `#[utoipa::path]`: `If-Match`, `If-None-Match` and
/// `If-Unmodified-Since`, all optional (one is required under
/// [`Policy::Required`](occ_core::Policy::Required), which OpenAPI cannot say: [`WriteRefusals`](crate::openapi::WriteRefusals)
/// documents the 428). Add [`idempotency_key`] (and [`KeyRefusals`](crate::openapi::KeyRefusals))
/// where the handler keeps keys, and only there.
///
/// ```
/// use utoipa::IntoParams;
/// let params = occ_axum::openapi::WritePreconditions::into_params(|| None);
/// assert_eq!(params.len(), 3);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct WritePreconditions;

impl IntoParams for WritePreconditions {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![if_match(false), if_none_match(), if_unmodified_since()]
    }
}
