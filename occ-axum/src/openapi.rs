//! OpenAPI 3.1 descriptions (feature `openapi`, on utoipa).
//!
//! The generated routes describe themselves:
//! [`ConditionalRoutes::openapi`] gives every operation with its
//! precondition headers, its validators, and every status it can answer,
//! each refusal an `application/problem+json` body of the [`Problem`]
//! schema. Hand-written handlers reuse the same pieces in
//! `#[utoipa::path(...)]`: the headers as [`ReadPreconditions`] and
//! [`WritePreconditions`] (or one at a time, [`if_match`] and the others),
//! the refusals as [`ReadRefusals`] and [`WriteRefusals`] (or one at a
//! time, [`problem_response`]), and `body = Problem` for the schema; where
//! a handler keeps `Idempotency-Key`, [`idempotency_key`] and
//! [`KeyRefusals`] too.
//!
//! ```
//! use occ_axum::openapi::{WritePreconditions, WriteRefusals};
//! use occ_axum::Problem;
//! use utoipa::OpenApi;
//!
//! #[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
//! struct Note { id: u64, text: String }
//!
//! /// Replaces a note, if it is still the version the client read.
//! #[utoipa::path(
//!     put,
//!     path = "/notes/{id}",
//!     params(("id" = u64, Path, description = "The note's id"), WritePreconditions),
//!     request_body = Note,
//!     responses((status = 200, description = "The note, replaced", body = Note), WriteRefusals),
//! )]
//! async fn put_note() {}
//!
//! #[derive(OpenApi)]
//! #[openapi(paths(put_note), components(schemas(Problem)))]
//! struct Api;
//!
//! let spec = serde_json::to_value(Api::openapi()).unwrap();
//! let put = &spec["paths"]["/notes/{id}"]["put"];
//! let headers: Vec<&str> = put["parameters"]
//!     .as_array()
//!     .unwrap()
//!     .iter()
//!     .map(|p| p["name"].as_str().unwrap())
//!     .collect();
//! assert_eq!(headers, ["id", "If-Match", "If-None-Match", "If-Unmodified-Since"]);
//! assert_eq!(
//!     put["responses"]["412"]["content"]["application/problem+json"]["schema"]["$ref"],
//!     "#/components/schemas/Problem"
//! );
//! assert!(put["responses"]["428"].is_object());
//! assert!(spec["components"]["schemas"]["Problem"].is_object());
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;

use http::StatusCode;
use occ_core::{IdSource, Policy, VersionNumber, Versioned};
use serde_json::json;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
    PathItemBuilder,
};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr, Required,
};
use utoipa::{IntoParams, IntoResponses, PartialSchema, ToSchema};

use crate::headers::{shown, JSON, MERGE_PATCH_JSON, PROBLEM_JSON};
use crate::routes::{ConditionalRoutes, PutMode};
use crate::Problem;

/// The name of the [`Problem`] schema among the components:
/// `#/components/schemas/Problem`.
pub const PROBLEM_SCHEMA: &str = "Problem";

/// The entity tag the pieces of this module show as an example; the
/// description of generated routes shows one of the model's own instead.
pub const EXAMPLE_TAG: &str = "\"v1\"";

pub use crate::headers::shown::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};

/// An entity tag or a list of them, or `*`, as `If-Match` and
/// `If-None-Match` take them (RFC 9110 §8.8.3, §13.1.1).
const TAG_LIST_PATTERN: &str = r#"^\s*(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)\s*$"#;

/// One entity tag, quotes included (RFC 9110 §8.8.3).
const TAG_PATTERN: &str = r#"^(W/)?"[^"]*"$"#;

/// An IMF-fixdate (RFC 9110 §5.6.7), the form occ sends.
const IMF_FIXDATE_PATTERN: &str = r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$";

/// An RFC 8941 sf-string of 1 to 255 characters (as unescaped): double
/// quotes around visible ASCII and spaces, `"` and `\` escaped with `\`.
const SF_STRING_PATTERN: &str = r#"^"([\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\]){1,255}"$"#;

fn string_schema(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

fn header_parameter(name: &str, description: &str, schema: ObjectBuilder) -> Parameter {
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
fn if_none_match_on_read() -> Parameter {
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
        IDEMPOTENCY_KEY,
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

fn text_header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

fn no_store_header() -> Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["no-store"])),
        ))
        .description(Some("`no-store`: the answer must not be cached"))
        .build()
}

