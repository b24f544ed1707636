//! The `Conditional<T>` extractor: preconditions first, then the body.

use std::marker::PhantomData;

use axum::extract::{FromRequest, Request};
use http::Method;
use occ_core::{EntityTag, Policy, Target, Versioned};

use crate::policy::Refused;
use crate::Problem;

/// The request's preconditions, with the body extractor `T` held back until
/// they pass.
///
/// RFC 9110 §13.2.1 (EV-1) evaluates preconditions before the content is
/// processed, so a stale `If-Match` with an invalid body is 412, and a valid
/// one with an invalid body is 422 (S16, S17). The handler reads the current
/// state, calls [`check`](Conditional::check), and gets the body only if
/// the request may proceed:
///
/// ```
/// use axum::{extract::{Path, State}, routing::put, Json, Router};
/// use occ_axum::{Conditional, Problem, Refused, Tagged};
/// use occ_core::repository::{MemoryRepository, Repository, WriteCondition};
/// use occ_core::Versioned;
/// use std::sync::Arc;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
/// struct Note { id: u64, #[version] version: u64, text: String }
///
/// #[derive(serde::Deserialize)]
/// struct NewText { text: String }
///
/// async fn replace(
///     State(repo): State<Arc<MemoryRepository<Note>>>,
///     Path(id): Path<u64>,
///     request: Conditional<Json<NewText>>,
/// ) -> Result<Tagged<Note>, Refused> {
///     let current = repo.get(&id).await.ok();
///     // 404, 428, 412 (with the current ETag) or 304 come out here...
///     let Json(body) = request.check(current.as_ref()).await?;
///     let Some(current) = current else { return Err(Problem::new(http::StatusCode::NOT_FOUND).into()) };
///     let next = Note { text: body.text, ..current.clone() };
///     // ...and the write is a compare-and-swap on the version just read.
///     let saved = repo
///         .update(next, &WriteCondition::VersionIn(vec![current.version]))
///         .await
///         .map_err(Problem::from)?;
///     Ok(Tagged::written(saved))
/// }
///
/// let app: Router = Router::new()
///     .route("/notes/{id}", put(replace))
///     .with_state(Arc::new(MemoryRepository::<Note>::new()));
/// ```
///
/// The policy ([`Policy::Required`] unless a [`Policy`] is in the request
/// extensions, e.g. from `Extension(Policy::Optional)` on a router or route)
/// decides whether a write without preconditions is 428.
///
/// `T` is any extractor that needs no state: `Json<_>`, `String`, `Bytes`,
/// `Form<_>`. Its rejection becomes problem details.
#[derive(Debug)]
pub struct Conditional<T> {
    preconditions: occ_core::Preconditions,
    policy: Policy,
    request: Request,
    _body: PhantomData<fn() -> T>,
}

impl<S: Send + Sync, T> FromRequest<S> for Conditional<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            preconditions: occ_core::Preconditions::from_headers(request.headers()),
            policy: request
                .extensions()
                .get::<Policy>()
                .copied()
                .unwrap_or_default(),
            request,
            _body: PhantomData,
        })
    }
}

impl<T> Conditional<T> {
    /// The parsed precondition headers.
    pub fn preconditions(&self) -> &occ_core::Preconditions {
        &self.preconditions
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        self.request.method()
    }

    /// The policy in force for this request.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Evaluates the preconditions against `target` (PR-1): `Ok` to
    /// proceed, or the 304 / 404 / 412 / 428 to answer.
    pub fn evaluate(
        &self,
        target: &Target<'_>,
        current: Option<&EntityTag>,
    ) -> Result<(), Refused> {
        let decision = self
            .preconditions
            .evaluate(self.method(), target, self.policy);
        match Refused::from_decision(decision, self.method(), self.request.uri().path(), current) {
            None => Ok(()),
            Some(refused) => Err(refused),
        }
    }

    /// Evaluates against the current state of a model (`None`: missing, and
    /// not creatable by this request).
    pub fn evaluate_model<M: Versioned>(&self, current: Option<&M>) -> Result<(), Refused> {
        match current {
            Some(model) => {
                let etag = model.entity_tag();
                self.evaluate(&Target::of(model, &etag), Some(&etag))
            }
            None => self.evaluate(&Target::missing_of::<M>(), None),
        }
    }
}

impl<T> Conditional<T>
where
    T: FromRequest<()>,
    T::Rejection: Into<Problem>,
{
    /// Extracts the body, after the preconditions passed. Its rejections
    /// (syntax 400, media type 415, size 413, data 422) are problem details.
    pub async fn into_body(self) -> Result<T, Problem> {
        T::from_request(self.request, &()).await.map_err(Into::into)
    }

    /// [`evaluate_model`](Self::evaluate_model), then
    /// [`into_body`](Self::into_body).
    pub async fn check<M: Versioned>(self, current: Option<&M>) -> Result<T, Refused> {
        self.evaluate_model(current)?;
        self.into_body().await.map_err(Refused::Problem)
    }
}
