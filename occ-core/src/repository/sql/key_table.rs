//! The table of idempotency keys: its `CREATE TABLE`, and the statements
//! a repository runs on it.

use std::sync::atomic::AtomicI64;

use sqlx::SqlStr;

use super::dialect::{kept, Dialect, SqlText};
use crate::idempotency::KeyPolicy;

/// The `CREATE TABLE IF NOT EXISTS` (and index) statements of an
/// idempotency key table named `table`, for
/// [`SqlRepository::with_idempotency_keys`](super::repository::SqlRepository::with_idempotency_keys). Run them at startup or copy
/// them into a migration.
///
/// ```
/// use occ_core::repository::sql::{idempotency_table, Dialect};
///
/// let ddl = idempotency_table(Dialect::Postgres, "occ_idempotency_keys");
/// assert!(ddl[0].starts_with("CREATE TABLE IF NOT EXISTS \"occ_idempotency_keys\""));
/// ```
pub fn idempotency_table(dialect: Dialect, table: &str) -> Vec<String> {
    // Keys are stored as a SHA-256 in hex: fixed length, ASCII.
    let (key, int, blob) = match dialect {
        Dialect::MySql => ("CHAR(64) CHARACTER SET ascii", "BIGINT", "LONGBLOB"),
        Dialect::Postgres => ("TEXT", "BIGINT", "BYTEA"),
        Dialect::Sqlite => ("TEXT", "INTEGER", "BLOB"),
    };
    let mut create = SqlText::new(dialect);
    create
        .push("CREATE TABLE IF NOT EXISTS ")
        .ident(table)
        .push(" (")
        .ident("idem_key")
        .push(&format!(" {key} PRIMARY KEY, "))
        .ident("fingerprint")
        .push(&format!(" {key} NOT NULL, "))
        .ident("owner")
        .push(&format!(" {key} NOT NULL, "))
        .ident("lease_until")
        .push(&format!(" {int} NOT NULL, "))
        .ident("expires_at")
        .push(&format!(" {int} NOT NULL, "))
        .ident("status")
        .push(&format!(" {int}, "))
        .ident("headers")
        .push(" TEXT, ")
        .ident("body")
        .push(&format!(" {blob}"));
    if dialect == Dialect::MySql {
        create.push(", INDEX (").ident("expires_at").push(")");
    }
    create.push(")");
    let mut statements = vec![create.text];
    if dialect != Dialect::MySql {
        let mut index = SqlText::new(dialect);
        index
            .push("CREATE INDEX IF NOT EXISTS ")
            .ident(&format!("{table}_expires_at"))
            .push(" ON ")
            .ident(table)
            .push(" (")
            .ident("expires_at")
            .push(")");
        statements.push(index.text);
    }
    statements
}

/// A repository's key table: its statements and its policy.
#[derive(Debug)]
pub(super) struct SqlKeys {
    /// The key table.
    pub(super) table: String,
    pub(super) policy: KeyPolicy,
    /// Records a claim, or takes over an expired key or a lapsed claim;
    /// returns the key's row where the database can.
    pub(super) claim: SqlStr,
    /// The key's row (MySQL, after its claim).
    pub(super) read: SqlStr,
    /// Records the response, only while the claim is this attempt's.
    pub(super) finish: SqlStr,
    /// `finish`, only until a deadline on the database's clock.
    pub(super) finish_by: SqlStr,
    /// Releases an unfinished claim of this attempt's.
    pub(super) release: SqlStr,
    /// Deletes expired keys.
    pub(super) sweep: SqlStr,
    /// When the next sweep is due (milliseconds since the epoch, on this
    /// server's clock: only how often it sweeps depends on it).
    pub(super) next_sweep: AtomicI64,
}

const RETURNED: &str = "owner, fingerprint, status, headers, body";

/// Every column of the key table.
pub(super) const COLUMNS: [&str; 8] = [
    "idem_key",
    "fingerprint",
    "owner",
    "lease_until",
    "expires_at",
    "status",
    "headers",
    "body",
];

