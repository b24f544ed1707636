//! The decide→write pipeline: one conditional request, one statement.
//!
//! Every conditional operation of occ goes through [`Pipeline`]: the
//! generated routes, `occ_axum::Conditional<T>` and hand-written handlers.
//! Where the request's preconditions reduce to a condition the store can
//! check inside the write ([`WriteCondition`]: `If-Match` tags or `*`,
//! `If-None-Match` on a write, `If-Unmodified-Since` on a model with a
//! modification time), the write is ONE statement that applies the
//! condition and the change and returns the new row; only when it touches
//! nothing does a second read tell 404 from 412, and the preconditions are
//! then evaluated on that state, in the order of RFC 9110 §13.2.2, to say
//! which one failed. A conditional GET is one statement that reads the
//! representation only when the client's tag does not match.
//!
//! The general path (read, [`Preconditions::evaluate`], compare-and-swap
//! on the version read) is taken for what cannot be pushed down: `If-Match`
//! together with `If-None-Match`, a malformed `If-None-Match`, an
//! unconditional write under [`Policy::Required`] (one read tells 404 from
//! 428), and a body that failed to parse (preconditions are reported before
//! the body, EV-1). It is still atomic: the swap is in the store.
//! [`Pipeline::merge_with`] takes it on purpose, for a merge whose result
//! must pass through application code (a route's `before_write` and
//! `validate` hooks) before it is written.
//!
//! The pipeline knows nothing of HTTP responses: a [`Rejection`] says why a
//! request stops, and the web layer picks the status.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use http::{HeaderMap, Method};
//! use occ_core::pipeline::{Pipeline, Rejection};
//! use occ_core::repository::{MemoryRepository, Repository};
//! use occ_core::{Failure, Preconditions, Versioned};
//!
//! #[derive(Clone, Debug, serde::Serialize, serde::Deserialize, Versioned)]
//! #[occ(etag = "prof-{id}-v{version}")]
//! struct Profile { id: u64, #[version] version: u64, city: String }
//!
//! let repo = MemoryRepository::new();
//! repo.create(Profile { id: 42, version: 7, city: "Paris".into() }).await.unwrap();
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("if-match", "\"prof-42-v7\"".parse().unwrap());
//! let pre = Preconditions::from_headers(&headers);
//! let put = Pipeline::new(&Method::PUT, &pre);
//! let lyon = serde_json::json!({"city": "Lyon"});
//!
//! let saved = put.merge::<Profile, _, ()>(&repo, &42, Ok(lyon.clone())).await.unwrap();
//! assert_eq!(saved.version, 8);
//! // The same If-Match again: someone (we) changed it first.
//! match put.merge::<Profile, _, ()>(&repo, &42, Ok(lyon)).await {
//!     Err(Rejection::PreconditionFailed { failure: Failure::IfMatchMismatch, current }) => {
//!         assert_eq!(current.map(|c| c.version), Some(8));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # });
//! ```

use std::fmt;
use std::time::SystemTime;

use http::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::date::DateField;
use crate::entity_tag::{EntityTag, EntityTagRef};
use crate::precondition::{Decision, Failure, Policy, Preconditions, Target};
use crate::repository::{
    merge_patch_model, Fetched, KnownVersions, Repository, RepositoryError, Scope, Snapshot,
    WriteCondition,
};
use crate::tag_list::{EntityTagList, ListElement, ListKind};
use crate::versioned::{VersionNumber, Versioned};

/// Runs `$call` on `$repo`, or on its view restricted to the pipeline's
/// scope when it has one.
macro_rules! in_scope {
    ($this:ident, $repo:ident, |$r:ident| $call:expr) => {
        match $this.scope {
            Some(scope) => {
                let scoped = $repo.scoped(scope)?;
                let $r = &*scoped;
                $call.await
            }
            None => {
                let $r = $repo;
                $call.await
            }
        }
    };
}

/// Why a conditional request stops before (or instead of) its write.
///
/// `B` is the error of the request body, reported only when the
/// preconditions pass (EV-1).
pub enum Rejection<M: Versioned, B = std::convert::Infallible> {
    /// The client's copy is current (GET/HEAD): 304.
    NotModified {
        /// The current entity tag.
        etag: EntityTag,
        /// The current modification time, when known.
        last_modified: Option<SystemTime>,
        /// The read's [`Snapshot::as_of`]: what `Last-Modified` is rounded
        /// with.
        as_of: SystemTime,
    },
    /// No such resource, and the method cannot create it.
    NotFound,
    /// A write without any precondition under [`Policy::Required`].
    PreconditionRequired,
    /// A precondition is false.
    PreconditionFailed {
        /// Which one, and why.
        failure: Failure,
        /// The current state, when the resource exists.
        current: Option<Box<M>>,
    },
    /// The preconditions pass, but the body is not acceptable.
    Body(B),
    /// The store refused or failed (an invalid state, an exhausted
    /// counter, a backend error).
    Repository(RepositoryError<M>),
}