fn retry_after_header() -> Header {
    text_header("When to retry: a number of seconds (or an HTTP-date)")
}

fn problem_ref() -> Ref {
    Ref::from_schema_name(PROBLEM_SCHEMA)
}

/// A refusal answered with an `application/problem+json` body of the
/// [`Problem`] schema (`#/components/schemas/Problem`).
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

fn precondition_failed_response(head: bool, current_in_412: bool, merging: bool) -> Response {
    let base = "Precondition Failed: If-Match, If-None-Match or If-Unmodified-Since does not \
                hold. When the resource exists, its current entity tag is in the ETag header \
                and the `current_etag` member";
    let current = if current_in_412 && !head {
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
        .description(format!("{base}{current}{conflicts}{end}"))
        .header(shown::ETAG, etag_header());
    if head {
        response.build()
    } else {
        response
            .content(
                PROBLEM_JSON,
                ContentBuilder::new().schema(Some(problem_ref())).build(),
            )
            .build()
    }
}

fn precondition_required_response() -> Response {
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

impl PartialSchema for Problem {
    /// The problem details object (RFC 9457) occ sends, with its extension
    /// members.
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "Problem details (RFC 9457), sent as application/problem+json with every \
                 refusal",
            ))
            .property(
                "type",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::Custom("uri-reference".to_owned())))
                    .description(Some("The problem type; `about:blank` unless set")),
            )
            .required("type")
            .property(
                "title",
                string_schema("A short summary of the problem type: the status's reason phrase"),
            )
            .required("title")
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(100))
                    .maximum(Some(599))
                    .description(Some("The HTTP status code")),
            )
            .required("status")
            .property(
                "detail",
                string_schema("What went wrong with this request, and how to fix it"),
            )
            .property(
                "instance",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::Custom("uri-reference".to_owned())))
                    .description(Some(
                        "The occurrence; RFC 9457 allows it, occ's own refusals leave it out",
                    )),
            )
            .property(
                "current_etag",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(TAG_PATTERN))
                    .description(Some(
                        "412: the resource's current entity tag, as the ETag header sends it",
                    )),
            )
            .property(
                "current",
                ObjectBuilder::new()
                    // Any JSON value, spelled out: a schema without a type
                    // does not read back into utoipa.
                    .schema_type(SchemaType::Array(vec![
                        Type::Object,
                        Type::Array,
                        Type::String,
                        Type::Number,
                        Type::Integer,
                        Type::Boolean,
                        Type::Null,
                    ]))
                    .description(Some(
                        "412: the resource's current representation, exactly as a GET returns \
                         it, to merge into and retry with current_etag",
                    )),
            )
            .property(
                "conflicts",
                ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some(
                        "412 of a merging write: the members that changed since the version \
                         in If-Match",
                    )),
            )
            .into()
    }
}

impl ToSchema for Problem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(PROBLEM_SCHEMA)
    }
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
/// [`Policy::Required`], which OpenAPI cannot say: [`WriteRefusals`]
/// documents the 428). Add [`idempotency_key`] (and [`KeyRefusals`])
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
                precondition_failed_response(false, false, false).into(),
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
                precondition_failed_response(false, false, false).into(),
            ),
            ("428".to_owned(), precondition_required_response().into()),
        ])
    }
}

/// The operations of one route, assembled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    GetItem,
    HeadItem,
    Put,
    Patch,
    Delete,
    List,
    HeadList,
    Post,
}

impl Op {
    fn is_write(self) -> bool {
        matches!(self, Op::Put | Op::Patch | Op::Delete | Op::Post)
    }

    fn is_head(self) -> bool {
        matches!(self, Op::HeadItem | Op::HeadList)
    }
}

/// What the description of one set of routes needs.
struct Describer {
    name: String,
    shape: crate::routes::Settings,
    has_last_modified: bool,
    /// The model's schema, as an object, when it is one.
    object: Option<utoipa::openapi::schema::Object>,
    id_member: Option<&'static str>,
    version_member: Option<&'static str>,
    last_modified_member: Option<&'static str>,
    id_source: IdSource,
}

impl Describer {
    fn model_ref(&self) -> Ref {
        Ref::from_schema_name(self.name.clone())
    }

