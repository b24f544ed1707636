//! What the description of one set of generated routes is made from:
//! the model's schema and members and the routes' settings, and the
//! schemas, bodies and representations derived from them.

use occ_core::IdSource;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr, Required};

use super::responses::{
    etag_header, idempotent_replayed_header, last_modified_header, location_header, no_store_header,
};
use super::syntax::TAG_PATTERN;
use crate::headers::{shown, JSON, MERGE_PATCH_JSON};
use crate::routes::PutMode;

/// The operations of one route, assembled.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
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
    pub(super) fn is_write(self) -> bool {
        matches!(self, Op::Put | Op::Patch | Op::Delete | Op::Post)
    }

    pub(super) fn is_head(self) -> bool {
        matches!(self, Op::HeadItem | Op::HeadList)
    }
}

/// What the description of one set of routes needs.
pub(super) struct Describer {
    pub(super) name: String,
    pub(super) shape: crate::routes::Settings,
    pub(super) has_last_modified: bool,
    /// The model's schema, as an object, when it is one.
    pub(super) object: Option<utoipa::openapi::schema::Object>,
    pub(super) id_member: Option<&'static str>,
    pub(super) version_member: Option<&'static str>,
    pub(super) last_modified_member: Option<&'static str>,
    pub(super) id_source: IdSource,
}

impl Describer {
    pub(super) fn model_ref(&self) -> Ref {
        Ref::from_schema_name(self.name.clone())
    }

    pub(super) fn id_schema(&self) -> RefOr<Schema> {
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
    pub(super) fn body_schema(
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
    pub(super) fn id_in_url(&self) -> RefOr<Schema> {
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

    pub(super) fn id_parameter(&self) -> Parameter {
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

    pub(super) fn request_body(&self, op: Op) -> Option<RequestBody> {
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
    pub(super) fn representation(&self, description: &str, op: Op, created: bool) -> Response {
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
                .header(shown::IDEMPOTENT_REPLAYED, idempotent_replayed_header());
        }
        if !op.is_head() {
            response = response.content(
                JSON,
                ContentBuilder::new().schema(Some(self.model_ref())).build(),
            );
        }
        response.build()
    }

    pub(super) fn page_name(&self) -> String {
        format!("{}Page", self.name)
    }

    pub(super) fn page_schema(&self) -> RefOr<Schema> {
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
}
