//! The SQL repository's idempotency keys ([`crate::idempotency`]): a
//! claim in one statement on the key table ([`key_table`](super::key_table)),
//! and the response recorded in the write's transaction, so that the write
//! and its record commit together or not at all.

use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use async_trait::async_trait;
use sqlx::Pool;

use super::conn::{begin_held, HeldTransaction};
use super::dialect::Backend;
use super::epoch::{epoch_millis, millis};
use super::error::{bind_error, map_error};
use super::key_table::SqlKeys;
use super::model::SqlModel;
use super::repository::{ScopeState, SqlRepository};
use crate::idempotency::{
    owner_token, Fingerprint, Finished, IdempotencyKey, KeyPolicy, StoredResponse,
};
use crate::repository::contract::{Claim, KeyedWrite};
use crate::repository::{Repository, RepositoryError};

/// How often expired keys are deleted, at most, per repository.
const SWEEP_EVERY_MS: i64 = 60_000;

impl<DB: Backend, M> SqlRepository<DB, M> {
    /// Keeps idempotency keys in `table` (create it with
    /// [`idempotency_table`](super::key_table::idempotency_table)), with `policy`'s time to live and lease: the
    /// generated routes then honour `Idempotency-Key` on writes, and a
    /// write under a key runs in one transaction with the record of its
    /// response ([`crate::idempotency`]).
    ///
    /// A write under a key costs a claim statement (two on MariaDB) and a
    /// transaction (`BEGIN`, the write, the record, `COMMIT`) instead of one
    /// statement; writes without a key are unchanged.
    pub fn with_idempotency_keys(mut self, table: &str, policy: KeyPolicy) -> Self {
        self.keys = Some(Arc::new(SqlKeys::new(DB::DIALECT, table, policy)));
        self
    }
}

