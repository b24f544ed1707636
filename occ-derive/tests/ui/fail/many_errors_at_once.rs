// Every error is reported in one go, and no cascade follows.
use occ_core::Versioned;

#[derive(Versioned)]
#[occ(etag = "{name}", colour = "red")]
struct Profile {
    key: u64,
    name: String,
}

fn needs_versioned<M: Versioned>() {}

fn main() {
    needs_versioned::<Profile>();
}
