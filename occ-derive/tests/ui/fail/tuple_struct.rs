use occ_core::Versioned;

#[derive(Versioned)]
struct Profile(u64, #[version] u64);

fn main() {}
