//! Bad input: a catalog of malformed and hostile requests sent to the
//! profiles service of the reference scenario (`occ_examples::app` over a
//! fresh in-memory SQLite database), through the router in process (tower
//! `oneshot`). Each entry names the status docs/design.md documents for it,
//! with the rule ids and design decisions it rests on.
//!
//! For every case the runner checks: the documented status, never a 5xx,
//! no panic (the request runs in a task of its own), a problem details body
//! (`application/problem+json`, RFC 9457) on every refusal that has a body,
//! no body for HEAD, and that profile 42 (GET body and ETag) and the whole
//! collection are byte for byte what they were before the request
//! ("Bad input gets a clear 4xx problem+json, never a panic, a 500 or a
//! partial write", docs/design.md). A failing case does not stop the run: every
//! failure is collected and reported together, by case name.
//!
//! The few requests the in-process path cannot express (bytes that
//! `http::HeaderValue` refuses, malformed header lines) go over TCP with the
//! raw client of `occ_tests`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a failure is the test failing

use std::time::Duration;

use axum::body::Body;
use axum::Router;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The seeded resource of the reference scenario.
const ITEM: &str = "/profiles/42";
const COLLECTION: &str = "/profiles";
const TAG: &str = "\"prof-42-v7\"";
const SEED: &str = r#"{"id":42,"name":"Ava","city":"Paris"}"#;
const PROBLEM_JSON: &str = "application/problem+json";
const MERGE_PATCH_JSON: &str = "application/merge-patch+json";

/// A request with the current tag: it passes `If-Match`, so whatever is
/// refused is refused for another reason.
const MATCH: (&str, &str) = ("if-match", TAG);
const JSON: (&str, &str) = ("content-type", "application/json");
const MERGE: (&str, &str) = ("content-type", MERGE_PATCH_JSON);
/// A harmless, valid change: if it goes through, the row changes.
const LYON: &str = r#"{"city":"Lyon"}"#;

/// One hostile request and the status it must get.
struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    expected: u16,
    /// The rule ids and design decisions ("decision N") of docs/design.md that
    /// fix the expected status.
    basis: &'static str,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: &str,
    headers: &[(&'static str, &str)],
    body: &str,
    expected: u16,
    basis: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| (*n, v.as_bytes().to_vec()))
            .collect(),
        body: body.as_bytes().to_vec(),
        expected,
        basis,
    }
}

impl Case {
    /// Adds a header line whose value is not UTF-8 (obs-text, G-9).
    fn raw_header(mut self, name: &'static str, value: &[u8]) -> Self {
        self.headers.push((name, value.to_vec()));
        self
    }

    /// Replaces the body with bytes that are not UTF-8.
    fn raw_body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    fn request(&self) -> Request<Body> {
        let method = Method::from_bytes(self.method.as_bytes()).expect("a method token");
        let mut request = Request::builder().method(method).uri(self.path.as_str());
        for (name, value) in &self.headers {
            let value = HeaderValue::from_bytes(value)
                .unwrap_or_else(|e| panic!("{}: header {name} is not sendable: {e}", self.name));
            request = request.header(*name, value);
        }
        request
            .body(Body::from(self.body.clone()))
            .unwrap_or_else(|e| panic!("{}: not a request: {e}", self.name))
    }
}

/// `n` distinct entity tags, then the current one, as one field value.
fn tag_list_ending_with_current(n: usize) -> String {
    let mut list: Vec<String> = (0..n).map(|i| format!("\"t{i}\"")).collect();
    list.push(TAG.to_owned());
    list.join(", ")
}

