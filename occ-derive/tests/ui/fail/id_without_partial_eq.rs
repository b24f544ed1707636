use std::fmt;

use occ_core::Versioned;

// Ids are compared (the id in a body against the one in the URL): the
// error asks for `PartialEq`.
struct Key(u64);

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Versioned)]
struct Profile {
    id: Key,
    #[version]
    version: u64,
}

fn main() {}
