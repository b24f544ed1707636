//! The description of a set of generated routes
//! ([`ConditionalRoutes::openapi`]), with the model's own example tag.

use occ_core::{VersionNumber, Versioned};
use serde_json::json;
use utoipa::openapi::path::{HttpMethod, PathItemBuilder};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, RefOr,
};
use utoipa::{PartialSchema, ToSchema};

use super::describer::{Describer, Op};
use super::problem::PROBLEM_SCHEMA;
use super::syntax::EXAMPLE_TAG;
use crate::problem::Problem;
use crate::routes::ConditionalRoutes;
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
pub(super) fn example_tag<M: Versioned>() -> Option<String>
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
pub(super) fn with_example_tag(spec: OpenApi, tag: &str) -> OpenApi {
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
