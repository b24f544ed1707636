//! occ's rules in queries of your own: the condition a request's
//! preconditions put in a `WHERE` clause, and the modification time the
//! database keeps, as SQL text for each dialect. With
//! [`Pipeline::swap`](crate::pipeline::Pipeline::swap), which reads again
//! and evaluates again after a write that touched no row, a hand-written
//! service gets the guarantees of the generated routes with its own
//! statements.

use super::dialect::{Dialect, SqlText};
use super::micros_since_epoch;
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
    // A version beyond i64 is stored nowhere: bound as an impossible one.
    let ints = |v: &[V]| -> Vec<i64> { v.iter().map(|v| v.to_i64().unwrap_or(-1)).collect() };
    let mut sql = SqlText::new(dialect).after_params(params_before);
    let binds = match condition {
        WriteCondition::VersionIn(v) | WriteCondition::VersionNotIn(v) if !v.is_empty() => {
            let op = if matches!(condition, WriteCondition::VersionIn(_)) {
                " IN ("
            } else {
                " NOT IN ("
            };
            sql.ident(version_column).push(op).params(v.len()).push(")");
            ints(v)
        }
        // An empty `If-Match` list matches nothing.
        WriteCondition::VersionIn(_) => {
            sql.push("1 = 0");
            Vec::new()
        }
        // Strict where no per-member versions are kept.
        WriteCondition::UnchangedSince(v) => {
            sql.ident(version_column).push(" IN (").param().push(")");
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
