// The ETag template of the reference scenario.
use occ_core::Versioned;

#[derive(Versioned)]
#[occ(etag = "prof-{id}-v{version}")]
struct Profile {
    id: i64,
    #[version]
    version: i64,
    name: String,
}

fn main() {
    let p = Profile { id: 42, version: 7, name: "Ava".into() };
    assert_eq!(p.entity_tag().to_string(), "\"prof-42-v7\"");
    let tag = p.entity_tag();
    assert_eq!(Profile::version_from_tag(&42, tag.as_tag_ref()), Some(7));
    let _ = p.name;
}
