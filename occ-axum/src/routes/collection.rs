//! POST to the collection (`/`): a new resource, with its id from the
//! body, the server or the store.

use std::sync::Arc;

use std::fmt::Display;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use occ_core::pipeline::Rejection;
use occ_core::repository::{Repository, RepositoryError};
use occ_core::{IdSource, Policy, VersionNumber, Versioned};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::json::{initial_version, model_from, parse_value};
use super::request::{keyed, require_media_type, scope_check, unusable_id};
use super::settings::Config;
use crate::extract::conditional_request::ConditionalRequest;
use crate::headers::JSON;
use crate::problem::Problem;
use crate::refusal::Refusal;
use crate::response::Tagged;

fn location(uri: &http::Uri, id: &impl Display) -> Option<HeaderValue> {
    let path = uri.path().trim_end_matches('/');
    let id = occ_core::EntityTagBuilder::strong().value(id).finish();
    // The builder percent-encodes anything outside visible ASCII.
    let encoded = String::from_utf8_lossy(id.opaque()).into_owned();
    HeaderValue::from_str(&format!("{path}/{encoded}")).ok()
}

/// Where a POST's new resource gets its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NewId {
    /// The body holds it (the client's, or one the server generated).
    InBody,
    /// The store assigns it ([`Repository::create_with_new_id`]).
    FromStore,
}

/// Completes a POST body as `M::ID_SOURCE` says (design decision 12):
/// the version is the server's; an id the server generates is put in; an
/// id the client may not choose is refused (422).
fn fill_new<M>(body: &mut Value) -> Result<NewId, Problem>
where
    M: Versioned,
    M::Id: Serialize,
{
    let Value::Object(object) = body else {
        // Not an object: deserializing it says what is wrong (422).
        return Ok(NewId::InBody);
    };
    if let (Some(member), Some(version)) = (M::MEMBERS.version, initial_version::<M>()) {
        object.entry(member).or_insert(version);
    }
    let (IdSource::Generated { client_may_choose }, Some(member)) = (M::ID_SOURCE, M::MEMBERS.id)
    else {
        return Ok(NewId::InBody);
    };
    if object.get(member).is_some_and(|id| !id.is_null()) {
        return if client_may_choose {
            Ok(NewId::InBody)
        } else {
            Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(format!(
                "ids of this collection are assigned by the server: send the body without `{member}`"
            )))
        };
    }
    match M::generate_id().map(|id| serde_json::to_value(&id)) {
        Some(Ok(id)) => {
            object.insert(member.to_owned(), id);
            Ok(NewId::InBody)
        }
        Some(Err(e)) => {
            tracing::error!(error = %e, "a generated id does not serialize");
            Err(Problem::internal_error())
        }
        None => {
            // A placeholder, so that the body deserializes: the store
            // ignores it and assigns the id.
            object.insert(member.to_owned(), Value::from(0));
            Ok(NewId::FromStore)
        }
    }
}

pub(super) async fn create_item<M, R>(
    State(config): State<Arc<Config<M, R>>>,
    request: Request,
) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
    M::Id: Serialize + Display,
    R: Repository<M> + ?Sized,
{
    keyed!(config, request, create)
}

async fn create<M, R, Q>(config: &Config<M, R>, repo: &Q, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
    M::Id: Serialize + Display,
    R: Send + Sync + ?Sized,
    Q: Repository<M> + ?Sized,
{
    let (mut parts, body) = request.into_parts();
    // The target is the collection, which has no representation of its
    // own: If-Match is false (IM-3) and `If-None-Match: *` holds. A POST
    // that creates needs no precondition (design decision 2).
    let conditions = ConditionalRequest::take_from_parts(&mut parts, Policy::Optional);
    // Read before any refusal: a body left unread costs the connection.
    let bytes = crate::body::read_body(body, config.settings.body_limit).await;
    let result = async {
        scope_check(config, conditions.scope())?;
        require_media_type(&parts.headers, JSON, false)?;
        conditions
            .pipeline()
            .creatable(true)
            .decide::<M, Problem>(None)
            .map_err(|rejection| conditions.refuse(rejection))?;
        let bytes = bytes?;
        let mut body = parse_value(&bytes)?;
        let new_id = fill_new::<M>(&mut body)?;
        let mut model: M = model_from(body)?;
        if new_id == NewId::InBody {
            if let Some(why) = unusable_id(model.id()) {
                return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                    .with_detail(why)
                    .into());
            }
        }
        model.set_version(M::Version::INITIAL);
        config.prepare(None, &mut model)?;
        let created = match (conditions.scope(), new_id) {
            (Some(scope), new_id) => match repo.scoped(scope) {
                Ok(scoped) if new_id == NewId::FromStore => scoped.create_with_new_id(model).await,
                Ok(scoped) => scoped.create(model).await,
                Err(e) => Err(e),
            },
            (None, NewId::FromStore) => repo.create_with_new_id(model).await,
            (None, NewId::InBody) => repo.create(model).await,
        };
        let saved = created.map_err(|e| match e {
            RepositoryError::AlreadyExists { .. } => Refusal::from(
                Problem::new(StatusCode::CONFLICT)
                    .with_detail("a resource with this id exists already"),
            ),
            other => conditions.refuse(Rejection::<M, Problem>::Repository(other)),
        })?;
        Ok::<_, Refusal>(match location(conditions.uri(), saved.id()) {
            Some(location) => Tagged::created(saved, location),
            None => Tagged::written(saved),
        })
    };
    result.await.into_response()
}
