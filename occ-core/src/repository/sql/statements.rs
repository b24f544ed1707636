//! The statements of one model, built once per repository: reads, the
//! conditional writes with their `WHERE` clauses, and the tombstones'.

use std::fmt;

use sqlx::{AssertSqlSafe, SqlStr};

use super::dialect::{kept, Backend, Dialect, SqlText};
use super::epoch::micros_since_epoch;
use super::model::SqlModel;
use crate::repository::WriteCondition;
use crate::versioned::VersionNumber;

/// The statements of one model, built once per repository.
pub(super) struct Statements {
    pub(super) dialect: Dialect,
    pub(super) table: &'static str,
    pub(super) id: &'static str,
    pub(super) version: &'static str,
    /// Every column: id, version, data, and the modification time.
    pub(super) columns: Vec<&'static str>,
    /// The columns a write binds.
    pub(super) data: &'static [&'static str],
    /// The modification time's column, set from the database's clock.
    pub(super) last_modified: Option<&'static str>,
    /// The scope's column, which every statement carries after the id.
    pub(super) scope: Option<ScopeColumn>,
    /// The tombstone table, if the model has one.
    pub(super) tombstones: Option<&'static str>,
    /// The companion version column of each data column (merging).
    pub(super) field_versions: Option<&'static [&'static str]>,
    /// The JSON member of each data column.
    pub(super) members: &'static [&'static str],
    pub(super) max_version: i64,
    pub(super) select: SqlStr,
    /// `select`, and the statement's time when the model has a
    /// modification time (a GET's `Last-Modified` is rounded with it).
    pub(super) select_dated: SqlStr,
    pub(super) select_version: SqlStr,
    pub(super) update_one: SqlStr,
    /// The delete of a row at one version, returning it.
    pub(super) delete_one: SqlStr,
    /// MySQL, which cannot return a deleted row: the locking read of a
    /// row at one version, before its delete.
    pub(super) lock_one: SqlStr,
    pub(super) changed_one: SqlStr,
    pub(super) list_first: SqlStr,
    pub(super) list_after: SqlStr,
}

/// The column of a scoped view's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ScopeColumn {
    pub(super) name: String,
    /// The model declares it (`#[occ(scope)]`): rows are keyed by (scope,
    /// id) everywhere, the tombstone table's included, and the column may
    /// be part of the primary key.
    pub(super) declared: bool,
}

/// A column, qualified by a table alias when there is one.
fn column(sql: &mut SqlText, alias: Option<&str>, name: &str) {
    match alias {
        Some(alias) => {
            sql.qualified(alias, name);
        }
        None => {
            sql.ident(name);
        }
    }
}

/// What a write's `WHERE` clause checks besides the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Check {
    Nothing,
    VersionIn(usize),
    VersionNotIn(usize),
    /// Merging: the version is at least the one given, and each of the
    /// first `n` written columns' companion is at most it (the version
    /// bound `n + 1` times).
    UnchangedSince(usize),
    /// The modification time is at or before a date (microseconds since
    /// the epoch, bound as one value), or unknown.
    UnmodifiedSince,
}

