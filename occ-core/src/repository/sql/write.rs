//! The write path: each write one conditional statement (MariaDB: one
//! transaction), and the read that explains a miss as 404, 412 or a merge
//! conflict.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::error::{BoxDynError, ErrorKind};
use sqlx::SqlStr;

use super::conn::{settle, stamped};
use super::dialect::{Backend, Dialect};
use super::error::{bind_error, map_error, outside_scope, version_arg};
use super::model::{MemberBinding, SqlModel};
use super::repository::SqlRepository;
use super::statements::{check_of, finish, Check};
use crate::repository::{Repository, RepositoryError, WriteCondition};
use crate::versioned::VersionNumber;

impl<DB, M> SqlRepository<DB, M>
where
    DB: Backend,
    M: SqlModel<DB>,
    M::Id: Clone,
{
    /// A write that changes nothing: the current state when `condition`
    /// holds on it, else 412 with it (or 404).
    pub(super) async fn unchanged(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        let current = Self::fetch(
            &mut *self.conn().await?,
            self.statements.select.clone(),
            self.key_args(id),
        )
        .await?
        .ok_or(RepositoryError::NotFound)?;
        let met = match condition {
            // Merging: no member is set, so none can conflict; the version
            // must only have been reached.
            WriteCondition::UnchangedSince(since) if self.statements.field_versions.is_some() => {
                current.version() >= *since
            }
            _ => condition.is_met_by(&current),
        };
        if met {
            Ok(current)
        } else {
            Err(RepositoryError::PreconditionFailed {
                current: Box::new(current),
            })
        }
    }

    /// After a conditional statement touched no row: 404, or 412 with the
    /// current state, or "exhausted" when the counter is at its end. Read
    /// on the write's connection, and in its transaction where it has one
    /// (MariaDB's `UPDATE`, a delete with tombstones): no other
    /// connection is taken from the pool for it.
    pub(super) async fn explain_miss(
        &self,
        conn: &mut DB::Connection,
        id: &M::Id,
        for_delete: bool,
    ) -> RepositoryError<M> {
        match Self::fetch(conn, self.statements.select.clone(), self.key_args(id)).await {
            Ok(None) => RepositoryError::NotFound,
            // Deleting needs no next version.
            Ok(Some(current)) if !for_delete && current.next_version().is_none() => {
                RepositoryError::VersionExhausted
            }
            Ok(Some(current)) => RepositoryError::PreconditionFailed {
                current: Box::new(current),
            },
            Err(e) => e,
        }
    }

    /// A condition no row can meet (a version the counter cannot hold):
    /// explained as a miss, on a connection of its own.
    async fn explain_unmet(&self, id: &M::Id, for_delete: bool) -> RepositoryError<M> {
        match self.conn().await {
            Ok(mut conn) => self.explain_miss(&mut conn, id, for_delete).await,
            Err(e) => e,
        }
    }

    /// Runs an `UPDATE` built for `check`, with its values bound by
    /// `args`, and returns the row written (or explains the miss).
    pub(super) async fn write(
        &self,
        id: &M::Id,
        sql: SqlStr,
        args: Result<DB::Arguments, BoxDynError>,
        merging: Option<(i64, &[&'static str])>,
    ) -> Result<M, RepositoryError<M>> {
        let explain = async |conn: &mut DB::Connection| match merging {
            Some((since, set)) => self.explain_merge_miss(conn, id, since, set).await,
            None => self.explain_miss(conn, id, false).await,
        };
        let mut conn = self.conn().await?;
        let written = if DB::DIALECT.has_returning() {
            match Self::fetch(&mut *conn, sql, args).await? {
                Some(row) => row,
                None => return Err(explain(&mut conn).await),
            }
        } else {
            // MySQL: the UPDATE and the read of its result (or of what
            // refused it) in one transaction. Every successful UPDATE
            // changes the version, so a matched row is always an affected
            // row.
            let args = args.map_err(bind_error)?;
            let mut tx = conn.atomic().await.map_err(map_error)?;
            let written = async {
                let done = DB::execute(&mut tx, sql, args).await.map_err(map_error)?;
                if DB::rows_affected(&done) != 1 {
                    return Err(explain(&mut tx).await);
                }
                Self::fetch(&mut *tx, self.statements.select.clone(), self.key_args(id))
                    .await?
                    .ok_or_else(|| RepositoryError::internal("the written row was not read back"))
            }
            .await;
            settle(tx, written).await?
        };
        Ok(stamped(self.held.as_ref(), written))
    }

    /// `UnchangedSince(since)` for a write of the columns `set`: with
    /// companion columns, the merging check and its values; `None` when
    /// the model has none (the condition is then strict).
    pub(super) fn merging_check(
        &self,
        condition: &WriteCondition<M::Version>,
        set: &[&str],
    ) -> Option<(Check, Vec<i64>)> {
        let WriteCondition::UnchangedSince(since) = condition else {
            return None;
        };
        let st = &self.statements;
        st.field_versions?;
        let since = since.to_i64().unwrap_or(-1);
        let n = set
            .iter()
            .filter(|c| st.field_version_of(c).is_some())
            .count();
        Some((Check::UnchangedSince(n), vec![since; n + 1]))
    }

    /// After a merging write touched no row: 404, or the members of `set`
    /// written after `since` (a merge conflict), or 412 when none was (a
    /// version the resource has not reached, an exhausted counter).
    pub(super) async fn explain_merge_miss(
        &self,
        conn: &mut DB::Connection,
        id: &M::Id,
        since: i64,
        set: &[&'static str],
    ) -> RepositoryError<M> {
        let st = &self.statements;
        let sql = finish(st.select_fields_sql());
        let args = match self.key_args(id) {
            Ok(args) => args,
            Err(e) => return bind_error(e),
        };
        let row = match DB::fetch_optional(conn, sql, args).await {
            Ok(Some(row)) => row,
            Ok(None) => return RepositoryError::NotFound,
            Err(e) => return map_error(e),
        };
        let current = match M::from_row(&row) {
            Ok(current) => current,
            Err(e) => return map_error(e),
        };
        if current.next_version().is_none() {
            return RepositoryError::VersionExhausted;
        }
        let mut conflicts = Vec::new();
        for column in set {
            let Some(companion) = st.field_version_of(column) else {
                continue;
            };
            match DB::int(&row, companion) {
                Ok(written) if written > since => conflicts.push(st.member_of(column)),
                Ok(_) => {}
                Err(e) => return map_error(e),
            }
        }
        conflicts.sort();
        if conflicts.is_empty() {
            RepositoryError::PreconditionFailed {
                current: Box::new(current),
            }
        } else {
            RepositoryError::MergeConflict {
                current: Box::new(current),
                conflicts,
            }
        }
    }

    /// `UnmodifiedSince` on a model without a modification-time column (a
    /// hand-written [`SqlModel`] that keeps its time elsewhere): read,
    /// check, and swap on the version read. With the column, the date goes
    /// into the write's `WHERE` clause instead.
    pub(super) async fn date_condition(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
    ) -> Result<WriteCondition<M::Version>, RepositoryError<M>>
    where
        M::Id: Sync,
    {
        if !matches!(condition, WriteCondition::UnmodifiedSince(_))
            || self.statements.last_modified.is_some()
        {
            return Ok(condition.clone());
        }
        let current = Self::fetch(
            &mut *self.conn().await?,
            self.statements.select.clone(),
            self.key_args(id),
        )
        .await?
        .ok_or(RepositoryError::NotFound)?;
        if condition.is_met_by(&current) {
            Ok(WriteCondition::VersionIn(vec![current.version()]))
        } else {
            Err(RepositoryError::PreconditionFailed {
                current: Box::new(current),
            })
        }
    }

    pub(super) async fn sql_update(
        &self,
        model: M,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        let model = self.scoped_model(model)?;
        let st = &self.statements;
        let condition = self.date_condition(model.id(), condition).await?;
        let dated = st.last_modified.is_some();
        let merging = self.merging_check(&condition, st.data);
        let Some((check, versions)) = merging.clone().or_else(|| check_of(&condition, dated))
        else {
            return Err(self.explain_unmet(model.id(), false).await);
        };
        let merging = merging.map(|(_, v)| (v[0], st.data));
        let args = (|| {
            let mut args = DB::Arguments::default();
            model.bind_data(&mut args)?;
            self.bind_key(&mut args, model.id())?;
            for v in &versions {
                DB::bind_int(&mut args, *v)?;
            }
            Ok(args)
        })();
        if check == Check::VersionIn(1) {
            self.write(model.id(), st.update_one.clone(), args, None)
                .await
        } else {
            let sql = st.update_sql(st.data, check);
            self.write(model.id(), finish(sql), args, merging).await
        }
    }

    pub(super) async fn sql_merge_patch(
        &self,
        id: &M::Id,
        patch: &serde_json::Value,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>>
    where
        M: Serialize + DeserializeOwned,
    {
        self.require_scope()?;
        let serde_json::Value::Object(members) = patch else {
            return crate::repository::merge_by_swap(self, id, patch, condition).await;
        };
        let dated = self.statements.last_modified.is_some();
        if matches!(condition, WriteCondition::UnmodifiedSince(_)) && !dated {
            return crate::repository::merge_by_swap(self, id, patch, condition).await;
        }
        let mut args = DB::Arguments::default();
        let mut set = Vec::with_capacity(members.len());
        for (member, value) in members {
            match M::bind_member(id, member, value, &mut args) {
                // The scope's column, under whatever member name: checked on
                // the column, never on the name. A declared scope is never
                // written by a patch (the derive ignores its member); a
                // hand-written mapping that binds it is refused.
                MemberBinding::Column(column)
                    if self.scope.as_ref().is_some_and(|state| {
                        // Column names are case-insensitive on MariaDB and SQLite.
                        state.scope.column().eq_ignore_ascii_case(column)
                            && (state.declared || !state.scope.matches_json(value))
                    }) =>
                {
                    return Err(outside_scope());
                }
                MemberBinding::Column(column) => set.push(column),
                MemberBinding::Unchanged => {}
                MemberBinding::Invalid(why) => return Err(RepositoryError::Invalid(why)),
                MemberBinding::Unsupported => {
                    return crate::repository::merge_by_swap(self, id, patch, condition).await
                }
                MemberBinding::Failed(e) => return Err(bind_error(e)),
            }
        }
        if set.is_empty() {
            // Nothing to write (only members the server keeps, or the id
            // repeated): the state as it is, if the condition holds, and
            // no new version to refuse other clients' tags.
            return self.unchanged(id, condition).await;
        }
        let merging = self.merging_check(condition, &set);
        let Some((check, versions)) = merging.clone().or_else(|| check_of(condition, dated)) else {
            return Err(self.explain_unmet(id, false).await);
        };
        let merging = merging.map(|(_, v)| (v[0], set.as_slice()));
        let bound = (|| {
            self.bind_key(&mut args, id)?;
            for v in &versions {
                DB::bind_int(&mut args, *v)?;
            }
            Ok(args)
        })();
        let sql = self.statements.update_sql(&set, check);
        self.write(id, finish(sql), bound, merging).await
    }

    pub(super) async fn sql_create(&self, model: M) -> Result<M, RepositoryError<M>> {
        let model = self.scoped_model(model)?;
        let st = &self.statements;
        let version = version_arg(model.version())?;
        let sql = st.insert_sql(true, true);
        let args = (|| {
            let mut args = DB::Arguments::default();
            let pg_tomb = st.tombstones.is_some() && DB::DIALECT == Dialect::Postgres;
            if pg_tomb {
                // The claimed tombstone: its key, and the version.
                self.bind_tomb_scope(&mut args)?;
                M::bind_id(model.id(), &mut args)?;
                DB::bind_int(&mut args, version)?;
            }
            // The version expression: the version alone, or (SQLite,
            // MariaDB/MySQL) the version, the tombstone's key and the
            // version again (see `version_value`).
            let bind_version = |args: &mut DB::Arguments| -> Result<(), BoxDynError> {
                DB::bind_int(args, version)?;
                if st.tombstones.is_some() && !pg_tomb {
                    self.bind_tomb_key(args, model.id())?;
                    DB::bind_int(args, version)?;
                }
                Ok(())
            };
            M::bind_id(model.id(), &mut args)?;
            bind_version(&mut args)?;
            model.bind_data(&mut args)?;
            // Each companion column: the version expression again.
            for _ in st.field_versions.unwrap_or(&[]) {
                bind_version(&mut args)?;
            }
            Ok(args)
        })();
        let created = if DB::DIALECT.has_returning() {
            Self::fetch(&mut *self.conn().await?, finish(sql), args).await?
        } else {
            let args = args.map_err(bind_error)?;
            let mut conn = self.conn().await?;
            let mut tx = conn.atomic().await.map_err(map_error)?;
            if self.held.is_some() && st.tombstones.is_some() {
                // A keyed write's transaction is READ COMMITTED, which takes
                // no gap lock: the insert's read of a tombstone not yet
                // written would not wait for a delete of the row in flight,
                // and the row would come back at the version given. Lock
                // the row first: such a delete is waited for, and its
                // tombstone is then read.
                let lock = finish(st.select_sql(true));
                match Self::fetch(&mut *tx, lock, self.key_args(model.id())).await {
                    Ok(None) => {}
                    Ok(Some(current)) => {
                        settle(tx, Ok::<_, RepositoryError<M>>(())).await?;
                        return Err(RepositoryError::AlreadyExists {
                            current: Some(Box::new(current)),
                        });
                    }
                    Err(e) => return settle(tx, Err(e)).await,
                }
            }
            match DB::execute(&mut tx, finish(sql), args).await {
                Ok(_) => {
                    let row =
                        Self::fetch(&mut *tx, st.select.clone(), self.key_args(model.id())).await;
                    settle(tx, row).await?
                }
                Err(sqlx::Error::Database(e)) if e.kind() == ErrorKind::UniqueViolation => {
                    settle(tx, Ok::<_, RepositoryError<M>>(())).await.ok();
                    drop(conn);
                    // The primary key (MariaDB names it `'PRIMARY'`, MySQL
                    // `'<table>.PRIMARY'`): the id was taken, even if its
                    // row is deleted before the read below. Another unique
                    // constraint than the key: the client's.
                    if e.message().contains("PRIMARY'") {
                        None
                    } else {
                        match self.get(model.id()).await {
                            Ok(_) => None,
                            Err(RepositoryError::NotFound) => {
                                return Err(map_error(sqlx::Error::Database(e)))
                            }
                            Err(other) => return Err(other),
                        }
                    }
                }
                Err(e) => return settle(tx, Err(map_error(e))).await,
            }
        };
        match created {
            Some(created) => Ok(created),
            None => Err(RepositoryError::AlreadyExists {
                current: self.get(model.id()).await.ok().map(Box::new),
            }),
        }
    }

    pub(super) async fn sql_create_with_new_id(&self, model: M) -> Result<M, RepositoryError<M>> {
        let model = self.scoped_model(model)?;
        let st = &self.statements;
        let version = version_arg(model.version())?;
        let sql = st.insert_sql(false, false);
        let args = (|| {
            let mut args = DB::Arguments::default();
            DB::bind_int(&mut args, version)?;
            model.bind_data(&mut args)?;
            for _ in st.field_versions.unwrap_or(&[]) {
                DB::bind_int(&mut args, version)?;
            }
            Ok(args)
        })();
        let created = if DB::DIALECT.has_returning() {
            Self::fetch(&mut *self.conn().await?, finish(sql), args).await?
        } else {
            // MySQL: the id the insert got, read back in its transaction.
            let args = args.map_err(bind_error)?;
            let mut conn = self.conn().await?;
            let mut tx = conn.atomic().await.map_err(map_error)?;
            let row = async {
                let done = DB::execute(&mut tx, finish(sql), args)
                    .await
                    .map_err(map_error)?;
                let id = DB::last_insert_id(&done)
                    .and_then(M::id_from_assigned)
                    .ok_or_else(|| {
                        RepositoryError::internal(
                            "the database assigned no id the model can hold: is the id column AUTO_INCREMENT?",
                        )
                    })?;
                Self::fetch(&mut *tx, st.select.clone(), self.key_args(&id)).await
            }
            .await;
            settle(tx, row).await?
        };
        created.ok_or_else(|| RepositoryError::internal("the inserted row was not returned"))
    }

    pub(super) async fn sql_delete(
        &self,
        id: &M::Id,
        condition: &WriteCondition<M::Version>,
    ) -> Result<M, RepositoryError<M>> {
        self.require_scope()?;
        let st = &self.statements;
        let condition = self.date_condition(id, condition).await?;
        let Some((check, versions)) = check_of(&condition, st.last_modified.is_some()) else {
            return Err(self.explain_unmet(id, true).await);
        };
        let args = (|| {
            let mut args = DB::Arguments::default();
            if st.tombstones.is_some() && DB::DIALECT == Dialect::Postgres {
                // The tombstone's row, locked first (see `delete_sql`).
                self.bind_tomb_key(&mut args, id)?;
            }
            self.bind_key(&mut args, id)?;
            for v in &versions {
                DB::bind_int(&mut args, *v)?;
            }
            Ok(args)
        })();
        let mut conn = self.conn().await?;
        let returning = self
            .server
            .deletes_returning::<DB>(&mut conn)
            .await
            .map_err(map_error)?;
        let sql = match (check, returning) {
            (Check::VersionIn(1), true) => st.delete_one.clone(),
            (Check::VersionIn(1), false) => st.lock_one.clone(),
            _ => finish(st.delete_sql(check, returning)),
        };
        // PostgreSQL records the tombstone in the delete's statement.
        let tomb = st.tombstones.filter(|_| DB::DIALECT != Dialect::Postgres);
        if returning && tomb.is_none() {
            // One statement.
            return match Self::fetch(&mut *conn, sql, args).await? {
                Some(deleted) => Ok(deleted),
                None => Err(self.explain_miss(&mut conn, id, true).await),
            };
        }
        // The delete and its tombstone in one transaction; on MySQL, the
        // row locked if it meets the condition, then deleted.
        let mut tx = conn.atomic().await.map_err(map_error)?;
        let deleted = async {
            if let (Some(tomb), Dialect::MySql) = (tomb, DB::DIALECT) {
                // The tombstone's row first, in the order a create (whose
                // subquery reads it with a shared lock) takes them, so that
                // the two do not deadlock where the tombstone exists.
                let mut lock = st.sql();
                lock.push("SELECT ")
                    .ident("version")
                    .push(" FROM ")
                    .ident(tomb)
                    .push(" WHERE ");
                st.tomb_key(&mut lock, None);
                lock.push(" FOR UPDATE");
                let mut args = DB::Arguments::default();
                self.bind_tomb_key(&mut args, id).map_err(bind_error)?;
                DB::fetch_optional(&mut tx, finish(lock), args)
                    .await
                    .map_err(map_error)?;
            }
            let Some(deleted) = Self::fetch(&mut *tx, sql, args).await? else {
                return Err(self.explain_miss(&mut tx, id, true).await);
            };
            if !returning {
                let mut delete = st.sql();
                delete.push("DELETE FROM ").ident(st.table).push(" WHERE ");
                st.key(&mut delete, None);
                let args = self.key_args(id).map_err(bind_error)?;
                DB::execute(&mut tx, finish(delete), args)
                    .await
                    .map_err(map_error)?;
            }
            if let Some(tomb) = tomb {
                self.record_tombstone(&mut tx, tomb, &deleted).await?;
            }
            Ok(deleted)
        }
        .await;
        settle(tx, deleted).await
    }

    /// Keeps the version of a row just deleted as its id's tombstone, in
    /// the delete's transaction (SQLite, MariaDB/MySQL).
    pub(super) async fn record_tombstone(
        &self,
        conn: &mut DB::Connection,
        tomb: &str,
        deleted: &M,
    ) -> Result<(), RepositoryError<M>> {
        let version = version_arg(deleted.version())?;
        let args = (|| {
            let mut args = DB::Arguments::default();
            self.bind_tomb_scope(&mut args)?;
            M::bind_id(deleted.id(), &mut args)?;
            DB::bind_int(&mut args, version)?;
            Ok(args)
        })()
        .map_err(bind_error)?;
        let sql = self.statements.tombstone_sql(tomb);
        DB::execute(conn, finish(sql), args)
            .await
            .map_err(map_error)?;
        Ok(())
    }
}
