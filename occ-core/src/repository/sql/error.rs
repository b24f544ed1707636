//! Database errors, and values the database cannot take, as
//! [`RepositoryError`]s: what a client is told, and what goes to the log.

use sqlx::error::{BoxDynError, ErrorKind};

use crate::repository::RepositoryError;
use crate::versioned::{VersionNumber, Versioned};

/// Maps a sqlx error: a constraint violation is the client's (422); a lost
/// connection, a busy database or a serialization failure is transient
/// (503); anything else (a missing column, a wrong type) is a mistake in
/// the schema or the model (500). Details go to the log, never to clients.
pub(super) fn map_error<M>(error: sqlx::Error) -> RepositoryError<M> {
    match &error {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation
            | ErrorKind::ForeignKeyViolation
            | ErrorKind::NotNullViolation
            | ErrorKind::CheckViolation
            | ErrorKind::ExclusionViolation => {
                tracing::debug!(error = %db, "data refused: a constraint of the table");
                RepositoryError::Invalid("the resource violates a storage constraint".into())
            }
            // A value the column cannot hold (SQLSTATE class 22: too long,
            // out of range, a character the encoding refuses, a bad date):
            // the statement failed, nothing was written, and the value was
            // the client's.
            _ if db.code().is_some_and(|c| c.starts_with("22")) => {
                tracing::debug!(error = %db, "a value the database cannot store");
                RepositoryError::Invalid(data_error_text(db.code().as_deref()).into())
            }
            // Prepared statements sqlx made are gone or doubled: a pooler
            // shares one server session between connections.
            _ if db.code().is_some_and(|c| matches!(&*c, "42P05" | "26000")) => {
                tracing::error!(
                    error = %db,
                    "a prepared statement was lost: is PostgreSQL behind a pooler in \
                     transaction or statement mode? use pool_mode = session (see \
                     refuse_session_sharing_pooler)"
                );
                RepositoryError::internal(error)
            }
            _ if is_transient(&**db) => {
                tracing::warn!(error = %db, "transient error: the database asks for a retry");
                RepositoryError::unavailable(error)
            }
            // Class 42: a name or a type the statement uses is not in the
            // database (a column missing, a type that differs).
            _ if db.code().is_some_and(|c| c.starts_with("42")) => {
                tracing::error!(
                    error = %db,
                    "schema error: the table does not match the model (SqlRepository::verify says where)"
                );
                RepositoryError::internal(error)
            }
            _ => {
                tracing::error!(error = %db, "database error");
                RepositoryError::internal(error)
            }
        },
        sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::Encode(_) => {
            tracing::error!(
                error = %error,
                "data error: a stored value does not decode into the model's type \
                 (written outside occ, or a column type the field cannot read)"
            );
            RepositoryError::internal(error)
        }
        _ => {
            tracing::warn!(error = %error, "the database cannot be reached");
            RepositoryError::unavailable(error)
        }
    }
}

/// Errors worth a retry: SQLite busy or locked; SQLSTATE classes 08
/// (connection), 40 (serialization failure, deadlock), 53 (resources) and
/// 57 (operator intervention); MySQL's lock wait timeout.
fn is_transient(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    // A SQLSTATE is five characters, some of them all digits (MariaDB's
    // deadlock is `40001`); SQLite's codes are shorter numbers.
    if code.len() != 5 {
        if let Ok(sqlite) = code.parse::<u32>() {
            // SQLite extended codes keep the primary code in the low byte.
            return matches!(sqlite & 0xff, 5 | 6);
        }
    }
    ["08", "40", "53", "57"]
        .iter()
        .any(|class| code.starts_with(class))
        || db.message().contains("Lock wait timeout")
}

/// What a client is told of a value its column cannot hold, by SQLSTATE
/// (the database's own text stays in the log).
fn data_error_text(code: Option<&str>) -> &'static str {
    match code {
        Some("22001") => "a text value is longer than its column allows",
        Some("22003") => "a number is outside the range its column can store",
        Some("22021" | "22P05") => {
            "a text value contains a character the database cannot store (such as NUL)"
        }
        Some("22007" | "22008") => {
            "a value does not fit its column (a date out of range, or text the column's character set cannot hold)"
        }
        _ => "a value cannot be stored in its column",
    }
}

/// A value the database driver could not encode: a mistake of the model's
/// mapping (500), logged.
pub(super) fn bind_error<M>(error: BoxDynError) -> RepositoryError<M> {
    tracing::error!(error = %error, "a value could not be encoded for the database");
    RepositoryError::Internal(error)
}

/// A version read from the table, as the model's version type.
pub(super) fn stored_version<M: Versioned>(stored: i64) -> Result<M::Version, RepositoryError<M>> {
    M::Version::from_i64(stored).ok_or_else(|| {
        RepositoryError::internal(format!(
            "the stored version {stored} does not fit the model's version type"
        ))
    })
}

/// A model's version as the `BIGINT` a statement binds; a version beyond
/// it is the client's (422).
pub(super) fn version_arg<M: Versioned>(version: M::Version) -> Result<i64, RepositoryError<M>> {
    version
        .to_i64()
        .ok_or_else(|| RepositoryError::Invalid(format!("version {version} does not fit in i64")))
}

/// A write that would put the resource outside the caller's scope (422).
pub(super) fn outside_scope<M>() -> RepositoryError<M> {
    RepositoryError::Invalid("the resource would be outside the caller's scope".into())
}