impl<M: Versioned, B: fmt::Debug> fmt::Debug for Rejection<M, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotModified { etag, .. } => f.debug_tuple("NotModified").field(etag).finish(),
            Self::NotFound => f.write_str("NotFound"),
            Self::PreconditionRequired => f.write_str("PreconditionRequired"),
            Self::PreconditionFailed { failure, current } => f
                .debug_struct("PreconditionFailed")
                .field("failure", failure)
                .field("current", &current.as_ref().map(|c| c.entity_tag()))
                .finish(),
            Self::Body(body) => f.debug_tuple("Body").field(body).finish(),
            Self::Repository(e) => f.debug_tuple("Repository").field(e).finish(),
        }
    }
}

impl<M: Versioned, B> From<RepositoryError<M>> for Rejection<M, B> {
    fn from(error: RepositoryError<M>) -> Self {
        match error {
            RepositoryError::NotFound => Self::NotFound,
            other => Self::Repository(other),
        }
    }
}

/// The representation a GET sends: the state read, its tag, and the time
/// its `Last-Modified` is rounded with ([`Snapshot::as_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Representation<M> {
    /// The current state.
    pub model: M,
    /// Its entity tag.
    pub etag: EntityTag,
    /// No later than the stamp of any write the read does not include.
    pub as_of: SystemTime,
}

/// What a successful replacing write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<M> {
    /// The resource existed and was replaced.
    Updated(M),
    /// The resource was created (a PUT on a creatable route).
    Created(M),
}

/// How a write can honour a request's preconditions
/// ([`Pipeline::write_plan`]), for a handler with statements of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WritePlan<V> {
    /// In the write's own statement: this condition in its `WHERE` clause
    /// ([`condition_sql`](crate::repository::sql::condition_sql) writes
    /// it); a write that touches no row is explained by reading again
    /// ([`Pipeline::swap`] does both).
    Condition(WriteCondition<V>),
    /// `If-None-Match: *` where the request may create: an insert, which
    /// fails if the id is taken.
    CreateOnly,
    /// Read first, evaluate on the state read ([`Pipeline::decide`]), then
    /// write on its version.
    ReadFirst,
}

/// How many times a read-first write reads again after losing a race, as
/// [`merge_by_swap`](crate::repository::merge_by_swap) does: only writes
/// that keep landing between the read and the swap exhaust them.
const ATTEMPTS: usize = 8;

/// How a write will run.
enum Plan<V> {
    /// One statement, with this condition in it.
    Push(WriteCondition<V>),
    /// `If-None-Match: *` where the request may create: one insert.
    CreateOnly,
    /// Read, evaluate, swap on the version read.
    General,
}

/// One request's preconditions, method and policy, ready to run against a
/// [`Repository`].
#[derive(Debug, Clone, Copy)]
pub struct Pipeline<'a> {
    method: &'a Method,
    preconditions: &'a Preconditions,
    policy: Policy,
    creatable: bool,
    merging: bool,
    scope: Option<&'a Scope>,
}

impl<'a> Pipeline<'a> {
    /// The pipeline of a request with this method and these headers, under
    /// [`Policy::Required`], on a resource the request cannot create.
    pub fn new(method: &'a Method, preconditions: &'a Preconditions) -> Self {
        Self {
            method,
            preconditions,
            policy: Policy::Required,
            creatable: false,
            merging: false,
            scope: None,
        }
    }

    /// Restricts every statement to a row-level [`Scope`]: rows outside it
    /// are 404 for every method, never 412, and none of their state is
    /// read ([`Repository::scoped`]).
    pub fn scope(mut self, scope: Option<&'a Scope>) -> Self {
        self.scope = scope;
        self
    }

    /// Sets the policy.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Whether [`replace`](Pipeline::replace) may create a missing resource
    /// (a PUT on a route that allows it: design decision 3).
    pub fn creatable(mut self, creatable: bool) -> Self {
        self.creatable = creatable;
        self
    }

    /// Merging of disjoint edits (design decision 16; off by default):
    /// in [`merge`](Pipeline::merge), an `If-Match` of this resource's
    /// strong tags naming exactly one version `V` (with no other
    /// precondition header) becomes [`WriteCondition::UnchangedSince`]`(V)`:
    /// the write succeeds when none of the members it sets changed after
    /// `V`, and otherwise fails with
    /// [`RepositoryError::MergeConflict`] naming them (in
    /// [`Rejection::Repository`]). `If-Match: *`, `If-None-Match` and the
    /// date preconditions keep their strict meaning.
    pub fn merging(mut self, merging: bool) -> Self {
        self.merging = merging;
        self
    }

    /// The condition of a merging write, when merging is on and the
    /// preconditions allow it.
    fn merging_condition<M: Versioned>(&self, id: &M::Id) -> Option<WriteCondition<M::Version>> {
        let pre = self.preconditions;
        if !self.merging
            || pre.if_none_match().is_some()
            || pre.if_unmodified_since().is_some()
            || pre.if_modified_since().is_some()
        {
            return None;
        }
        let list = pre.if_match()?;
        if !matches!(list.check(), Ok(ListKind::Tags(_))) {
            return None;
        }
        let mut version = None;
        for element in list.elements() {
            let Ok(ListElement::Tag(tag)) = element else {
                return None;
            };
            let v = M::version_from_tag(id, tag)?;
            match version {
                Some(seen) if seen != v => return None,
                _ => version = Some(v),
            }
        }
        version.map(WriteCondition::UnchangedSince)
    }

