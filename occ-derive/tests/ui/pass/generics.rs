// Generic structs, lifetimes and where clauses are carried over.
use occ_core::Versioned;

#[derive(Versioned)]
#[occ(etag = "doc-{key}-{rev}")]
struct Document<'a, K, T: Clone>
where
    K: std::fmt::Display + PartialEq + Send + Sync,
{
    #[occ(id)]
    key: K,
    #[version]
    rev: u32,
    body: T,
    label: &'a str,
}

fn tag_of<M: Versioned>(model: &M) -> String {
    model.entity_tag().to_string()
}

fn main() {
    let d = Document { key: "a", rev: 2, body: vec![1u8], label: "x" };
    assert_eq!(tag_of(&d), "\"doc-a-2\"");
    let _ = (d.body, d.label);
}
