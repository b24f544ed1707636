//! Migrations occ can write for a model's table.

use super::dialect::{Backend, Dialect, SqlText};
use super::model::{ColumnDecl, SqlModel};
use crate::versioned::{IdSource, Versioned};

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

/// The statements that create a model's table in `DB`'s dialect, for a
/// first migration or a test: the table (every column at the type its
/// field declares, `NOT NULL` unless the field is an `Option`, the merge
/// companions when the model merges, the key `(scope, id)` when it
/// declares a scope, else `id`), then its tombstone table when it has one.
/// The key table of idempotency keys is [`idempotency_table`](super::key_table::idempotency_table)'s.
///
/// The types are sqlx's for each field, adjusted where the database needs
/// more: on MariaDB/MySQL a text key is `VARCHAR(255)` with the binary
/// `utf8mb4_nopad_bin` collation (ids and scopes compare byte for byte),
/// other text `TEXT`, a `uuid::Uuid` `BINARY(16)`, JSON `JSON`, a time
/// `DATETIME(6)` and a decimal `DECIMAL(38, 10)`. Read them before a
/// production migration: lengths and precisions are the application's to
/// choose. What they give passes [`SqlRepository::verify`](super::repository::SqlRepository::verify).
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use occ_core::repository::sql::create_table;
/// use occ_core::Versioned;
///
/// #[derive(Versioned, sqlx::FromRow)]
/// #[occ(table = "notes", tombstones = "note_tombstones")]
/// struct Note {
///     id: i64,
///     #[version]
///     version: i64,
///     title: String,
///     body: Option<String>,
/// }
///
/// assert_eq!(create_table::<sqlx::Sqlite, Note>(), [
///     "CREATE TABLE `notes` (`id` INTEGER NOT NULL, `version` BIGINT NOT NULL, \
///      `title` TEXT NOT NULL, `body` TEXT, PRIMARY KEY (`id`))",
///     "CREATE TABLE `note_tombstones` (`id` INTEGER NOT NULL, \
///      `version` BIGINT NOT NULL, PRIMARY KEY (`id`))",
/// ]);
/// # }
/// ```
pub fn create_table<DB: Backend, M: SqlModel<DB>>() -> Vec<String> {
    let dialect = DB::DIALECT;
    let key: Vec<&str> = M::SCOPE_COLUMN.into_iter().chain([M::ID_COLUMN]).collect();
    let is_key = |column: &str| key.contains(&column);
    let mut table = SqlText::new(dialect);
    table.push("CREATE TABLE ").ident(M::TABLE).push(" (");
    // An integer id the store assigns (`#[occ(generated)]`): an identity.
    let assigned = matches!(M::ID_SOURCE, IdSource::Generated { .. })
        && M::column_decl(M::ID_COLUMN)
            .is_some_and(|decl| matches!(decl.rust_type, "i64" | "i32" | "i16"));
    // SQLite assigns only a rowid, which is the whole key: ids are then
    // unique across scopes too.
    let rowid = assigned && dialect == Dialect::Sqlite;
    let id_type = match (assigned, dialect) {
        // SQLite's rowid: declared inline, and the key of the table.
        _ if rowid => "INTEGER PRIMARY KEY".to_owned(),
        (true, Dialect::Postgres) => {
            format!(
                "{} GENERATED BY DEFAULT AS IDENTITY",
                declared::<DB, M>(M::ID_COLUMN, true)
            )
        }
        (true, Dialect::MySql) => {
            format!("{} AUTO_INCREMENT", declared::<DB, M>(M::ID_COLUMN, true))
        }
        _ => declared::<DB, M>(M::ID_COLUMN, true),
    };
    let mut columns: Vec<(&str, String)> = vec![
        (M::ID_COLUMN, id_type),
        (M::VERSION_COLUMN, version_type::<M>().to_owned()),
    ];
    for column in M::DATA_COLUMNS {
        let own = [
            Some(M::ID_COLUMN),
            Some(M::VERSION_COLUMN),
            M::LAST_MODIFIED_COLUMN,
        ];
        if !own.contains(&Some(*column)) {
            columns.push((column, declared::<DB, M>(column, is_key(column))));
        }
    }
    if let Some(column) = M::LAST_MODIFIED_COLUMN {
        let nullable = M::column_decl(column)
            .is_some_and(|decl| decl.rust_type.starts_with("core::option::Option<"));
        let clock = match dialect {
            Dialect::Postgres => "TIMESTAMPTZ",
            Dialect::MySql => "DATETIME(6)",
            // The text SQLite's clock writes, which sorts as time does.
            Dialect::Sqlite => "TEXT",
        };
        let not_null = if nullable { "" } else { " NOT NULL" };
        columns.push((column, format!("{clock}{not_null}")));
    }
    for companion in M::FIELD_VERSION_COLUMNS.unwrap_or(&[]) {
        columns.push((companion, "BIGINT NOT NULL DEFAULT 0".to_owned()));
    }
    for (i, (column, ty)) in columns.iter().enumerate() {
        if i > 0 {
            table.push(", ");
        }
        table.ident(column).push(" ").push(ty);
    }
    if rowid {
        table.push(")");
    } else {
        table.push(", PRIMARY KEY (");
        primary_key(&mut table, &key);
        if assigned && dialect == Dialect::MySql && key.len() > 1 {
            // InnoDB counts an AUTO_INCREMENT column from an index it leads.
            table.text.pop();
            table.push(", KEY (").ident(M::ID_COLUMN).push("))");
        }
    }
    let mut statements = vec![table.text];
    if let Some(tombstones) = M::TOMBSTONE_TABLE {
        let mut tomb = SqlText::new(dialect);
        tomb.push("CREATE TABLE ").ident(tombstones).push(" (");
        let tomb_key: Vec<&str> = M::SCOPE_COLUMN.into_iter().chain(["id"]).collect();
        if let Some(scope) = M::SCOPE_COLUMN {
            tomb.ident(scope)
                .push(" ")
                .push(&declared::<DB, M>(scope, true))
                .push(", ");
        }
        tomb.ident("id")
            .push(" ")
            .push(&declared::<DB, M>(M::ID_COLUMN, true))
            .push(", ")
            .ident("version")
            .push(" BIGINT NOT NULL, PRIMARY KEY (");
        primary_key(&mut tomb, &tomb_key);
        statements.push(tomb.text);
    }
    statements
}