    fn id_schema(&self) -> RefOr<Schema> {
        let from_model = self
            .object
            .as_ref()
            .zip(self.id_member)
            .and_then(|(object, member)| object.properties.get(member).cloned());
        from_model.unwrap_or_else(|| ObjectBuilder::new().schema_type(Type::String).into())
    }

    /// The model's schema with the members the server owns made optional,
    /// the other required members kept only when `keep_required`, and,
    /// with `drop_id`, the id left out: a POST body may not carry a
    /// generated one, and a PUT or PATCH body may repeat the URL's but no
    /// other, which a schema cannot say. `closed`: no other members (a
    /// merge refuses members the resource does not have, 422).
    fn body_schema(
        &self,
        drop_id: bool,
        keep_required: bool,
        closed: bool,
        description: &str,
    ) -> RefOr<Schema> {
        let Some(mut object) = self.object.clone() else {
            return self.model_ref().into();
        };
        let owned = [self.version_member, self.last_modified_member];
        if drop_id {
            if let Some(id) = self.id_member {
                object.properties.remove(id);
            }
        }
        object.required.retain(|member| {
            keep_required
                && !owned.contains(&Some(member.as_str()))
                && Some(member.as_str()) != self.id_member
        });
        if closed {
            object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
        }
        object.title = None;
        object.description = Some(description.to_owned());
        Schema::Object(object).into()
    }

