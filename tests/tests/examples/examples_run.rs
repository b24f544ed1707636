//! The `client` example, run as a user runs it: two clients edit profile
//! 42 at once, the slower one gets 412 and retries from the state the 412
//! carried (design decision 16), without a second GET, and both edits
//! survive; a third write, whose answer the server holds back past the
//! client's timeout, is sent again with the same `Idempotency-Key`, gets
//! the replayed 200 (design decision 17), and is applied once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::process::Command;

#[tokio::test]
async fn the_client_example_retries_from_the_412_body_and_a_lost_answer_with_the_same_key() {
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
    let now = stdout
        .lines()
        .find(|line| line.starts_with("alice needed"))
        .unwrap_or_default();
    assert!(
        now.contains(r#""city":"Lyon""#) && now.contains(r#""name":"Ava B.""#),
        "both edits survive: {stdout}"
    );

    // Carol's first send timed out, although it had landed: the retry,
    // with the same key, got its answer replayed instead of a 412.
    assert!(
        stdout.contains("carol: no answer within 1s on send 1; sending the same request again with the same key"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "carol: 200 OK is a replay (Idempotent-Replayed: true): the first attempt had landed"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("carol: 412"), "{stdout}");
    assert!(
        stdout.contains("her retry wrote nothing more, the write was applied once"),
        "{stdout}"
    );

    // Applied once each: the version went up by exactly one per logical
    // write (alice, bob, carol), whatever the retries.
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.contains(r#""city":"Turin""#) && last.contains(r#""name":"Ava B.""#),
        "every edit survives: {last}"
    );
    let version = |line: &str, prefix: &str| -> u64 {
        let tag = line
            .split_once(prefix)
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{prefix:?} in {line:?}"));
        tag.trim_matches('"')
            .rsplit_once("-v")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("a version in {tag}"))
    };
    let initial = version(stdout.lines().next().unwrap_or_default(), "initial ");
    let (after, from) = (version(last, "final "), version(last, " from "));
    assert_eq!(from, initial, "{stdout}");
    assert!(last.contains("after 3 logical writes"), "{last}");
    assert_eq!(
        after,
        initial + 3,
        "one version per logical write: {stdout}"
    );
}
