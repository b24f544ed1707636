//! The `ConditionalRequest` extractor: the entry to the decide→write
//! pipeline for handlers.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, OriginalUri};
use http::request::Parts;
use http::{HeaderValue, Method, Uri};
use occ_core::pipeline::{Pipeline, Rejection, Written};
use occ_core::repository::{Repository, Scope};
use occ_core::{Policy, Preconditions, Versioned};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::problem::Problem;
use crate::refusal::Refusal;
use crate::refusal::{Creation, Refused};
use crate::response::Tagged;

/// A request's method, resource and precondition headers (parsed once),
/// with the [`Policy`] in force: what occ-core's
/// [`Pipeline`] needs, and what a refusal names in its log event.
///
/// Its methods run one conditional operation against a
/// [`Repository`] and answer with a response or a [`Refusal`]. Each is one
/// statement on its happy path where the preconditions can be checked by
/// the store (see [`occ_core::pipeline`]).
///
/// ```
/// use std::sync::Arc;
/// use axum::extract::{Path, State};
/// use axum::routing::get;
/// use axum::Router;
/// use occ_axum::{ConditionalRequest, Refusal, Tagged};
/// use occ_core::repository::MemoryRepository;
/// use occ_core::Versioned;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
/// struct Note { id: u64, #[version] version: u64, text: String }
///
/// type Notes = Arc<MemoryRepository<Note>>;
///
/// async fn read(State(notes): State<Notes>, Path(id): Path<u64>, request: ConditionalRequest)
///     -> Result<Tagged<Note>, Refusal> {
///     request.read(&*notes, &id).await
/// }
///
/// async fn remove(State(notes): State<Notes>, Path(id): Path<u64>, request: ConditionalRequest)
///     -> Result<http::StatusCode, Refusal> {
///     request.delete(&*notes, &id).await?;
///     Ok(http::StatusCode::NO_CONTENT)
/// }
///
/// let app: Router = Router::new()
///     .route("/notes/{id}", get(read).delete(remove))
///     .with_state(Notes::default());
/// ```
///
/// The policy is [`Policy::Required`] unless a [`Policy`] is in the request
/// extensions (`Extension(Policy::Optional)` on a router or route, or
/// [`RequirePreconditionsLayer`](crate::RequirePreconditionsLayer)). A
/// [`Scope`] in the request extensions restricts every statement to the
/// caller's rows.
///
/// A 412 on a resource that exists carries its current `ETag` and, by
/// default, its current representation in the problem's `current` member
/// (design decision 16), so that the client can merge and retry without a
/// GET; [`current_in_412`](Self::current_in_412) turns the representation
/// off.
#[derive(Debug, Clone)]
pub struct ConditionalRequest {
    method: Method,
    uri: Uri,
    preconditions: Preconditions,
    policy: Policy,
    scope: Option<Scope>,
    current_in_412: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for ConditionalRequest {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

impl ConditionalRequest {
    /// Reads the method, the URI as the client sent it (before nesting
    /// stripped a prefix), the precondition headers and the policy.
    pub fn from_parts(parts: &Parts) -> Self {
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(&parts.uri, |original| &original.0);
        let policy = parts
            .extensions
            .get::<Policy>()
            .copied()
            .unwrap_or_default();
        Self::with_uri(parts, uri.clone(), policy)
    }

    /// As [`from_parts`](Self::from_parts), taking the URI out of `parts`
    /// instead of copying it, for a route that owns them, under the route's
    /// own `policy` (so the extensions are not searched for one).
    pub(crate) fn take_from_parts(parts: &mut Parts, policy: Policy) -> Self {
        let uri = match parts.extensions.remove::<OriginalUri>() {
            Some(OriginalUri(uri)) => uri,
            None => std::mem::take(&mut parts.uri),
        };
        Self::with_uri(parts, uri, policy)
    }

    fn with_uri(parts: &Parts, uri: Uri, policy: Policy) -> Self {
        if let Some(consulted) = parts.extensions.get::<crate::layer::Consulted>() {
            consulted.mark();
        }
        Self {
            method: parts.method.clone(),
            uri,
            preconditions: Preconditions::from_headers(&parts.headers),
            policy,
            scope: parts.extensions.get::<Scope>().cloned(),
            current_in_412: true,
        }
    }

    /// Whether a 412 on a resource that exists carries its current
    /// representation in the `current` member of the problem, besides its
    /// `ETag` (default: yes, design decision 16). Turn it off for a
    /// resource whose representation must not be sent to a client whose
    /// write failed. A 412 to HEAD has no body either way (412-2), and a
    /// resource that is missing (or outside the caller's scope, a 404)
    /// sends neither.
    ///
    /// ```
    /// use axum::extract::{Path, State};
    /// use occ_axum::{ConditionalRequest, Refusal};
    /// use occ_core::repository::MemoryRepository;
    /// use occ_core::Versioned;
    /// # use std::sync::Arc;
    ///
    /// #[derive(Clone, serde::Serialize, serde::Deserialize, Versioned)]
    /// struct Note { id: u64, #[version] version: u64, text: String }
    ///
    /// async fn remove(
    ///     State(notes): State<Arc<MemoryRepository<Note>>>,
    ///     Path(id): Path<u64>,
    ///     request: ConditionalRequest,
    /// ) -> Result<http::StatusCode, Refusal> {
    ///     // A 412 says the current ETag only.
    ///     request.current_in_412(false).delete(&*notes, &id).await?;
    ///     Ok(http::StatusCode::NO_CONTENT)
    /// }
    /// ```
    pub fn current_in_412(mut self, send: bool) -> Self {
        self.current_in_412 = send;
        self
    }

    /// Overrides the policy (the generated routes set theirs).
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The parsed precondition headers.
    pub fn preconditions(&self) -> &Preconditions {
        &self.preconditions
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request URI, as the client sent it.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The policy in force.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The row-level scope of the request, if a layer or middleware put a
    /// [`Scope`] in its extensions (for example after authenticating the
    /// caller's tenant). Every statement the request runs then carries it.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// occ-core's pipeline for this request.
    pub fn pipeline(&self) -> Pipeline<'_> {
        Pipeline::new(&self.method, &self.preconditions)
            .policy(self.policy)
            .scope(self.scope.as_ref())
    }

    /// The refusal for an outcome of the pipeline, naming this request in
    /// its log event. Its explanation fits the request: a 428 suggests
    /// `If-None-Match: *` only to a PUT, and a 412 caused by a weak tag in
    /// `If-Match` says that weak tags never match (IM-1). A 412 carries the
    /// current tag but not the representation: for a `Serialize` model,
    /// [`refuse_with_current`](Self::refuse_with_current) sends both.
    pub fn refuse<M: Versioned, B: Into<Problem>>(&self, rejection: Rejection<M, B>) -> Refusal {
        self.refusal(rejection, Creation::Unknown, None)
    }

    /// [`refuse`](Self::refuse), and a 412 on a resource that exists also
    /// carries its current representation in the `current` member (unless
    /// [`current_in_412`](Self::current_in_412) is off), as a GET would
    /// send it (design decision 16).
    pub fn refuse_with_current<M, B>(&self, rejection: Rejection<M, B>) -> Refusal
    where
        M: Versioned + Serialize,
        B: Into<Problem>,
    {
        self.refuse_as(rejection, Creation::Unknown)
    }

    /// [`refuse_with_current`](Self::refuse_with_current), knowing whether
    /// the request could create the resource.
    pub(crate) fn refuse_as<M, B>(&self, rejection: Rejection<M, B>, creation: Creation) -> Refusal
    where
        M: Versioned + Serialize,
        B: Into<Problem>,
    {
        // HEAD has no body to carry it in (412-2).
        let current = if self.current_in_412 && self.method != Method::HEAD {
            crate::refusal::current_text(&rejection)
        } else {
            None
        };
        self.refusal(rejection, creation, current)
    }

    fn refusal<M: Versioned, B: Into<Problem>>(
        &self,
        rejection: Rejection<M, B>,
        creation: Creation,
        current: Option<String>,
    ) -> Refusal {
        let request = Refused {
            method: Some(&self.method),
            resource: Some(&self.uri),
            preconditions: Some(&self.preconditions),
            creation,
            current,
        };
        Refusal::from_outcome(rejection, request)
    }

    /// GET/HEAD: 200 with the representation and its `ETag`, or 304, 404,
    /// 412. With only `If-None-Match`, one statement that reads the
    /// representation only when the tag does not match.
    pub async fn read<M, R>(&self, repo: &R, id: &M::Id) -> Result<Tagged<M>, Refusal>
    where
        M: Versioned + Serialize + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
    {
        match self.pipeline().read(repo, id).await {
            Ok(read) => Ok(Tagged::ok(read.model)
                .with_entity_tag(read.etag)
                .as_of(read.as_of)),
            Err(rejection) => Err(self.refuse_with_current(rejection)),
        }
    }

    /// The general path, for a handler that writes on its own: reads the
    /// resource and evaluates the preconditions on it. Proceed with a
    /// compare-and-swap on the returned state's version; `None` means
    /// missing and creatable (see [`Pipeline::creatable`]).
    pub async fn check<M, R>(&self, repo: &R, id: &M::Id) -> Result<Option<M>, Refusal>
    where
        M: Versioned + Serialize + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
    {
        self.pipeline()
            .check::<M, R, Problem>(repo, id)
            .await
            .map_err(|rejection| self.refuse_with_current(rejection))
    }

    /// PUT with the whole new representation: 200 with the new `ETag`
    /// (201 with `Location` when `creatable` and created), in one statement
    /// where the preconditions allow. `body`'s error is answered only if
    /// the preconditions pass (EV-1).
    pub async fn replace<M, R>(
        &self,
        repo: &R,
        id: &M::Id,
        body: Result<M, Problem>,
        creatable: bool,
    ) -> Result<Tagged<M>, Refusal>
    where
        M: Versioned + Serialize + Clone + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
    {
        let written = self
            .pipeline()
            .creatable(creatable)
            .replace(repo, id, body)
            .await;
        self.written(written, creatable)
    }

    /// [`replace`](Self::replace), parsing the body with `parse` only once
    /// the preconditions allow the write, where that costs no round trip
    /// ([`Pipeline::replace_parsing`](occ_core::pipeline::Pipeline::replace_parsing)).
    pub(crate) async fn replace_parsing<M, R, P>(
        &self,
        repo: &R,
        id: &M::Id,
        parse: P,
        creatable: bool,
    ) -> Result<Tagged<M>, Refusal>
    where
        M: Versioned + Serialize + Clone + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
        P: FnOnce() -> Result<M, Problem> + Send,
    {
        let written = self
            .pipeline()
            .creatable(creatable)
            .replace_parsing(repo, id, parse)
            .await;
        self.written(written, creatable)
    }

    /// [`replace`](Self::replace) through `hook`, which sees the state it
    /// replaces (`None` for a create) beside the new one, and may refuse
    /// the transition (a 422 from its problem): read first, then a
    /// compare-and-swap on the version read, evaluated again after a lost
    /// race ([`Pipeline::replace_with`](occ_core::pipeline::Pipeline::replace_with)).
    pub async fn replace_with<M, R, F>(
        &self,
        repo: &R,
        id: &M::Id,
        body: Result<M, Problem>,
        creatable: bool,
        hook: F,
    ) -> Result<Tagged<M>, Refusal>
    where
        M: Versioned + Serialize + Clone + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
        F: Fn(Option<&M>, &mut M) -> Result<(), Problem> + Send + Sync,
    {
        let written = self
            .pipeline()
            .creatable(creatable)
            .replace_with(repo, id, body, hook)
            .await;
        self.written(written, creatable)
    }

    /// The answer to a replacing write: 200, or 201 with `Location`.
    fn written<M>(
        &self,
        written: Result<Written<M>, Rejection<M, Problem>>,
        creatable: bool,
    ) -> Result<Tagged<M>, Refusal>
    where
        M: Versioned + Serialize,
    {
        match written {
            Ok(Written::Updated(saved)) => Ok(Tagged::written(saved)),
            Ok(Written::Created(saved)) => Ok(match HeaderValue::from_str(self.uri.path()) {
                Ok(location) => Tagged::created(saved, location),
                Err(_) => Tagged::written(saved),
            }),
            Err(rejection) => Err(self.refuse_as(
                rejection,
                if creatable {
                    Creation::Possible
                } else {
                    Creation::Never
                },
            )),
        }
    }

    /// A merge of members (PUT merging, PATCH merge-patch, or a custom
    /// action that sets members): 200 with the new `ETag`, in one
    /// statement where the store can merge the members in place.
    pub async fn merge<M, R>(
        &self,
        repo: &R,
        id: &M::Id,
        patch: Result<serde_json::Value, Problem>,
    ) -> Result<Tagged<M>, Refusal>
    where
        M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
    {
        self.pipeline()
            .merge(repo, id, patch)
            .await
            .map(Tagged::written)
            .map_err(|rejection| self.refuse_as(rejection, Creation::Never))
    }

    /// DELETE, in one statement where the preconditions allow. Returns the
    /// deleted state.
    pub async fn delete<M, R>(&self, repo: &R, id: &M::Id) -> Result<M, Refusal>
    where
        M: Versioned + Serialize + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
    {
        self.pipeline()
            .delete(repo, id)
            .await
            .map_err(|rejection| self.refuse_as(rejection, Creation::Never))
    }
}