    /// The id as a URL carries it: an integer id in decimal digits (a
    /// JSON Schema integer may be `42.0`, which no URL of the routes
    /// names), any other as the model's schema says.
    fn id_in_url(&self) -> RefOr<Schema> {
        let schema = self.id_schema();
        let RefOr::T(Schema::Object(object)) = &schema else {
            return schema;
        };
        if object.schema_type != SchemaType::Type(Type::Integer) {
            return schema;
        }
        let unsigned = object.minimum.as_ref().is_some_and(|minimum| {
            serde_json::to_value(minimum).is_ok_and(|v| v.as_f64() >= Some(0.0))
        });
        let digits = match &object.format {
            Some(SchemaFormat::KnownFormat(KnownFormat::Int32)) => 9,
            _ => 18,
        };
        let sign = if unsigned { "" } else { "-?" };
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(format!("^{sign}[0-9]{{1,{digits}}}$")))
            .description(Some("The id, in decimal digits"))
            .into()
    }

    fn id_parameter(&self) -> Parameter {
        ParameterBuilder::new()
            .name("id")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some(
                "The resource's id; one that does not parse as an id is 400",
            ))
            .schema(Some(self.id_in_url()))
            .build()
    }

    fn policy_note(&self) -> &'static str {
        match self.shape.policy {
            Policy::Required if self.has_last_modified => {
                " A precondition is required: If-Match, If-Unmodified-Since or If-None-Match (OpenAPI \
                 cannot say \"one of\", so each is marked optional); without one, 428."
            }
            Policy::Required => {
                " A precondition is required: If-Match or If-None-Match (OpenAPI cannot say \"one \
                 of\", so each is marked optional); without one, 428."
            }
            Policy::Optional => "",
        }
    }

    fn parameters(&self, op: Op) -> Vec<Parameter> {
        let mut parameters = Vec::new();
        if matches!(
            op,
            Op::GetItem | Op::HeadItem | Op::Put | Op::Patch | Op::Delete
        ) {
            parameters.push(self.id_parameter());
        }
        if matches!(op, Op::List | Op::HeadList) {
            parameters.push(
                ParameterBuilder::new()
                    .name("after")
                    .parameter_in(ParameterIn::Query)
                    .description(Some(
                        "The id after which the page starts (the `next_after` of the page \
                         before); the first page without it",
                    ))
                    .schema(Some(self.id_in_url()))
                    .build(),
            );
            parameters.push(
                ParameterBuilder::new()
                    .name("limit")
                    .parameter_in(ParameterIn::Query)
                    .description(Some(format!(
                        "The most items to return, between 1 and {} (larger is taken as {0}, 0 \
                         as 1). Any other query parameter is 400.",
                        self.shape.page_limit
                    )))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(0))
                            .maximum(Some(u32::MAX)),
                    ))
                    .build(),
            );
        }
        match op {
            Op::GetItem | Op::HeadItem => {
                parameters.push(if_none_match_on_read());
                if self.has_last_modified {
                    parameters.push(if_modified_since());
                }
                parameters.push(if_match(false));
                if self.has_last_modified {
                    parameters.push(if_unmodified_since());
                }
            }
            Op::List | Op::HeadList => {
                parameters.push(if_none_match_on_read());
                parameters.push(if_match(false));
            }
            Op::Put | Op::Patch | Op::Delete => {
                parameters.push(if_match(false));
                parameters.push(if_none_match());
                if self.has_last_modified {
                    parameters.push(if_unmodified_since());
                }
            }
            Op::Post => {}
        }
        if op.is_write() && self.shape.keeps_keys {
            parameters.push(idempotency_key());
        }
        parameters
    }

    fn request_body(&self, op: Op) -> Option<RequestBody> {
        let limit = self.shape.body_limit;
        let (media_type, schema, description) = match op {
            Op::Post => {
                let (drop_id, note) = match self.id_source {
                    IdSource::Client => (false, "with its id"),
                    IdSource::Generated {
                        client_may_choose: false,
                    } => (true, "without an id: the server assigns it"),
                    IdSource::Generated {
                        client_may_choose: true,
                    } => (false, "with an id, or without one for the server to assign"),
                };
                let keep_id = !drop_id && matches!(self.id_source, IdSource::Client);
                let mut schema = self.body_schema(
                    drop_id,
                    true,
                    false,
                    "The new resource; the server owns its version",
                );
                if keep_id {
                    if let (RefOr::T(Schema::Object(object)), Some(id)) =
                        (&mut schema, self.id_member)
                    {
                        object.required.insert(0, id.to_owned());
                    }
                }
                (
                    JSON,
                    schema,
                    format!("The new resource, {note}; at most {limit} bytes"),
                )
            }
            Op::Put => match self.shape.put_mode {
                PutMode::Replace => (
                    JSON,
                    self.body_schema(
                        true,
                        true,
                        false,
                        "The whole new representation; its id may be left out (the URL names \
                         it), and if given must be the URL's",
                    ),
                    format!("The whole new representation; at most {limit} bytes"),
                ),
                PutMode::Merge => (
                    JSON,
                    self.body_schema(
                        true,
                        false,
                        true,
                        "Members to change, merged into the current representation; an id, if \
                         given, must be the URL's. A creating PUT (If-None-Match: *) needs the \
                         whole representation",
                    ),
                    format!(
                        "Members to change, merged into the resource (a creating PUT: the whole \
                         new representation); at most {limit} bytes"
                    ),
                ),
            },
            Op::Patch => (
                MERGE_PATCH_JSON,
                self.body_schema(
                    true,
                    false,
                    true,
                    "A JSON merge patch (RFC 7396): the members to change, `null` to remove an \
                     optional one; an id, if given, must be the URL's",
                ),
                format!("A JSON merge patch (RFC 7396); at most {limit} bytes"),
            ),
            _ => return None,
        };
        Some(
            RequestBodyBuilder::new()
                .description(Some(description))
                .required(Some(Required::True))
                .content(
                    media_type,
                    ContentBuilder::new().schema(Some(schema)).build(),
                )
                .build(),
        )
    }

    /// The 200/201 representation response of an item.
    fn representation(&self, description: &str, op: Op, created: bool) -> Response {
        let mut response = ResponseBuilder::new()
            .description(description)
            .header(shown::ETAG, etag_header());
        if self.has_last_modified {
            response = response.header(shown::LAST_MODIFIED, last_modified_header());
        }
        if created {
            response = response.header(shown::LOCATION, location_header());
        }
        if op.is_write() {
            response = response
                .header(shown::CACHE_CONTROL, no_store_header())
                .header(IDEMPOTENT_REPLAYED, idempotent_replayed_header());
        }
        if !op.is_head() {
            response = response.content(
                JSON,
                ContentBuilder::new().schema(Some(self.model_ref())).build(),
            );
        }
        response.build()
    }

    fn page_name(&self) -> String {
        format!("{}Page", self.name)
    }

    fn page_schema(&self) -> RefOr<Schema> {
        let model_has_member = |member: &str| {
            self.object
                .as_ref()
                .is_some_and(|object| object.properties.contains_key(member))
        };
        let item: RefOr<Schema> = match self.shape.etag_member {
            Some(member) if !model_has_member(member) => AllOfBuilder::new()
                .item(self.model_ref())
                .item(
                    ObjectBuilder::new()
                        .property(
                            member,
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .pattern(Some(TAG_PATTERN))
                                .description(Some(
                                    "The item's entity tag, exactly as a GET of it sends it in \
                                     ETag: send it in If-Match to change the item from the list",
                                )),
                        )
                        .required(member),
                )
                .description(Some(
                    "An item as a GET of it returns it, with its entity tag",
                ))
                .into(),
            _ => self.model_ref().into(),
        };
        ObjectBuilder::new()
            .description(Some(
                "A page of the collection, in id order. `next_after` is there when more items \
                 follow: pass it as `after` for the next page.",
            ))
            .property("items", ArrayBuilder::new().items(item))
            .required("items")
            .property("next_after", self.id_schema())
            .into()
    }

    fn responses(&self, op: Op) -> Vec<(StatusCode, Response)> {
        let head = op.is_head();
        let mut out = Vec::new();
        let problem = |text: &str| {
            if head {
                ResponseBuilder::new()
                    .description(format!("{text} (HEAD: no body)"))
                    .build()
            } else {
                problem_response(text)
            }
        };
        match op {
            Op::GetItem | Op::HeadItem => {
                out.push((
                    StatusCode::OK,
                    self.representation("The representation", op, false),
                ));
                out.push((
                    StatusCode::NOT_MODIFIED,
                    not_modified_response(self.has_last_modified),
                ));
            }
            Op::Put => {
                out.push((
                    StatusCode::OK,
                    self.representation("Written: the new representation", op, false),
                ));
                if self.shape.creating_put {
                    out.push((
                        StatusCode::CREATED,
                        self.representation(
                            "Created (If-None-Match: *, the resource did not exist)",
                            op,
                            true,
                        ),
                    ));
                }
            }
            Op::Patch => out.push((
                StatusCode::OK,
                self.representation("Written: the new representation", op, false),
            )),
            Op::Delete => out.push((
                StatusCode::NO_CONTENT,
                ResponseBuilder::new()
                    .description("Deleted. No body.")
                    .header(IDEMPOTENT_REPLAYED, idempotent_replayed_header())
                    .build(),
            )),
            Op::Post => out.push((
                StatusCode::CREATED,
                self.representation("Created: the new representation", op, true),
            )),
            Op::List | Op::HeadList => {
                let mut ok = ResponseBuilder::new()
                    .description("A page of the collection")
                    .header(
                        shown::ETAG,
                        HeaderBuilder::new()
                            .schema(Some(
                                ObjectBuilder::new()
                                    .schema_type(Type::String)
                                    .pattern(Some(TAG_PATTERN)),
                            ))
                            .description(Some(
                                "The page's weak entity tag, for If-None-Match: it changes when \
                                 an item of the page changes",
                            ))
                            .build(),
                    );
                if !head {
                    ok = ok.content(
                        JSON,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(self.page_name())))
                            .build(),
                    );
                }
                out.push((StatusCode::OK, ok.build()));
                out.push((
                    StatusCode::NOT_MODIFIED,
                    ResponseBuilder::new()
                        .description(
                            "Not Modified: If-None-Match names the page's current tag. No body.",
                        )
                        .header(shown::ETAG, etag_header())
                        .build(),
                ));
            }
        }
        let bad_request = match op {
            Op::List | Op::HeadList => "Bad Request: a query parameter is not valid or not known",
            Op::Post => {
                "Bad Request: the body is not JSON, or the Idempotency-Key is not a valid sf-string"
            }
            Op::Put | Op::Patch => {
                "Bad Request: the id in the URL is not valid, the body is not JSON, or the \
                 Idempotency-Key is not a valid sf-string"
            }
            Op::Delete => {
                "Bad Request: the id in the URL is not valid, or the Idempotency-Key is not a \
                 valid sf-string"
            }
            Op::GetItem | Op::HeadItem => "Bad Request: the id in the URL is not valid",
        };
        out.push((StatusCode::BAD_REQUEST, problem(bad_request)));
        if matches!(
            op,
            Op::GetItem | Op::HeadItem | Op::Put | Op::Patch | Op::Delete
        ) {
            let text = if op == Op::Put && self.shape.creating_put {
                "Not Found: no resource with this id (a PUT creates one only with If-None-Match: *)"
            } else {
                "Not Found: no resource with this id"
            };
            out.push((StatusCode::NOT_FOUND, problem(text)));
        }
        if op.is_write() {
            let text = if op == Op::Post {
                "Conflict: a resource with this id exists already, or a request with this \
                 Idempotency-Key is still being processed (then with Retry-After)"
            } else if op == Op::Delete {
                "Conflict: a request with this Idempotency-Key is still being processed (with \
                 Retry-After)"
            } else if op == Op::Put && self.shape.creating_put {
                "Conflict: a request with this Idempotency-Key is still being processed (with \
                 Retry-After), the resource's version counter is exhausted, or (If-None-Match: \
                 *) the id is taken by a resource outside the caller's scope"
            } else {
                "Conflict: a request with this Idempotency-Key is still being processed (with \
                 Retry-After), or the resource's version counter is exhausted"
            };
            let mut conflict = problem_response(text);
            conflict
                .headers
                .insert(shown::RETRY_AFTER.to_owned(), retry_after_header().into());
            out.push((StatusCode::CONFLICT, conflict));
        }
        out.push((
            StatusCode::PRECONDITION_FAILED,
            precondition_failed_response(
                head,
                // A page has no representation to send back but itself.
                self.shape.current_in_412 && !matches!(op, Op::List | Op::HeadList),
                self.shape.merging && matches!(op, Op::Put | Op::Patch),
            ),
        ));
        if matches!(op, Op::Put | Op::Patch | Op::Post) {
            out.push((
                StatusCode::PAYLOAD_TOO_LARGE,
                problem_response(&format!(
                    "Content Too Large: the body is larger than {} bytes",
                    self.shape.body_limit
                )),
            ));
            let mut unsupported = problem_response(if op == Op::Patch {
                "Unsupported Media Type: send the body as application/merge-patch+json"
            } else {
                "Unsupported Media Type: send the body as application/json"
            });
            if op == Op::Patch {
                unsupported
                    .headers
                    .insert(shown::ACCEPT_PATCH.to_owned(), accept_patch_header().into());
            }
            out.push((StatusCode::UNSUPPORTED_MEDIA_TYPE, unsupported));
        }
        if op.is_write() {
            let text = if op == Op::Delete {
                "Unprocessable Content: this Idempotency-Key was used for a different request"
            } else {
                "Unprocessable Content: the body does not describe a valid resource (or names \
                 another id than the URL, or is refused by the service's checks), or this \
                 Idempotency-Key was used for a different request"
            };
            out.push((StatusCode::UNPROCESSABLE_ENTITY, problem_response(text)));
        }
        if matches!(op, Op::Put | Op::Patch | Op::Delete) && self.shape.policy == Policy::Required {
            out.push((
                StatusCode::PRECONDITION_REQUIRED,
                precondition_required_response(),
            ));
        }
        out.push((
            StatusCode::INTERNAL_SERVER_ERROR,
            problem("Internal Server Error"),
        ));
        out.push((
            StatusCode::SERVICE_UNAVAILABLE,
            problem("Service Unavailable: the storage backend is unavailable; retry later"),
        ));
        out
    }

    fn operation(&self, op: Op) -> Operation {
        let name = &self.name;
        let (id, summary, description) = match op {
            Op::GetItem => (
                "get",
                format!("Read a {name}"),
                "The representation with its ETag; 304 when If-None-Match (or If-Modified-Since) \
                 says the client's copy is current."
                    .to_owned(),
            ),
            Op::HeadItem => (
                "head",
                format!("The validators of a {name}"),
                "As GET, without a body.".to_owned(),
            ),
            Op::Put => (
                "put",
                format!("Replace a {name}"),
                format!(
                    "{} the resource, with a compare-and-swap on the preconditions.{}{}",
                    match self.shape.put_mode {
                        PutMode::Replace => "Replaces",
                        PutMode::Merge => "Merges the body's members into",
                    },
                    if self.shape.creating_put {
                        " With If-None-Match: * it creates the resource if it does not exist \
                         (201)."
                    } else {
                        ""
                    },
                    self.policy_note(),
                ),
            ),
            Op::Patch => (
                "patch",
                format!("Change members of a {name}"),
                format!(
                    "Applies a JSON merge patch atomically.{}{}",
                    if self.shape.merging {
                        " Disjoint edits merge: an If-Match naming an older version still \
                         succeeds when none of the members set changed since; otherwise 412 \
                         naming them in `conflicts`."
                    } else {
                        ""
                    },
                    self.policy_note()
                ),
            ),
            Op::Delete => (
                "delete",
                format!("Delete a {name}"),
                format!("Deletes the resource.{}", self.policy_note()),
            ),
            Op::Post => (
                "create",
                format!("Create a {name}"),
                "Creates a resource: 201 with Location and ETag. Needs no precondition.".to_owned(),
            ),
            Op::List => (
                "list",
                format!("List {name} resources"),
                "Keyset pages in id order; each item carries its entity tag, and the page has a \
                 weak ETag of its own (304 with If-None-Match)."
                    .to_owned(),
            ),
            Op::HeadList => (
                "head_list",
                format!("The validators of a page of {name} resources"),
                "As GET, without a body.".to_owned(),
            ),
        };
        let mut operation = OperationBuilder::new()
            .operation_id(Some(format!("{id}_{}", snake(name))))
            .summary(Some(summary))
            .description(Some(description))
            .tag(name.clone())
            .parameters(Some(self.parameters(op)))
            .request_body(self.request_body(op));
        for (status, response) in self.responses(op) {
            operation = operation.response(status.as_u16().to_string(), response);
        }
        operation.build()
    }

    fn options(&self, item: bool) -> Operation {
        let name = &self.name;
        let mut response = ResponseBuilder::new()
            .description("The methods allowed (Allow) and, on an item, the patch format")
            .header(shown::ALLOW, text_header("The methods this URL allows"));
        if item {
            response = response.header(shown::ACCEPT_PATCH, accept_patch_header());
        }
        let operation = OperationBuilder::new()
            .operation_id(Some(format!(
                "{}_{}",
                if item { "options" } else { "options_list" },
                snake(name)
            )))
            .summary(Some("The methods allowed"))
            .tag(name.clone())
            .response("204", response.build());
        let operation = if item {
            // OPTIONS answers for any last segment, an id or not.
            operation.parameter(
                ParameterBuilder::new()
                    .name("id")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .description(Some("Any segment: the answer is the same for every one"))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            )
        } else {
            operation
        };
        operation.build()
    }
}

