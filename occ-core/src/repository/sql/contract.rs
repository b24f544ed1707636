//! [`SqlRepository`] as a [`Repository`]: each operation, run so that a
//! keyed write's held transaction recovers from a failed statement.

use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::conn::stamped;
use super::dialect::Backend;
use super::model::SqlModel;
use super::repository::{ScopeState, SqlRepository};
use super::statements::Statements;
use crate::idempotency::{Fingerprint, IdempotencyKey};
use crate::repository::contract::Claim;
use crate::repository::{
    KnownVersions, Page, Repository, RepositoryError, Scope, Snapshot, WriteCondition,
};

#[async_trait]
impl<DB, M> Repository<M> for SqlRepository<DB, M>
where
    DB: Backend,
    M: SqlModel<DB>,
    M::Id: Clone,
{
    fn keeps_idempotency_keys(&self) -> bool {
        self.keys.is_some()
    }

    async fn claim_key(
        &self,
        key: &IdempotencyKey,
        namespace: &str,
        fingerprint: &Fingerprint,
    ) -> Result<Claim<'_, M>, RepositoryError<M>> {
        match &self.keys {
            Some(keys) => {
                let claim = self.claim_in(keys, key, namespace, fingerprint).await;
                if let Ok(Claim::Replay(_)) = &claim {
                    // The replayed write committed before its answer was
                    // recorded: its read floor is the primary's position now.
                    self.note_write();
                }
                claim
            }
            None => Err(RepositoryError::internal(
                "this repository keeps no idempotency keys: see `with_idempotency_keys`",
            )),
        }
    }

    async fn get(&self, id: &M::Id) -> Result<M, RepositoryError<M>> {
        self.recover(self.sql_get(id).await).await
    }

    async fn read(
        &self,
        id: &M::Id,
        known: &KnownVersions<M::Version>,
    ) -> Result<Snapshot<M>, RepositoryError<M>> {
        self.recover(self.routed_read(id, known).await).await
    }

    async fn create(&self, model: M) -> Result<M, RepositoryError<M>> {
        self.recover(self.sql_create(model).await)
            .await
            .map(|created| self.wrote(stamped(self.held.as_ref(), created)))
    }

    async fn create_with_new_id(&self, model: M) -> Result<M, RepositoryError<M>> {
        self.recover(self.sql_create_with_new_id(model).await)
            .await
            .map(|created| self.wrote(stamped(self.held.as_ref(), created)))
    }

    async fn update(
        &self,
        model: M,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        self.recover(self.sql_update(model, condition).await)
            .await
            .map(|m| self.wrote(m))
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
        self.recover(self.sql_merge_patch(id, patch, condition).await)
            .await
            .map(|m| self.wrote(m))
    }

    async fn delete(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        let deleted = self.recover(self.sql_delete(id, condition).await).await?;
        if let Some(held) = &self.held {
            // It stamped no time, but a later failed statement takes it.
            held.wrote();
        }
        Ok(self.wrote(deleted))
    }

    async fn list(&self, after: Option<&M::Id>, limit: u32) -> Result<Page<M>, RepositoryError<M>> {
        self.recover(self.routed_list(after, limit).await).await
    }

    fn scoped<'a>(
        &'a self,
        scope: &Scope,
    ) -> Result<Box<dyn Repository<M> + 'a>, RepositoryError<M>>
    where
        M: Serialize,
    {
        let (scope, declared) = match M::SCOPE_COLUMN {
            Some(column) => {
                let value = crate::repository::scope::declared_value::<M>(column, scope)?;
                (Scope::new(column, value), true)
            }
            None => (scope.clone(), false),
        };
        let column = scope.column();
        let statements = match (&self.scope, self.scoped.get()) {
            (Some(state), _) => {
                // A view is never scoped again to anything else: it would
                // widen, or move to another tenant.
                crate::repository::scope::same_scope(&state.scope, &scope)?;
                self.statements.clone()
            }
            (None, Some(cached))
                if cached.scope.as_ref().map(|s| s.name.as_str()) == Some(column) =>
            {
                cached.clone()
            }
            _ => {
                let built = Arc::new(Statements::new::<DB, M>(Some(column.to_owned())));
                // The first scope column asked for is kept; others are rare.
                let _ = self.scoped.set(built.clone());
                built
            }
        };
        Ok(Box::new(Self {
            pool: self.pool.clone(),
            held: self.held.clone(),
            keys: self.keys.clone(),
            statements,
            scope: Some(ScopeState {
                scope,
                declared,
                contains: Scope::contains::<M>,
            }),
            scoped: OnceLock::new(),
            replicas: self.replicas.clone(),
            server: self.server.clone(),
            _model: PhantomData,
        }))
    }
}