impl<DB, M> SqlRepository<DB, M>
where
    DB: Backend,
    M: SqlModel<DB>,
    M::Id: Clone,
{
    pub(super) async fn claim_in(
        &self,
        keys: &Arc<SqlKeys>,
        key: &IdempotencyKey,
        namespace: &str,
        fingerprint: &Fingerprint,
    ) -> Result<Claim<'_, M>, RepositoryError<M>> {
        let (name, owner) = match self.claim_row(keys, key, namespace, fingerprint).await? {
            Claimed::Ours { name, owner } => (name, owner),
            Claimed::Replay(stored) => return Ok(Claim::Replay(stored)),
            Claimed::InFlight => return Ok(Claim::InFlight),
            Claimed::Mismatch => return Ok(Claim::Mismatch),
        };
        let tx = match begin_held(&self.pool).await {
            Ok(tx) => tx,
            Err(e) => {
                release::<DB>(&self.pool, keys, &name, &owner).await;
                return Err(map_error(e));
            }
        };
        let view = Self {
            pool: self.pool.clone(),
            held: Some(HeldTransaction::new(tx)),
            keys: self.keys.clone(),
            statements: self.statements.clone(),
            scope: self.scope.as_ref().map(|s| ScopeState {
                scope: s.scope.clone(),
                declared: s.declared,
                contains: s.contains,
            }),
            scoped: OnceLock::new(),
            replicas: self.replicas.clone(),
            server: self.server.clone(),
            _model: PhantomData,
        };
        Ok(Claim::Claimed(Box::new(SqlKeyed {
            view,
            keys: keys.clone(),
            name,
            owner,
        })))
    }

    /// Claims `key` for a write in a transaction of the application's own:
    /// its statements, then [`KeyedTransaction::finish`] records the
    /// answer in the same transaction and commits. What
    /// [`Repository::claim_key`] is to the repository's own writes, for
    /// handlers with their own SQL (design decision 25).
    pub async fn claim_for_own_sql(
        &self,
        key: &IdempotencyKey,
        namespace: &str,
        fingerprint: &Fingerprint,
    ) -> Result<OwnClaim<DB>, RepositoryError<M>> {
        let Some(keys) = &self.keys else {
            return Err(RepositoryError::internal(
                "this repository keeps no idempotency keys: see `with_idempotency_keys`",
            ));
        };
        let (name, owner) = match self.claim_row(keys, key, namespace, fingerprint).await? {
            Claimed::Ours { name, owner } => (name, owner),
            Claimed::Replay(stored) => return Ok(OwnClaim::Replay(stored)),
            Claimed::InFlight => return Ok(OwnClaim::InFlight),
            Claimed::Mismatch => return Ok(OwnClaim::Mismatch),
        };
        match begin_held(&self.pool).await {
            Ok(tx) => Ok(OwnClaim::Claimed(KeyedTransaction {
                tx,
                pool: self.pool.clone(),
                keys: keys.clone(),
                name,
                owner,
            })),
            Err(e) => {
                release::<DB>(&self.pool, keys, &name, &owner).await;
                Err(map_error(e))
            }
        }
    }

    /// The claim statement, and what it found.
    async fn claim_row(
        &self,
        keys: &Arc<SqlKeys>,
        key: &IdempotencyKey,
        namespace: &str,
        fingerprint: &Fingerprint,
    ) -> Result<Claimed, RepositoryError<M>> {
        let name = key.stored_name(namespace);
        let owner = owner_token();
        let fingerprint = fingerprint.to_hex();
        let now = epoch_millis(SystemTime::now());
        self.sweep(keys, now);
        let args = (|| {
            let mut args = DB::Arguments::default();
            DB::bind_text(&mut args, name.clone())?;
            DB::bind_text(&mut args, fingerprint.clone())?;
            DB::bind_text(&mut args, owner.clone())?;
            DB::bind_int(&mut args, millis(keys.policy.lease))?;
            DB::bind_int(&mut args, millis(keys.policy.time_to_live))?;
            Ok::<_, sqlx::error::BoxDynError>(args)
        })()
        .map_err(bind_error)?;
        let mut conn = self.pool.acquire().await.map_err(map_error)?;
        let row = if DB::DIALECT.has_returning() {
            DB::fetch_optional(&mut conn, keys.claim.clone(), args)
                .await
                .map_err(map_error)?
                .ok_or_else(|| RepositoryError::internal("a claim returned no key"))?
        } else {
            DB::execute(&mut conn, keys.claim.clone(), args)
                .await
                .map_err(map_error)?;
            let mut args = DB::Arguments::default();
            DB::bind_text(&mut args, name.clone()).map_err(bind_error)?;
            match DB::fetch_optional(&mut conn, keys.read.clone(), args)
                .await
                .map_err(map_error)?
            {
                Some(row) => row,
                // Released by its attempt between the two statements: the
                // key is free, and the client may retry at once.
                None => return Ok(Claimed::InFlight),
            }
        };
        let row_owner = DB::text(&row, "owner").map_err(map_error)?;
        if row_owner == owner {
            return Ok(Claimed::Ours { name, owner });
        }
        let row_fingerprint = DB::text(&row, "fingerprint").map_err(map_error)?;
        if row_fingerprint != fingerprint {
            return Ok(Claimed::Mismatch);
        }
        let status = DB::int_or_null(&row, "status").map_err(map_error)?;
        let Some(status) = status else {
            return Ok(Claimed::InFlight);
        };
        let headers = DB::text_or_null(&row, "headers").map_err(map_error)?;
        let body = DB::bytes_or_null(&row, "body").map_err(map_error)?;
        StoredResponse::from_stored(
            status,
            headers.as_deref().unwrap_or("[]"),
            body.unwrap_or_default(),
        )
        .map(Claimed::Replay)
        .ok_or_else(|| RepositoryError::internal("a recorded response does not read back"))
    }

    /// Deletes expired keys in the background, at most once a minute:
    /// the claim does not wait for it, and a claim of an expired key
    /// takes it over anyway.
    fn sweep(&self, keys: &Arc<SqlKeys>, now: i64) {
        let due = keys.next_sweep.load(Ordering::Relaxed);
        if now < due
            || keys
                .next_sweep
                .compare_exchange(
                    due,
                    now + SWEEP_EVERY_MS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (pool, keys) = (self.pool.clone(), keys.clone());
        runtime.spawn(async move {
            let swept = match pool.acquire().await {
                Ok(mut conn) => {
                    DB::execute(&mut conn, keys.sweep.clone(), DB::Arguments::default()).await
                }
                Err(e) => Err(e),
            };
            match swept {
                Ok(done) => tracing::debug!(
                    deleted = DB::rows_affected(&done),
                    "expired idempotency keys deleted"
                ),
                Err(e) => tracing::warn!(error = %e, "expired idempotency keys not deleted"),
            }
        });
    }
}