fn primary_key(sql: &mut SqlText, key: &[&str]) {
    for (i, column) in key.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.ident(column);
    }
    sql.push("))");
}

/// The version column's type: as wide as the field.
fn version_type<M: Versioned>() -> &'static str {
    match std::any::type_name::<M::Version>() {
        "i16" | "i8" | "u8" => "SMALLINT NOT NULL",
        "i32" | "u16" => "INTEGER NOT NULL",
        _ => "BIGINT NOT NULL",
    }
}

/// `column`'s type and nullability, as its field declares them.
fn declared<DB: Backend, M: SqlModel<DB>>(column: &str, key: bool) -> String {
    let Some(decl) = M::column_decl(column) else {
        // A hand-written model that does not say: text.
        return "TEXT NOT NULL".to_owned();
    };
    let nullable = decl.rust_type.starts_with("core::option::Option<") && !key;
    let ty = match DB::DIALECT {
        Dialect::MySql => mysql_type(&decl, key),
        Dialect::Postgres | Dialect::Sqlite => decl.sql_type.clone(),
    };
    if nullable {
        ty
    } else {
        format!("{ty} NOT NULL")
    }
}

/// What MariaDB/MySQL needs beyond sqlx's name of a type.
fn mysql_type(decl: &ColumnDecl, key: bool) -> String {
    let rust = decl.rust_type;
    let exact_text = "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin";
    if rust.contains("uuid::Uuid") && !rust.contains("uuid::fmt::") {
        return "BINARY(16)".to_owned();
    }
    if rust.contains("types::Json<") || rust.contains("serde_json::value::Value") {
        return "JSON".to_owned();
    }
    match decl.sql_type.as_str() {
        "VARCHAR" | "CHAR" | "TEXT" if key => exact_text.to_owned(),
        "VARCHAR" | "CHAR" => "TEXT".to_owned(),
        "BLOB" | "VARBINARY" | "BINARY" if key => "VARBINARY(255)".to_owned(),
        "TIMESTAMP" | "DATETIME" => "DATETIME(6)".to_owned(),
        "DECIMAL" => "DECIMAL(38, 10)".to_owned(),
        other => other.to_owned(),
    }
}