fn accept_patch_header() -> Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([MERGE_PATCH_JSON])),
        ))
        .description(Some("The patch format PATCH takes"))
        .build()
}

/// `BlogPost` → `blog_post`, for operation ids.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (n, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if n > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    out
}

impl<M, R: ?Sized> ConditionalRoutes<M, R>
where
    M: Versioned + ToSchema,
    M::Id: serde::de::DeserializeOwned,
{
    /// The OpenAPI 3.1 description of these routes, nested at
    /// `base_path` (the path given to `Router::nest`, such as
    /// `"/profiles"`): every operation with its precondition headers
    /// (`If-Match`, `If-None-Match`, and `If-Modified-Since` /
    /// `If-Unmodified-Since` for a model with a modification time) and
    /// `Idempotency-Key` on writes, the validators it sends (`ETag`,
    /// `Last-Modified`, `Location`), and every status it can answer, each
    /// refusal an `application/problem+json` body of the
    /// [`Problem`] schema (a 304 and a HEAD answer have none).
    ///
    /// The model's schema is its [`ToSchema`], under its name; the pages
    /// of `GET /` are `<name>Page`. Request bodies are derived from it:
    /// the members the server owns (the version, the modification time,
    /// a generated id) are optional or left out. The description reflects
    /// the settings made so far (policy, PUT mode, creating PUT, limits,
    /// the list's tag member), so call it after them and before
    /// [`into_router`](Self::into_router). Merge it into an application's
    /// own description with [`OpenApi::merge`]; its `info` is a
    /// placeholder to replace.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use occ_axum::routes::ConditionalRoutes;
    /// use occ_core::repository::MemoryRepository;
    /// use occ_core::Versioned;
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned, utoipa::ToSchema)]
    /// #[occ(etag = "prof-{id}-v{version}")]
    /// struct Profile { id: i64, #[version] #[serde(skip)] version: i64, name: String }
    ///
    /// let routes = ConditionalRoutes::new(Arc::new(MemoryRepository::<Profile>::new()));
    /// let spec = serde_json::to_value(routes.openapi("/profiles")).unwrap();
    /// assert_eq!(spec["openapi"], "3.1.0");
    /// let put = &spec["paths"]["/profiles/{id}"]["put"];
    /// assert!(put["responses"]["428"].is_object());
    /// assert!(put["responses"]["304"].is_null());
    /// assert_eq!(
    ///     spec["paths"]["/profiles"]["get"]["responses"]["200"]["content"]["application/json"]
    ///         ["schema"]["$ref"],
    ///     "#/components/schemas/ProfilePage"
    /// );
    /// let app: axum::Router = routes.into_router();
    /// ```
    pub fn openapi(&self, base_path: &str) -> OpenApi {
        let name = M::name().into_owned();
        let schema = M::schema();
        let object = match &schema {
            RefOr::T(Schema::Object(object)) => Some(object.clone()),
            _ => None,
        };
        let describer = Describer {
            name: name.clone(),
            shape: self.settings(),
            has_last_modified: M::HAS_LAST_MODIFIED,
            object,
            id_member: M::MEMBERS.id,
            version_member: M::MEMBERS.version,
            last_modified_member: M::MEMBERS.last_modified,
            id_source: M::ID_SOURCE,
        };
        let base = base_path.trim_end_matches('/');
        let collection_path = if base.is_empty() { "/" } else { base };
        let collection = PathItemBuilder::new()
            .description(Some(format!(
                "The {name} collection. Other methods get 405 with Allow."
            )))
            .operation(HttpMethod::Get, describer.operation(Op::List))
            .operation(HttpMethod::Head, describer.operation(Op::HeadList))
            .operation(HttpMethod::Post, describer.operation(Op::Post))
            .operation(HttpMethod::Options, describer.options(false))
            .build();
        let item = PathItemBuilder::new()
            .description(Some(format!(
                "One {name}. Other methods get 405 with Allow."
            )))
            .operation(HttpMethod::Get, describer.operation(Op::GetItem))
            .operation(HttpMethod::Head, describer.operation(Op::HeadItem))
            .operation(HttpMethod::Put, describer.operation(Op::Put))
            .operation(HttpMethod::Patch, describer.operation(Op::Patch))
            .operation(HttpMethod::Delete, describer.operation(Op::Delete))
            .operation(HttpMethod::Options, describer.options(true))
            .build();
        let mut nested = Vec::new();
        M::schemas(&mut nested);
        let components = ComponentsBuilder::new()
            .schema(PROBLEM_SCHEMA, Problem::schema())
            .schema(name.clone(), schema)
            .schema(describer.page_name(), describer.page_schema())
            .schemas_from_iter(nested)
            .build();
        let spec = OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title(format!("{name} resources"))
                    .version("1")
                    .build(),
            )
            .paths(
                PathsBuilder::new()
                    .path(collection_path, collection)
                    .path(format!("{base}/{{id}}"), item),
            )
            .components(Some(components))
            .build();
        match example_tag::<M>() {
            Some(tag) => with_example_tag(spec, &tag),
            None => spec,
        }
    }
}

