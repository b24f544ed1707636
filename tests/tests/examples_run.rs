//! The `client` example, run as a user runs it: two clients edit profile
//! 42 at once, the slower one gets 412 and retries from the state the 412
//! carried (design decision 16), without a second GET, and both edits
//! survive.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::process::Command;

#[tokio::test]
async fn the_client_example_retries_from_the_412_body_and_keeps_both_edits() {
    let output = tokio::task::spawn_blocking(|| {
        Command::new(occ_tests::example_binary("client"))
            .env_remove("PROFILES_URL")
            .env("RUST_LOG", "warn")
            .output()
            .expect("the example runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("blind write: 428"), "{stdout}");
    assert!(
        stdout.contains("retrying from the state in the 412 body, without a GET"),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.contains(r#""city":"Lyon""#) && last.contains(r#""name":"Ava B.""#),
        "both edits survive: {last}"
    );
}