impl Statements {
    pub(super) fn new<DB: Backend, M: SqlModel<DB>>(scope: Option<String>) -> Self {
        let scope = scope.map(|name| ScopeColumn {
            declared: M::SCOPE_COLUMN == Some(name.as_str()),
            name,
        });
        let mut columns = vec![M::ID_COLUMN, M::VERSION_COLUMN];
        columns.extend_from_slice(M::DATA_COLUMNS);
        columns.extend(M::LAST_MODIFIED_COLUMN);
        let mut st = Self {
            dialect: DB::DIALECT,
            table: M::TABLE,
            id: M::ID_COLUMN,
            version: M::VERSION_COLUMN,
            columns,
            data: M::DATA_COLUMNS,
            last_modified: M::LAST_MODIFIED_COLUMN,
            scope,
            tombstones: M::TOMBSTONE_TABLE,
            field_versions: M::FIELD_VERSION_COLUMNS
                .filter(|columns| columns.len() == M::DATA_COLUMNS.len()),
            members: M::DATA_MEMBERS,
            max_version: <M::Version as VersionNumber>::MAX_I64,
            select: SqlStr::from_static(""),
            select_dated: SqlStr::from_static(""),
            select_version: SqlStr::from_static(""),
            update_one: SqlStr::from_static(""),
            delete_one: SqlStr::from_static(""),
            lock_one: SqlStr::from_static(""),
            changed_one: SqlStr::from_static(""),
            list_first: SqlStr::from_static(""),
            list_after: SqlStr::from_static(""),
        };
        st.select = kept(st.select_sql(false).text);
        let mut dated = st.sql();
        dated.push("SELECT ").idents(None, &st.columns);
        st.push_statement_time(&mut dated);
        dated.push(" FROM ").ident(st.table).push(" WHERE ");
        st.key(&mut dated, None);
        st.select_dated = kept(dated.text);
        let mut version = st.sql();
        version.push("SELECT ").qualified("occ_k", st.version);
        if let Some(column) = st.last_modified {
            version
                .push(", ")
                .epoch_of("occ_k", column)
                .push(" AS occ_current_modified");
        }
        st.push_statement_time(&mut version);
        version.push(" FROM ").ident(st.table).push(" occ_k WHERE ");
        st.key(&mut version, Some("occ_k"));
        st.select_version = kept(version.text);
        st.update_one = kept(st.update_sql(st.data, Check::VersionIn(1)).text);
        st.delete_one = kept(st.delete_sql(Check::VersionIn(1), true).text);
        if st.dialect == Dialect::MySql {
            st.lock_one = kept(st.delete_sql(Check::VersionIn(1), false).text);
        }
        st.changed_one = kept(st.changed_sql(1).text);
        st.list_first = kept(st.list_sql(false).text);
        st.list_after = kept(st.list_sql(true).text);
        st
    }

    pub(super) fn sql(&self) -> SqlText {
        SqlText::new(self.dialect)
    }

    /// `, <the statement's time> AS occ_as_of` for a model with a
    /// modification time: a read's [`Snapshot::as_of`].
    pub(super) fn push_statement_time(&self, sql: &mut SqlText) {
        if self.last_modified.is_some() {
            sql.push(", ").statement_time().push(" AS occ_as_of");
        }
    }

    /// `id = ?`, and `AND scope = ?` in a scoped repository: bound by
    /// [`SqlRepository::bind_key`].
    pub(super) fn key(&self, sql: &mut SqlText, alias: Option<&str>) {
        column(sql, alias, self.id);
        sql.push(" = ").param();
        if self.scope.is_some() {
            sql.push(" AND ");
            self.scope_condition(sql, alias);
        }
    }

    /// `scope = ?`, compared byte for byte whatever the column's
    /// collation: SQLite's `COLLATE BINARY` (a column may be declared
    /// `NOCASE`), and on MariaDB/MySQL, whose default collations ignore
    /// case, accents and trailing spaces, the binary strings compared too
    /// (the plain comparison first, so that the key's index is used). Its
    /// value is bound [`scope_binds`](Self::scope_binds) times. This keeps
    /// reads exact; the table's unique keys still compare with the
    /// column's collation, which `verify()` checks on PostgreSQL and
    /// MariaDB (SQLite's catalog does not say it: declare the column
    /// without `NOCASE` or `RTRIM`).
    pub(super) fn scope_condition(&self, sql: &mut SqlText, alias: Option<&str>) {
        let Some(scope) = &self.scope else { return };
        column(sql, alias, &scope.name);
        sql.push(" = ").param();
        match self.dialect {
            Dialect::Sqlite => {
                sql.push(" COLLATE BINARY");
            }
            Dialect::MySql => {
                sql.push(" AND CAST(");
                column(sql, alias, &scope.name);
                sql.push(" AS BINARY) = CAST(").param().push(" AS BINARY)");
            }
            Dialect::Postgres => {}
        }
    }

    /// How many times [`scope_condition`](Self::scope_condition) binds the
    /// scope's value.
    pub(super) fn scope_binds(&self) -> usize {
        match (&self.scope, self.dialect) {
            (None, _) => 0,
            (Some(_), Dialect::MySql) => 2,
            (Some(_), _) => 1,
        }
    }

