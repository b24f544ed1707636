// A modification time makes If-Modified-Since / If-Unmodified-Since count.
use std::time::{Duration, SystemTime};

use occ_core::Versioned;

#[derive(Versioned)]
struct Post {
    id: u64,
    #[version]
    version: u64,
    #[occ(last_modified)]
    updated: Option<SystemTime>,
}

fn main() {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let p = Post { id: 1, version: 1, updated: Some(at) };
    assert!(Post::HAS_LAST_MODIFIED);
    assert_eq!(p.last_modified(), Some(at));
}
