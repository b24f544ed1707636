use occ_core::Versioned;

#[derive(Versioned)]
enum State {
    Draft { id: u64, version: u64 },
}

fn main() {}