/// A tag of the model's own, for its examples: its first version, for an
/// id of 42 (or `"42"`, or a UUID) if the id reads one.
fn example_tag<M: Versioned>() -> Option<String>
where
    M::Id: serde::de::DeserializeOwned,
{
    let candidates = [
        json!(42),
        json!("42"),
        json!("0192f0c4-7a3b-7c2e-9d4f-0123456789ab"),
    ];
    let id = candidates
        .into_iter()
        .find_map(|value| serde_json::from_value::<M::Id>(value).ok())?;
    Some(M::entity_tag_for(&id, M::Version::INITIAL).to_string())
}

/// `spec` with every example tag ([`EXAMPLE_TAG`]) replaced by `tag`.
fn with_example_tag(spec: OpenApi, tag: &str) -> OpenApi {
    fn replace(value: &mut serde_json::Value, tag: &str) {
        match value {
            serde_json::Value::String(text) if text == EXAMPLE_TAG => *text = tag.to_owned(),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| replace(v, tag)),
            serde_json::Value::Object(members) => {
                members.values_mut().for_each(|v| replace(v, tag))
            }
            _ => {}
        }
    }
    let Ok(mut value) = serde_json::to_value(&spec) else {
        return spec;
    };
    replace(&mut value, tag);
    serde_json::from_value(value).unwrap_or(spec)
}
