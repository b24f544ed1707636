//! GET, HEAD, PUT, PATCH and DELETE of one resource (`/{id}`).

use std::sync::Arc;

use std::fmt::Display;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use occ_core::pipeline::Rejection;
use occ_core::repository::Repository;
use occ_core::{ListKind, Versioned};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::json::{
    id_differs, members_for, model_for_put, parse_value, require_object, whole_numbers,
};
use super::request::{keyed, require_media_type, split};
use super::settings::{Config, PutMode};
use crate::extract::conditional_request::ConditionalRequest;
use crate::headers::{JSON, MERGE_PATCH_JSON};
use crate::problem::Problem;
use crate::refusal::Creation;
use crate::refusal::Refusal;
use crate::response::Tagged;

pub(super) async fn get_item<M, R>(
    State(config): State<Arc<Config<M, R>>>,
    request: Request,
) -> Response
where
    M: Versioned + Serialize + Send + Sync + 'static,
    M::Id: DeserializeOwned + Display,
    R: Repository<M> + ?Sized,
{
    let (conditions, id, _, _) = split::<M, R>(request, &config).await;
    let result = async {
        let id = id?;
        conditions
            .read(&*config.repo, &id)
            .await
            .map_err(|refusal| refusal.naming_id(&id))
    };
    result.await.into_response()
}

pub(super) async fn put_item<M, R>(
    State(config): State<Arc<Config<M, R>>>,
    request: Request,
) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Serialize + Display,
    R: Repository<M> + ?Sized,
{
    keyed!(config, request, put)
}

