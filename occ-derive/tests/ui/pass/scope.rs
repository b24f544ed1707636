// `scope` declares the field that holds a row's tenant: its column (as
// `FromRow` reads it), and its value read and set through `ScopeField`.
use occ_core::repository::sql::SqlModel;
use occ_core::repository::ScopeValue;
use occ_core::Versioned;

#[derive(Clone, serde::Serialize, serde::Deserialize, sqlx::FromRow, Versioned)]
#[occ(table = "notes", tombstones = "note_tombstones")]
struct Note {
    id: i64,
    #[version]
    #[serde(skip)]
    version: i64,
    #[occ(scope)]
    #[serde(alias = "tenant")]
    #[sqlx(rename = "tenant")]
    tenant_id: String,
    text: String,
}

#[derive(Versioned)]
struct Order {
    id: i64,
    #[version]
    version: i64,
    #[occ(scope)]
    account: i32,
}

#[derive(Versioned)]
struct Plain {
    id: i64,
    #[version]
    version: i64,
}

fn data<M: SqlModel<sqlx::Sqlite>>() -> &'static [&'static str] {
    M::DATA_COLUMNS
}

fn main() {
    assert_eq!(Note::SCOPE_COLUMN, Some("tenant"));
    assert_eq!(data::<Note>(), ["tenant", "text"]);
    let mut note = Note { id: 1, version: 1, tenant_id: "acme".into(), text: String::new() };
    assert_eq!(note.scope_value(), Some(ScopeValue::Text("acme".into())));
    assert!(note.set_scope_value(&ScopeValue::Text("beta".into())));
    assert_eq!(note.tenant_id, "beta");
    assert!(!note.set_scope_value(&ScopeValue::Int(7)));

    assert_eq!(Order::SCOPE_COLUMN, Some("account"));
    let mut order = Order { id: 1, version: 1, account: 3 };
    assert!(order.set_scope_value(&ScopeValue::Int(9)));
    assert!(!order.set_scope_value(&ScopeValue::Int(i64::MAX)));
    assert_eq!(Order::canonical_scope_value(&ScopeValue::Int(9)), Some(ScopeValue::Int(9)));
    assert_eq!(order.account, 9);

    assert_eq!(Plain::SCOPE_COLUMN, None);
    assert_eq!(Plain { id: 1, version: 1 }.scope_value(), None);
}
