//! The `Conditional<T>` extractor: preconditions first, then the body.

use std::marker::PhantomData;

use axum::extract::{FromRequest, Request};
use occ_core::repository::Repository;
use occ_core::Versioned;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::body::{drain, Kept};
use crate::extract::conditional_request::ConditionalRequest;
use crate::problem::Problem;
use crate::refusal::Refusal;
use crate::response::Tagged;

/// A [`ConditionalRequest`] with its body extractor `T` held back until the
/// preconditions pass.
///
/// RFC 9110 §13.2.1 (EV-1) evaluates preconditions before the content is
/// processed, so a stale `If-Match` with an invalid body is 412, and a valid
/// one with an invalid body is 422 (S16, S17). A write built from the body
/// is one statement with [`replace`](Conditional::replace) or
/// [`merge`](Conditional::merge): the body is read first, but its error is
/// answered only if the preconditions pass. A custom action is a merge of
/// the members it sets, so `POST /docs/{id}/publish` is one statement too,
/// and 428 without a precondition under the default policy:
///
/// ```
/// use axum::{body::Bytes, extract::{Path, State}, routing::{post, put}, Json, Router};
/// use occ_axum::{Conditional, Refusal, Tagged};
/// use occ_core::repository::MemoryRepository;
/// use occ_core::Versioned;
/// use std::sync::Arc;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
/// struct Doc { id: u64, #[version] version: u64, text: String, published: bool }
///
/// #[derive(serde::Deserialize)]
/// struct NewText { text: String }
///
/// type Docs = Arc<MemoryRepository<Doc>>;
///
/// async fn edit(State(docs): State<Docs>, Path(id): Path<u64>, request: Conditional<Json<NewText>>)
///     -> Result<Tagged<Doc>, Refusal> {
///     // 428, 412 (with the current ETag), 404, then 400/422 for the body.
///     request
///         .merge(&*docs, &id, |Json(body)| Ok(serde_json::json!({ "text": body.text })))
///         .await
/// }
///
/// async fn publish(State(docs): State<Docs>, Path(id): Path<u64>, request: Conditional<Bytes>)
///     -> Result<Tagged<Doc>, Refusal> {
///     request.merge(&*docs, &id, |_| Ok(serde_json::json!({ "published": true }))).await
/// }
///
/// let app: Router = Router::new()
///     .route("/docs/{id}", put(edit))
///     .route("/docs/{id}/publish", post(publish))
///     .with_state(Docs::default());
/// ```
///
/// `T` is any extractor that needs no state: `Json<_>`, `String`, `Bytes`,
/// `Form<_>`. Its rejection becomes problem details.
#[derive(Debug)]
pub struct Conditional<T> {
    conditions: ConditionalRequest,
    request: Request,
    _body: PhantomData<fn() -> T>,
}

impl<S: Send + Sync, T> FromRequest<S> for Conditional<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let conditions = ConditionalRequest::from_parts(&parts);
        Ok(Self {
            conditions,
            request: Request::from_parts(parts, body),
            _body: PhantomData,
        })
    }
}

impl<T> Conditional<T> {
    /// The request's method, resource, preconditions and policy.
    pub fn conditions(&self) -> &ConditionalRequest {
        &self.conditions
    }

    /// The parsed precondition headers.
    pub fn preconditions(&self) -> &occ_core::Preconditions {
        self.conditions.preconditions()
    }

    /// Whether a 412 carries the current representation besides the
    /// current `ETag` (default: yes;
    /// [`ConditionalRequest::current_in_412`]).
    pub fn current_in_412(mut self, send: bool) -> Self {
        self.conditions = self.conditions.current_in_412(send);
        self
    }
}

impl<T> Conditional<T>
where
    T: FromRequest<()>,
    T::Rejection: Into<Problem>,
{
    /// Extracts the body, without evaluating anything. Its rejections
    /// (syntax 400, media type 415, size 413, data 422) are problem details.
    pub async fn into_body(self) -> Result<T, Problem> {
        body_of(self.request).await
    }

    /// Evaluates the preconditions on `current`, a state the handler read
    /// itself (`None`: missing), then extracts the body: what
    /// [`Pipeline::decide`](occ_core::pipeline::Pipeline::decide) is to the
    /// pipeline (`check`, on [`ConditionalRequest`], reads the state
    /// first). The handler then writes with a compare-and-swap on
    /// `current`'s version.
    ///
    /// A 412 carries `current`'s tag and representation (design decision
    /// 16, [`ConditionalRequest::current_in_412`]).
    pub async fn decide<M: Versioned + Serialize>(
        self,
        current: Option<M>,
    ) -> Result<(Option<M>, T), Refusal> {
        let current = match self.conditions.pipeline().decide::<M, Problem>(current) {
            Ok(current) => current,
            Err(rejection) => {
                let refusal = self.conditions.refuse_with_current(rejection);
                drain(self.request.into_body()).await;
                return Err(refusal);
            }
        };
        let body = body_of(self.request).await.map_err(Refusal::from)?;
        Ok((current, body))
    }

    /// The general path in one call: reads the resource, evaluates the
    /// preconditions on it, then extracts the body.
    pub async fn fetch<M, R>(self, repo: &R, id: &M::Id) -> Result<(M, T), Refusal>
    where
        M: Versioned + Serialize + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
    {
        let current = match self.conditions.check(repo, id).await {
            Ok(Some(current)) => current,
            Ok(None) => {
                drain(self.request.into_body()).await;
                return Err(self
                    .conditions
                    .refuse(occ_core::pipeline::Rejection::<M, Problem>::NotFound));
            }
            Err(refusal) => {
                drain(self.request.into_body()).await;
                return Err(refusal);
            }
        };
        let body = body_of(self.request).await.map_err(Refusal::from)?;
        Ok((current, body))
    }

    /// Replaces the resource with the model `build` makes from the body:
    /// one statement where the preconditions allow
    /// ([`ConditionalRequest::replace`]).
    pub async fn replace<M, R>(
        self,
        repo: &R,
        id: &M::Id,
        creatable: bool,
        build: impl FnOnce(T) -> Result<M, Problem>,
    ) -> Result<Tagged<M>, Refusal>
    where
        M: Versioned + Serialize + Clone + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
    {
        let body = body_of(self.request).await;
        self.conditions
            .replace(repo, id, body.and_then(build), creatable)
            .await
    }

    /// Merges the members `build` makes from the body (a JSON object, as
    /// a merge patch): one statement where the store can merge them in
    /// place ([`ConditionalRequest::merge`]).
    pub async fn merge<M, R>(
        self,
        repo: &R,
        id: &M::Id,
        build: impl FnOnce(T) -> Result<serde_json::Value, Problem>,
    ) -> Result<Tagged<M>, Refusal>
    where
        M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
    {
        let body = body_of(self.request).await;
        self.conditions.merge(repo, id, body.and_then(build)).await
    }
}

/// `T` extracted from the request's body; when `T` refuses it, what it
/// left unread is drained (a 415 before reading, a 413 half way), so the
/// refusal leaves the connection usable.
async fn body_of<T>(request: Request) -> Result<T, Problem>
where
    T: FromRequest<()>,
    T::Rejection: Into<Problem>,
{
    let (parts, body) = request.into_parts();
    let kept = Kept::new(body);
    match T::from_request(Request::from_parts(parts, kept.reader()), &()).await {
        Ok(body) => Ok(body),
        Err(rejection) => {
            kept.drain().await;
            Err(rejection.into())
        }
    }
}
