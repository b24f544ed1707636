//! The `client` example (on occ-client), run as a user runs it: two
//! clients edit profile 42, the one that read first gets 412 and its change
//! is applied again to the state the 412 carried (design decision 16),
//! without a second GET, and both edits survive; a third write, whose
//! answer the server holds back past the client's timeout, is sent again
//! with the same `Idempotency-Key`, gets the replayed 200 (design decision
//! 17), and is applied once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::process::Command;

#[tokio::test]
async fn the_client_example_retries_from_the_412_body_and_a_lost_answer_with_the_same_key() {
    let output = tokio::task::spawn_blocking(|| {
        Command::new(occ_tests::example_binary("client"))
            .env_remove("PROFILES_URL")
            .env_remove("RUST_LOG")
            .output()
            .expect("the example runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("blind write: 428"), "{stdout}");
    assert!(
        stdout.contains(r#"alice: wrote "prof-42-v8" {"id":42,"name":"Ava","city":"Lyon"}"#),
        "{stdout}"
    );
    // Bob's stale PUT: one 412, then his change applied to the state it
    // carried, without a GET; both edits survive.
    assert!(
        stdout.contains(
            r#"bob: wrote "prof-42-v9" {"id":42,"name":"Ava B.","city":"Lyon"} after 1 412 in 2 PUTs and no GET"#
        ),
        "{stdout}"
    );

    // Carol's first send timed out, although it had landed: the resend,
    // with the same key, got its answer replayed instead of a 412.
    assert!(
        stderr.contains("no answer within the timeout; sending the same request again"),
        "{stderr}"
    );
    assert!(
        stdout.contains(
            r#"carol: "prof-42-v10" {"id":42,"name":"Ava B.","city":"Turin"} is a replay"#
        ),
        "{stdout}"
    );

    // Applied once each: the version went up by exactly one per logical
    // write (alice, bob, carol), whatever the resends.
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        r#"final "prof-42-v10" {"id":42,"name":"Ava B.","city":"Turin"} after 3 logical writes from "prof-42-v7" (1 resent, 1 replayed)"#,
        "{stdout}"
    );
}
