//! occ's rules in queries of your own: the condition a request's
//! preconditions put in a `WHERE` clause, and the modification time the
//! database keeps, as SQL text for each dialect. With
//! [`Pipeline::swap`](crate::pipeline::Pipeline::swap), which reads again
//! and evaluates again after a write that touched no row, a hand-written
//! service gets the guarantees of the generated routes with its own
//! statements.

use super::dialect::{Dialect, SqlText};
use super::epoch::micros_since_epoch;
use crate::repository::WriteCondition;
use crate::versioned::VersionNumber;

/// A [`WriteCondition`] as SQL: `text` goes into a `WHERE` clause (after
/// `AND`), and `binds` are bound, in order, where its placeholders are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionSql {
    /// The condition, with placeholders numbered after the statement's
    /// own (`$3`, `?3`, or MySQL's positional `?`).
    pub text: String,
    /// The values of its placeholders: versions, or a date as
    /// microseconds since the epoch.
    pub binds: Vec<i64>,
}

/// The condition a write's `WHERE` clause must hold for `condition` (from
/// [`Pipeline::write_plan`](crate::pipeline::Pipeline::write_plan)), on a
/// table whose version is in `version_column` and, if it has one, whose
/// modification time is in `modified_column`. `params_before` is the
/// number of placeholders before it in the statement.
///
/// ```
/// use occ_core::repository::sql::{condition_sql, Dialect};
/// use occ_core::repository::WriteCondition;
///
/// let sql = condition_sql(Dialect::Postgres, &WriteCondition::VersionIn(vec![3u64, 4]), "version", None, 2);
/// assert_eq!(sql.text, r#""version" IN ($3, $4)"#);
/// assert_eq!(sql.binds, [3, 4]);
/// // `If-Match: *`: the row the statement found exists.
/// let any = condition_sql(Dialect::MySql, &WriteCondition::<u64>::Exists, "version", None, 0);
/// assert_eq!(any.text, "1 = 1");
/// ```
pub fn condition_sql<V: VersionNumber>(
    dialect: Dialect,
    condition: &WriteCondition<V>,
    version_column: &str,
    modified_column: Option<&str>,
    params_before: usize,
) -> ConditionSql {
    condition_on(
        dialect,
        condition,
        Validator::Column(version_column),
        modified_column,
        params_before,
    )
}

