//! The [`Problem`] schema: the problem details object every refusal
//! sends.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::syntax::{string_schema, TAG_PATTERN};
use crate::problem::Problem;

/// The name of the [`Problem`] schema among the components:
/// `#/components/schemas/Problem`.
pub const PROBLEM_SCHEMA: &str = "Problem";

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
