//! The write path: PUT, merge and DELETE, one conditional statement where
//! the preconditions reduce to a [`WriteCondition`], else read, decide and
//! swap on the version read; a miss explained by the preconditions.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::repository::{
    merge_patch_model, Fetched, KnownVersions, Repository, RepositoryError, WriteCondition,
};
use crate::versioned::{VersionNumber, Versioned};

use super::plan::{Plan, ATTEMPTS};
use super::rejection::Rejection;
use super::request::Pipeline;

/// What a successful replacing write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<M> {
    /// The resource existed and was replaced.
    Updated(M),
    /// The resource was created (a PUT on a creatable route).
    Created(M),
}

impl<'a> Pipeline<'a> {
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
        R: Repository<M> + ?Sized,
        M: Serialize,
        B: Send,
    {
        self.replace_parsing(repo, id, move || body).await
    }

    /// [`replace`](Pipeline::replace), parsing the body only once the
    /// preconditions allow the write, where that costs no round trip:
    /// a store that reads in process
    /// ([`Repository::reads_in_process`]) checks `If-Match` on the version
    /// first (EV-1's order), so a stale write is refused without the parse;
    /// the write's own condition still decides, atomically. Elsewhere the
    /// body is parsed first and the precondition goes into the write's one
    /// statement.
    pub async fn replace_parsing<M, R, B, P>(
        &self,
        repo: &R,
        id: &M::Id,
        parse: P,
    ) -> Result<Written<M>, Rejection<M, B>>
    where
        M: Versioned + Clone + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
        M: Serialize,
        P: FnOnce() -> Result<M, B> + Send,
    {
        in_scope!(self, repo, |r| self.replace_in(r, id, parse))
    }

    pub(super) async fn replace_in<M, R, B, P>(
        &self,
        repo: &R,
        id: &M::Id,
        parse: P,
    ) -> Result<Written<M>, Rejection<M, B>>
    where
        M: Versioned + Clone + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
        P: FnOnce() -> Result<M, B> + Send,
    {
        let plan = self.plan::<M>(id, self.creatable);
        if let Plan::Push(WriteCondition::VersionIn(versions)) = &plan {
            // Malformed (no versions): the write fails closed and explains
            // itself.
            if repo.reads_in_process() && !versions.is_empty() {
                self.precheck(repo, id, versions).await?;
            }
        }
        let model = match parse() {
            Ok(model) => model,
            Err(body) => return Err(self.body_error(repo, id, body).await),
        };
        match plan {
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

    /// `If-Match` evaluated on the version alone: `Ok(())` when the
    /// current version is one of `versions`, else the rejection the state
    /// found gives (412 with it, or 404).
    async fn precheck<M, R, B>(
        &self,
        repo: &R,
        id: &M::Id,
        versions: &[M::Version],
    ) -> Result<(), Rejection<M, B>>
    where
        M: Versioned + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
    {
        let known = KnownVersions::Listed(versions.to_vec());
        let decided = match repo.read(id, &known).await.map(|read| read.fetched) {
            Ok(Fetched::Unchanged { .. }) => return Ok(()),
            Ok(Fetched::Changed(current)) => self.decide(Some(current)),
            Err(RepositoryError::NotFound) => self.decide(None),
            Err(other) => return Err(Rejection::Repository(other)),
        };
        decided.map(drop)
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
        R: Repository<M> + ?Sized,
        M: Serialize,
        F: Fn(Option<&M>, &mut M) -> Result<(), B> + Send + Sync,
    {
        in_scope!(self, repo, |r| self.replace_with_in(r, id, body, &hook))
    }

    pub(super) async fn replace_with_in<M, R, B, F>(
        &self,
        repo: &R,
        id: &M::Id,
        body: Result<M, B>,
        hook: &F,
    ) -> Result<Written<M>, Rejection<M, B>>
    where
        M: Versioned + Clone + Send + Sync + 'static,
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
        R: Repository<M> + ?Sized,
        M: Serialize,
    {
        in_scope!(self, repo, |r| self.merge_in(r, id, patch))
    }

    pub(super) async fn merge_in<M, R, B>(
        &self,
        repo: &R,
        id: &M::Id,
        patch: Result<serde_json::Value, B>,
    ) -> Result<M, Rejection<M, B>>
    where
        M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
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
    /// [`Policy::Optional`](crate::Policy::Optional)) is merged again: no write is ever lost, and
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
        R: Repository<M> + ?Sized,
        F: Fn(&M, &mut M) -> Result<(), B> + Send + Sync,
    {
        in_scope!(self, repo, |r| self.merge_with_in(r, id, patch, &hook))
    }

    pub(super) async fn merge_with_in<M, R, B, F>(
        &self,
        repo: &R,
        id: &M::Id,
        patch: Result<serde_json::Value, B>,
        hook: &F,
    ) -> Result<M, Rejection<M, B>>
    where
        M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
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
    pub(super) async fn merge_with_merging<M, R, B, F>(
        &self,
        repo: &R,
        id: &M::Id,
        patch: &serde_json::Value,
        hook: &F,
        condition: WriteCondition<M::Version>,
    ) -> Result<Option<M>, Rejection<M, B>>
    where
        M: Versioned + Serialize + DeserializeOwned + Send + Sync + 'static,
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
        R: Repository<M> + ?Sized,
        M: Serialize,
    {
        in_scope!(self, repo, |r| self.delete_in(r, id))
    }

    pub(super) async fn delete_in<M, R>(&self, repo: &R, id: &M::Id) -> Result<M, Rejection<M>>
    where
        M: Versioned + Send + Sync + 'static,
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

    pub(super) async fn create<M, R, B>(
        &self,
        repo: &R,
        model: M,
    ) -> Result<Written<M>, Rejection<M, B>>
    where
        M: Versioned + Send + Sync + 'static,
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
    pub(super) async fn explain<M, R, B>(
        &self,
        repo: &R,
        id: &M::Id,
        error: RepositoryError<M>,
    ) -> Result<Option<M>, Rejection<M, B>>
    where
        M: Versioned + Send + Sync + 'static,
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
    pub(super) fn after_swap<M: Versioned, B>(&self, error: RepositoryError<M>) -> Rejection<M, B> {
        match error {
            RepositoryError::PreconditionFailed { current } => self.raced(Some(current)),
            RepositoryError::NotFound => Rejection::NotFound,
            other => Rejection::Repository(other),
        }
    }

    /// The body is bad: the preconditions are evaluated first (EV-1: S16,
    /// S17), which costs one read on this error path.
    pub(super) async fn body_error<M, R, B>(&self, repo: &R, id: &M::Id, body: B) -> Rejection<M, B>
    where
        M: Versioned + Send + Sync + 'static,
        R: Repository<M> + ?Sized,
    {
        match self.check_in::<M, R, B>(repo, id).await {
            Err(rejection) => rejection,
            Ok(_) => Rejection::Body(body),
        }
    }
}