    /// The declared scope's column when the tombstone table is keyed by
    /// (scope, id) too.
    pub(super) fn tomb_scope(&self) -> Option<&str> {
        self.tombstones?;
        self.scope
            .as_ref()
            .filter(|s| s.declared)
            .map(|s| s.name.as_str())
    }

    /// The tombstone table's key columns: `id`, after the declared scope.
    pub(super) fn tomb_key_columns(&self) -> Vec<&str> {
        self.tomb_scope().into_iter().chain(["id"]).collect()
    }

    /// `id = ?` in the tombstone table, and `AND scope = ?` (compared as
    /// [`scope_condition`](Self::scope_condition) compares it) for a
    /// declared scope: bound by [`SqlRepository::bind_tomb_key`].
    pub(super) fn tomb_key(&self, sql: &mut SqlText, alias: Option<&str>) {
        column(sql, alias, "id");
        sql.push(" = ").param();
        if self.tomb_scope().is_some() {
            sql.push(" AND ");
            self.scope_condition(sql, alias);
        }
    }

    /// `SELECT <columns> FROM t WHERE id = ?`, locking the row on MySQL
    /// when `for_update`.
    pub(super) fn select_sql(&self, for_update: bool) -> SqlText {
        let mut sql = self.sql();
        sql.push("SELECT ")
            .idents(None, &self.columns)
            .push(" FROM ")
            .ident(self.table)
            .push(" WHERE ");
        self.key(&mut sql, None);
        if for_update {
            sql.push(" FOR UPDATE");
        }
        sql
    }