/// The statements that give a table without a version column one (`ALTER
/// TABLE … ADD COLUMN <version> BIGINT NOT NULL DEFAULT 1`, every row at
/// version 1), then, for a merging model, its merge companions
/// ([`add_merge_columns`]). Follow them with [`version_triggers`], so that
/// the writers that do not know the column keep it right.
pub fn add_version_column<DB: Backend, M: SqlModel<DB>>() -> Vec<String> {
    let mut add = SqlText::new(DB::DIALECT);
    add.push("ALTER TABLE ")
        .ident(M::TABLE)
        .push(" ADD COLUMN ")
        .ident(M::VERSION_COLUMN)
        .push(" BIGINT NOT NULL DEFAULT 1");
    let mut statements = vec![add.text];
    statements.extend(add_merge_columns::<DB, M>());
    statements
}

/// Triggers that keep a model's version right whoever writes the table:
/// an `UPDATE` (a batch job, an admin console, another service) that
/// leaves the version as it was bumps it; one that leaves the
/// modification time as it was (or moves it back) stamps it, on the
/// database's clock in UTC; one that changes a merged column (byte for
/// byte on MariaDB) without setting its companion sets the companion to
/// the new version. occ's own writes set all three, and are left alone.
/// So a writer outside occ can neither make a stale tag pass a
/// compare-and-swap or a merge, nor slip under a date already sent. (On
/// PostgreSQL and SQLite, a change only a collation ignores, such as case
/// under a case-insensitive one, is not seen as a change.)
///
/// One statement each, to run as they are (MariaDB's have `BEGIN … END`
/// bodies: send them with the text protocol, `sqlx::raw_sql`, which takes
/// them whole). The tables' rows must be reachable by `rowid` on SQLite
/// (not `WITHOUT ROWID`).
///
/// ```
/// # #[cfg(feature = "postgres")] {
/// use occ_core::repository::sql::version_triggers;
/// use occ_core::Versioned;
///
/// #[derive(Versioned, sqlx::FromRow)]
/// #[occ(table = "notes")]
/// struct Note { id: i64, #[version] version: i64, body: String }
///
/// let statements = version_triggers::<sqlx::Postgres, Note>();
/// assert_eq!(statements.len(), 2);
/// assert!(statements[1].starts_with(r#"CREATE TRIGGER "occ_version_notes" BEFORE UPDATE ON "notes""#));
/// # }
/// ```
pub fn version_triggers<DB: Backend, M: SqlModel<DB>>() -> Vec<String> {
    let dialect = DB::DIALECT;
    let name = trigger_name(M::TABLE);
    let companions: Vec<(&str, &str)> = M::FIELD_VERSION_COLUMNS
        .map(|c| {
            M::DATA_COLUMNS
                .iter()
                .copied()
                .zip(c.iter().copied())
                .collect()
        })
        .unwrap_or_default();
    let q = |name: &str| {
        let mut sql = SqlText::new(dialect);
        sql.ident(name);
        sql.text
    };
    let (table, version) = (q(M::TABLE), q(M::VERSION_COLUMN));
    let modified = M::LAST_MODIFIED_COLUMN.map(q);
    match dialect {
        Dialect::Postgres => {
            // The version never stays or goes back; the time is stamped
            // whenever the writer left it; a member changed without its
            // companion is marked. `IS DISTINCT FROM` compares as the
            // column's (deterministic) collation does.
            let mut body = format!(
                "IF NEW.{version} IS NULL OR NEW.{version} <= OLD.{version} THEN NEW.{version} := OLD.{version} + 1; END IF;"
            );
            if let Some(m) = &modified {
                body.push_str(&format!(
                    " IF NEW.{m} IS NULL OR NEW.{m} <= OLD.{m} THEN NEW.{m} := GREATEST(clock_timestamp(), OLD.{m} + INTERVAL '1 microsecond'); END IF;"
                ));
            }
            for (column, companion) in &companions {
                let (c, v) = (q(column), q(companion));
                body.push_str(&format!(
                    " IF NEW.{c} IS DISTINCT FROM OLD.{c} AND NEW.{v} IS NOT DISTINCT FROM OLD.{v} THEN NEW.{v} := NEW.{version}; END IF;"
                ));
            }
            let function = q(&name);
            vec![
                format!(
                    "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $occ$ BEGIN {body} RETURN NEW; END $occ$"
                ),
                format!(
                    "CREATE TRIGGER {function} BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
                ),
            ]
        }
        Dialect::MySql => {
            // Times in UTC, as occ's own sessions write them, whatever the
            // outside writer's session time zone; members compared byte
            // for byte, whatever the column's collation.
            let clock = "UTC_TIMESTAMP(6)";
            let mut body = format!(
                "IF NEW.{version} IS NULL OR NEW.{version} <= OLD.{version} THEN SET NEW.{version} = OLD.{version} + 1; END IF;"
            );
            if let Some(m) = &modified {
                body.push_str(&format!(
                    " IF NEW.{m} IS NULL OR NEW.{m} <= OLD.{m} THEN SET NEW.{m} = GREATEST({clock}, COALESCE(OLD.{m} + INTERVAL 1 MICROSECOND, {clock})); END IF;"
                ));
            }
            for (column, companion) in &companions {
                let (c, v) = (q(column), q(companion));
                body.push_str(&format!(
                    " IF NOT (BINARY NEW.{c} <=> BINARY OLD.{c}) AND NEW.{v} <=> OLD.{v} THEN SET NEW.{v} = NEW.{version}; END IF;"
                ));
            }
            vec![format!(
                "CREATE TRIGGER {} BEFORE UPDATE ON {table} FOR EACH ROW BEGIN {body} END",
                q(&name)
            )]
        }
        Dialect::Sqlite => {
            // A BEFORE trigger cannot change the row: AFTER triggers update
            // it again by rowid. Neither can fire the other from its own
            // update: the first runs only on updates of the data columns
            // that left the version, and updates only the version, the
            // time and companions; the second runs only when the version
            // moved and something is left to set, which its own update
            // leaves set.
            let stamp = |m: &str| {
                format!(
                    "max(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', OLD.{m}, '+0.001 seconds'), ''))"
                )
            };
            let data: Vec<String> = M::DATA_COLUMNS.iter().map(|c| q(c)).collect();
            let mut bump = vec![format!("{version} = OLD.{version} + 1")];
            if let Some(m) = &modified {
                bump.push(format!("{m} = {}", stamp(m)));
            }
            for (column, companion) in &companions {
                let (c, v) = (q(column), q(companion));
                bump.push(format!(
                    "{v} = CASE WHEN NEW.{c} IS NOT OLD.{c} AND NEW.{v} IS OLD.{v} THEN OLD.{version} + 1 ELSE NEW.{v} END"
                ));
            }
            let mut statements = vec![format!(
                "CREATE TRIGGER {} AFTER UPDATE OF {} ON {table} FOR EACH ROW WHEN NEW.{version} IS OLD.{version} BEGIN UPDATE {table} SET {} WHERE rowid = NEW.rowid; END",
                q(&name),
                data.join(", "),
                bump.join(", ")
            )];
            let mut left = Vec::new();
            let mut set = Vec::new();
            if let Some(m) = &modified {
                left.push(format!("NEW.{m} IS OLD.{m}"));
                set.push(format!(
                    "{m} = CASE WHEN NEW.{m} IS OLD.{m} THEN {} ELSE NEW.{m} END",
                    stamp(m)
                ));
            }
            for (column, companion) in &companions {
                let (c, v) = (q(column), q(companion));
                let needed = format!("NEW.{c} IS NOT OLD.{c} AND NEW.{v} IS OLD.{v}");
                set.push(format!(
                    "{v} = CASE WHEN {needed} THEN NEW.{version} ELSE NEW.{v} END"
                ));
                left.push(format!("({needed})"));
            }
            if !left.is_empty() {
                statements.push(format!(
                    "CREATE TRIGGER {} AFTER UPDATE ON {table} FOR EACH ROW WHEN NEW.{version} IS NOT OLD.{version} AND ({}) BEGIN UPDATE {table} SET {} WHERE rowid = NEW.rowid; END",
                    q(&trigger_name(&format!("{}_rest", M::TABLE))),
                    left.join(" OR "),
                    set.join(", ")
                ));
            }
            statements
        }
    }
}

/// `occ_version_<table>`, within the 63 bytes PostgreSQL and the 64
/// characters MariaDB keep of a name: a longer one ends in a hash of the
/// whole, so two long table names never share a trigger.
fn trigger_name(table: &str) -> String {
    let name = format!("occ_version_{table}");
    if name.len() <= 60 {
        return name;
    }
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for b in name.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut cut = 43;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash:016x}", &name[..cut])
}
