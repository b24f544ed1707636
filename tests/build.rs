//! Marks the tests of a database whose URL is not set as ignored, with the
//! reason, so that `cargo test` says so in its normal output:
//!
//! ```text
//! test contract_mysql ... ignored, OCC_TEST_MYSQL_URL is not set
//! ```
//!
//! libtest captures what a passing test prints, and has no "skipped"
//! outcome: an ignore decided when the tests are built is what shows.
//! Cargo reruns this script, and rebuilds the tests, when a variable
//! changes. With `OCC_REQUIRE_*=1` nothing is ignored, and a missing URL
//! fails the tests that need it.

fn main() {
    for (cfg, url, require) in [
        (
            "occ_no_postgres",
            "OCC_TEST_POSTGRES_URL",
            "OCC_REQUIRE_POSTGRES",
        ),
        ("occ_no_mysql", "OCC_TEST_MYSQL_URL", "OCC_REQUIRE_MYSQL"),
    ] {
        println!("cargo::rerun-if-env-changed={url}");
        println!("cargo::rerun-if-env-changed={require}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        let set = std::env::var(url).is_ok_and(|u| !u.is_empty());
        let required = std::env::var(require).as_deref() == Ok("1");
        if !set && !required {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
