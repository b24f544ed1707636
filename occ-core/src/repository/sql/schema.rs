//! Migrations occ can write for a model's table.

use super::dialect::{Backend, SqlText};
use super::SqlModel;

/// The statements that turn merging on for a table that already has rows
/// (`#[occ(table = "…", merge)]`, design decision 16): one `ALTER TABLE`
/// per companion column (`<column>_version BIGINT NOT NULL DEFAULT 0`),
/// then one `UPDATE` that sets every companion of every row to the row's
/// version. Run them in order, once, in the migration that enables
/// merging.
///
/// Without that `UPDATE`, a row written before merging was on would have
/// every member at version 0, and a `PATCH` whose `If-Match` names any
/// older version would merge over changes its client never saw. With it,
/// each member of an old row counts as written by the row's current
/// version, so an older tag is refused for every member until members are
/// written again.
///
/// Writers outside occ must keep the rule too: an `UPDATE` that bumps the
/// version must set the companion of every column it writes to the new
/// version (`SET title = ?, title_version = version + 1, version = version
/// + 1`, in that order on MariaDB, which assigns left to right).
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use occ_core::repository::sql::add_merge_columns;
/// use occ_core::Versioned;
///
/// #[derive(Versioned, sqlx::FromRow)]
/// #[occ(table = "notes", merge)]
/// struct Note {
///     id: i64,
///     #[version]
///     version: i64,
///     title: String,
///     body: String,
/// }
///
/// let statements = add_merge_columns::<sqlx::Sqlite, Note>();
/// assert_eq!(statements, [
///     "ALTER TABLE `notes` ADD COLUMN `title_version` BIGINT NOT NULL DEFAULT 0",
///     "ALTER TABLE `notes` ADD COLUMN `body_version` BIGINT NOT NULL DEFAULT 0",
///     "UPDATE `notes` SET `title_version` = `version`, `body_version` = `version`",
/// ]);
/// # }
/// ```
///
/// Empty for a model without merge columns.
pub fn add_merge_columns<DB: Backend, M: SqlModel<DB>>() -> Vec<String> {
    let Some(companions) = M::FIELD_VERSION_COLUMNS else {
        return Vec::new();
    };
    let mut statements = Vec::with_capacity(companions.len() + 1);
    for companion in companions {
        let mut add = SqlText::new(DB::DIALECT);
        add.push("ALTER TABLE ")
            .ident(M::TABLE)
            .push(" ADD COLUMN ")
            .ident(companion)
            .push(" BIGINT NOT NULL DEFAULT 0");
        statements.push(add.text);
    }
    if !companions.is_empty() {
        let mut init = SqlText::new(DB::DIALECT);
        init.push("UPDATE ").ident(M::TABLE).push(" SET ");
        for (i, companion) in companions.iter().enumerate() {
            if i > 0 {
                init.push(", ");
            }
            init.ident(companion).push(" = ").ident(M::VERSION_COLUMN);
        }
        statements.push(init.text);
    }
    statements
}