async fn put<M, R, Q>(config: &Config<M, R>, repo: &Q, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Serialize + Display,
    R: Send + Sync + ?Sized,
    Q: Repository<M> + ?Sized,
{
    let (conditions, id, headers, body) = split::<M, R>(request, config).await;
    // Read before any refusal: a body left unread costs the connection.
    let body = crate::body::read_body(body, config.settings.body_limit).await;
    let result = async {
        let id = id?;
        require_media_type(&headers, JSON, false)?;
        let create_once = config.settings.creating_put
            && conditions
                .preconditions()
                .if_none_match()
                .is_some_and(|list| list.validate() == Ok(ListKind::Any));
        let written = if config.settings.put_mode == PutMode::Merge && !create_once {
            merge_put(config, repo, &conditions, &id, body).await
        } else if config.transition.is_some() {
            // The hook judges the state replaced: read it first.
            let model = body.and_then(|bytes| parsed_state::<M>(&bytes, &id));
            let hooks = |current: Option<&M>, model: &mut M| config.prepare(current, model);
            conditions
                .replace_with(repo, &id, model, config.settings.creating_put, hooks)
                .await
        } else {
            // Parsed once the preconditions allow it, where that is free.
            let parse = || body.and_then(|bytes| new_state(config, &bytes, &id));
            conditions
                .replace_parsing(repo, &id, parse, config.settings.creating_put)
                .await
        };
        written.map_err(|refusal| refusal.naming_id(&id))
    };
    result.await.into_response()
}

/// The state a replacing or creating PUT body describes, through the
/// hooks (as a create's: a transition hook is run by `replace_with`).
fn new_state<M, R: ?Sized>(config: &Config<M, R>, body: &[u8], id: &M::Id) -> Result<M, Problem>
where
    M: Versioned + DeserializeOwned,
    M::Id: Serialize,
{
    let mut model = parsed_state::<M>(body, id)?;
    config.prepare(None, &mut model)?;
    Ok(model)
}

/// The state a PUT body describes, before the hooks.
fn parsed_state<M>(body: &[u8], id: &M::Id) -> Result<M, Problem>
where
    M: Versioned + DeserializeOwned,
    M::Id: Serialize,
{
    // A complete body reads in one pass; filling in the members the URL
    // and the server own (and telling 400 from 422) needs a JSON value
    // first, which only an incomplete or a bad body pays for.
    match serde_json::from_slice::<M>(body) {
        Ok(model) if model.id() == id => Ok(model),
        Ok(_) => Err(id_differs()),
        Err(_) => model_for_put::<M>(parse_value(body)?, id),
    }
}

/// PUT in merge mode: the body's members merged into the resource. On
/// routes that create, a missing resource is created from the body when
/// the preconditions allow it (design decision 3): merged into nothing,
/// the members are the whole representation.
async fn merge_put<M, R, Q>(
    config: &Config<M, R>,
    repo: &Q,
    conditions: &ConditionalRequest,
    id: &M::Id,
    body: Result<Bytes, Problem>,
) -> Result<Tagged<M>, Refusal>
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Serialize,
    R: Send + Sync + ?Sized,
    Q: Repository<M> + ?Sized,
{
    // Only a miss needs the body again, and only where PUT creates: the
    // bytes are shared, so keeping them costs nothing on the happy path.
    let spare = config.settings.creating_put.then(|| body.clone());
    let members = body
        .and_then(|bytes| parse_value(&bytes))
        .and_then(require_object)
        .and_then(|members| members_for::<M>(members, id));
    match merge_members(config, repo, conditions, id, members).await {
        Ok(saved) => Ok(Tagged::written(saved)),
        Err(Rejection::NotFound) => match spare {
            // The merge path never creates: the replacing path evaluates
            // the preconditions against the missing resource (S6, S7).
            Some(body) => {
                let model = body.and_then(|bytes| new_state(config, &bytes, id));
                conditions.replace(repo, id, model, true).await
            }
            None => Err(conditions.refuse_as(Rejection::<M, Problem>::NotFound, Creation::Never)),
        },
        Err(rejection) => Err(conditions.refuse_as(rejection, config.put_creation())),
    }
}

/// Merges members into the resource at `id`: one statement without
/// hooks; with hooks, the merged result goes through them before a
/// compare-and-swap ([`Pipeline::merge_with`](occ_core::pipeline::Pipeline::merge_with)).
async fn merge_members<M, R, Q>(
    config: &Config<M, R>,
    repo: &Q,
    conditions: &ConditionalRequest,
    id: &M::Id,
    patch: Result<Value, Problem>,
) -> Result<M, Rejection<M, Problem>>
where
    M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
    R: Send + Sync + ?Sized,
    Q: Repository<M> + ?Sized,
{
    let pipeline = conditions.pipeline().merging(config.settings.merging);
    if config.has_hooks() {
        let hooks = |current: &M, model: &mut M| config.prepare(Some(current), model);
        pipeline.merge_with(repo, id, patch, hooks).await
    } else {
        pipeline.merge(repo, id, patch).await
    }
}

pub(super) async fn patch_item<M, R>(
    State(config): State<Arc<Config<M, R>>>,
    request: Request,
) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Display,
    R: Repository<M> + ?Sized,
{
    keyed!(config, request, patch)
}

async fn patch<M, R, Q>(config: &Config<M, R>, repo: &Q, request: Request) -> Response
where
    M: Versioned + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    M::Id: DeserializeOwned + Display,
    R: Send + Sync + ?Sized,
    Q: Repository<M> + ?Sized,
{
    let (conditions, id, headers, body) = split::<M, R>(request, config).await;
    // Read before any refusal: a body left unread costs the connection.
    let body = crate::body::read_body(body, config.settings.body_limit).await;
    let result = async {
        let id = id?;
        require_media_type(&headers, MERGE_PATCH_JSON, true)?;
        let patch = body
            .and_then(|bytes| {
                let mut patch = serde_json::from_slice::<Value>(&bytes).map_err(|e| {
                    Problem::new(StatusCode::BAD_REQUEST)
                        .with_detail(format!("the merge patch is not valid JSON: {e}"))
                })?;
                whole_numbers(&mut patch);
                Ok(patch)
            })
            .and_then(|patch| members_for::<M>(patch, &id));
        merge_members(config, repo, &conditions, &id, patch)
            .await
            .map(Tagged::written)
            .map_err(|rejection| {
                conditions
                    .refuse_as(rejection, Creation::Never)
                    .naming_id(&id)
            })
    };
    result.await.into_response()
}

pub(super) async fn delete_item<M, R>(
    State(config): State<Arc<Config<M, R>>>,
    request: Request,
) -> Response
where
    M: Versioned + Serialize + Send + Sync + 'static,
    M::Id: DeserializeOwned + Display,
    R: Repository<M> + ?Sized,
{
    keyed!(config, request, delete)
}

async fn delete<M, R, Q>(config: &Config<M, R>, repo: &Q, request: Request) -> Response
where
    M: Versioned + Serialize + Send + Sync + 'static,
    M::Id: DeserializeOwned + Display,
    R: Send + Sync + ?Sized,
    Q: Repository<M> + ?Sized,
{
    let (conditions, id, _, body) = split::<M, R>(request, config).await;
    // A DELETE has no use for a body, but one left unread costs the
    // connection.
    crate::body::drain(body).await;
    let result = async {
        let id = id?;
        conditions
            .delete(repo, &id)
            .await
            .map_err(|refusal| refusal.naming_id(&id))?;
        Ok::<_, Refusal>(crate::bodiless::response(StatusCode::NO_CONTENT))
    };
    result.await.into_response()
}
