// `{{` and `}}` are literal braces in the template.
use occ_core::Versioned;

#[derive(Versioned)]
#[occ(etag = "{{{id}}}-{version}")]
struct Item {
    id: u8,
    #[version]
    version: u64,
}

fn main() {
    let i = Item { id: 4, version: 5 };
    assert_eq!(i.entity_tag().to_string(), "\"{4}-5\"");
}