    /// The companion version column of a data column.
    pub(super) fn field_version_of(&self, column: &str) -> Option<&'static str> {
        let i = self.data.iter().position(|c| *c == column)?;
        self.field_versions.and_then(|f| f.get(i).copied())
    }

    /// The JSON member of a data column.
    pub(super) fn member_of(&self, column: &str) -> String {
        self.data
            .iter()
            .position(|c| *c == column)
            .and_then(|i| self.members.get(i))
            .map_or_else(|| column.to_owned(), |m| (*m).to_owned())
    }

    /// `SELECT <columns>, <companions> FROM t WHERE id = ?`: the read that
    /// explains a merging write's miss.
    pub(super) fn select_fields_sql(&self) -> SqlText {
        let mut columns = self.columns.clone();
        columns.extend(self.field_versions.unwrap_or(&[]));
        let mut sql = self.sql();
        sql.push("SELECT ")
            .idents(None, &columns)
            .push(" FROM ")
            .ident(self.table)
            .push(" WHERE ");
        self.key(&mut sql, None);
        sql
    }

    pub(super) fn check_sql(&self, sql: &mut SqlText, check: Check, set: &[&str]) {
        let (op, n) = match check {
            Check::Nothing => return,
            Check::UnchangedSince(_) => {
                sql.push(" AND ").ident(self.version).push(" >= ").param();
                for column in set {
                    if let Some(companion) = self.field_version_of(column) {
                        sql.push(" AND ").ident(companion).push(" <= ").param();
                    }
                }
                return;
            }
            Check::VersionIn(n) => (" IN (", n),
            Check::VersionNotIn(n) => (" NOT IN (", n),
            Check::UnmodifiedSince => {
                // A row without a time passes, as in memory: the condition
                // is ignored when there is no modification date (RFC 9110
                // §13.1.4).
                if let Some(column) = self.last_modified {
                    sql.push(" AND (")
                        .ident(column)
                        .push(" IS NULL OR ")
                        .ident(column)
                        .push(" <= ")
                        .epoch_param()
                        .push(")");
                }
                return;
            }
        };
        sql.push(" AND ")
            .ident(self.version)
            .push(op)
            .params(n)
            .push(")");
    }

    pub(super) fn returning(&self, sql: &mut SqlText) {
        if self.dialect.has_returning() {
            sql.push(" RETURNING ").idents(None, &self.columns);
        }
    }

    /// `UPDATE t SET <set> = ?, version = version + 1 WHERE id = ? AND
    /// version < max <check> RETURNING …`: values bound in that order.
    pub(super) fn update_sql(&self, set: &[&str], check: Check) -> SqlText {
        let mut sql = self.sql();
        sql.push("UPDATE ").ident(self.table).push(" SET ");
        for column in set {
            sql.ident(column).push(" = ").param().push(", ");
            if let Some(companion) = self.field_version_of(column) {
                // Before `version`'s own assignment: MySQL assigns in
                // order, and this must see the old version.
                sql.ident(companion)
                    .push(" = ")
                    .ident(self.version)
                    .push(" + 1, ");
            }
        }
        if let Some(column) = self.last_modified {
            sql.ident(column).push(" = ").clock_after(column).push(", ");
        }
        sql.ident(self.version)
            .push(" = ")
            .ident(self.version)
            .push(" + 1 WHERE ");
        self.key(&mut sql, None);
        sql.push(" AND ")
            .ident(self.version)
            .push(&format!(" < {}", self.max_version));
        self.check_sql(&mut sql, check, set);
        self.returning(&mut sql);
        sql
    }

    /// `INSERT INTO t (id, version, data…, modified) VALUES (?, ?, ?…,
    /// clock)`, without the id when the database assigns it, and with
    /// `RETURNING` where there is one. `on_conflict`: a taken id inserts
    /// nothing (and returns no row) instead of failing.
    pub(super) fn insert_sql(&self, with_id: bool, on_conflict: bool) -> SqlText {
        let mut sql = self.sql();
        let mut columns: Vec<&str> = Vec::with_capacity(self.columns.len());
        if with_id {
            columns.push(self.id);
        }
        columns.push(self.version);
        columns.extend_from_slice(self.data);
        let companions = self.field_versions.unwrap_or(&[]);
        columns.extend_from_slice(companions);
        columns.extend(self.last_modified);
        let tombstones = self.tombstones.filter(|_| with_id);
        if let (Some(tomb), Dialect::Postgres) = (tombstones, self.dialect) {
            // Claims the id's tombstone (the version before the given one
            // when there is none): a concurrent delete's is read once it
            // commits, not the statement's snapshot.
            let key = self.tomb_key_columns();
            sql.push("WITH occ_z AS (INSERT INTO ")
                .ident(tomb)
                .push(" AS occ_y (")
                .idents(None, &key)
                .push(", ")
                .ident("version")
                .push(") VALUES (")
                .params(key.len())
                .push(", ")
                .param()
                .push(" - 1) ON CONFLICT (")
                .idents(None, &key)
                .push(") DO UPDATE SET ")
                .ident("version")
                .push(" = ")
                .qualified("occ_y", "version")
                .push(" RETURNING ")
                .qualified("occ_y", "version")
                .push(") ");
        }
        sql.push("INSERT INTO ")
            .ident(self.table)
            .push(" (")
            .idents(None, &columns)
            .push(") VALUES (");
        if with_id {
            sql.param().push(", ");
        }
        self.version_value(&mut sql, tombstones);
        if !self.data.is_empty() {
            sql.push(", ").params(self.data.len());
        }
        // Each companion: the version the row is created with.
        for _ in companions {
            sql.push(", ");
            self.version_value(&mut sql, tombstones);
        }
        if self.last_modified.is_some() {
            sql.push(", ").clock();
        }
        sql.push(")");
        if self.dialect.has_returning() {
            if on_conflict {
                if self.scope.as_ref().is_some_and(|s| s.declared) {
                    // The key may be the id alone or (scope, id): any
                    // conflict on it is a taken id.
                    sql.push(" ON CONFLICT DO NOTHING");
                } else {
                    sql.push(" ON CONFLICT (")
                        .ident(self.id)
                        .push(") DO NOTHING");
                }
            }
            self.returning(&mut sql);
        }
        sql
    }

    /// The version an insert gives the row: the given one, or after the
    /// id's tombstone (PostgreSQL: one parameter, the version; the others
    /// with a tombstone table: the version, the id and the version).
    pub(super) fn version_value(&self, sql: &mut SqlText, tombstones: Option<&str>) {
        match (tombstones, self.dialect) {
            (None, _) => {
                sql.param();
            }
            (Some(_), Dialect::Postgres) => {
                sql.push("GREATEST(")
                    .param()
                    .push(", (SELECT ")
                    .ident("version")
                    .push(" + 1 FROM occ_z))");
            }
            (Some(tomb), dialect) => {
                // The given version, or the one after the tombstone's.
                let (greatest, coalesce) = match dialect {
                    Dialect::Sqlite => ("max(", "coalesce(("),
                    _ => ("GREATEST(", "COALESCE(("),
                };
                sql.push(greatest)
                    .param()
                    .push(", ")
                    .push(coalesce)
                    .push("SELECT ")
                    .qualified("occ_z", "version")
                    .push(" + 1 FROM ")
                    .ident(tomb)
                    .push(" occ_z WHERE ");
                self.tomb_key(sql, Some("occ_z"));
                sql.push("), ").param().push("))");
            }
        }
    }

    /// `DELETE FROM t WHERE id = ? <check> RETURNING …` where the server
    /// has it (`returning`: all but MySQL); else the locking read that
    /// precedes the delete in its transaction.
    pub(super) fn delete_sql(&self, check: Check, returning: bool) -> SqlText {
        let mut sql = self.sql();
        if let (Some(tomb), Dialect::Postgres) = (self.tombstones, self.dialect) {
            // One statement: the delete, and its version kept as the id's
            // tombstone. The tombstone's row is locked before the row to
            // delete (the subquery runs before the delete locks a row), in
            // the order a create takes them, so that the two do not
            // deadlock where the tombstone exists.
            sql.push("WITH occ_l AS (SELECT 1 FROM ")
                .ident(tomb)
                .push(" WHERE ");
            self.tomb_key(&mut sql, None);
            sql.push(" FOR UPDATE), occ_d AS (DELETE FROM ")
                .ident(self.table)
                .push(" WHERE (SELECT count(*) FROM occ_l) >= 0 AND ");
            self.key(&mut sql, None);
            self.check_sql(&mut sql, check, &[]);
            self.returning(&mut sql);
            let key = self.tomb_key_columns();
            sql.push("), occ_z AS (INSERT INTO ")
                .ident(tomb)
                .push(" AS occ_y (")
                .idents(None, &key)
                .push(", ")
                .ident("version")
                .push(") SELECT ");
            if let Some(scope) = self.tomb_scope() {
                sql.qualified("occ_d", scope).push(", ");
            }
            sql.qualified("occ_d", self.id)
                .push(", ")
                .qualified("occ_d", self.version)
                .push(" FROM occ_d ON CONFLICT (")
                .idents(None, &key)
                .push(") DO UPDATE SET ")
                .ident("version")
                .push(" = GREATEST(")
                .qualified("occ_y", "version")
                .push(", EXCLUDED.")
                .ident("version")
                .push(")) SELECT ")
                .idents(Some("occ_d"), &self.columns)
                .push(" FROM occ_d");
        } else if returning {
            sql.push("DELETE FROM ").ident(self.table).push(" WHERE ");
            self.key(&mut sql, None);
            self.check_sql(&mut sql, check, &[]);
            sql.push(" RETURNING ").idents(None, &self.columns);
        } else {
            sql = self.select_sql(false);
            self.check_sql(&mut sql, check, &[]);
            sql.push(" FOR UPDATE");
        }
        sql
    }

    /// `INSERT INTO tomb (id, version) VALUES (?, ?)`, or the larger
    /// version where the id has a tombstone already: after a delete on
    /// SQLite and MariaDB/MySQL, in its transaction.
    pub(super) fn tombstone_sql(&self, tomb: &str) -> SqlText {
        let mut sql = self.sql();
        let key = self.tomb_key_columns();
        sql.push("INSERT INTO ")
            .ident(tomb)
            .push(" (")
            .idents(None, &key)
            .push(", ")
            .ident("version")
            .push(") VALUES (")
            .params(key.len() + 1)
            .push(")");
        if self.dialect == Dialect::MySql {
            sql.push(" ON DUPLICATE KEY UPDATE ")
                .ident("version")
                .push(" = GREATEST(")
                .ident("version")
                .push(", VALUES(")
                .ident("version")
                .push("))");
        } else {
            sql.push(" ON CONFLICT (")
                .idents(None, &key)
                .push(") DO UPDATE SET ")
                .ident("version")
                .push(" = max(")
                .ident("version")
                .push(", excluded.")
                .ident("version")
                .push(")");
        }
        sql
    }

    /// The current version always, the row only when its version is not
    /// one of `n` known ones: a 304 transfers no representation.
    pub(super) fn changed_sql(&self, n: usize) -> SqlText {
        let mut sql = self.sql();
        sql.push("SELECT ")
            .bigint_of("occ_k", self.version)
            .push(" AS occ_current_version, ");
        if let Some(column) = self.last_modified {
            sql.epoch_of("occ_k", column)
                .push(" AS occ_current_modified, ")
                .statement_time()
                .push(" AS occ_as_of, ");
        }
        sql.idents(Some("occ_t"), &self.columns)
            .push(" FROM ")
            .ident(self.table)
            .push(" occ_k LEFT JOIN ")
            .ident(self.table)
            .push(" occ_t ON ")
            .qualified("occ_t", self.id)
            .push(" = ")
            .qualified("occ_k", self.id)
            .push(" AND ");
        if let Some(scope) = &self.scope {
            // The same row: ids may repeat across scopes.
            sql.qualified("occ_t", &scope.name)
                .push(" = ")
                .qualified("occ_k", &scope.name)
                .push(" AND ");
        }
        sql.qualified("occ_t", self.version)
            .push(" NOT IN (")
            .params(n)
            .push(") WHERE ");
        self.key(&mut sql, Some("occ_k"));
        sql
    }

    pub(super) fn list_sql(&self, after: bool) -> SqlText {
        let mut sql = self.sql();
        sql.push("SELECT ")
            .idents(None, &self.columns)
            .push(" FROM ")
            .ident(self.table);
        let mut glue = " WHERE ";
        if self.scope.is_some() {
            sql.push(glue);
            self.scope_condition(&mut sql, None);
            glue = " AND ";
        }
        if after {
            sql.push(glue).ident(self.id).push(" > ").param();
        }
        sql.push(" ORDER BY ")
            .ident(self.id)
            .push(" LIMIT ")
            .param();
        sql
    }
}