    /// The preconditions.
    pub fn preconditions(&self) -> &'a Preconditions {
        self.preconditions
    }

    /// The method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The policy in force.
    pub fn policy_in_force(&self) -> Policy {
        self.policy
    }

    /// GET/HEAD: the representation and its tag, or why not. With
    /// `If-None-Match` (and no `If-Match`, nor an `If-Unmodified-Since` that
    /// applies) it is one [`Repository::get_unless`]: a 304 reads only the
    /// version.
    pub async fn read<M, R>(&self, repo: &R, id: &M::Id) -> Result<Representation<M>, Rejection<M>>
    where
        M: Versioned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
        M: Serialize,
    {
        in_scope!(self, repo, |r| self.read_in(r, id))
    }

    async fn read_in<M, R>(&self, repo: &R, id: &M::Id) -> Result<Representation<M>, Rejection<M>>
    where
        M: Versioned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
    {
        let Some((known, tags)) = self.known_versions::<M>(id) else {
            // Evaluated on the state read: `If-Match` or a date.
            let none = KnownVersions::Listed(Vec::new());
            let (current, as_of) = match repo.read(id, &none).await {
                Ok(Snapshot {
                    fetched: Fetched::Changed(model),
                    as_of,
                }) => (Some(model), Some(as_of)),
                Ok(Snapshot {
                    fetched: Fetched::Unchanged { .. },
                    ..
                }) => {
                    return Err(Rejection::Repository(RepositoryError::internal(
                        "a read that knew no version found the current one known",
                    )))
                }
                Err(RepositoryError::NotFound) => (None, None),
                Err(other) => return Err(Rejection::Repository(other)),
            };
            let decided = self
                .decide(current)
                .map_err(|rejection| match (rejection, as_of) {
                    (
                        Rejection::NotModified {
                            etag,
                            last_modified,
                            ..
                        },
                        Some(as_of),
                    ) => Rejection::NotModified {
                        etag,
                        last_modified,
                        as_of,
                    },
                    (other, _) => other,
                })?;
            return match (decided, as_of) {
                (Some(model), Some(as_of)) => {
                    let etag = model.entity_tag();
                    Ok(Representation { model, etag, as_of })
                }
                _ => Err(Rejection::NotFound),
            };
        };
        let Snapshot { fetched, as_of } = repo.read(id, &known).await?;
        match fetched {
            Fetched::Changed(model) => {
                let etag = model.entity_tag();
                Ok(Representation { model, etag, as_of })
            }
            Fetched::Unchanged {
                version,
                last_modified,
            } => {
                // The client sent the current tag: copy it rather than
                // render it again.
                let etag = tags.into_iter().find(|(v, _)| *v == version).map_or_else(
                    || M::entity_tag_for(id, version),
                    |(_, tag)| tag.to_entity_tag(),
                );
                Err(Rejection::NotModified {
                    etag,
                    last_modified,
                    as_of,
                })
            }
        }
    }

    /// The general path, for handlers that write on their own: reads the
    /// resource and evaluates the preconditions on it (PR-1). `Ok(Some)` to
    /// proceed with a compare-and-swap on that state's version, `Ok(None)`
    /// when the resource is missing and the request may create it.
    pub async fn check<M, R, B>(&self, repo: &R, id: &M::Id) -> Result<Option<M>, Rejection<M, B>>
    where
        M: Versioned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
        M: Serialize,
    {
        in_scope!(self, repo, |r| self.check_in(r, id))
    }

    async fn check_in<M, R, B>(&self, repo: &R, id: &M::Id) -> Result<Option<M>, Rejection<M, B>>
    where
        M: Versioned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
    {
        let current = match repo.get(id).await {
            Ok(model) => Some(model),
            Err(RepositoryError::NotFound) => None,
            Err(other) => return Err(Rejection::Repository(other)),
        };
        self.decide(current)
    }

    /// PUT with a whole new representation. One statement when the
    /// preconditions reduce to a [`WriteCondition`]; creates the resource
    /// where the pipeline is [`creatable`](Pipeline::creatable) and the
    /// preconditions allow it (`If-None-Match: *`). `body` is the parsed
    /// request body; its error is reported only if the preconditions pass.
    pub async fn replace<M, R, B>(
        &self,
        repo: &R,
        id: &M::Id,
        body: Result<M, B>,
    ) -> Result<Written<M>, Rejection<M, B>>
    where
        M: Versioned + Clone + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
        M: Serialize,
    {
        in_scope!(self, repo, |r| self.replace_in(r, id, body))
    }

    async fn replace_in<M, R, B>(
        &self,
        repo: &R,
        id: &M::Id,
        body: Result<M, B>,
    ) -> Result<Written<M>, Rejection<M, B>>
    where
        M: Versioned + Clone + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
    {
        let model = match body {
            Ok(model) => model,
            Err(body) => return Err(self.body_error(repo, id, body).await),
        };
        match self.plan::<M>(id, self.creatable) {
            Plan::CreateOnly => self.create(repo, model).await,
            Plan::Push(condition) => {
                let spare = self.creatable.then(|| model.clone());
                match repo.update(model, &condition).await {
                    Ok(saved) => Ok(Written::Updated(saved)),
                    Err(error) => match (self.explain(repo, id, error).await?, spare) {
                        // Missing, and the preconditions let it be created.
                        (None, Some(model)) => self.create(repo, model).await,
                        (None, None) => Err(Rejection::NotFound),
                        (Some(current), _) => Err(self.raced(Some(Box::new(current)))),
                    },
                }
            }
            Plan::General => match self.check_in(repo, id).await? {
                Some(current) => {
                    let swap = WriteCondition::VersionIn(vec![current.version()]);
                    match repo.update(model, &swap).await {
                        Ok(saved) => Ok(Written::Updated(saved)),
                        Err(error) => Err(self.after_swap(error)),
                    }
                }
                None => self.create(repo, model).await,
            },
        }
    }

    /// [`replace`](Pipeline::replace) through a hook that sees the state
    /// it replaces (`None` for a create): the resource is read, the
    /// preconditions evaluated on it (PR-1), `hook` runs on the new state
    /// with the current one, and the write is a compare-and-swap on the
    /// version read. A swap that loses a race reads and evaluates again (a
    /// bounded number of times): an `If-Match` of the old tag then fails
    /// with 412, `If-Match: *` and `If-Unmodified-Since` that still hold
    /// go on, and no write is lost. Two statements on success instead of
    /// one: the price of a hook over the transition.
    pub async fn replace_with<M, R, B, F>(
        &self,
        repo: &R,
        id: &M::Id,
        body: Result<M, B>,
        hook: F,
    ) -> Result<Written<M>, Rejection<M, B>>
    where
        M: Versioned + Clone + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
        M: Serialize,
        F: Fn(Option<&M>, &mut M) -> Result<(), B> + Send + Sync,
    {
        in_scope!(self, repo, |r| self.replace_with_in(r, id, body, &hook))
    }

    async fn replace_with_in<M, R, B, F>(
        &self,
        repo: &R,
        id: &M::Id,
        body: Result<M, B>,
        hook: &F,
    ) -> Result<Written<M>, Rejection<M, B>>
    where
        M: Versioned + Clone + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
        F: Fn(Option<&M>, &mut M) -> Result<(), B> + Send + Sync,
    {
        let model = match body {
            Ok(model) => model,
            Err(body) => return Err(self.body_error(repo, id, body).await),
        };
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let current = self.check_in::<M, R, B>(repo, id).await?;
            let mut next = model.clone();
            hook(current.as_ref(), &mut next).map_err(Rejection::Body)?;
            let Some(current) = current else {
                // Missing, and the preconditions let it be created.
                return self.create(repo, next).await;
            };
            match repo
                .update(next, &WriteCondition::VersionIn(vec![current.version()]))
                .await
            {
                Ok(saved) => return Ok(Written::Updated(saved)),
                // Changed (or deleted) since the read: the next round
                // evaluates the preconditions again, on what is there.
                Err(RepositoryError::PreconditionFailed { current }) => last = Some(current),
                Err(RepositoryError::NotFound) => {}
                Err(other) => return Err(self.after_swap(other)),
            }
        }
        Err(self.raced(last))
    }

    /// PUT that merges members, PATCH with a JSON merge patch, or a custom
    /// action that sets members: one statement where the store can merge
    /// the members in place (see [`Repository::merge_patch`]). Never
    /// creates. `patch` is the parsed body; its error is reported only if
    /// the preconditions pass.
    pub async fn merge<M, R, B>(
        &self,
        repo: &R,
        id: &M::Id,
        patch: Result<serde_json::Value, B>,
    ) -> Result<M, Rejection<M, B>>
    where
        M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
        M: Serialize,
    {
        in_scope!(self, repo, |r| self.merge_in(r, id, patch))
    }

    async fn merge_in<M, R, B>(
        &self,
        repo: &R,
        id: &M::Id,
        patch: Result<serde_json::Value, B>,
    ) -> Result<M, Rejection<M, B>>
    where
        M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
    {
        let this = self.creatable(false);
        let patch = match patch {
            Ok(patch) => patch,
            Err(body) => return Err(this.body_error(repo, id, body).await),
        };
        let condition = match this.merging_condition::<M>(id) {
            Some(condition) => condition,
            None => match this.plan::<M>(id, false) {
                Plan::Push(condition) => condition,
                Plan::CreateOnly | Plan::General => match this.check_in(repo, id).await? {
                    Some(current) => WriteCondition::VersionIn(vec![current.version()]),
                    None => return Err(Rejection::NotFound),
                },
            },
        };
        match repo.merge_patch(id, &patch, &condition).await {
            Ok(saved) => Ok(saved),
            Err(error) => Err(match this.explain(repo, id, error).await? {
                Some(current) => this.raced(Some(Box::new(current))),
                None => Rejection::NotFound,
            }),
        }
    }

    /// [`merge`](Pipeline::merge) with application code between the merge
    /// and the write: `hook` sees the whole merged state and may change it
    /// (fill or normalise fields) or refuse it with the body's error `B`
    /// (a validation). What a route's `before_write` and `validate` hooks
    /// need, since the merged result exists only after merging.
    ///
    /// This is the general path, two statements on success: the resource
    /// is read, the preconditions are evaluated on it (PR-1; a missing
    /// resource is 404, never created), the patch is applied in the
    /// application ([`merge_patch_model`]: the result must deserialize, and
    /// the id and version cannot change), `hook` runs, and the write is a
    /// compare-and-swap on the version that was read. If the resource
    /// changed between the read and the swap, the read and the evaluation
    /// are repeated on the new state (a bounded number of times), so an
    /// `If-Match` on the old tag now fails with 412, while a request whose
    /// preconditions still hold (or an unconditional one, under
    /// [`Policy::Optional`]) is merged again: no write is ever lost, and
    /// the hook always sees the state that is written, beside the state it
    /// replaces (so it can refuse a transition: a status that may only
    /// move forward, a member only an action may set). `patch`'s error and
    /// the hook's are reported only if the preconditions pass (EV-1).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use http::{HeaderMap, Method};
    /// use occ_core::pipeline::{Pipeline, Rejection};
    /// use occ_core::repository::{MemoryRepository, Repository};
    /// use occ_core::{Preconditions, Versioned};
    ///
    /// #[derive(Clone, Debug, serde::Serialize, serde::Deserialize, Versioned)]
    /// #[occ(etag = "p-{id}-v{version}")]
    /// struct Profile { id: u64, #[version] version: u64, name: String }
    ///
    /// let repo = MemoryRepository::new();
    /// repo.create(Profile { id: 1, version: 1, name: "Ava".into() }).await.unwrap();
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("if-match", "\"p-1-v1\"".parse().unwrap());
    /// let pre = Preconditions::from_headers(&headers);
    /// let patch = Pipeline::new(&Method::PATCH, &pre);
    /// let trim_and_check = |_: &Profile, p: &mut Profile| {
    ///     p.name = p.name.trim().to_owned();
    ///     if p.name.is_empty() { Err("the name cannot be empty") } else { Ok(()) }
    /// };
    ///
    /// let blank = serde_json::json!({"name": "  "});
    /// match patch.merge_with(&repo, &1, Ok(blank), trim_and_check).await {
    ///     Err(Rejection::Body(why)) => assert_eq!(why, "the name cannot be empty"),
    ///     other => panic!("{other:?}"),
    /// }
    /// let padded = serde_json::json!({"name": " Ava Smith "});
    /// let saved = patch.merge_with(&repo, &1, Ok(padded), trim_and_check).await.unwrap();
    /// assert_eq!((saved.name.as_str(), saved.version), ("Ava Smith", 2));
    /// # });
    /// ```
    pub async fn merge_with<M, R, B, F>(
        &self,
        repo: &R,
        id: &M::Id,
        patch: Result<serde_json::Value, B>,
        hook: F,
    ) -> Result<M, Rejection<M, B>>
    where
        M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
        F: Fn(&M, &mut M) -> Result<(), B> + Send + Sync,
    {
        in_scope!(self, repo, |r| self.merge_with_in(r, id, patch, &hook))
    }

    async fn merge_with_in<M, R, B, F>(
        &self,
        repo: &R,
        id: &M::Id,
        patch: Result<serde_json::Value, B>,
        hook: &F,
    ) -> Result<M, Rejection<M, B>>
    where
        M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
        F: Fn(&M, &mut M) -> Result<(), B> + Send + Sync,
    {
        let this = self.creatable(false);
        let patch = match patch {
            Ok(patch) => patch,
            Err(body) => return Err(this.body_error(repo, id, body).await),
        };
        if let Some(condition) = this.merging_condition::<M>(id) {
            if let Some(saved) = this
                .merge_with_merging(repo, id, &patch, hook, condition)
                .await?
            {
                return Ok(saved);
            }
        }
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let Some(current) = this.check_in::<M, R, B>(repo, id).await? else {
                return Err(Rejection::NotFound);
            };
            let read = current.version();
            let mut merged = merge_patch_model(&current, &patch).map_err(Rejection::Repository)?;
            hook(&current, &mut merged).map_err(Rejection::Body)?;
            match repo
                .update(merged, &WriteCondition::VersionIn(vec![read]))
                .await
            {
                Ok(saved) => return Ok(saved),
                // Changed since the read: the next round evaluates the
                // preconditions again, on the new state.
                Err(RepositoryError::PreconditionFailed { current }) => last = Some(current),
                Err(other) => return Err(this.after_swap(other)),
            }
        }
        Err(this.raced(last))
    }

    /// [`merge_with`](Pipeline::merge_with) with merging on: the state is
    /// read, merged and passed through `hook`, and what differs from the
    /// state read (with every member the patch sets) is written as a merge
    /// patch under `condition` ([`WriteCondition::UnchangedSince`]), so
    /// that a member changed since the client's version is a conflict and
    /// others' edits of other members are kept. `Ok(None)` when the
    /// client's version is one the resource has not reached: the strict
    /// path then refuses it.
    async fn merge_with_merging<M, R, B, F>(
        &self,
        repo: &R,
        id: &M::Id,
        patch: &serde_json::Value,
        hook: &F,
        condition: WriteCondition<M::Version>,
    ) -> Result<Option<M>, Rejection<M, B>>
    where
        M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
        F: Fn(&M, &mut M) -> Result<(), B> + Send + Sync,
    {
        let current = repo.get(id).await?;
        if matches!(&condition, WriteCondition::UnchangedSince(v) if current.version() < *v) {
            return Ok(None);
        }
        let mut merged = merge_patch_model(&current, patch).map_err(Rejection::Repository)?;
        hook(&current, &mut merged).map_err(Rejection::Body)?;
        let to_value = |m: &M| {
            serde_json::to_value(m).map_err(|e| Rejection::Repository(RepositoryError::internal(e)))
        };
        let (before, after) = (to_value(&current)?, to_value(&merged)?);
        let (Some(before), serde_json::Value::Object(after)) = (before.as_object(), after) else {
            return Ok(None);
        };
        let set = patch.as_object();
        let write: serde_json::Map<String, serde_json::Value> = after
            .into_iter()
            .filter(|(member, value)| {
                set.is_some_and(|s| s.contains_key(member)) || before.get(member) != Some(value)
            })
            .collect();
        match repo
            .merge_patch(id, &serde_json::Value::Object(write), &condition)
            .await
        {
            Ok(saved) => Ok(Some(saved)),
            Err(error) => Err(match self.explain(repo, id, error).await? {
                Some(current) => self.raced(Some(Box::new(current))),
                None => Rejection::NotFound,
            }),
        }
    }

    /// DELETE: one statement when the preconditions reduce to a
    /// [`WriteCondition`]. Returns what was deleted.
    pub async fn delete<M, R>(&self, repo: &R, id: &M::Id) -> Result<M, Rejection<M>>
    where
        M: Versioned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
        M: Serialize,
    {
        in_scope!(self, repo, |r| self.delete_in(r, id))
    }

    async fn delete_in<M, R>(&self, repo: &R, id: &M::Id) -> Result<M, Rejection<M>>
    where
        M: Versioned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
    {
        let this = self.creatable(false);
        let condition = match this.plan::<M>(id, false) {
            Plan::Push(condition) => condition,
            Plan::CreateOnly | Plan::General => match this.check_in(repo, id).await? {
                Some(current) => WriteCondition::VersionIn(vec![current.version()]),
                None => return Err(Rejection::NotFound),
            },
        };
        match repo.delete(id, &condition).await {
            Ok(deleted) => Ok(deleted),
            Err(error) => Err(match this.explain(repo, id, error).await? {
                Some(current) => this.raced(Some(Box::new(current))),
                None => Rejection::NotFound,
            }),
        }
    }

    /// Evaluates the preconditions on `current` (PR-1): the state to
    /// proceed on, or why not.
    pub fn decide<M: Versioned, B>(
        &self,
        current: Option<M>,
    ) -> Result<Option<M>, Rejection<M, B>> {
        let etag = current.as_ref().map(Versioned::entity_tag);
        let target = match (&current, &etag) {
            (Some(model), Some(etag)) => Target::of(model, etag),
            _ => Target::missing_of::<M>().creatable(self.creatable),
        };
        let decision = self
            .preconditions
            .evaluate(self.method, &target, self.policy);
        match (decision, etag) {
            (Decision::Proceed, _) => Ok(current),
            (Decision::NotModified, Some(etag)) => {
                let last_modified = current.as_ref().and_then(Versioned::last_modified);
                Err(Rejection::NotModified {
                    etag,
                    last_modified,
                    // Not known here: a date no later write can pass.
                    as_of: last_modified.unwrap_or(SystemTime::UNIX_EPOCH),
                })
            }
            (Decision::NotFound | Decision::NotModified, _) => Err(Rejection::NotFound),
            (Decision::PreconditionRequired, _) => Err(Rejection::PreconditionRequired),
            (Decision::PreconditionFailed(failure), _) => Err(Rejection::PreconditionFailed {
                failure,
                current: current.map(Box::new),
            }),
        }
    }

    /// How a write can honour this request's preconditions on resource
    /// `id`: a condition for the write's own statement, an insert only, or
    /// a read first.
    pub fn write_plan<M: Versioned>(&self, id: &M::Id) -> WritePlan<M::Version> {
        match self.plan::<M>(id, self.creatable) {
            Plan::Push(condition) => WritePlan::Condition(condition),
            Plan::CreateOnly => WritePlan::CreateOnly,
            Plan::General => WritePlan::ReadFirst,
        }
    }

    /// A write of the handler's own, under occ's rules: `write` runs the
    /// handler's statement with the condition it is given in its `WHERE`
    /// clause (first the one the preconditions reduce to, if they do), and
    /// returns the state written, or `None` when it touched no row; `read`
    /// reads the current state (`None`: missing). After a miss, the state
    /// is read and the preconditions evaluated on it again (PR-1): a false
    /// one is the refusal (412 with the current state, 404, 428), a true
    /// one (`If-Match: *`, a date still met) writes again on the version
    /// read, a bounded number of times. So no update is lost and no
    /// request is refused for a race it did not lose.
    ///
    /// The outer error is the handler's own (its database's); the inner
    /// is the refusal. It never creates: a missing resource is 404.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::sync::Mutex;
    /// use http::{HeaderMap, Method};
    /// use occ_core::pipeline::{Pipeline, Rejection};
    /// use occ_core::repository::WriteCondition;
    /// use occ_core::{Preconditions, Versioned};
    ///
    /// #[derive(Clone, Debug, Versioned)]
    /// struct Counter { id: u64, #[version] version: u64, value: i64 }
    ///
    /// // The handler's own store: one row.
    /// let row = Mutex::new(Counter { id: 1, version: 3, value: 10 });
    /// let mut headers = HeaderMap::new();
    /// headers.insert("if-match", "*".parse().unwrap());
    /// let pre = Preconditions::from_headers(&headers);
    /// let put = Pipeline::new(&Method::PUT, &pre);
    ///
    /// let saved = put
    ///     .swap(
    ///         &1,
    ///         || async { Ok::<_, String>(Some(row.lock().unwrap().clone())) },
    ///         |condition: WriteCondition<u64>| {
    ///             // `UPDATE … SET value = value + 1, version = version + 1
    ///             //  WHERE id = 1 AND <condition> RETURNING …`
    ///             let mut row = row.lock().unwrap();
    ///             let met = condition.is_met_by(&*row);
    ///             if met {
    ///                 row.value += 1;
    ///                 row.version += 1;
    ///             }
    ///             let written = met.then(|| row.clone());
    ///             async move { Ok(written) }
    ///         },
    ///     )
    ///     .await
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!((saved.version, saved.value), (4, 11));
    /// # });
    /// ```
    pub async fn swap<M, E, R, FR, W, FW>(
        &self,
        id: &M::Id,
        mut read: R,
        mut write: W,
    ) -> Result<Result<M, Rejection<M>>, E>
    where
        M: Versioned,
        R: FnMut() -> FR,
        FR: std::future::Future<Output = Result<Option<M>, E>>,
        W: FnMut(WriteCondition<M::Version>) -> FW,
        FW: std::future::Future<Output = Result<Option<M>, E>>,
    {
        let this = self.creatable(false);
        if let Plan::Push(condition) = this.plan::<M>(id, false) {
            if let Some(saved) = write(condition).await? {
                return Ok(Ok(saved));
            }
        }
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let current = match this.decide::<M, std::convert::Infallible>(read().await?) {
                Ok(Some(current)) => current,
                Ok(None) => return Ok(Err(Rejection::NotFound)),
                Err(rejection) => return Ok(Err(rejection)),
            };
            let condition = WriteCondition::VersionIn(vec![current.version()]);
            match write(condition).await? {
                Some(saved) => return Ok(Ok(saved)),
                // Changed since the read: read and evaluate again.
                None => last = Some(Box::new(current)),
            }
        }
        Ok(Err(this.raced(last)))
    }

    /// How a write with these preconditions runs.
    fn plan<M: Versioned>(&self, id: &M::Id, creatable: bool) -> Plan<M::Version> {
        let pre = self.preconditions;
        match (pre.if_match(), pre.if_none_match()) {
            (Some(_), Some(_)) => Plan::General,
            (Some(list), None) => Plan::Push(match list.check() {
                Ok(ListKind::Any) => WriteCondition::Exists,
                Ok(ListKind::Tags(_)) => WriteCondition::VersionIn(versions::<M>(id, list, false)),
                // Fails closed (IM-5): no row matches, and the miss is
                // explained as 404 or 412.
                Err(_) => WriteCondition::VersionIn(Vec::new()),
            }),
            (None, Some(list)) => match list.check() {
                Ok(ListKind::Any) if creatable => Plan::CreateOnly,
                Ok(ListKind::Tags(_)) => {
                    Plan::Push(WriteCondition::VersionNotIn(versions::<M>(id, list, true)))
                }
                // `*` on an existing resource, or malformed: one read
                // decides between 404 and 412.
                _ => Plan::General,
            },
            (None, None) => match pre.if_unmodified_since() {
                Some(DateField::Valid(since)) if M::HAS_LAST_MODIFIED => {
                    Plan::Push(WriteCondition::UnmodifiedSince(since))
                }
                _ if !self.policy.requires_precondition(self.method) => {
                    Plan::Push(WriteCondition::Unconditional)
                }
                // 404 comes before 428 (EV-2): one read tells which.
                _ => Plan::General,
            },
        }
    }

    /// The versions a conditional GET can leave to the store, or `None`
    /// when the evaluation needs the whole state.
    /// With the versions, the model's own tags the client named them by.
    #[allow(clippy::type_complexity)]
    fn known_versions<M: Versioned>(
        &self,
        id: &M::Id,
    ) -> Option<(
        KnownVersions<M::Version>,
        Vec<(M::Version, EntityTagRef<'a>)>,
    )> {
        let pre = self.preconditions;
        let dated = matches!(pre.if_unmodified_since(), Some(DateField::Valid(_)));
        if pre.if_match().is_some() || (dated && M::HAS_LAST_MODIFIED) {
            return None;
        }
        let list = pre.if_none_match()?;
        match list.check().ok()? {
            ListKind::Any => Some((KnownVersions::Any, Vec::new())),
            ListKind::Tags(_) => {
                let tags = tagged_versions::<M>(id, list, true);
                let versions = tags.iter().map(|(v, _)| *v).collect();
                Some((KnownVersions::Listed(versions), tags))
            }
        }
    }

    async fn create<M, R, B>(&self, repo: &R, model: M) -> Result<Written<M>, Rejection<M, B>>
    where
        M: Versioned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
    {
        let mut model = model;
        model.set_version(M::Version::INITIAL);
        match repo.create(model).await {
            Ok(created) => Ok(Written::Created(created)),
            // Created by someone else first: evaluate on what is there.
            Err(RepositoryError::AlreadyExists {
                current: Some(current),
            }) => Err(match self.decide::<M, B>(Some(*current))? {
                Some(current) => self.raced(Some(Box::new(current))),
                None => Rejection::NotFound,
            }),
            // Taken by a row outside the caller's scope (a table whose ids
            // are global): the id is taken, which a POST tells too, and
            // nothing more of that row is said (a conflict, never a 412
            // that would advise a create that cannot succeed).
            Err(RepositoryError::AlreadyExists { current: None }) if self.scope.is_some() => {
                Err(Rejection::Repository(RepositoryError::AlreadyExists {
                    current: None,
                }))
            }
            Err(RepositoryError::AlreadyExists { current: None }) => Err(self.raced(None)),
            Err(other) => Err(Rejection::Repository(other)),
        }
    }

    /// Turns a write's miss into the rejection the preconditions give on
    /// the state the store reported. `Ok(None)` when the resource is
    /// missing and may be created; `Ok(Some)` when the state found would
    /// pass (it changed again meanwhile).
    async fn explain<M, R, B>(
        &self,
        repo: &R,
        id: &M::Id,
        error: RepositoryError<M>,
    ) -> Result<Option<M>, Rejection<M, B>>
    where
        M: Versioned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
    {
        match error {
            RepositoryError::NotFound => self.decide(None),
            RepositoryError::PreconditionFailed { current } => self.decide(Some(*current)),
            // A value the store refuses is the body's fault, reported only
            // when the preconditions pass (EV-1).
            RepositoryError::Invalid(why) => {
                self.check_in::<M, R, B>(repo, id).await?;
                Err(Rejection::Repository(RepositoryError::Invalid(why)))
            }
            other => Err(Rejection::Repository(other)),
        }
    }

    /// A swap on the version just read failed: 412 if it changed
    /// meanwhile, else the store's error.
    fn after_swap<M: Versioned, B>(&self, error: RepositoryError<M>) -> Rejection<M, B> {
        match error {
            RepositoryError::PreconditionFailed { current } => self.raced(Some(current)),
            RepositoryError::NotFound => Rejection::NotFound,
            other => Rejection::Repository(other),
        }
    }

    /// The store refused a write whose preconditions hold on the state it
    /// then reported: the state changed between the two. Strict 412 (design
    /// decision 4), blamed on the header that made the request conditional.
    fn raced<M: Versioned, B>(&self, current: Option<Box<M>>) -> Rejection<M, B> {
        let pre = self.preconditions;
        let failure = if pre.if_match().is_some() {
            Failure::IfMatchMismatch
        } else if pre.if_none_match().is_some() {
            Failure::IfNoneMatchMatched
        } else if pre.if_unmodified_since().is_some() {
            Failure::IfUnmodifiedSince
        } else {
            Failure::IfMatchMismatch
        };
        Rejection::PreconditionFailed { failure, current }
    }

    /// The body is bad: the preconditions are evaluated first (EV-1: S16,
    /// S17), which costs one read on this error path.
    async fn body_error<M, R, B>(&self, repo: &R, id: &M::Id, body: B) -> Rejection<M, B>
    where
        M: Versioned + Send + Sync + 'static,
        M::Id: Send + Sync,
        R: Repository<M> + ?Sized,
    {
        match self.check_in::<M, R, B>(repo, id).await {
            Err(rejection) => rejection,
            Ok(_) => Rejection::Body(body),
        }
    }
}

/// The versions of `id` that the tags of `list` name. `weak`: compare
/// weakly (If-None-Match, INM-1), so `W/"…"` names the same version as
/// `"…"`; otherwise a weak tag names none (IM-1).
fn versions<M: Versioned>(id: &M::Id, list: &EntityTagList, weak: bool) -> Vec<M::Version> {
    tagged_versions::<M>(id, list, weak)
        .into_iter()
        .map(|(version, _)| version)
        .collect()
}

/// [`versions`], each with the model's tag for it (weakness as the model
/// emits it).
fn tagged_versions<'l, M: Versioned>(
    id: &M::Id,
    list: &'l EntityTagList,
    weak: bool,
) -> Vec<(M::Version, EntityTagRef<'l>)> {
    list.elements()
        .filter_map(|element| match element {
            Ok(ListElement::Tag(tag)) if weak => [false, true].into_iter().find_map(|w| {
                let tag = tag.with_weakness(w);
                M::version_from_tag(id, tag).map(|v| (v, tag))
            }),
            Ok(ListElement::Tag(tag)) => M::version_from_tag(id, tag).map(|v| (v, tag)),
            _ => None,
        })
        .collect()
}
