//! The memory repository's idempotency keys: a map behind a mutex, with
//! the claim rules the SQL table applies in its statements.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::{Repository, RepositoryError};
use crate::idempotency::{
    owner_token, Claim, Fingerprint, Finished, KeyPolicy, KeyedWrite, StoredResponse,
};
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
        M::Id: Send + Sync,
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
                repo,
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
/// (the memory store has no transactions); the claim keeps other attempts
/// with the key out until the response is recorded.
struct MemoryKeyed<'a, R: HasKeys> {
    repo: &'a R,
    name: String,
    owner: String,
    /// Finished or abandoned: nothing to release when dropped.
    ended: bool,
}

impl<R: HasKeys> Drop for MemoryKeyed<'_, R> {
    fn drop(&mut self) {
        if !self.ended {
            self.repo.keys().release(&self.name, &self.owner);
        }
    }
}

#[async_trait]
impl<M, R> KeyedWrite<M> for MemoryKeyed<'_, R>
where
    M: Versioned + Send + Sync + 'static,
    M::Id: Send + Sync,
    R: Repository<M> + HasKeys,
{
    fn repository(&self) -> &(dyn Repository<M> + '_) {
        self.repo
    }

    async fn finish(
        mut self: Box<Self>,
        response: &StoredResponse,
    ) -> Result<Finished, RepositoryError<M>> {
        self.ended = true;
        Ok(self.repo.keys().finish(&self.name, &self.owner, response))
    }

    async fn abandon(mut self: Box<Self>) {
        self.ended = true;
        self.repo.keys().release(&self.name, &self.owner);
    }
}