impl fmt::Debug for Statements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statements")
            .field("dialect", &self.dialect)
            .field("table", &self.table)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

/// Our statements are built from identifiers quoted by [`SqlText`] and
/// placeholders only; values are always bound.
pub(super) fn finish(sql: SqlText) -> SqlStr {
    sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(sql.text))
}

/// A write condition as SQL: the check and the values to bind (versions,
/// or a date as microseconds since the epoch), or `None` when no row can match
/// (an empty `If-Match` list). `dated`: the table has a modification-time
/// column to compare `UnmodifiedSince` with.
pub(super) fn check_of<V: VersionNumber>(
    condition: &WriteCondition<V>,
    dated: bool,
) -> Option<(Check, Vec<i64>)> {
    // A version beyond i64 is stored nowhere: it can only fail to match,
    // so it is bound as an impossible one.
    let ints = |v: &[V]| v.iter().map(|v| v.to_i64().unwrap_or(-1)).collect();
    match condition {
        WriteCondition::VersionIn(v) if v.is_empty() => None,
        WriteCondition::VersionIn(v) => Some((Check::VersionIn(v.len()), ints(v))),
        WriteCondition::VersionNotIn(v) if v.is_empty() => Some((Check::Nothing, Vec::new())),
        WriteCondition::VersionNotIn(v) => Some((Check::VersionNotIn(v.len()), ints(v))),
        WriteCondition::UnmodifiedSince(since) if dated => {
            // At full precision, as the memory repository compares: an
            // HTTP date is whole seconds, but a date kept from a model
            // read (or a rounded `Last-Modified`) is not.
            Some((Check::UnmodifiedSince, vec![micros_since_epoch(*since)]))
        }
        WriteCondition::Unconditional
        | WriteCondition::Exists
        | WriteCondition::UnmodifiedSince(_) => Some((Check::Nothing, Vec::new())),
        // Resolved by the caller, which knows the columns written
        // (`merging_check`); strict here.
        WriteCondition::UnchangedSince(v) => Some((Check::VersionIn(1), ints(&[*v]))),
    }
}
