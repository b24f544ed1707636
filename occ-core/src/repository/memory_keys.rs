//! The memory repository's idempotency keys: a map behind a mutex, with
//! the claim rules the SQL table applies in its statements.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::condition::{KnownVersions, WriteCondition};
use super::contract::Repository;
use super::contract::{Claim, KeyedWrite};
use super::error::RepositoryError;
use super::scope::Scope;
use super::snapshot::{Page, Snapshot};
use crate::idempotency::{owner_token, Fingerprint, Finished, KeyPolicy, StoredResponse};
use crate::versioned::Versioned;

/// How often expired keys are swept out, at most.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The keys of one memory repository.
#[derive(Debug)]
pub(super) struct MemoryKeys {
    pub(super) policy: KeyPolicy,
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    records: HashMap<String, Record>,
    last_sweep: SystemTime,
}

#[derive(Debug)]
struct Record {
    fingerprint: Fingerprint,
    owner: String,
    expires_at: SystemTime,
    response: Option<StoredResponse>,
}

impl Default for MemoryKeys {
    fn default() -> Self {
        Self::new(KeyPolicy::default())
    }
}

impl MemoryKeys {
    pub(super) fn new(policy: KeyPolicy) -> Self {
        Self {
            policy,
            table: Mutex::new(Table {
                records: HashMap::new(),
                last_sweep: SystemTime::UNIX_EPOCH,
            }),
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // Every change to a record is one assignment: a panic elsewhere
        // leaves the map consistent.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims `name` for `fingerprint` (see [`crate::idempotency`]), under
    /// the lock: a key past its time to live is taken over. A claim without
    /// a response is never taken over while its attempt runs, whatever its
    /// lease: a memory write is applied at once and cannot be rolled back,
    /// so the fencing of the SQL stores is not available here. The lease
    /// is for servers that die, and a memory store dies with its server;
    /// an attempt dropped without an end releases its claim.
    pub(super) fn claim<'a, M, R>(
        &self,
        repo: &'a R,
        name: String,
        fingerprint: &Fingerprint,
    ) -> Claim<'a, M>
    where
        M: Versioned + Send + Sync + 'static,
        R: Repository<M> + HasKeys + 'a,
    {
        let now = SystemTime::now();
        let owner = owner_token();
        let mut table = self.table();
        if now.duration_since(table.last_sweep).unwrap_or_default() >= SWEEP_EVERY {
            table.records.retain(|_, r| r.expires_at > now);
            table.last_sweep = now;
        }
        let fresh = Record {
            fingerprint: *fingerprint,
            owner: owner.clone(),
            expires_at: now + self.policy.time_to_live,
            response: None,
        };
        let Some(record) = table.records.get(&name).filter(|r| r.expires_at > now) else {
            table.records.insert(name.clone(), fresh);
            return Claim::Claimed(Box::new(MemoryKeyed {
                keys: repo,
                repo: Tracked {
                    inner: Inner::Borrowed(repo),
                    wrote: Arc::new(AtomicBool::new(false)),
                },
                name,
                owner,
                ended: false,
            }));
        };
        if record.fingerprint != *fingerprint {
            Claim::Mismatch
        } else if let Some(response) = &record.response {
            Claim::Replay(response.clone())
        } else {
            Claim::InFlight
        }
    }

    fn finish(&self, name: &str, owner: &str, response: &StoredResponse) -> Finished {
        let mut table = self.table();
        match table.records.get_mut(name) {
            Some(record) if record.owner == owner && record.response.is_none() => {
                record.response = Some(response.clone());
                Finished::Recorded
            }
            _ => Finished::Superseded,
        }
    }

    fn release(&self, name: &str, owner: &str) {
        let mut table = self.table();
        if table
            .records
            .get(name)
            .is_some_and(|r| r.owner == owner && r.response.is_none())
        {
            table.records.remove(name);
        }
    }
}

/// A repository with a memory key table.
pub(super) trait HasKeys {
    fn keys(&self) -> &MemoryKeys;
}

/// A claimed key of a memory repository. Its writes are applied at once
/// (the memory store has no transactions), so the claim keeps other
/// attempts with the key out until the response is recorded, and an
/// attempt that wrote and then failed (a 5xx, or dropped) is never run
/// again: its key records [`lost_answer`] instead of being released.
struct MemoryKeyed<'a, M: Versioned, R: HasKeys> {
    keys: &'a R,
    repo: Tracked<'a, M>,
    name: String,
    owner: String,
    /// Finished or abandoned: nothing to release when dropped.
    ended: bool,
}

