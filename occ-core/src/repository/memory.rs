//! An in-memory repository: the contract without a database.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::condition::{KnownVersions, WriteCondition};
use super::contract::Claim;
use super::contract::Repository;
use super::error::RepositoryError;
use super::memory_keys::{HasKeys, MemoryKeys};
use super::merge_patch::merge_patch_model;
use super::scope::Scope;
use super::snapshot::{Fetched, Page, Snapshot};
use crate::idempotency::{Fingerprint, IdempotencyKey, KeyPolicy};
use crate::scope_value::ScopeValue;
use crate::versioned::{VersionNumber, Versioned};

/// A repository in a `BTreeMap` behind a mutex: same semantics as the SQL
/// backends, for tests and prototypes. The condition check and the write
/// happen under one lock, which is this backend's compare-and-swap.
///
/// A tag is never reused for an id: the repository keeps a tombstone (the
/// last version) for every deleted id, under the same lock, and a resource
/// created again under that id continues after it (its version is the
/// larger of the one given and the tombstone's plus one), so an entity tag
/// from before the delete never matches it. Tombstones are kept for the
/// repository's lifetime.
///
/// ```
/// # tokio_test_block_on(async {
/// use occ_core::repository::{MemoryRepository, Repository, RepositoryError, WriteCondition};
/// use occ_core::Versioned;
///
/// #[derive(Clone, Debug, Versioned)]
/// struct Counter { id: u32, #[version] version: u64, value: i64 }
///
/// let repo = MemoryRepository::new();
/// repo.create(Counter { id: 1, version: 1, value: 0 }).await?;
/// let v1 = WriteCondition::VersionIn(vec![1]);
/// let saved = repo.update(Counter { id: 1, version: 1, value: 5 }, &v1).await?;
/// assert_eq!(saved.version, 2);
/// // The same condition again is stale: 412 with the current state.
/// let err = repo.update(Counter { id: 1, version: 1, value: 6 }, &v1).await.unwrap_err();
/// assert!(matches!(err, RepositoryError::PreconditionFailed { current } if current.value == 5));
/// # Ok::<(), RepositoryError<Counter>>(())
/// # }).unwrap();
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub struct MemoryRepository<M: Versioned> {
    state: Mutex<State<M>>,
    /// The last number handed out as an id (`#[occ(generated)]` integers).
    sequence: AtomicI64,
    /// Idempotency keys.
    keys: MemoryKeys,
    /// The rows of each scope value, for a model with a declared scope
    /// (`#[occ(scope)]`): keyed by (scope, id), as a table whose primary
    /// key is `(tenant_id, id)`, so that tenants share no id, tombstone or
    /// sequence.
    tenants: Mutex<HashMap<ScopeValue, Arc<MemoryRepository<M>>>>,
}

impl<M: Versioned + std::fmt::Debug> std::fmt::Debug for MemoryRepository<M>
where
    M::Id: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("MemoryRepository")
            .field("rows", &state.rows)
            .field("tombstones", &state.tombstones)
            .field("sequence", &self.sequence)
            .finish()
    }
}

/// The rows, and the last version of every deleted id.
struct State<M: Versioned> {
    rows: BTreeMap<M::Id, M>,
    tombstones: BTreeMap<M::Id, M::Version>,
    /// Which version last wrote each member of each row (merging).
    fields: BTreeMap<M::Id, FieldVersions<M::Version>>,
    /// The latest time the clock was read under the lock: the clock, as
    /// this repository sees it, never goes back, so a read's `as_of` is
    /// never later than the stamp of a write after it.
    clock: SystemTime,
}

/// This server's clock, or the last time read (`clock`) when it has gone
/// back.
fn now(clock: &mut SystemTime) -> SystemTime {
    *clock = (*clock).max(SystemTime::now());
    *clock
}

/// The time of a write: the clock, or just after the previous write when
/// the clock has not moved past it, so that times of one resource only
/// grow (a date-conditioned write relies on it).
fn stamp(clock: &mut SystemTime, previous: Option<SystemTime>) -> SystemTime {
    let now = now(clock);
    match previous {
        Some(previous) if previous >= now => previous + Duration::from_micros(1),
        _ => now,
    }
}

/// The version that last wrote each top-level member of a row: `all` for
/// a write of every member (a create, an update), and later merge patches
/// per member.
#[derive(Debug, Clone)]
struct FieldVersions<V> {
    all: V,
    members: BTreeMap<String, V>,
}

