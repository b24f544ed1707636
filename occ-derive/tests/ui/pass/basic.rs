// The happy path: a field named `id`, one `#[version]`, the default tag.
use occ_core::Versioned;

#[derive(Versioned)]
struct Note {
    id: u64,
    #[version]
    version: u64,
    text: String,
}

fn main() {
    let note = Note { id: 3, version: 9, text: String::new() };
    assert_eq!(note.entity_tag().to_string(), "\"3-v9\"");
    assert_eq!(*note.id(), 3);
    assert_eq!(note.version(), 9);
    assert!(!Note::HAS_LAST_MODIFIED);
    let _ = note.text;
}
