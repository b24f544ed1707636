// Columns are named as sqlx's `FromRow` reads them: `#[sqlx(rename)]` on a
// field, `#[sqlx(rename_all)]` on the struct, or `#[occ(column)]` (with the
// same `#[sqlx(rename)]`, so that reading and writing agree). Fields that
// `FromRow` skips or defaults are not written.
use occ_core::repository::sql::SqlModel;
use occ_core::Versioned;

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "notes")]
struct Note {
    #[sqlx(rename = "note_id")]
    id: i64,
    #[version]
    #[sqlx(rename = "rev")]
    revision: i64,
    #[occ(column = "body_text")]
    #[sqlx(rename = "body_text")]
    body: String,
    #[sqlx(default)]
    cached: i64,
    #[sqlx(skip)]
    scratch: String,
}

#[derive(Versioned, sqlx::FromRow)]
#[occ(table = "cards")]
#[sqlx(rename_all = "camelCase")]
struct Card {
    id: i64,
    #[version]
    version_number: i64,
    display_name: String,
    #[sqlx(rename = "shelf")]
    shelf_code: String,
}

fn columns<M: SqlModel<sqlx::Sqlite>>() -> (&'static str, &'static str, &'static [&'static str]) {
    (M::ID_COLUMN, M::VERSION_COLUMN, M::DATA_COLUMNS)
}

fn main() {
    assert_eq!(columns::<Note>(), ("note_id", "rev", &["body_text"][..]));
    assert_eq!(
        columns::<Card>(),
        ("id", "versionNumber", &["displayName", "shelf"][..])
    );
    let note = Note { id: 1, revision: 1, body: String::new(), cached: 0, scratch: String::new() };
    let card = Card { id: 1, version_number: 1, display_name: String::new(), shelf_code: String::new() };
    let _ = (note.body, note.cached, note.scratch, card.display_name, card.shelf_code);
}