/// Releases this attempt's claim if it has no response: best effort (a
/// claim left behind lapses with its lease).
async fn release<DB: Backend>(pool: &Pool<DB>, keys: &SqlKeys, name: &str, owner: &str) {
    let released = async {
        let mut args = DB::Arguments::default();
        DB::bind_text(&mut args, name.to_owned()).map_err(sqlx::Error::Encode)?;
        DB::bind_text(&mut args, owner.to_owned()).map_err(sqlx::Error::Encode)?;
        let mut conn = pool.acquire().await?;
        DB::execute(&mut conn, keys.release.clone(), args).await
    }
    .await;
    if let Err(e) = released {
        tracing::warn!(error = %e, "an idempotency key's claim was not released; it lapses with its lease");
    }
}

/// What a claim statement found.
enum Claimed {
    /// The key is this attempt's.
    Ours {
        name: String,
        owner: String,
    },
    Replay(StoredResponse),
    InFlight,
    Mismatch,
}

/// What [`SqlRepository::claim_for_own_sql`] found.
#[derive(Debug)]
pub enum OwnClaim<DB: sqlx::Database> {
    /// The key is this attempt's: run the write's statements in
    /// [`KeyedTransaction::transaction`], then
    /// [`finish`](KeyedTransaction::finish) it.
    Claimed(KeyedTransaction<DB>),
    /// The key's first request completed: its answer, to send again.
    Replay(StoredResponse),
    /// Another attempt with this key is still running (409).
    InFlight,
    /// The key was used for a different request (422).
    Mismatch,
}

/// A claimed key and the transaction its write runs in: the
/// application's statements, then the record of the answer, commit
/// together or not at all.
pub struct KeyedTransaction<DB: sqlx::Database> {
    tx: sqlx::Transaction<'static, DB>,
    pool: Pool<DB>,
    keys: Arc<SqlKeys>,
    name: String,
    owner: String,
}

impl<DB: sqlx::Database> std::fmt::Debug for KeyedTransaction<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedTransaction")
            .field("key", &self.name)
            .finish()
    }
}

impl<DB: Backend> KeyedTransaction<DB> {
    /// The transaction to run the write's statements in (`&mut *tx` is
    /// an executor). Commit it only through [`finish`](Self::finish).
    pub fn transaction(&mut self) -> &mut sqlx::Transaction<'static, DB> {
        &mut self.tx
    }

    /// Records `response` in the transaction and commits:
    /// [`Finished::Recorded`], or [`Finished::Superseded`] (rolled back)
    /// when another attempt took the key over. Commit promptly after the
    /// write: a transaction held open long after its rows were stamped
    /// delays the dates other readers may send (design decision 13).
    pub async fn finish(self, response: &StoredResponse) -> Result<Finished, sqlx::Error> {
        record(
            self.tx,
            &self.pool,
            &self.keys,
            &self.name,
            &self.owner,
            response,
            None,
        )
        .await
    }

    /// Rolls the write back and frees the key, for a retry to run again.
    pub async fn abandon(self) {
        if let Err(e) = self.tx.rollback().await {
            tracing::warn!(error = %e, "an abandoned keyed write did not roll back cleanly");
        }
        release::<DB>(&self.pool, &self.keys, &self.name, &self.owner).await;
    }
}