impl<V: Copy + Ord> FieldVersions<V> {
    fn of(&self, member: &str) -> V {
        self.members
            .get(member)
            .map_or(self.all, |v| (*v).max(self.all))
    }

    fn latest(&self) -> V {
        self.members.values().copied().fold(self.all, V::max)
    }
}

impl<M: Versioned> Default for MemoryRepository<M>
where
    M::Id: Ord,
{
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                rows: BTreeMap::new(),
                tombstones: BTreeMap::new(),
                fields: BTreeMap::new(),
                clock: SystemTime::UNIX_EPOCH,
            }),
            sequence: AtomicI64::new(0),
            keys: MemoryKeys::default(),
            tenants: Mutex::new(HashMap::new()),
        }
    }
}

impl<M: Versioned> MemoryRepository<M>
where
    M::Id: Ord,
{
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long its idempotency keys live (default:
    /// [`KeyPolicy::default`]; the lease is not used). The memory
    /// repository always keeps keys; a claimed key's write is applied at
    /// once (there is no transaction to roll back), so its claim keeps
    /// other attempts out until its response is recorded or the attempt
    /// ends, however long that takes.
    pub fn with_key_policy(mut self, policy: KeyPolicy) -> Self {
        self.keys = MemoryKeys::new(policy);
        self
    }

    fn state(&self) -> MutexGuard<'_, State<M>> {
        // A panic elsewhere cannot leave a half-written row: every write
        // changes the maps only after its last fallible step, so the data
        // is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a row is visible: everything unscoped, the scope's rows
/// otherwise.
type Visible<'a, M> = &'a (dyn Fn(&M) -> bool + Send + Sync);

impl<M> MemoryRepository<M>
where
    M: Versioned + Clone + Send + Sync + 'static,
    M::Id: Ord + Clone,
{
    fn get_in(&self, id: &M::Id, visible: Visible<'_, M>) -> Result<M, RepositoryError<M>> {
        self.state()
            .rows
            .get(id)
            .filter(|m| visible(m))
            .cloned()
            .ok_or(RepositoryError::NotFound)
    }

    fn read_in(
        &self,
        id: &M::Id,
        known: &KnownVersions<M::Version>,
        visible: Visible<'_, M>,
    ) -> Result<Snapshot<M>, RepositoryError<M>> {
        let mut state = self.state();
        // Under the lock every write takes: a write after this read is
        // stamped at this time or later. A model without a modification
        // time sends no `Last-Modified` to round, so the earliest time
        // (a bound that always holds) spares the clock.
        let as_of = if M::HAS_LAST_MODIFIED {
            now(&mut state.clock)
        } else {
            SystemTime::UNIX_EPOCH
        };
        let current = state
            .rows
            .get(id)
            .filter(|m| visible(m))
            .ok_or(RepositoryError::NotFound)?;
        let fetched =
            Fetched::of(current, known).unwrap_or_else(|| Fetched::Changed(current.clone()));
        Ok(Snapshot { fetched, as_of })
    }

    fn create_in(&self, mut model: M, visible: Visible<'_, M>) -> Result<M, RepositoryError<M>> {
        if !visible(&model) {
            return Err(outside_scope());
        }
        let mut state = self.state();
        model.set_last_modified(now(&mut state.clock));
        if let Some(current) = state.rows.get(model.id()) {
            return Err(RepositoryError::AlreadyExists {
                current: visible(current).then(|| Box::new(current.clone())),
            });
        }
        // An id deleted before continues after its last version.
        if let Some(last) = state.tombstones.get(model.id()) {
            let after = last.next().ok_or(RepositoryError::VersionExhausted)?;
            if model.version() < after {
                model.set_version(after);
            }
        }
        state.rows.insert(model.id().clone(), model.clone());
        state.fields.insert(
            model.id().clone(),
            FieldVersions {
                all: model.version(),
                members: BTreeMap::new(),
            },
        );
        Ok(model)
    }

    fn create_with_new_id_in(
        &self,
        mut model: M,
        visible: Visible<'_, M>,
    ) -> Result<M, RepositoryError<M>> {
        // Numbers taken by client-chosen ids are skipped.
        loop {
            let number = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
            let id = M::id_from_assigned(number).ok_or_else(|| {
                RepositoryError::internal("the model's ids cannot hold an assigned number")
            })?;
            model.set_id(id.clone());
            if *model.id() != id {
                return Err(RepositoryError::internal(
                    "the model does not implement `Versioned::set_id`",
                ));
            }
            match self.create_in(model.clone(), visible) {
                Err(RepositoryError::AlreadyExists { .. }) => {}
                other => return other,
            }
        }
    }

    fn update_in(
        &self,
        mut model: M,
        condition: &WriteCondition<M::Version>,
        visible: Visible<'_, M>,
    ) -> Result<M, RepositoryError<M>> {
        let mut guard = self.state();
        let state = &mut *guard;
        let current = state
            .rows
            .get_mut(model.id())
            .filter(|m| visible(m))
            .ok_or(RepositoryError::NotFound)?;
        let fields = state.fields.get(model.id());
        let met = match (condition, fields) {
            // Every member is written: none may have changed since.
            (WriteCondition::UnchangedSince(since), Some(fields)) => {
                if fields.all > *since {
                    false
                } else {
                    let conflicts: Vec<String> = fields
                        .members
                        .iter()
                        .filter(|(_, v)| **v > *since)
                        .map(|(member, _)| member.clone())
                        .collect();
                    if !conflicts.is_empty() {
                        return Err(RepositoryError::MergeConflict {
                            current: Box::new(current.clone()),
                            conflicts,
                        });
                    }
                    true
                }
            }
            _ => condition.is_met_by(current),
        };
        if !met {
            return Err(RepositoryError::PreconditionFailed {
                current: Box::new(current.clone()),
            });
        }
        // A row never leaves its declared scope, whatever the model says.
        if let Some(scope) = current.scope_value() {
            model.set_scope_value(&scope);
        }
        if !visible(&model) {
            return Err(outside_scope());
        }
        let next = current
            .version()
            .next()
            .ok_or(RepositoryError::VersionExhausted)?;
        model.set_version(next);
        model.set_last_modified(stamp(&mut state.clock, current.last_modified()));
        *current = model.clone();
        state.fields.insert(
            model.id().clone(),
            FieldVersions {
                all: next,
                members: BTreeMap::new(),
            },
        );
        Ok(model)
    }

    fn delete_in(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
        visible: Visible<'_, M>,
    ) -> Result<M, RepositoryError<M>> {
        let mut state = self.state();
        let current = state
            .rows
            .get(id)
            .filter(|m| visible(m))
            .ok_or(RepositoryError::NotFound)?;
        if !condition.is_met_by(current) {
            return Err(RepositoryError::PreconditionFailed {
                current: Box::new(current.clone()),
            });
        }
        let deleted = state.rows.remove(id).ok_or(RepositoryError::NotFound)?;
        state.fields.remove(id);
        // Under the same lock: a create of this id continues after it.
        let last = deleted.version();
        let tomb = state.tombstones.entry(id.clone()).or_insert(last);
        if *tomb < last {
            *tomb = last;
        }
        Ok(deleted)
    }

    /// A merge patch under the lock: the condition, with per-member
    /// versions for [`WriteCondition::UnchangedSince`] (the members set
    /// are the patch's top-level members), the patch, the write.
    fn merge_patch_in(
        &self,
        id: &M::Id,
        patch: &serde_json::Value,
        condition: &WriteCondition<M::Version>,
        visible: Visible<'_, M>,
    ) -> Result<M, RepositoryError<M>>
    where
        M: Serialize + DeserializeOwned,
    {
        let mut guard = self.state();
        let state = &mut *guard;
        let current = state
            .rows
            .get_mut(id)
            .filter(|m| visible(m))
            .ok_or(RepositoryError::NotFound)?;
        let members: Vec<String> = patch
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let fields = state.fields.get(id);
        match (condition, fields) {
            (WriteCondition::UnchangedSince(since), Some(fields)) => {
                let mut conflicts: Vec<String> = members
                    .iter()
                    .filter(|member| fields.of(member) > *since)
                    .cloned()
                    .collect();
                if !conflicts.is_empty() {
                    conflicts.sort();
                    return Err(RepositoryError::MergeConflict {
                        current: Box::new(current.clone()),
                        conflicts,
                    });
                }
                // A version this resource never had yet: strict.
                if fields.latest() < *since || current.version() < *since {
                    return Err(RepositoryError::PreconditionFailed {
                        current: Box::new(current.clone()),
                    });
                }
            }
            _ if !condition.is_met_by(current) => {
                return Err(RepositoryError::PreconditionFailed {
                    current: Box::new(current.clone()),
                });
            }
            _ => {}
        }
        let mut patched = merge_patch_model(current, patch)?;
        if let Some(scope) = current.scope_value() {
            patched.set_scope_value(&scope);
        }
        if !visible(&patched) {
            return Err(outside_scope());
        }
        // A patch that changes nothing writes nothing: no new version to
        // refuse other clients' tags.
        patched.set_version(current.version());
        if let Some(time) = current.last_modified() {
            patched.set_last_modified(time);
        }
        if serde_json::to_value(&patched).ok() == serde_json::to_value(&*current).ok() {
            return Ok(current.clone());
        }
        let next = current
            .version()
            .next()
            .ok_or(RepositoryError::VersionExhausted)?;
        patched.set_version(next);
        patched.set_last_modified(stamp(&mut state.clock, current.last_modified()));
        *current = patched.clone();
        let fields = state
            .fields
            .entry(id.clone())
            .or_insert_with(|| FieldVersions {
                all: next,
                members: BTreeMap::new(),
            });
        for member in members {
            fields.members.insert(member, next);
        }
        Ok(patched)
    }

    fn list_in(
        &self,
        after: Option<&M::Id>,
        limit: u32,
        visible: Visible<'_, M>,
    ) -> Result<Page<M>, RepositoryError<M>> {
        use std::ops::Bound;
        let state = self.state();
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let items: Vec<M> = state
            .rows
            .range((lower, Bound::Unbounded))
            .map(|(_, m)| m)
            .filter(|m| visible(m))
            .take(limit)
            .cloned()
            .collect();
        let next_after = (items.len() == limit && limit > 0)
            .then(|| items.last().map(|m| m.id().clone()))
            .flatten();
        Ok(Page { items, next_after })
    }
}

fn outside_scope<M>() -> RepositoryError<M> {
    RepositoryError::Invalid("the resource would be outside the caller's scope".into())
}

fn everything<M>(_: &M) -> bool {
    true
}

#[async_trait]
impl<M> Repository<M> for MemoryRepository<M>
where
    M: Versioned + Clone + Send + Sync + 'static,
    M::Id: Ord + Clone,
{
    fn reads_in_process(&self) -> bool {
        true
    }

    async fn get(&self, id: &M::Id) -> Result<M, RepositoryError<M>> {
        unscoped::<M>()?;
        self.get_in(id, &everything)
    }

    async fn read(
        &self,
        id: &M::Id,
        known: &KnownVersions<M::Version>,
    ) -> Result<Snapshot<M>, RepositoryError<M>> {
        unscoped::<M>()?;
        self.read_in(id, known, &everything)
    }

    async fn create(&self, model: M) -> Result<M, RepositoryError<M>> {
        unscoped::<M>()?;
        self.create_in(model, &everything)
    }

    async fn create_with_new_id(&self, model: M) -> Result<M, RepositoryError<M>> {
        unscoped::<M>()?;
        self.create_with_new_id_in(model, &everything)
    }

    async fn update(
        &self,
        model: M,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        unscoped::<M>()?;
        self.update_in(model, condition, &everything)
    }

    async fn delete(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        unscoped::<M>()?;
        self.delete_in(id, condition, &everything)
    }

    async fn list(&self, after: Option<&M::Id>, limit: u32) -> Result<Page<M>, RepositoryError<M>> {
        unscoped::<M>()?;
        self.list_in(after, limit, &everything)
    }

    async fn merge_patch(
        &self,
        id: &M::Id,
        patch: &serde_json::Value,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>>
    where
        M: Serialize + DeserializeOwned,
    {
        unscoped::<M>()?;
        self.merge_patch_in(id, patch, condition, &everything)
    }

    fn keeps_idempotency_keys(&self) -> bool {
        true
    }

    async fn claim_key(
        &self,
        key: &IdempotencyKey,
        namespace: &str,
        fingerprint: &Fingerprint,
    ) -> Result<Claim<'_, M>, RepositoryError<M>> {
        Ok(self
            .keys
            .claim(self, key.stored_name(namespace), fingerprint))
    }

    fn scoped<'a>(
        &'a self,
        scope: &Scope,
    ) -> Result<Box<dyn Repository<M> + 'a>, RepositoryError<M>>
    where
        M: Serialize,
    {
        let Some(column) = M::SCOPE_COLUMN else {
            return Ok(Box::new(ScopedMemory {
                rows: Rows::Shared(self),
                scope: scope.clone(),
            }));
        };
        let value = super::scope::declared_value::<M>(column, scope)?;
        let rows = {
            let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
            tenants.entry(value.clone()).or_default().clone()
        };
        Ok(Box::new(ScopedMemory {
            rows: Rows::Own(rows),
            scope: Scope::new(column, value),
        }))
    }
}

/// Refuses an operation without a scope on a model that declares one: a
/// route reached without its authentication layer must show nothing.
fn unscoped<M: Versioned>() -> Result<(), RepositoryError<M>> {
    match M::SCOPE_COLUMN {
        Some(column) => Err(super::scope::missing_scope(column)),
        None => Ok(()),
    }
}

/// The rows a scoped view sees: the repository's own, filtered by the
/// scope's member (a scope the model does not declare), or the scope
/// value's rows (a declared scope).
enum Rows<'a, M: Versioned> {
    Shared(&'a MemoryRepository<M>),
    Own(Arc<MemoryRepository<M>>),
}

impl<M: Versioned> std::ops::Deref for Rows<'_, M> {
    type Target = MemoryRepository<M>;

    fn deref(&self) -> &MemoryRepository<M> {
        match self {
            Self::Shared(repo) => repo,
            Self::Own(repo) => repo,
        }
    }
}

