use occ_core::Versioned;

#[derive(PartialEq)]
struct Key(u64);

#[derive(Versioned)]
struct Profile {
    id: Key,
    #[version]
    version: u64,
}

fn main() {}
