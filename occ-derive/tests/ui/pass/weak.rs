// `#[occ(weak)]` emits weak tags.
use occ_core::Versioned;

#[derive(Versioned)]
#[occ(weak, etag = "{id}.{version}")]
struct Page {
    id: u16,
    #[version]
    version: u8,
}

fn main() {
    let p = Page { id: 1, version: 2 };
    assert_eq!(p.entity_tag().to_string(), "W/\"1.2\"");
}
