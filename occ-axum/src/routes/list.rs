//! GET and HEAD of the collection (`/`): keyset pages.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use http::HeaderMap;
use occ_core::repository::{Repository, Scope};
use occ_core::Versioned;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::request::scope_check;
use super::settings::Config;
use crate::problem::Problem;
use crate::refusal::Refusal;

/// `GET /?after=<id>&limit=<n>`. Any other parameter is 400, naming it:
/// a filter or sort the list does not know would otherwise be ignored
/// silently, and its client would take the page for what it asked.
#[derive(Debug, Deserialize)]
#[serde(bound = "Id: DeserializeOwned", deny_unknown_fields)]
pub(super) struct ListQuery<Id> {
    after: Option<Id>,
    limit: Option<u32>,
}

pub(super) async fn list<M, R>(
    State(config): State<Arc<Config<M, R>>>,
    method: http::Method,
    headers: HeaderMap,
    scope: Option<Extension<Scope>>,
    query: Result<Query<ListQuery<M::Id>>, axum::extract::rejection::QueryRejection>,
) -> Response
where
    M: Versioned + Serialize + Send + Sync + 'static,
    M::Id: DeserializeOwned + Serialize,
    R: Repository<M> + ?Sized,
{
    let scope = scope.map(|Extension(scope)| scope);
    if let Err(refusal) = scope_check(&config, scope.as_ref()) {
        return refusal.into_response();
    }
    let Query(query) = match query {
        Ok(q) => q,
        Err(rejection) => return Problem::from(rejection).into_response(),
    };
    let limit = query
        .limit
        .unwrap_or(config.settings.page_limit)
        .clamp(1, config.settings.page_limit);
    // One statement: the page is read once, and its tag computed from it.
    let page = match &scope {
        Some(scope) => match config.repo.scoped(scope) {
            Ok(scoped) => scoped.list(query.after.as_ref(), limit).await,
            Err(e) => Err(e),
        },
        None => config.repo.list(query.after.as_ref(), limit).await,
    };
    let page = match page {
        Ok(page) => page,
        Err(e) => return Refusal::from(e).into_response(),
    };
    match crate::Listing::new(page, query.after.as_ref(), limit) {
        Ok(listing) => listing
            .scope(scope.as_ref())
            .item_tags(config.settings.etag_member)
            .respond(&method, &headers),
        Err(error) => unserializable(&error),
    }
}

fn unserializable(error: &serde_json::Error) -> Response {
    tracing::error!(%error, "cannot serialize a page of the collection");
    Problem::internal_error().into_response()
}