impl<M: Versioned, R: HasKeys> MemoryKeyed<'_, M, R> {
    /// Ends an attempt that has no response to record: released when it
    /// wrote nothing (a retry runs again), else closed with
    /// [`lost_answer`] (a retry must not apply the write twice).
    fn end_without_response(&mut self) {
        self.ended = true;
        if self.repo.wrote.load(Ordering::SeqCst) {
            self.keys
                .keys()
                .finish(&self.name, &self.owner, &lost_answer());
        } else {
            self.keys.keys().release(&self.name, &self.owner);
        }
    }
}

impl<M: Versioned, R: HasKeys> Drop for MemoryKeyed<'_, M, R> {
    fn drop(&mut self) {
        if !self.ended {
            self.end_without_response();
        }
    }
}

/// What a retry gets after an attempt that wrote and lost its answer (a
/// 5xx after the write, or an attempt dropped): 409, without
/// `Retry-After`, telling the client to read the resource.
fn lost_answer() -> StoredResponse {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": "the write with this Idempotency-Key was applied, but its answer was lost: read the resource to see its state",
    });
    StoredResponse {
        status: 409,
        headers: vec![(
            http::header::CONTENT_TYPE.as_str().to_owned(),
            crate::wire::PROBLEM_JSON.to_owned(),
        )],
        body: body.to_string().into_bytes(),
    }
}

#[async_trait]
impl<M, R> KeyedWrite<M> for MemoryKeyed<'_, M, R>
where
    M: Versioned + Send + Sync + 'static,
    R: Repository<M> + HasKeys,
{
    fn repository(&self) -> &(dyn Repository<M> + '_) {
        &self.repo
    }

    async fn finish(
        mut self: Box<Self>,
        response: &StoredResponse,
    ) -> Result<Finished, RepositoryError<M>> {
        self.ended = true;
        Ok(self.keys.keys().finish(&self.name, &self.owner, response))
    }

    async fn abandon(mut self: Box<Self>) {
        self.end_without_response();
    }
}

/// A repository whose successful writes are noted: what a memory claim
/// needs to tell an attempt that wrote from one that did not.
struct Tracked<'a, M: Versioned> {
    inner: Inner<'a, M>,
    wrote: Arc<AtomicBool>,
}

enum Inner<'a, M: Versioned> {
    Borrowed(&'a (dyn Repository<M> + 'a)),
    Owned(Box<dyn Repository<M> + 'a>),
}

impl<'a, M: Versioned> Tracked<'a, M> {
    fn inner(&self) -> &(dyn Repository<M> + 'a) {
        match &self.inner {
            Inner::Borrowed(repo) => *repo,
            Inner::Owned(repo) => &**repo,
        }
    }

    fn note<T>(&self, result: Result<T, RepositoryError<M>>) -> Result<T, RepositoryError<M>> {
        if result.is_ok() {
            self.wrote.store(true, Ordering::SeqCst);
        }
        result
    }
}

#[async_trait]
impl<M> Repository<M> for Tracked<'_, M>
where
    M: Versioned + Send + Sync + 'static,
{
    fn reads_in_process(&self) -> bool {
        self.inner().reads_in_process()
    }

    async fn get(&self, id: &M::Id) -> Result<M, RepositoryError<M>> {
        self.inner().get(id).await
    }

    async fn read(
        &self,
        id: &M::Id,
        known: &KnownVersions<M::Version>,
    ) -> Result<Snapshot<M>, RepositoryError<M>> {
        self.inner().read(id, known).await
    }

    async fn create(&self, model: M) -> Result<M, RepositoryError<M>> {
        self.note(self.inner().create(model).await)
    }

    async fn create_with_new_id(&self, model: M) -> Result<M, RepositoryError<M>> {
        self.note(self.inner().create_with_new_id(model).await)
    }

    async fn update(
        &self,
        model: M,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        self.note(self.inner().update(model, condition).await)
    }

    async fn delete(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        self.note(self.inner().delete(id, condition).await)
    }

    async fn list(&self, after: Option<&M::Id>, limit: u32) -> Result<Page<M>, RepositoryError<M>> {
        self.inner().list(after, limit).await
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
        self.note(self.inner().merge_patch(id, patch, condition).await)
    }

    fn scoped<'b>(
        &'b self,
        scope: &Scope,
    ) -> Result<Box<dyn Repository<M> + 'b>, RepositoryError<M>>
    where
        M: Serialize,
    {
        Ok(Box::new(Tracked {
            inner: Inner::Owned(self.inner().scoped(scope)?),
            wrote: self.wrote.clone(),
        }))
    }
}
