use occ_core::Versioned;

struct Key(u64);

#[derive(Versioned)]
struct Profile {
    id: Key,
    #[version]
    version: u64,
}

fn main() {}