impl SqlKeys {
    pub(super) fn new(dialect: Dialect, table: &str, mut policy: KeyPolicy) -> Self {
        // A claim cannot outlive its key.
        policy.lease = policy.lease.min(policy.time_to_live);
        let t = {
            let mut sql = SqlText::new(dialect);
            sql.ident(table);
            sql.text
        };
        // `$1`…, `?1`…, or MySQL's positional `?`.
        let p: Vec<String> = {
            let mut sql = SqlText::new(dialect);
            (0..5)
                .map(|_| {
                    sql.text.clear();
                    sql.param();
                    sql.text.clone()
                })
                .collect()
        };
        // Leases and lifetimes are read on the database's clock, one clock
        // for every application server: a server whose clock is off by
        // more than a lease (or a key's whole life) can neither take over
        // a running attempt nor revive an expired key.
        let now = match dialect {
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            Dialect::MySql => {
                "(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000)"
            }
        };
        let claim = match dialect {
            Dialect::Postgres | Dialect::Sqlite => {
                // The SET expressions all see the row as it was: a key
                // past its time, or a claim without a response past its
                // lease, becomes this attempt's; any other stays as it is
                // (and is returned, for the caller to tell apart).
                let free = format!(
                    "({t}.expires_at <= {now} OR ({t}.status IS NULL AND {t}.lease_until <= {now}))"
                );
                let take = |column: &str| {
                    format!(
                        "{column} = CASE WHEN {free} THEN excluded.{column} ELSE {t}.{column} END"
                    )
                };
                let clear = |column: &str| {
                    format!("{column} = CASE WHEN {free} THEN NULL ELSE {t}.{column} END")
                };
                format!(
                    "INSERT INTO {t} (idem_key, fingerprint, owner, lease_until, expires_at) \
                     VALUES ({}, {}, {}, {now} + {}, {now} + {}) ON CONFLICT (idem_key) DO UPDATE SET {}, {}, {}, {}, {}, {}, {} \
                     RETURNING {RETURNED}",
                    p[0],
                    p[1],
                    p[2],
                    p[3],
                    p[4],
                    take("owner"),
                    take("fingerprint"),
                    take("lease_until"),
                    take("expires_at"),
                    clear("status"),
                    clear("headers"),
                    clear("body"),
                )
            }
            Dialect::MySql => {
                // Assignments see the columns assigned before them: the
                // owner goes first, and the others follow it.
                let ours = "owner = VALUES(owner)";
                format!(
                    "INSERT INTO {t} (idem_key, fingerprint, owner, lease_until, expires_at) \
                     VALUES (?, ?, ?, {now} + ?, {now} + ?) ON DUPLICATE KEY UPDATE \
                     owner = IF(expires_at <= {now} OR (status IS NULL AND lease_until <= {now}), VALUES(owner), owner), \
                     fingerprint = IF({ours}, VALUES(fingerprint), fingerprint), \
                     lease_until = IF({ours}, VALUES(lease_until), lease_until), \
                     expires_at = IF({ours}, VALUES(expires_at), expires_at), \
                     status = IF({ours}, NULL, status), \
                     headers = IF({ours}, NULL, headers), \
                     body = IF({ours}, NULL, body)"
                )
            }
        };
        let (a, b, c, d, e) = (&p[0], &p[1], &p[2], &p[3], &p[4]);
        let finish = format!(
            "UPDATE {t} SET status = {a}, headers = {b}, body = {c}, lease_until = 0 \
             WHERE idem_key = {d} AND owner = {e} AND status IS NULL"
        );
        let deadline = {
            let mut sql = SqlText::new(dialect);
            (0..6).for_each(|_| {
                sql.text.clear();
                sql.param();
            });
            sql.text
        };
        let finish_by = format!("{finish} AND {now} <= {deadline}");
        let release =
            format!("DELETE FROM {t} WHERE idem_key = {a} AND owner = {b} AND status IS NULL");
        let read = format!("SELECT {RETURNED} FROM {t} WHERE idem_key = {a}");
        let sweep = format!("DELETE FROM {t} WHERE expires_at <= {now}");
        Self {
            table: table.to_owned(),
            policy,
            claim: kept(claim),
            read: kept(read),
            finish: kept(finish),
            finish_by: kept(finish_by),
            release: kept(release),
            sweep: kept(sweep),
            next_sweep: AtomicI64::new(0),
        }
    }
}