/// Where a condition finds the value its tags name.
enum Validator<'a> {
    /// A version column.
    Column(&'a str),
    /// An expression, such as a content hash.
    Expression(&'a str),
}

fn condition_on<V: VersionNumber>(
    dialect: Dialect,
    condition: &WriteCondition<V>,
    validator: Validator<'_>,
    modified_column: Option<&str>,
    params_before: usize,
) -> ConditionSql {
    // A version beyond i64 is stored nowhere: bound as an impossible one.
    let ints = |v: &[V]| -> Vec<i64> { v.iter().map(|v| v.to_i64().unwrap_or(-1)).collect() };
    let mut sql = SqlText::new(dialect).after_params(params_before);
    let validator = |sql: &mut SqlText| match validator {
        Validator::Column(column) => {
            sql.ident(column);
        }
        Validator::Expression(expression) => {
            sql.push(expression);
        }
    };
    let binds = match condition {
        WriteCondition::VersionIn(v) | WriteCondition::VersionNotIn(v) if !v.is_empty() => {
            let op = if matches!(condition, WriteCondition::VersionIn(_)) {
                " IN ("
            } else {
                " NOT IN ("
            };
            validator(&mut sql);
            sql.push(op).params(v.len()).push(")");
            ints(v)
        }
        // An empty `If-Match` list matches nothing.
        WriteCondition::VersionIn(_) => {
            sql.push("1 = 0");
            Vec::new()
        }
        // Strict where no per-member versions are kept.
        WriteCondition::UnchangedSince(v) => {
            validator(&mut sql);
            sql.push(" IN (").param().push(")");
            ints(&[*v])
        }
        WriteCondition::UnmodifiedSince(since) => match modified_column {
            // A row without a time passes (RFC 9110 §13.1.4), compared at
            // full precision.
            Some(column) => {
                sql.push("(")
                    .ident(column)
                    .push(" IS NULL OR ")
                    .ident(column)
                    .push(" <= ")
                    .epoch_param()
                    .push(")");
                vec![micros_since_epoch(*since)]
            }
            // A date the statement cannot compare here: no row matches,
            // and `Pipeline::swap` reads the row and evaluates the date on
            // it (fails closed rather than writing unconditionally).
            None => {
                sql.push("1 = 0");
                Vec::new()
            }
        },
        WriteCondition::Unconditional
        | WriteCondition::Exists
        | WriteCondition::VersionNotIn(_) => {
            sql.push("1 = 1");
            Vec::new()
        }
    };
    ConditionSql {
        text: sql.text,
        binds,
    }
}

/// The time a reading statement began, on the database's clock, as whole
/// microseconds since the epoch: select it beside the row (`SELECT …,
/// <this> AS read_at`), subtract
/// [`COMMIT_MARGIN`](crate::repository::COMMIT_MARGIN), and give it to
/// `Tagged::as_of`, so the `Last-Modified` sent is rounded with the
/// read's own time, not the response's.
///
/// ```
/// use occ_core::repository::sql::{statement_time_sql, Dialect};
///
/// assert!(statement_time_sql(Dialect::Postgres).contains("statement_timestamp()"));
/// ```
pub fn statement_time_sql(dialect: Dialect) -> String {
    let mut sql = SqlText::new(dialect);
    sql.statement_time();
    sql.text
}

/// The value to `SET` a modification time column to in a write: the
/// database's clock, or just after the stored time when the clock has not
/// passed it, so that a row's times only grow (what a date-conditioned
/// write and the rounding of `Last-Modified` rely on). Set it in every
/// write, and never from a client's value.
///
/// ```
/// use occ_core::repository::sql::{stamp_sql, Dialect};
///
/// assert_eq!(
///     stamp_sql(Dialect::Postgres, "updated_at"),
///     r#"GREATEST(clock_timestamp(), "updated_at" + INTERVAL '1 microsecond')"#
/// );
/// ```
pub fn stamp_sql(dialect: Dialect, modified_column: &str) -> String {
    let mut sql = SqlText::new(dialect);
    sql.clock_after(modified_column);
    sql.text
}

/// The content hash of a row's `columns`, computed by the database: the
/// first 60 bits of the SHA-256 of its text of the values, as a `BIGINT`.
/// Select it beside the row into the model's `#[version]` field, and use
/// [`content_condition_sql`] in writes, for a table that has no version
/// column and cannot get one (see [`content_hash`](crate::content_hash)
/// for the trade-offs). List every column the representation shows, the
/// key included, so that a tag binds the resource's identity too.
///
/// `None` on SQLite, which has no hash function: hash the row read with
/// [`content_hash`](crate::content_hash), and write in the same `BEGIN
/// IMMEDIATE` transaction after checking the condition on it
/// ([`WriteCondition::is_met_by`]).
///
/// ```
/// use occ_core::repository::sql::{content_hash_sql, Dialect};
///
/// let hash = content_hash_sql(Dialect::Postgres, &["id", "email"]).unwrap();
/// assert!(hash.contains(r#"json_build_array("id", "email")"#));
/// assert!(content_hash_sql(Dialect::Sqlite, &["id"]).is_none());
/// ```
pub fn content_hash_sql(dialect: Dialect, columns: &[&str]) -> Option<String> {
    let digits = crate::content_hash::CONTENT_HASH_HEX_DIGITS;
    let mut sql = SqlText::new(dialect);
    match dialect {
        Dialect::Sqlite => return None,
        Dialect::Postgres => {
            sql.push("('x' || left(encode(sha256(convert_to(json_build_array(")
                .idents(None, columns)
                .push(&format!(
                    ")::text, 'UTF8')), 'hex'), {digits}))::bit({})::bigint",
                    4 * digits
                ));
        }
        // `CONV` gives the number as text, which `CAST` reads exactly (60
        // bits fit a signed `BIGINT`).
        Dialect::MySql => {
            sql.push("CAST(CONV(LEFT(SHA2(JSON_ARRAY(")
                .idents(None, columns)
                .push(&format!("), 256), {digits}), 16, 10) AS SIGNED)"));
        }
    }
    Some(sql.text)
}

/// [`condition_sql`] for a table validated by a content hash: the
/// condition on [`content_hash_sql`] of `columns` (the same columns, in
/// the same order, as the reads hash). `None` on SQLite (see
/// [`content_hash_sql`]).
///
/// ```
/// use occ_core::repository::sql::{content_condition_sql, content_hash_sql, Dialect};
/// use occ_core::repository::WriteCondition;
///
/// let columns = ["id", "email"];
/// let sql = content_condition_sql(Dialect::MySql, &WriteCondition::VersionIn(vec![41i64]), &columns, 2).unwrap();
/// let hash = content_hash_sql(Dialect::MySql, &columns).unwrap();
/// assert_eq!(sql.text, format!("{hash} IN (?)"));
/// assert_eq!(sql.binds, [41]);
/// ```
pub fn content_condition_sql(
    dialect: Dialect,
    condition: &WriteCondition<i64>,
    columns: &[&str],
    params_before: usize,
) -> Option<ConditionSql> {
    let hash = content_hash_sql(dialect, columns)?;
    Some(condition_on(
        dialect,
        condition,
        Validator::Expression(&hash),
        None,
        params_before,
    ))
}
