// `#[occ(id)]` picks the id when the field is not called `id`, and wins
// over a field that is.
use occ_core::Versioned;

#[derive(Versioned)]
struct Account {
    id: String,
    #[occ(id)]
    number: u32,
    #[version]
    version: i32,
}

fn main() {
    let a = Account { id: "legacy".into(), number: 12, version: 1 };
    assert_eq!(*a.id(), 12);
    assert_eq!(a.entity_tag().to_string(), "\"12-v1\"");
    let _ = a.id;
}