/// Records `response` for the claim `name`/`owner` in `tx` and commits:
/// only while the claim is this attempt's and, with a `deadline`
/// (milliseconds since the epoch, on the database's clock), not after it.
/// A record refused without a deadline is [`Finished::Superseded`] (rolled
/// back); with one, an error. On any error the claim is released, so that
/// a retry need not wait for the lease (if a failed commit landed after
/// all, the record is there and the release touches nothing).
async fn record<DB: Backend>(
    mut tx: sqlx::Transaction<'static, DB>,
    pool: &Pool<DB>,
    keys: &SqlKeys,
    name: &str,
    owner: &str,
    response: &StoredResponse,
    deadline: Option<i64>,
) -> Result<Finished, sqlx::Error> {
    let finish = match deadline {
        Some(_) => keys.finish_by.clone(),
        None => keys.finish.clone(),
    };
    let args = (|| {
        let mut args = DB::Arguments::default();
        DB::bind_int(&mut args, i64::from(response.status))?;
        DB::bind_text(&mut args, response.headers_json())?;
        DB::bind_bytes(&mut args, response.body.clone())?;
        DB::bind_text(&mut args, name.to_owned())?;
        DB::bind_text(&mut args, owner.to_owned())?;
        if let Some(deadline) = deadline {
            DB::bind_int(&mut args, deadline)?;
        }
        Ok(args)
    })();
    let done = match args {
        Ok(args) => DB::execute(&mut tx, finish, args).await,
        Err(e) => Err(sqlx::Error::Encode(e)),
    };
    let outcome = match done {
        Ok(done) if DB::rows_affected(&done) == 1 => tx.commit().await.map(|()| Finished::Recorded),
        // Too long since its stamp (or taken over meanwhile): it must not
        // land, and the key is released for a retry.
        Ok(_) if deadline.is_some() => tx.rollback().await.and(Err(sqlx::Error::Protocol(
            "a keyed write held its transaction too long after its write".into(),
        ))),
        // Another attempt took the key over: this write must not land.
        Ok(_) => tx.rollback().await.map(|()| Finished::Superseded),
        Err(e) => {
            drop(tx);
            Err(e)
        }
    };
    if outcome.is_err() {
        release::<DB>(pool, keys, name, owner).await;
    }
    outcome
}

/// A claimed key of a SQL repository: the view whose statements run in
/// the held transaction, and what finishing it needs.
struct SqlKeyed<DB: sqlx::Database, M> {
    view: SqlRepository<DB, M>,
    keys: Arc<SqlKeys>,
    name: String,
    owner: String,
}

#[async_trait]
impl<DB, M> KeyedWrite<M> for SqlKeyed<DB, M>
where
    DB: Backend,
    M: SqlModel<DB>,
    M::Id: Clone,
{
    fn repository(&self) -> &(dyn Repository<M> + '_) {
        &self.view
    }

    async fn finish(
        self: Box<Self>,
        response: &StoredResponse,
    ) -> Result<Finished, RepositoryError<M>> {
        let Some(held) = &self.view.held else {
            return Err(RepositoryError::internal(
                "a keyed write holds no transaction",
            ));
        };
        let Some(tx) = held.tx.lock().await.take() else {
            return Err(RepositoryError::internal(
                "the write's transaction has ended",
            ));
        };
        if held.lost_a_write() {
            // A write was rolled back with a failed statement after it: the
            // answer may claim it. Nothing lands, and a retry runs again.
            if let Err(e) = tx.rollback().await {
                tracing::warn!(error = %e, "a keyed write's transaction did not roll back cleanly");
            }
            release::<DB>(&self.view.pool, &self.keys, &self.name, &self.owner).await;
            return Err(RepositoryError::internal(
                "a write of this keyed request was rolled back with a later failed statement",
            ));
        }
        // A write stamped its rows before this commit: past half the
        // margin the reads' dates allow for, it must not land (its stamp
        // could be under a date already sent for the state before it).
        let deadline = held.deadline_millis();
        let outcome = record(
            tx,
            &self.view.pool,
            &self.keys,
            &self.name,
            &self.owner,
            response,
            deadline,
        )
        .await;
        outcome.map_err(map_error)
    }

    async fn abandon(self: Box<Self>) {
        if let Some(held) = &self.view.held {
            if let Some(tx) = held.tx.lock().await.take() {
                if let Err(e) = tx.rollback().await {
                    tracing::warn!(error = %e, "an abandoned keyed write did not roll back cleanly");
                }
            }
        }
        release::<DB>(&self.view.pool, &self.keys, &self.name, &self.owner).await;
    }
}
