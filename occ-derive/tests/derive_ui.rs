//! `#[derive(Versioned)]`: what compiles, and the error of every misuse,
//! snapshotted beside each case in `tests/ui/{pass,fail}`.
//!
//! Regenerate the snapshots after an intended change of message with
//! `TRYBUILD=overwrite cargo test -p occ-derive --test derive_ui`, then read
//! the diff.

#[test]
fn derive_versioned() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
