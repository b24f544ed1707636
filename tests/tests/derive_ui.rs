//! `#[derive(Versioned)]`: what compiles, and the error of every misuse,
//! snapshotted beside each case in `ui/derive/{pass,fail}`.
//!
//! Regenerate the snapshots after an intended change of message with
//! `TRYBUILD=overwrite cargo test -p occ-tests --test derive_ui`, then read
//! the diff.

#[test]
fn derive_versioned() {
    let t = trybuild::TestCases::new();
    t.pass("ui/derive/pass/*.rs");
    t.compile_fail("ui/derive/fail/*.rs");
}
