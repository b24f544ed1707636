//! What every statement carries besides its values: the id and the
//! scope's value bound for the key, and a write refused outside the scope.

use sqlx::error::BoxDynError;

use super::dialect::Backend;
use super::error::outside_scope;
use super::model::SqlModel;
use super::repository::SqlRepository;
use crate::repository::RepositoryError;

impl<DB, M> SqlRepository<DB, M>
where
    DB: Backend,
    M: SqlModel<DB>,
{
    /// Binds what [`Statements::key`] wrote: the id, and the scope's value.
    pub(super) fn bind_key(&self, args: &mut DB::Arguments, id: &M::Id) -> Result<(), BoxDynError> {
        M::bind_id(id, args)?;
        self.bind_scope(args)
    }

    /// Binds what [`Statements::scope_condition`] wrote.
    pub(super) fn bind_scope(&self, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
        if let Some(state) = &self.scope {
            for _ in 0..self.statements.scope_binds() {
                M::bind_scope(state.scope.value(), args)?;
            }
        }
        Ok(())
    }

    /// Binds what [`Statements::tomb_key`] wrote: the id, and the declared
    /// scope's value.
    pub(super) fn bind_tomb_key(
        &self,
        args: &mut DB::Arguments,
        id: &M::Id,
    ) -> Result<(), BoxDynError> {
        M::bind_id(id, args)?;
        if self.statements.tomb_scope().is_some() {
            self.bind_scope(args)?;
        }
        Ok(())
    }

    /// The declared scope's value, where the tombstone table is keyed by it.
    pub(super) fn bind_tomb_scope(&self, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
        match (&self.scope, self.statements.tomb_scope()) {
            (Some(state), Some(_)) => M::bind_scope(state.scope.value(), args),
            _ => Ok(()),
        }
    }

    /// Refuses an operation without a scope on a model that declares one.
    pub(super) fn require_scope(&self) -> Result<(), RepositoryError<M>> {
        match (M::SCOPE_COLUMN, &self.scope) {
            (Some(column), None) => Err(crate::repository::scope::missing_scope(column)),
            _ => Ok(()),
        }
    }

    pub(super) fn key_args(&self, id: &M::Id) -> Result<DB::Arguments, BoxDynError> {
        let mut args = DB::Arguments::default();
        self.bind_key(&mut args, id)?;
        Ok(args)
    }

    /// A write of `model` in a scoped view: a declared scope's field is
    /// filled from the scope (whatever the client sent); a scope the model
    /// does not declare must already hold.
    pub(super) fn scoped_model(&self, mut model: M) -> Result<M, RepositoryError<M>> {
        self.require_scope()?;
        match &self.scope {
            Some(state) if state.declared => {
                if model.set_scope_value(state.scope.value()) {
                    Ok(model)
                } else {
                    Err(RepositoryError::internal(
                        "the model refused its own declared scope's value",
                    ))
                }
            }
            Some(state) if !(state.contains)(&state.scope, &model) => Err(outside_scope()),
            _ => Ok(model),
        }
    }
}