/// A JSON value nested `depth` levels deep (arrays), closed properly.
fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// A merge patch nested `depth` objects deep.
fn nested_objects(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

/// The catalog of requests that must be refused with a 4xx problem and
/// change nothing. Every `If-Match` below that is not the subject of its
/// case is the current tag, so the case reaches the check it is about.
#[rustfmt::skip] // one request per line: a table reads better than rustfmt's columns
fn catalog() -> Vec<Case> {
    let ten_thousand_tags = tag_list_ending_with_current(10_000);
    let sixty_five_tags = tag_list_ending_with_current(64);
    let hundred_kb_tag = format!("\"{}\"", "a".repeat(100 * 1024));
    let hundred_kb_of_commas = format!("{}{TAG}", ", ".repeat(50 * 1024));
    let deep_city = format!(r#"{{"city":{}}}"#, nested_arrays(10_000));
    let deep_patch = nested_objects(10_000);
    // Above the default 64 KiB body limit, and valid JSON.
    let big_city = format!(r#"{{"city":"{}"}}"#, "x".repeat(100 * 1024));
    let two_big_cities = format!("{big_city}{big_city}");
    let big_profile = format!(r#"{{"id":43,"name":"Big","city":"{}"}}"#, "x".repeat(100 * 1024));
    let sixty_five_lines: Vec<(&'static str, &str)> =
        std::iter::repeat_n(MATCH, 65).chain([JSON]).collect();
    let eve = r#"{"id":43,"name":"Eve","city":"Rome"}"#;

    vec![
        // --- If-Match that cannot be parsed, or does not match: 412 -------
        case("put_if_match_unquoted", "PUT", ITEM, &[JSON, ("if-match", "prof-42-v7")], LYON, 412, "IM-5, decision 1"),
        case("put_if_match_unterminated_quote", "PUT", ITEM, &[JSON, ("if-match", "\"prof-42-v7")], LYON, 412, "IM-5, decision 1"),
        case("put_if_match_missing_opening_quote", "PUT", ITEM, &[JSON, ("if-match", "prof-42-v7\"")], LYON, 412, "IM-5, decision 1"),
        case("put_if_match_star_then_tag", "PUT", ITEM, &[JSON, ("if-match", "*, \"prof-42-v7\"")], LYON, 412, "G-13, IM-7, decision 1"),
        case("put_if_match_tag_then_star", "PUT", ITEM, &[JSON, ("if-match", "\"prof-42-v7\", *")], LYON, 412, "G-13, IM-7, decision 1"),
        case("put_if_match_star_twice", "PUT", ITEM, &[JSON, ("if-match", "*, *")], LYON, 412, "G-13, decision 1"),
        case("put_if_match_empty_value", "PUT", ITEM, &[JSON, ("if-match", "")], LYON, 412, "G-11, decision 1"),
        case("put_if_match_only_commas", "PUT", ITEM, &[JSON, ("if-match", " , ,, ")], LYON, 412, "G-10, G-11, decision 1"),
        case("put_if_match_lowercase_weak_prefix", "PUT", ITEM, &[JSON, ("if-match", "w/\"prof-42-v7\"")], LYON, 412, "G-1, IM-5"),
        case("put_if_match_weak_current_tag", "PUT", ITEM, &[JSON, ("if-match", "W/\"prof-42-v7\"")], LYON, 412, "IM-1, S4"),
        case("put_if_match_space_after_weak_prefix", "PUT", ITEM, &[JSON, ("if-match", "W/ \"prof-42-v7\"")], LYON, 412, "G-1, IM-5"),
        case("put_if_match_space_inside_tag", "PUT", ITEM, &[JSON, ("if-match", "\"prof-42 v7\"")], LYON, 412, "G-2, IM-5"),
        case("put_if_match_tab_inside_tag", "PUT", ITEM, &[JSON, ("if-match", "\"prof-42\tv7\"")], LYON, 412, "G-2, IM-5"),
        case("put_if_match_tags_without_comma", "PUT", ITEM, &[JSON, ("if-match", "\"x\" \"prof-42-v7\"")], LYON, 412, "G-10, IM-5"),
        case("put_if_match_semicolon_separated", "PUT", ITEM, &[JSON, ("if-match", "\"x\";\"prof-42-v7\"")], LYON, 412, "G-10, IM-5"),
        case("put_if_match_garbage_after_tag", "PUT", ITEM, &[JSON, ("if-match", "\"prof-42-v7\"garbage")], LYON, 412, "IM-5, decision 1"),
        case("put_if_match_backslash_escaped_quotes", "PUT", ITEM, &[JSON, ("if-match", "\\\"prof-42-v7\\\"")], LYON, 412, "G-3, IM-5 (no recovery)"),
        case("put_if_match_single_quotes", "PUT", ITEM, &[JSON, ("if-match", "'prof-42-v7'")], LYON, 412, "IM-5, decision 1"),
        case("put_if_match_json_array", "PUT", ITEM, &[JSON, ("if-match", "[\"prof-42-v7\"]")], LYON, 412, "IM-5, decision 1"),
        case("put_if_match_case_changed", "PUT", ITEM, &[JSON, ("if-match", "\"PROF-42-V7\"")], LYON, 412, "CMP-1 (case-sensitive), IM-4"),
        case("put_if_match_tag_of_another_resource", "PUT", ITEM, &[JSON, ("if-match", "\"prof-43-v7\"")], LYON, 412, "IM-4, decision 7"),
        case("put_if_match_future_version", "PUT", ITEM, &[JSON, ("if-match", "\"prof-42-v8\"")], LYON, 412, "IM-4, S3"),
        case("put_if_match_stale_version", "PUT", ITEM, &[JSON, ("if-match", "\"prof-42-v6\"")], LYON, 412, "IM-4, S3"),
        case("put_if_match_utf8_suffix", "PUT", ITEM, &[JSON, ("if-match", "\"prof-42-v7é\"")], LYON, 412, "G-2, G-9 (bytes compared), IM-4"),
        case("put_if_match_obs_text_tag", "PUT", ITEM, &[JSON], LYON, 412, "G-2, G-9, IM-4")
            .raw_header("if-match", b"\"prof-42-v7\xff\""),
        case("put_if_match_obs_text_unquoted", "PUT", ITEM, &[JSON], LYON, 412, "G-9, IM-5")
            .raw_header("if-match", b"prof-42-v7\xe9"),
        case("put_if_match_10000_tags_with_current", "PUT", ITEM, &[JSON, ("if-match", &ten_thousand_tags)], LYON, 412, "G-10 (cap), decision 1"),
        case("put_if_match_65_tags_with_current", "PUT", ITEM, &[JSON, ("if-match", &sixty_five_tags)], LYON, 412, "G-10 (cap of 64), decision 1"),
        case("put_if_match_100kb_tag", "PUT", ITEM, &[JSON, ("if-match", &hundred_kb_tag)], LYON, 412, "G-10 (cap of 8 KiB), decision 1"),
        case("put_if_match_100kb_of_empty_elements_then_current", "PUT", ITEM, &[JSON, ("if-match", &hundred_kb_of_commas)], LYON, 412, "G-10 (a reasonable number of empty elements), decision 1"),
        case("put_if_match_65_lines_of_current_tag", "PUT", ITEM, &sixty_five_lines, LYON, 412, "G-10, G-12, decision 1"),
        case("put_if_match_two_lines_one_bad", "PUT", ITEM, &[JSON, MATCH, ("if-match", "garbage")], LYON, 412, "G-12, IM-5 (fail closed)"),
        case("put_if_match_two_lines_bad_first", "PUT", ITEM, &[JSON, ("if-match", "\"unterminated"), MATCH], LYON, 412, "G-12, IM-5 (fail closed)"),
        case("put_if_match_two_lines_star_and_tag", "PUT", ITEM, &[JSON, ("if-match", "*"), MATCH], LYON, 412, "G-12, G-13"),
        case("put_if_match_stale_and_invalid_body", "PUT", ITEM, &[JSON, ("if-match", "\"prof-42-v6\"")], "{oops", 412, "EV-1, S17"),
        case("put_if_match_stale_with_future_if_unmodified_since", "PUT", ITEM, &[JSON, ("if-match", "\"prof-42-v6\""), ("if-unmodified-since", "Fri, 01 Jan 2100 00:00:00 GMT")], LYON, 412, "IUS-1, PR-1"),
        case("delete_if_match_garbage_with_body", "DELETE", ITEM, &[JSON, ("if-match", "garbage")], LYON, 412, "IM-5, decision 1"),
        case("patch_if_match_star_and_tag", "PATCH", ITEM, &[MERGE, ("if-match", "*, \"prof-42-v7\"")], LYON, 412, "G-13, IM-7"),
        // --- If-None-Match on writes: 412 ---------------------------------
        case("put_if_match_ok_but_if_none_match_star", "PUT", ITEM, &[JSON, MATCH, ("if-none-match", "*")], LYON, 412, "PR-1 step 3, INM-3, INM-6"),
        case("put_if_match_ok_but_if_none_match_garbage", "PUT", ITEM, &[JSON, MATCH, ("if-none-match", "garbage")], LYON, 412, "decision 1"),
        case("put_if_none_match_star_on_existing", "PUT", ITEM, &[JSON, ("if-none-match", "*")], LYON, 412, "INM-3, S2"),
        case("patch_if_none_match_current_tag", "PATCH", ITEM, &[MERGE, ("if-none-match", TAG)], LYON, 412, "INM-4, INM-6, S2"),
        case("delete_if_none_match_weak_current_tag", "DELETE", ITEM, &[("if-none-match", "W/\"prof-42-v7\"")], "", 412, "INM-1, INM-6"),
        case("delete_if_none_match_garbage", "DELETE", ITEM, &[("if-none-match", "\"unterminated")], "", 412, "decision 1"),
        // --- Reads with a bad If-Match: 412 -------------------------------
        case("get_if_match_garbage", "GET", ITEM, &[("if-match", "garbage")], "", 412, "IM-2, IM-5, IM-8"),
        case("get_if_match_10000_tags_with_current", "GET", ITEM, &[("if-match", &ten_thousand_tags)], "", 412, "IM-2, G-10"),
        case("get_if_match_stale_beats_if_none_match", "GET", ITEM, &[("if-match", "\"prof-42-v6\""), ("if-none-match", TAG)], "", 412, "PR-1"),
        case("head_if_match_garbage", "HEAD", ITEM, &[("if-match", "garbage")], "", 412, "EV-5, IM-5, 412-2"),
        case("head_if_match_star_and_tag", "HEAD", ITEM, &[("if-match", "*, \"x\"")], "", 412, "EV-5, G-13, 412-2"),
        // --- Writes without a usable precondition: 428 --------------------
        case("put_without_precondition", "PUT", ITEM, &[JSON], LYON, 428, "428-1, S15, decision 2"),
        case("patch_without_precondition", "PATCH", ITEM, &[MERGE], LYON, 428, "428-1, S15, decision 2"),
        case("delete_without_precondition", "DELETE", ITEM, &[], "", 428, "428-1, S15, decision 2"),
        case("put_without_precondition_and_200kb_body", "PUT", ITEM, &[JSON], &two_big_cities, 428, "decision 2 (428 before body parsing)"),
        case("put_only_if_unmodified_since_garbage", "PUT", ITEM, &[JSON, ("if-unmodified-since", "yesterday")], LYON, 428, "IUS-2, decision 2"),
        case("put_only_if_unmodified_since_valid_date", "PUT", ITEM, &[JSON, ("if-unmodified-since", "Fri, 01 Jan 2100 00:00:00 GMT")], LYON, 428, "IUS-3, decision 2 (no modification date)"),
        case("put_only_if_unmodified_since_february_30", "PUT", ITEM, &[JSON, ("if-unmodified-since", "Mon, 30 Feb 2015 08:49:37 GMT")], LYON, 428, "G-14, IUS-2"),
        case("delete_only_if_unmodified_since_not_gmt", "DELETE", ITEM, &[("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 PST")], "", 428, "G-14, IUS-2"),
        case("patch_only_if_unmodified_since_list_of_dates", "PATCH", ITEM, &[MERGE, ("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT")], LYON, 428, "IUS-2"),
        case("put_only_if_unmodified_since_huge_year", "PUT", ITEM, &[JSON, ("if-unmodified-since", "Sun, 06 Nov 99999999999 08:49:37 GMT")], LYON, 428, "G-14, IUS-2"),
        case("put_only_if_modified_since", "PUT", ITEM, &[JSON, ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")], LYON, 428, "IMS-2, decision 2"),
        case("delete_only_if_range", "DELETE", ITEM, &[("if-range", TAG)], "", 428, "IR-1, decision 2"),
        case("put_misspelled_if_match_field", "PUT", ITEM, &[JSON, ("if_match", TAG)], LYON, 428, "decision 2"),
        // --- Media types: 415 (before 412 and 428) ------------------------
        case("put_text_plain", "PUT", ITEM, &[("content-type", "text/plain"), MATCH], LYON, 415, "EV-2, S13"),
        case("put_without_content_type", "PUT", ITEM, &[MATCH], LYON, 415, "EV-2, S13"),
        case("put_empty_content_type", "PUT", ITEM, &[("content-type", ""), MATCH], LYON, 415, "EV-2"),
        case("put_content_type_only_parameters", "PUT", ITEM, &[("content-type", "; charset=utf-8"), MATCH], LYON, 415, "EV-2"),
        case("put_form_urlencoded", "PUT", ITEM, &[("content-type", "application/x-www-form-urlencoded"), MATCH], "city=Lyon", 415, "EV-2"),
        case("put_merge_patch_media_type", "PUT", ITEM, &[MERGE, MATCH], LYON, 415, "EV-2 (PUT takes application/json)"),
        case("put_json_lookalike_media_type", "PUT", ITEM, &[("content-type", "application/jsonp"), MATCH], LYON, 415, "EV-2"),
        case("put_content_type_list", "PUT", ITEM, &[("content-type", "application/json, text/plain"), MATCH], LYON, 415, "EV-2 (one media type)"),
        case("put_content_type_obs_text", "PUT", ITEM, &[MATCH], LYON, 415, "EV-2")
            .raw_header("content-type", b"application/json\xff"),
        case("put_text_plain_without_precondition", "PUT", ITEM, &[("content-type", "text/plain")], LYON, 415, "decision 2 (428 comes after 415)"),
        case("put_text_plain_with_stale_if_match", "PUT", ITEM, &[("content-type", "text/plain"), ("if-match", "\"prof-42-v6\"")], LYON, 415, "EV-2, S13"),
        case("patch_application_json", "PATCH", ITEM, &[JSON, MATCH], LYON, 415, "MP-1, PATCH-6"),
        case("patch_application_json_with_charset", "PATCH", ITEM, &[("content-type", "application/json; charset=utf-8"), MATCH], LYON, 415, "MP-1, PATCH-6"),
        case("patch_json_patch_document", "PATCH", ITEM, &[("content-type", "application/json-patch+json"), MATCH], r#"[{"op":"replace","path":"/city","value":"Lyon"}]"#, 415, "MP-1, PATCH-6, PATCH-7"),
        case("patch_without_content_type", "PATCH", ITEM, &[MATCH], LYON, 415, "MP-1, PATCH-6"),
        case("patch_text_plain_without_precondition", "PATCH", ITEM, &[("content-type", "text/plain")], LYON, 415, "decision 2 (428 comes after 415)"),
        case("post_text_plain", "POST", COLLECTION, &[("content-type", "text/plain")], eve, 415, "EV-2"),
        // --- PUT bodies that are not JSON: 400 ----------------------------
        case("put_json_syntax_error", "PUT", ITEM, &[JSON, MATCH], "{oops", 400, "S16, decision 10"),
        case("put_json_truncated", "PUT", ITEM, &[JSON, MATCH], r#"{"city":"Ly"#, 400, "S16"),
        case("put_json_empty_body", "PUT", ITEM, &[JSON, MATCH], "", 400, "S16"),
        case("put_json_trailing_garbage", "PUT", ITEM, &[JSON, MATCH], r#"{"city":"Lyon"} x"#, 400, "S16"),
        case("put_json_two_documents", "PUT", ITEM, &[JSON, MATCH], r#"{"city":"Lyon"}{"city":"Rome"}"#, 400, "S16"),
        case("put_json_single_quoted", "PUT", ITEM, &[JSON, MATCH], "{'city':'Lyon'}", 400, "S16"),
        case("put_json_invalid_utf8", "PUT", ITEM, &[JSON, MATCH], "", 400, "RFC 8259 §8.1, S16")
            .raw_body(b"{\"city\":\"Ly\xffon\"}"),
        case("put_json_nested_10000_deep", "PUT", ITEM, &[JSON, MATCH], &deep_city, 400, "RFC 8259 §9 (depth limit), S16"),
        // --- PUT bodies of the wrong shape: 422, too big: 413 -------------
        case("put_city_is_a_number", "PUT", ITEM, &[JSON, MATCH], r#"{"city":42}"#, 422, "S16, PUT-3"),
        case("put_name_is_an_array", "PUT", ITEM, &[JSON, MATCH], r#"{"name":["Ava"]}"#, 422, "S16, PUT-3"),
        case("put_city_is_an_object", "PUT", ITEM, &[JSON, MATCH], r#"{"city":{"name":"Lyon"}}"#, 422, "S16, PUT-3"),
        case("put_name_is_null", "PUT", ITEM, &[JSON, MATCH], r#"{"name":null}"#, 422, "MP-3, S16"),
        case("put_id_is_null", "PUT", ITEM, &[JSON, MATCH], r#"{"id":null,"city":"Lyon"}"#, 422, "S16"),
        case("put_body_is_an_array", "PUT", ITEM, &[JSON, MATCH], r#"[{"city":"Lyon"}]"#, 422, "S16"),
        case("put_body_is_null", "PUT", ITEM, &[JSON, MATCH], "null", 422, "S16"),
        case("put_body_is_a_string", "PUT", ITEM, &[JSON, MATCH], r#""Lyon""#, 422, "S16"),
        case("put_changes_the_id", "PUT", ITEM, &[JSON, MATCH], r#"{"id":43,"city":"Lyon"}"#, 422, "decision 7"),
        case("put_id_as_string", "PUT", ITEM, &[JSON, MATCH], r#"{"id":"42","city":"Lyon"}"#, 422, "S16"),
        case("put_id_overflows_i64", "PUT", ITEM, &[JSON, MATCH], r#"{"id":99999999999999999999,"city":"Lyon"}"#, 422, "S16"),
        case("put_body_over_64_kib", "PUT", ITEM, &[JSON, MATCH], &big_city, 413, "decision 10 (body limit)"),
        // --- PATCH documents that are not JSON, or patch the wrong things --
        case("patch_syntax_error", "PATCH", ITEM, &[MERGE, MATCH], "{oops", 400, "PATCH-7"),
        case("patch_truncated", "PATCH", ITEM, &[MERGE, MATCH], r#"{"city":"Ly"#, 400, "PATCH-7"),
        case("patch_empty_body", "PATCH", ITEM, &[MERGE, MATCH], "", 400, "PATCH-7"),
        case("patch_invalid_utf8", "PATCH", ITEM, &[MERGE, MATCH], "", 400, "RFC 8259 §8.1, PATCH-7")
            .raw_body(b"{\"city\":\"\xc3\x28\"}"),
        case("patch_nested_10000_deep", "PATCH", ITEM, &[MERGE, MATCH], &deep_patch, 400, "RFC 8259 §9 (depth limit), PATCH-7"),
        case("patch_json_patch_array_as_merge_patch", "PATCH", ITEM, &[MERGE, MATCH], r#"[{"op":"replace","path":"/city","value":"Lyon"}]"#, 422, "MP-2, PATCH-7"),
        case("patch_document_is_null", "PATCH", ITEM, &[MERGE, MATCH], "null", 422, "MP-2, PATCH-7"),
        case("patch_document_is_a_string", "PATCH", ITEM, &[MERGE, MATCH], r#""Lyon""#, 422, "MP-2, PATCH-7"),
        case("patch_removes_a_required_member", "PATCH", ITEM, &[MERGE, MATCH], r#"{"name":null}"#, 422, "MP-3, PATCH-1"),
        case("patch_city_is_a_boolean", "PATCH", ITEM, &[MERGE, MATCH], r#"{"city":false}"#, 422, "PATCH-2, PATCH-7"),
        case("patch_changes_the_id", "PATCH", ITEM, &[MERGE, MATCH], r#"{"id":43}"#, 422, "decision 11"),
        case("patch_removes_the_id", "PATCH", ITEM, &[MERGE, MATCH], r#"{"id":null}"#, 422, "decision 11"),
        case("patch_sets_the_version", "PATCH", ITEM, &[MERGE, MATCH], r#"{"version":99}"#, 422, "decision 11 (the version cannot be changed by a patch), PATCH-1"),
        case("patch_with_unknown_member", "PATCH", ITEM, &[MERGE, MATCH], r#"{"city":"Lyon","role":"admin"}"#, 422, "PATCH-1 (all or nothing), PATCH-2, MP-2"),
        case("patch_body_over_64_kib", "PATCH", ITEM, &[MERGE, MATCH], &big_city, 413, "decision 10 (body limit)"),
        // --- Ids in the path that do not parse: 400 ------------------------
        case("get_id_overflows_i64", "GET", "/profiles/99999999999999999999", &[], "", 400, "decision 12, decision 10"),
        case("delete_id_overflows_i64", "DELETE", "/profiles/99999999999999999999", &[MATCH], "", 400, "decision 12"),
        case("put_id_i64_max_plus_one", "PUT", "/profiles/9223372036854775808", &[JSON, MATCH], LYON, 400, "decision 12"),
        case("get_id_i64_min_minus_one", "GET", "/profiles/-9223372036854775809", &[], "", 400, "decision 12"),
        case("get_non_numeric_id", "GET", "/profiles/abc", &[], "", 400, "decision 12"),
        case("delete_hexadecimal_id", "DELETE", "/profiles/0x2A", &[MATCH], "", 400, "decision 12"),
        case("put_fractional_id", "PUT", "/profiles/42.0", &[JSON, MATCH], LYON, 400, "decision 12"),
        case("get_encoded_slash_in_id", "GET", "/profiles/4%2F2", &[], "", 400, "decision 12"),
        case("get_invalid_utf8_in_id", "GET", "/profiles/%FF", &[], "", 400, "decision 12"),
        case("delete_nul_after_id", "DELETE", "/profiles/42%00", &[MATCH], "", 400, "decision 12"),
        case("head_non_numeric_id", "HEAD", "/profiles/abc", &[], "", 400, "decision 12, EV-5"),
        case("patch_id_in_body_differs_from_url", "PATCH", ITEM, &[MERGE, MATCH], r#"{"id":43,"city":"Lyon"}"#, 422, "decision 12"),
        // --- Ids that name no resource, and URLs that name none: 404 -------
        case("patch_negative_id", "PATCH", "/profiles/-42", &[MERGE, MATCH], LYON, 404, "EV-2, S9"),
        case("get_negative_id", "GET", "/profiles/-1", &[], "", 404, "EV-2"),
        case("delete_empty_id", "DELETE", "/profiles/", &[MATCH], "", 404, "EV-2"),
        case("delete_trailing_slash", "DELETE", "/profiles/42/", &[MATCH], "", 404, "EV-2"),
        case("delete_extra_segment", "DELETE", "/profiles/42/extra", &[MATCH], "", 404, "EV-2"),
        case("put_current_tag_on_missing_resource", "PUT", "/profiles/43", &[JSON, MATCH], eve, 412, "decision 3 (PUT creates here), S6, decision 7"),
        case("put_missing_without_precondition", "PUT", "/profiles/43", &[JSON], eve, 428, "decision 3, S15"),
        case("delete_missing_with_if_match_star", "DELETE", "/profiles/43", &[("if-match", "*")], "", 404, "EV-2, S11"),
        case("patch_missing_with_garbage_if_match", "PATCH", "/profiles/43", &[MERGE, ("if-match", "garbage")], LYON, 404, "EV-2, S9"),
        // --- Methods the routes do not allow: 405 -------------------------
        case("post_to_item", "POST", ITEM, &[JSON, MATCH], LYON, 405, "S13"),
        case("put_to_collection", "PUT", COLLECTION, &[JSON, MATCH], LYON, 405, "S13"),
        case("patch_to_collection", "PATCH", COLLECTION, &[MERGE, MATCH], LYON, 405, "S13"),
        case("delete_collection", "DELETE", COLLECTION, &[MATCH], "", 405, "S13"),
        case("trace_item", "TRACE", ITEM, &[MATCH], "", 405, "EV-3, S13"),
        case("extension_method_on_item", "BREW", ITEM, &[MATCH], "", 405, "S13"),
        // --- Creation through the collection ------------------------------
        case("post_over_existing_id", "POST", COLLECTION, &[JSON], r#"{"id":42,"name":"Eve","city":"Rome"}"#, 409, "decision 10 (409)"),
        case("post_json_syntax_error", "POST", COLLECTION, &[JSON], "{oops", 400, "decision 10"),
        case("post_missing_required_members", "POST", COLLECTION, &[JSON], r#"{"id":43}"#, 422, "decision 10"),
        case("post_body_over_64_kib", "POST", COLLECTION, &[JSON], &big_profile, 413, "decision 10 (body limit)"),
        case("post_with_malformed_if_match", "POST", COLLECTION, &[JSON, ("if-match", "\"unterminated")], eve, 412, "IM-2, IM-5, IM-6, decision 1 (fail closed for writes)"),
        // --- Collection queries: 400 --------------------------------------
        case("list_negative_limit", "GET", "/profiles?limit=-1", &[], "", 400, "decision 10"),
        case("list_limit_overflows_u32", "GET", "/profiles?limit=4294967296", &[], "", 400, "decision 10"),
        case("list_after_overflows_i64", "GET", "/profiles?after=99999999999999999999", &[], "", 400, "decision 10"),
        case("list_after_non_numeric", "GET", "/profiles?after=abc", &[], "", 400, "decision 10"),
    ]
}

/// Hostile headers on reads that the RFC tells the server to ignore: the
/// plain 200 (or 204 for OPTIONS), and nothing changes.
#[rustfmt::skip] // one request per line
fn ignored_on_reads() -> Vec<Case> {
    let hundred_kb = format!("\"{}\"", "a".repeat(100 * 1024));
    vec![
        case("get_if_none_match_garbage", "GET", ITEM, &[("if-none-match", "garbage")], "", 200, "INM-5, decision 1"),
        case("get_if_none_match_star_and_tag", "GET", ITEM, &[("if-none-match", "*, \"prof-42-v7\"")], "", 200, "G-13, INM-5, decision 1"),
        case("get_if_none_match_lowercase_weak_prefix", "GET", ITEM, &[("if-none-match", "w/\"prof-42-v7\"")], "", 200, "G-1, INM-5"),
        case("get_if_none_match_100kb", "GET", ITEM, &[("if-none-match", &hundred_kb)], "", 200, "G-10, INM-5"),
        case("get_if_none_match_obs_text", "GET", ITEM, &[], "", 200, "G-9, INM-5")
            .raw_header("if-none-match", b"\"\xff\""),
        case("head_if_none_match_garbage", "HEAD", ITEM, &[("if-none-match", "\"unterminated")], "", 200, "EV-5, INM-5"),
        case("get_if_modified_since_garbage", "GET", ITEM, &[("if-modified-since", "yesterday")], "", 200, "IMS-2"),
        case("get_if_modified_since_future", "GET", ITEM, &[("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT")], "", 200, "IMS-3 (no modification date)"),
        case("get_if_unmodified_since_garbage", "GET", ITEM, &[("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 PST")], "", 200, "IUS-2"),
        case("get_if_unmodified_since_long_ago", "GET", ITEM, &[("if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT")], "", 200, "IUS-3 (no modification date)"),
        case("get_if_range_garbage_without_range", "GET", ITEM, &[("if-range", "garbage")], "", 200, "IR-1"),
        case("options_with_garbage_if_match", "OPTIONS", ITEM, &[("if-match", "garbage")], "", 204, "EV-3, S14"),
    ]
}

/// A response, read to the end.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        match text.char_indices().nth(300) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.into_owned(),
        }
    }
}

/// Sends `request` in a task of its own, so a panic in the service is
/// reported as this case's failure rather than ending the run.
async fn send(app: &Router, request: Request<Body>) -> Result<Reply, String> {
    let app = app.clone();
    let task = tokio::spawn(async move {
        let Ok(response) = app.oneshot(request).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes().to_vec());
        (parts, body)
    });
    match tokio::time::timeout(Duration::from_secs(30), task).await {
        Err(_) => Err("no answer within 30 s".into()),
        Ok(Err(join)) if join.is_panic() => {
            let payload = join.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(format!("the service panicked: {message}"))
        }
        Ok(Err(join)) => Err(format!("the request task failed: {join}")),
        Ok(Ok((_, Err(e)))) => Err(format!("the response body failed: {e}")),
        Ok(Ok((parts, Ok(body)))) => Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }),
    }
}

/// What the database holds, as clients see it: profile 42 (status, ETag,
/// body) and the first page of the collection.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    item: (StatusCode, Option<Vec<u8>>, Vec<u8>),
    collection: (StatusCode, Vec<u8>),
}

async fn snapshot(app: &Router) -> Snapshot {
    let get = |uri: &str| {
        Request::builder()
            .uri(uri)
            .body(Body::empty())
            .expect("a GET")
    };
    let item = send(app, get(ITEM)).await.expect("GET profile 42");
    let collection = send(app, get(COLLECTION))
        .await
        .expect("GET the collection");
    Snapshot {
        item: (
            item.status,
            item.headers.get("etag").map(|v| v.as_bytes().to_vec()),
            item.body,
        ),
        collection: (collection.status, collection.body),
    }
}

/// Runs one case against a fresh database and returns what went wrong.
async fn check(case: &Case) -> Vec<String> {
    // A database per case: a case that wrongly writes cannot change what
    // the next one sees.
    let repo = occ_examples::connect("sqlite::memory:")
        .await
        .expect("an in-memory database");
    let app = occ_examples::app(repo);
    let before = snapshot(&app).await;
    assert_eq!(
        before.item,
        (
            StatusCode::OK,
            Some(TAG.as_bytes().to_vec()),
            SEED.as_bytes().to_vec()
        ),
        "the seed of the reference scenario"
    );

    let mut wrong = Vec::new();
    let reply = match send(&app, case.request()).await {
        Ok(reply) => reply,
        Err(failure) => {
            wrong.push(failure);
            return wrong;
        }
    };
    let status = reply.status;
    if status.is_server_error() {
        wrong.push(format!("5xx: {status} {}", reply.text()));
    }
    if status.as_u16() != case.expected {
        wrong.push(format!(
            "status {status}, expected {} ({}); body: {}",
            case.expected,
            case.basis,
            reply.text()
        ));
    }
    let head = case.method == "HEAD";
    let bodiless = head || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    if bodiless && !reply.body.is_empty() {
        wrong.push(format!(
            "a body on a {status} to {}: {}",
            case.method,
            reply.text()
        ));
    }
    if status.is_client_error() || status.is_server_error() {
        check_problem(case, &reply, head, &mut wrong);
    } else if status == StatusCode::OK {
        check_representation(&reply, head, &mut wrong);
    }

    let after = snapshot(&app).await;
    if after != before {
        wrong.push(format!(
            "the stored state changed: profile 42 {:?} {:?} -> {:?} {:?}; collection {:?} -> {:?}",
            before.item.1.as_deref().map(String::from_utf8_lossy),
            String::from_utf8_lossy(&before.item.2),
            after.item.1.as_deref().map(String::from_utf8_lossy),
            String::from_utf8_lossy(&after.item.2),
            String::from_utf8_lossy(&before.collection.1),
            String::from_utf8_lossy(&after.collection.1),
        ));
    }
    wrong
}

/// Problem details (PD-1, PD-2, PD-4), plus the headers each refusal
/// carries: 412 the current ETag (decision 5), 428 `no-store` and the header
/// to send (428-2, 428-3), 405 `Allow`, 415 to PATCH `Accept-Patch`
/// (PATCH-6).
fn check_problem(case: &Case, reply: &Reply, head: bool, wrong: &mut Vec<String>) {
    let status = reply.status;
    if reply.header("content-type") != Some(PROBLEM_JSON) {
        wrong.push(format!(
            "content-type {:?}, expected {PROBLEM_JSON} (decision 10); body: {}",
            reply.header("content-type"),
            reply.text()
        ));
    }
    if !head {
        match serde_json::from_slice::<Value>(&reply.body) {
            Ok(problem) => {
                if problem["status"].as_u64() != Some(u64::from(status.as_u16())) {
                    wrong.push(format!(
                        "problem status member {} (PD-2)",
                        problem["status"]
                    ));
                }
                if problem["title"].as_str() != status.canonical_reason() {
                    wrong.push(format!("problem title {} (PD-4)", problem["title"]));
                }
                if !problem["type"].is_string() {
                    wrong.push("problem without a type (PD-3)".into());
                }
                if status == StatusCode::PRECONDITION_REQUIRED
                    && !problem["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("If-Match"))
                {
                    wrong.push("428 detail does not name If-Match (428-2)".into());
                }
                if status == StatusCode::PRECONDITION_FAILED
                    && case.path == ITEM
                    && problem["current_etag"].as_str() != Some(TAG)
                {
                    wrong.push(format!(
                        "412 current_etag member {} (decision 5)",
                        problem["current_etag"]
                    ));
                }
            }
            Err(e) => wrong.push(format!("not a JSON problem ({e}): {}", reply.text())),
        }
    }
    if status == StatusCode::PRECONDITION_FAILED
        && case.path == ITEM
        && reply.header("etag") != Some(TAG)
    {
        wrong.push(format!("412 ETag {:?} (decision 5)", reply.header("etag")));
    }
    if status == StatusCode::PRECONDITION_REQUIRED
        && reply.header("cache-control") != Some("no-store")
    {
        wrong.push("428 without Cache-Control: no-store (428-3)".into());
    }
    if status == StatusCode::METHOD_NOT_ALLOWED && reply.header("allow").is_none() {
        wrong.push("405 without Allow (RFC 9110 §15.5.6)".into());
    }
    if status == StatusCode::UNSUPPORTED_MEDIA_TYPE
        && case.method == "PATCH"
        && reply.header("accept-patch") != Some(MERGE_PATCH_JSON)
    {
        wrong.push("415 to PATCH without Accept-Patch (PATCH-6)".into());
    }
}

/// The unchanged representation of profile 42 with its tag.
fn check_representation(reply: &Reply, head: bool, wrong: &mut Vec<String>) {
    if reply.header("etag") != Some(TAG) {
        wrong.push(format!("ETag {:?} (G-5)", reply.header("etag")));
    }
    if reply.header("content-type") != Some("application/json") {
        wrong.push(format!("content-type {:?}", reply.header("content-type")));
    }
    if !head && reply.body != SEED.as_bytes() {
        wrong.push(format!("representation {}", reply.text()));
    }
}

/// Runs every case, in order, and returns one line per failed case.
async fn run(cases: &[Case]) -> Vec<String> {
    let mut names = std::collections::HashSet::new();
    for c in cases {
        assert!(names.insert(c.name), "duplicate case name {}", c.name);
    }
    let mut failures = Vec::new();
    for c in cases {
        let wrong = check(c).await;
        if !wrong.is_empty() {
            failures.push(format!(
                "{} ({} {}, expected {}): {}",
                c.name,
                c.method,
                shorten(&c.path),
                c.expected,
                wrong.join("; ")
            ));
        }
    }
    failures
}

fn shorten(path: &str) -> &str {
    path.get(..80).unwrap_or(path)
}

#[tokio::test]
async fn hostile_requests_are_4xx_problems_and_change_nothing() {
    let cases = catalog();
    assert!(cases.len() >= 50, "the catalog holds {} cases", cases.len());
    for c in &cases {
        assert!(
            (400..500).contains(&c.expected),
            "{}: the catalog is of refusals",
            c.name
        );
    }
    let failures = run(&cases).await;
    println!(
        "bad_input: {} hostile requests checked, {} passed, {} failed",
        cases.len(),
        cases.len() - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} hostile requests were mishandled:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn malformed_headers_the_rfc_says_to_ignore_on_reads_are_ignored_and_change_nothing() {
    let cases = ignored_on_reads();
    let failures = run(&cases).await;
    println!(
        "bad_input: {} ignorable hostile reads checked, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} reads were mishandled:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Header lines `http::HeaderValue` cannot hold, sent over TCP: (name,
/// the header line, basis). Each goes on a PUT that would change profile 42
/// if the header were recovered into the current tag.
#[rustfmt::skip] // one request per line
const WIRE: &[(&str, (&str, &str), &str)] = &[
    ("nul_inside_if_match_tag", ("If-Match", "\"prof-42\0-v7\""), "G-8"),
    ("del_inside_if_match_tag", ("If-Match", "\"prof-42-v7\x7f\""), "G-2, RFC 9110 §5.5"),
    ("bare_cr_inside_if_match", ("If-Match", "\"prof-42-\rv7\""), "G-8, RFC 9112 §2.2"),
    ("vertical_tab_after_if_match_tag", ("If-Match", "\"prof-42-v7\"\x0b"), "RFC 9110 §5.5"),
    ("obs_fold_inside_if_match_tag", ("If-Match", "\"prof-42-\r\n v7\""), "RFC 9112 §5.2"),
    ("bare_lf_splitting_if_match", ("If-Match", "\"nope\",\n\"prof-42-v7\""), "RFC 9112 §2.2"),
    ("space_before_colon", ("If-Match ", TAG), "RFC 9112 §5.1 (MUST 400)"),
    ("non_token_header_name", ("If(Match)", TAG), "RFC 9110 §5.1"),
];

/// hyper refuses these before the router runs, so the answer is hyper's
/// bare 400 rather than problem details. The RFC also lets a recipient
/// replace CR, LF, NUL (G-8) or an obs-fold (RFC 9112 §5.2) with SP, so each
/// value is malformed either way: the acceptable answers are 400 and a 412
/// problem, and profile 42 must not change.
#[tokio::test]
async fn header_bytes_invalid_on_the_wire_are_refused_and_change_nothing() {
    let repo = occ_examples::connect("sqlite::memory:")
        .await
        .expect("an in-memory database");
    let addr = occ_tests::serve(occ_examples::app(repo)).await;
    let before = occ_tests::http(addr, "GET", ITEM, &[], "").await;
    assert_eq!(before.status, 200);
    assert_eq!(before.header("etag"), Some(TAG));
    assert_eq!(before.text(), SEED);
    let mut failures = Vec::new();
    let mut statuses = Vec::new();
    for (name, header, basis) in WIRE {
        let r = occ_tests::http(
            addr,
            "PUT",
            ITEM,
            &[("Content-Type", "application/json"), *header],
            LYON,
        )
        .await;
        statuses.push(r.status);
        let problem = r.header("content-type") == Some(PROBLEM_JSON);
        if !(r.status == 400 || (r.status == 412 && problem)) {
            failures.push(format!(
                "{name}: status {} content-type {:?}, expected 400 or a 412 problem ({basis}); body: {}",
                r.status,
                r.header("content-type"),
                r.text()
            ));
        }
        let after = occ_tests::http(addr, "GET", ITEM, &[], "").await;
        if after.status != 200 || after.header("etag") != Some(TAG) || after.text() != SEED {
            failures.push(format!(
                "{name}: profile 42 changed: {} {:?} {}",
                after.status,
                after.header("etag"),
                after.text()
            ));
        }
    }
    println!(
        "bad_input: {} malformed header lines checked over TCP (statuses {statuses:?}), {} failed",
        WIRE.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
