// Using a type that does not implement the trait says what to add.
use occ_core::Versioned;

struct Profile {
    id: u64,
    version: u64,
}

fn needs_versioned<M: Versioned>() {}

fn main() {
    needs_versioned::<Profile>();
}