/// A [`MemoryRepository`] seen through a [`Scope`]. A declared scope's
/// rows are its own, and every write fills the scope's field from the
/// scope; a scope the model does not declare is read through the model's
/// JSON representation, and a write that would leave it is refused.
struct ScopedMemory<'a, M: Versioned> {
    rows: Rows<'a, M>,
    scope: Scope,
}

impl<M> ScopedMemory<'_, M>
where
    M: Versioned + Serialize + Clone + Send + Sync + 'static,
    M::Id: Ord + Clone,
{
    fn visible(&self, model: &M) -> bool {
        match self.rows {
            Rows::Own(_) => true,
            Rows::Shared(_) => self.scope.contains(model),
        }
    }

    /// The model with its declared scope field set to the scope's value.
    fn fill(&self, mut model: M) -> Result<M, RepositoryError<M>> {
        if matches!(self.rows, Rows::Own(_)) && !model.set_scope_value(self.scope.value()) {
            return Err(RepositoryError::internal(
                "the model refused its own declared scope's value",
            ));
        }
        Ok(model)
    }
}

#[async_trait]
impl<M> Repository<M> for ScopedMemory<'_, M>
where
    M: Versioned + Serialize + Clone + Send + Sync + 'static,
    M::Id: Ord + Clone,
{
    fn reads_in_process(&self) -> bool {
        true
    }

    async fn get(&self, id: &M::Id) -> Result<M, RepositoryError<M>> {
        self.rows.get_in(id, &|m| self.visible(m))
    }

    async fn read(
        &self,
        id: &M::Id,
        known: &KnownVersions<M::Version>,
    ) -> Result<Snapshot<M>, RepositoryError<M>> {
        self.rows.read_in(id, known, &|m| self.visible(m))
    }

    async fn create(&self, model: M) -> Result<M, RepositoryError<M>> {
        let model = self.fill(model)?;
        self.rows.create_in(model, &|m| self.visible(m))
    }

    async fn create_with_new_id(&self, model: M) -> Result<M, RepositoryError<M>> {
        let model = self.fill(model)?;
        self.rows.create_with_new_id_in(model, &|m| self.visible(m))
    }

    async fn update(
        &self,
        model: M,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        let model = self.fill(model)?;
        self.rows.update_in(model, condition, &|m| self.visible(m))
    }

    async fn delete(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        self.rows.delete_in(id, condition, &|m| self.visible(m))
    }

    async fn list(&self, after: Option<&M::Id>, limit: u32) -> Result<Page<M>, RepositoryError<M>> {
        self.rows.list_in(after, limit, &|m| self.visible(m))
    }

    async fn merge_patch(
        &self,
        id: &M::Id,
        patch: &serde_json::Value,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>>
    where
        M: Serialize + DeserializeOwned,
    {
        self.rows
            .merge_patch_in(id, patch, condition, &|m| self.visible(m))
    }

    fn scoped<'b>(
        &'b self,
        scope: &Scope,
    ) -> Result<Box<dyn Repository<M> + 'b>, RepositoryError<M>>
    where
        M: Serialize,
    {
        super::scope::same_scope(&self.scope, scope)?;
        let rows = match &self.rows {
            Rows::Shared(repo) => Rows::Shared(*repo),
            Rows::Own(repo) => Rows::Own(repo.clone()),
        };
        Ok(Box::new(ScopedMemory {
            rows,
            scope: self.scope.clone(),
        }))
    }
}

impl<M: Versioned> HasKeys for MemoryRepository<M> {
    fn keys(&self) -> &MemoryKeys {
        &self.keys
    }
}
