use occ_core::Versioned;

#[derive(Versioned)]
union Bits {
    id: u64,
    version: u64,
}

fn main() {}
