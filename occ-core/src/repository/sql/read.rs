//! The read path: a resource, a conditional read that transfers the row
//! only when the client's versions do not match, and a page of a list.

use std::time::SystemTime;

use sqlx::Pool;

use super::dialect::Backend;
use super::epoch::time_of_micros;
use super::error::{bind_error, map_error, stored_version};
use super::model::SqlModel;
use super::repository::SqlRepository;
use super::statements::finish;
use crate::repository::{Fetched, KnownVersions, Page, RepositoryError, Snapshot, COMMIT_MARGIN};
use crate::versioned::VersionNumber;

impl<DB, M> SqlRepository<DB, M>
where
    DB: Backend,
    M: SqlModel<DB>,
    M::Id: Clone,
{
    pub(super) async fn sql_get(&self, id: &M::Id) -> Result<M, RepositoryError<M>> {
        self.require_scope()?;
        Self::fetch(
            &mut *self.conn().await?,
            self.statements.select.clone(),
            self.key_args(id),
        )
        .await?
        .ok_or(RepositoryError::NotFound)
    }

    /// A conditional read, on replica `from` or the repository's own
    /// connection.
    pub(super) async fn sql_read(
        &self,
        from: Option<&Pool<DB>>,
        id: &M::Id,
        known: &KnownVersions<M::Version>,
    ) -> Result<Snapshot<M>, RepositoryError<M>> {
        self.require_scope()?;
        let st = &self.statements;
        let (sql, args) = match known {
            KnownVersions::Any => (st.select_version.clone(), self.key_args(id)),
            KnownVersions::Listed(v) if v.is_empty() => {
                (st.select_dated.clone(), self.key_args(id))
            }
            KnownVersions::Listed(versions) => {
                let sql = if versions.len() == 1 {
                    st.changed_one.clone()
                } else {
                    finish(st.changed_sql(versions.len()))
                };
                let args = (|| {
                    let mut args = DB::Arguments::default();
                    for v in versions {
                        DB::bind_int(&mut args, v.to_i64().unwrap_or(-1))?;
                    }
                    self.bind_key(&mut args, id)?;
                    Ok(args)
                })();
                (sql, args)
            }
        };
        let now = SystemTime::now();
        let row = DB::fetch_optional(
            &mut *self.read_conn(from).await?,
            sql,
            args.map_err(bind_error)?,
        )
        .await
        .map_err(map_error)?
        .ok_or(RepositoryError::NotFound)?;
        let as_of = if st.last_modified.is_some() {
            let micros = DB::int(&row, "occ_as_of").map_err(map_error)?;
            let read = time_of_micros(micros).unwrap_or(now);
            // A write stamped before this read may commit after it.
            read.checked_sub(COMMIT_MARGIN).unwrap_or(read)
        } else {
            // No `Last-Modified` to round.
            now
        };
        let fetched = match known {
            KnownVersions::Any => {
                let version = DB::int(&row, st.version).map_err(map_error)?;
                Fetched::Unchanged {
                    version: stored_version::<M>(version)?,
                    last_modified: self.modified_of(&row)?,
                }
            }
            KnownVersions::Listed(v) if v.is_empty() => {
                Fetched::Changed(M::from_row(&row).map_err(map_error)?)
            }
            KnownVersions::Listed(_) => {
                let current = DB::int(&row, "occ_current_version").map_err(map_error)?;
                // The joined row is NULL exactly when a known version
                // matched. Whatever the column's integer type.
                if DB::is_null(&row, st.version).map_err(map_error)? {
                    Fetched::Unchanged {
                        version: stored_version::<M>(current)?,
                        last_modified: self.modified_of(&row)?,
                    }
                } else {
                    Fetched::Changed(M::from_row(&row).map_err(map_error)?)
                }
            }
        };
        Ok(Snapshot { fetched, as_of })
    }

    /// The modification time a version-only read returned, as
    /// microseconds since the epoch (`NULL` when the row has none).
    pub(super) fn modified_of(
        &self,
        row: &DB::Row,
    ) -> Result<Option<SystemTime>, RepositoryError<M>> {
        if self.statements.last_modified.is_none() {
            return Ok(None);
        }
        let micros = DB::int_or_null(row, "occ_current_modified").map_err(map_error)?;
        Ok(micros.and_then(time_of_micros))
    }

    /// A page, on replica `from` or the repository's own connection.
    pub(super) async fn sql_list(
        &self,
        from: Option<&Pool<DB>>,
        after: Option<&M::Id>,
        limit: u32,
    ) -> Result<Page<M>, RepositoryError<M>> {
        self.require_scope()?;
        let st = &self.statements;
        let (sql, args) = match after {
            None => (st.list_first.clone(), Ok(DB::Arguments::default())),
            Some(_) => (st.list_after.clone(), Ok(DB::Arguments::default())),
        };
        let args = args
            .and_then(|mut args: DB::Arguments| {
                self.bind_scope(&mut args)?;
                if let Some(after) = after {
                    M::bind_id(after, &mut args)?;
                }
                DB::bind_int(&mut args, i64::from(limit))?;
                Ok(args)
            })
            .map_err(bind_error)?;
        let rows = DB::fetch_all(&mut *self.read_conn(from).await?, sql, args)
            .await
            .map_err(map_error)?;
        let full = limit > 0 && rows.len() == usize::try_from(limit).unwrap_or(usize::MAX);
        // A row the model cannot read (written outside occ, or by a type
        // that changed) is left out and logged: it makes its own GET a
        // 500, not every list of its scope.
        let mut items = Vec::with_capacity(rows.len());
        for (position, row) in rows.iter().enumerate() {
            match M::from_row(row) {
                Ok(item) => items.push(item),
                Err(error) => tracing::error!(
                    %error,
                    table = st.table,
                    position,
                    "a listed row cannot be read as the model and is left out of the page"
                ),
            }
        }
        let next_after = if full {
            items.last().map(|m| m.id().clone())
        } else {
            None
        };
        Ok(Page { items, next_after })
    }
}
