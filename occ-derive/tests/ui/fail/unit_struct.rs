use occ_core::Versioned;

#[derive(Versioned)]
struct Profile;

fn main() {}
