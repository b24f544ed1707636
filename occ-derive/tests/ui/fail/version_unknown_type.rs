// A type the derive cannot see through is checked by the trait bound.
use occ_core::Versioned;

struct Revision(u64);

#[derive(Versioned)]
struct Profile {
    id: u64,
    #[version]
    version: Revision,
}

fn main() {}
