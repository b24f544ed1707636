//! The OpenAPI descriptions the examples serve at `GET /openapi.json`
//! (feature `openapi` of occ-axum): OpenAPI 3.1, every route and method,
//! the precondition headers and validators, every status each operation
//! can answer with the `Problem` schema behind every refusal, and no body
//! on a 304 or a HEAD answer. The description is checked against the
//! server where it can be: `Allow` lists the documented methods, a page
//! has the documented shape. The `st_*` tests pin what schemathesis
//! (`.ci/schemathesis`) found: the server and its description agree.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::collections::BTreeSet;

use http::{Method, StatusCode};
use occ_tests::{send, Reply};
use serde_json::{json, Value};

async fn profiles() -> axum::Router {
    let repo = occ_examples::connect("sqlite::memory:").await.unwrap();
    occ_examples::app(repo)
}

async fn documents() -> axum::Router {
    let repo = occ_examples::document::connect("sqlite::memory:")
        .await
        .unwrap();
    occ_examples::document::app(repo)
}

async fn spec_of(app: &axum::Router) -> Value {
    let reply = send(app, Method::GET, "/openapi.json", &[], "").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    reply.json()
}

fn operation<'a>(spec: &'a Value, path: &str, method: &str) -> &'a Value {
    let operation = &spec["paths"][path][method];
    assert!(operation.is_object(), "{method} {path} is not described");
    operation
}

fn statuses(operation: &Value) -> BTreeSet<String> {
    operation["responses"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn parameter<'a>(operation: &'a Value, name: &str) -> Option<&'a Value> {
    operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
}

fn header_names(operation: &Value) -> BTreeSet<String> {
    operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "header")
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

const PROBLEM_REF: &str = "#/components/schemas/Problem";

/// Every path and method of one example: (path, method, statuses).
fn expected_profiles() -> Vec<(&'static str, &'static str, BTreeSet<String>)> {
    vec![
        (
            "/profiles",
            "get",
            set(&["200", "304", "400", "412", "500", "503"]),
        ),
        (
            "/profiles",
            "head",
            set(&["200", "304", "400", "412", "500", "503"]),
        ),
        (
            "/profiles",
            "post",
            set(&[
                "201", "400", "409", "412", "413", "415", "422", "500", "503",
            ]),
        ),
        ("/profiles", "options", set(&["204"])),
        (
            "/profiles/{id}",
            "get",
            set(&["200", "304", "400", "404", "412", "500", "503"]),
        ),
        (
            "/profiles/{id}",
            "head",
            set(&["200", "304", "400", "404", "412", "500", "503"]),
        ),
        (
            "/profiles/{id}",
            "put",
            // creating PUT: 201 too
            set(&[
                "200", "201", "400", "404", "409", "412", "413", "415", "422", "428", "500", "503",
            ]),
        ),
        (
            "/profiles/{id}",
            "patch",
            set(&[
                "200", "400", "404", "409", "412", "413", "415", "422", "428", "500", "503",
            ]),
        ),
        (
            "/profiles/{id}",
            "delete",
            set(&[
                "204", "400", "404", "409", "412", "422", "428", "500", "503",
            ]),
        ),
        ("/profiles/{id}", "options", set(&["204"])),
    ]
}

#[tokio::test]
async fn oa_1_served_description_is_openapi_3_1() {
    for app in [profiles().await, documents().await] {
        let spec = spec_of(&app).await;
        assert_eq!(spec["openapi"], "3.1.0");
        assert!(spec["info"]["title"].is_string());
        // It reads back as an OpenAPI document.
        let parsed: utoipa::openapi::OpenApi = serde_json::from_value(spec.clone()).unwrap();
        assert_eq!(parsed.paths.paths.len(), 2);
    }
}

#[tokio::test]
async fn oa_2_every_route_and_method_with_its_statuses() {
    let spec = spec_of(&profiles().await).await;
    let expected = expected_profiles();
    for (path, method, statuses_expected) in &expected {
        assert_eq!(
            &statuses(operation(&spec, path, method)),
            statuses_expected,
            "{method} {path}"
        );
    }
    // Nothing else is described.
    let described: usize = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "description")
                .count()
        })
        .sum();
    assert_eq!(described, expected.len());

    // Documents: no creating PUT, so no 201 from PUT.
    let spec = spec_of(&documents().await).await;
    let put = statuses(operation(&spec, "/documents/{id}", "put"));
    assert!(!put.contains("201"), "{put:?}");
    assert!(put.contains("428"));
}

#[tokio::test]
async fn oa_3_allow_lists_the_documented_methods() {
    let app = profiles().await;
    let spec = spec_of(&app).await;
    for (path, url) in [
        ("/profiles", "/profiles"),
        ("/profiles/{id}", "/profiles/42"),
    ] {
        let documented: BTreeSet<String> = spec["paths"][path]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "description")
            .map(|k| k.to_uppercase())
            .collect();
        let reply = send(&app, Method::OPTIONS, url, &[], "").await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        let allowed: BTreeSet<String> = reply
            .header("allow")
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect();
        assert_eq!(allowed, documented, "{url}");
    }
}

#[tokio::test]
async fn oa_4_precondition_headers_where_they_apply() {
    let spec = spec_of(&profiles().await).await;
    let item = "/profiles/{id}";
    // Profiles have no modification time: no date preconditions.
    assert_eq!(
        header_names(operation(&spec, item, "get")),
        set(&["If-Match", "If-None-Match"])
    );
    for method in ["put", "patch", "delete"] {
        let op = operation(&spec, item, method);
        assert_eq!(
            header_names(op),
            set(&["If-Match", "If-None-Match", "Idempotency-Key"]),
            "{method}"
        );
        // Required by the policy, but one of several: each optional, and said.
        for name in ["If-Match", "If-None-Match"] {
            assert_eq!(parameter(op, name).unwrap()["required"], false);
        }
        assert!(
            op["description"].as_str().unwrap().contains("one of"),
            "{method}: {}",
            op["description"]
        );
    }
    assert_eq!(
        header_names(operation(&spec, "/profiles", "post")),
        set(&["Idempotency-Key"])
    );
    assert_eq!(
        header_names(operation(&spec, "/profiles", "get")),
        set(&["If-Match", "If-None-Match"])
    );

    // Documents have one: the date preconditions too.
    let spec = spec_of(&documents().await).await;
    let item = "/documents/{id}";
    assert_eq!(
        header_names(operation(&spec, item, "get")),
        set(&[
            "If-Match",
            "If-None-Match",
            "If-Modified-Since",
            "If-Unmodified-Since"
        ])
    );
    let put = operation(&spec, item, "put");
    assert_eq!(
        header_names(put),
        set(&[
            "If-Match",
            "If-None-Match",
            "If-Unmodified-Since",
            "Idempotency-Key"
        ])
    );
    assert!(put["description"]
        .as_str()
        .unwrap()
        .contains("If-Unmodified-Since"));
}

#[tokio::test]
async fn oa_5_idempotency_key_is_an_sf_string_and_its_answers_are_described() {
    let spec = spec_of(&profiles().await).await;
    let put = operation(&spec, "/profiles/{id}", "put");
    let key = parameter(put, "Idempotency-Key").unwrap();
    assert_eq!(key["in"], "header");
    assert_eq!(key["required"], false);
    let pattern = key["schema"]["pattern"].as_str().unwrap();
    assert!(
        pattern.starts_with("^\"") && pattern.ends_with("\"$"),
        "{pattern}"
    );
    // 1 to 255 characters once unescaped, as the server counts them.
    assert!(pattern.contains("{1,255}"), "{pattern}");
    let description = key["description"].as_str().unwrap();
    for said in [
        "Idempotent-Replayed: true",
        "422",
        "409",
        "Retry-After",
        "400",
    ] {
        assert!(description.contains(said), "{said}: {description}");
    }
    assert!(put["responses"]["409"]["headers"]["Retry-After"].is_object());
    assert!(put["responses"]["200"]["headers"]["Idempotent-Replayed"].is_object());
    let delete = operation(&spec, "/profiles/{id}", "delete");
    assert!(delete["responses"]["204"]["headers"]["Idempotent-Replayed"].is_object());
}

#[tokio::test]
async fn oa_6_every_refusal_is_a_problem() {
    for (app, name) in [
        (profiles().await, "profiles"),
        (documents().await, "documents"),
    ] {
        let spec = spec_of(&app).await;
        let mut refusals = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "description" {
                    continue;
                }
                for (status, response) in op["responses"].as_object().unwrap() {
                    if !(status.starts_with('4') || status.starts_with('5')) {
                        continue;
                    }
                    let content = response.get("content");
                    if method == "head" {
                        assert!(content.is_none(), "{name} HEAD {path} {status}");
                        continue;
                    }
                    let content = content.unwrap().as_object().unwrap();
                    assert_eq!(
                        content.keys().collect::<Vec<_>>(),
                        ["application/problem+json"],
                        "{name} {method} {path} {status}"
                    );
                    // The problem, or (a 412 that carries `current`) the
                    // problem with `current` described as the model.
                    let schema = &content["application/problem+json"]["schema"];
                    let problem = schema.get("$ref").unwrap_or(&schema["allOf"][0]["$ref"]);
                    assert_eq!(problem, PROBLEM_REF, "{name} {method} {path} {status}");
                    refusals += 1;
                }
            }
        }
        assert!(refusals > 40, "{name}: {refusals}");

        let problem = &spec["components"]["schemas"]["Problem"];
        let members: BTreeSet<String> = problem["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            members,
            set(&[
                "type",
                "title",
                "status",
                "detail",
                "instance",
                "current_etag",
                "current",
                "conflicts"
            ])
        );
        let required: BTreeSet<String> = problem["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(required, set(&["type", "title", "status"]));
    }
}

#[tokio::test]
async fn oa_7_a_412_and_a_problem_from_the_server_fit_the_schema() {
    let app = profiles().await;
    let spec = spec_of(&app).await;
    let stale = send(
        &app,
        Method::PUT,
        "/profiles/42",
        &[
            ("if-match", "\"prof-42-v1\""),
            ("content-type", "application/json"),
        ],
        r#"{"city":"Lyon"}"#,
    )
    .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED, "{stale:?}");
    assert_eq!(
        stale.header("content-type"),
        Some("application/problem+json")
    );
    let problem = stale.json();
    let described = &spec["components"]["schemas"]["Problem"]["properties"];
    for member in problem.as_object().unwrap().keys() {
        assert!(described[member].is_object(), "{member} is not described");
    }
    assert_eq!(problem["current_etag"], "\"prof-42-v7\"");
    assert_eq!(problem["current"]["name"], "Ava");
    let put = operation(&spec, "/profiles/{id}", "put");
    assert!(put["responses"]["412"]["headers"]["ETag"].is_object());
    assert!(put["responses"]["412"]["description"]
        .as_str()
        .unwrap()
        .contains("`current`"));
    // `current` is described as the model, so that a generated client
    // reads it as one.
    let schema = &put["responses"]["412"]["content"]["application/problem+json"]["schema"];
    assert_eq!(schema["allOf"][0]["$ref"], "#/components/schemas/Problem");
    assert_eq!(
        schema["allOf"][1]["properties"]["current"]["$ref"],
        "#/components/schemas/Profile"
    );
}

#[tokio::test]
async fn oa_8_a_304_and_a_head_answer_have_no_body() {
    for app in [profiles().await, documents().await] {
        let spec = spec_of(&app).await;
        let mut not_modified = 0;
        for item in spec["paths"].as_object().unwrap().values() {
            for (method, op) in item.as_object().unwrap() {
                if method == "description" {
                    continue;
                }
                for (status, response) in op["responses"].as_object().unwrap() {
                    if status == "304" {
                        not_modified += 1;
                        assert!(response.get("content").is_none());
                        assert!(response["headers"]["ETag"].is_object());
                    }
                    if method == "head" || status == "204" {
                        assert!(response.get("content").is_none(), "{method} {status}");
                    }
                }
            }
        }
        // GET and HEAD of the item and of the list.
        assert_eq!(not_modified, 4);
    }
}

#[tokio::test]
async fn oa_9_validators_and_location() {
    let spec = spec_of(&documents().await).await;
    let get = operation(&spec, "/documents/{id}", "get");
    let ok = &get["responses"]["200"];
    assert!(ok["headers"]["ETag"].is_object());
    assert!(ok["headers"]["Last-Modified"]["schema"]["pattern"].is_string());
    assert_eq!(
        ok["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Document"
    );
    assert!(get["responses"]["304"]["headers"]["Last-Modified"].is_object());
    let created = &operation(&spec, "/documents", "post")["responses"]["201"];
    for header in ["Location", "ETag", "Last-Modified", "Cache-Control"] {
        assert!(created["headers"][header].is_object(), "{header}");
    }
    // Profiles have no modification time: no Last-Modified.
    let spec = spec_of(&profiles().await).await;
    let ok = &operation(&spec, "/profiles/{id}", "get")["responses"]["200"];
    assert!(ok["headers"]["ETag"].is_object());
    assert!(ok["headers"].get("Last-Modified").is_none());
    let created = &operation(&spec, "/profiles/{id}", "put")["responses"]["201"];
    assert!(created["headers"]["Location"].is_object());
}

#[tokio::test]
async fn oa_10_request_bodies() {
    let spec = spec_of(&documents().await).await;
    let post = &operation(&spec, "/documents", "post")["requestBody"]["content"];
    let schema = &post["application/json"]["schema"];
    // The server assigns the id, and keeps the date.
    assert!(schema["properties"].get("id").is_none(), "{schema}");
    assert_eq!(schema["properties"]["updated_at"]["readOnly"], true);
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["body", "title"].into_iter().collect());
    let put = &operation(&spec, "/documents/{id}", "put")["requestBody"]["content"];
    assert!(put["application/json"]["schema"].is_object());
    let patch = &operation(&spec, "/documents/{id}", "patch")["requestBody"]["content"];
    let patch = &patch["application/merge-patch+json"]["schema"];
    assert!(patch.get("required").is_none(), "{patch}");
    assert_eq!(patch["additionalProperties"], false);

    // Profiles: the client names the id in a POST; PUT merges members.
    let spec = spec_of(&profiles().await).await;
    let post = &operation(&spec, "/profiles", "post")["requestBody"]["content"];
    let required: BTreeSet<&str> = post["application/json"]["schema"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["id", "name", "city"].into_iter().collect());
    let put = &operation(&spec, "/profiles/{id}", "put")["requestBody"]["content"];
    assert!(put["application/json"]["schema"].get("required").is_none());
}

#[tokio::test]
async fn oa_11_the_page_is_as_described() {
    let app = profiles().await;
    let spec = spec_of(&app).await;
    let page = &spec["components"]["schemas"]["ProfilePage"];
    assert_eq!(page["required"], json!(["items"]));
    let item = &page["properties"]["items"]["items"];
    assert_eq!(item["allOf"][0]["$ref"], "#/components/schemas/Profile");
    assert_eq!(item["allOf"][1]["required"], json!(["etag"]));
    assert!(page["properties"]["next_after"].is_object());

    let list = send(&app, Method::GET, "/profiles?limit=1", &[], "").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.header("etag").unwrap().starts_with("W/\""));
    let body = list.json();
    let got = send(&app, Method::GET, "/profiles/42", &[], "").await;
    assert_eq!(body["items"][0]["etag"], got.header("etag").unwrap());
    let members: BTreeSet<String> = body.as_object().unwrap().keys().cloned().collect();
    let described: BTreeSet<String> = page["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(members.is_subset(&described), "{members:?}");
}

async fn post_profile(app: &axum::Router, body: &str) -> Reply {
    send(
        app,
        Method::POST,
        "/profiles",
        &[("content-type", "application/json")],
        body,
    )
    .await
}

/// JSON Schema takes `34677.0` for an integer; the server did not (422).
#[tokio::test]
async fn st_1_a_whole_number_written_as_a_float_is_an_integer() {
    let app = profiles().await;
    let created = post_profile(&app, r#"{"id":34677.0,"name":"Eve","city":"Rome"}"#).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.json()["id"], 34677);
    assert_eq!(created.header("location"), Some("/profiles/34677"));
    let patched = send(
        &app,
        Method::PATCH,
        "/profiles/34677",
        &[
            ("content-type", "application/merge-patch+json"),
            ("if-match", "\"prof-34677-v1\""),
        ],
        r#"{"id":3.4677e4,"city":"Oslo"}"#,
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{patched:?}");
    // Up to 2^53, where a float holds every integer.
    let edge = post_profile(
        &app,
        r#"{"id":-9007199254740992.0,"name":"Eve","city":"Rome"}"#,
    )
    .await;
    assert_eq!(edge.status, StatusCode::CREATED, "{edge:?}");
    assert_eq!(edge.json()["id"], -9_007_199_254_740_992_i64);
    // A fraction is still no integer, and beyond 2^53 a float stands for
    // several integers: both refused, never taken for another value.
    for body in [
        r#"{"id":1.5,"name":"Eve","city":"Rome"}"#,
        r#"{"id":-9223372036854775809,"name":"Eve","city":"Rome"}"#,
        r#"{"id":18014398509481986.0,"name":"Eve","city":"Rome"}"#,
    ] {
        let refused = post_profile(&app, body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {refused:?}"
        );
    }
}

/// An integer id in a URL is described as its decimal digits: `42.0` is a
/// JSON Schema integer but names no profile (400).
#[tokio::test]
async fn st_2_an_integer_id_in_a_url_is_decimal_digits() {
    let app = profiles().await;
    let spec = spec_of(&app).await;
    let id = parameter(operation(&spec, "/profiles/{id}", "get"), "id").unwrap();
    assert_eq!(id["schema"]["type"], "string");
    assert_eq!(id["schema"]["pattern"], "^-?[0-9]{1,18}$");
    let after = parameter(operation(&spec, "/profiles", "get"), "after").unwrap();
    assert_eq!(after["schema"]["pattern"], "^-?[0-9]{1,18}$");
    let reply = send(&app, Method::GET, "/profiles/42.0", &[], "").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = send(&app, Method::GET, "/profiles/42", &[], "").await;
    assert_eq!(reply.status, StatusCode::OK);
    // A UUID id keeps its own schema.
    let spec = spec_of(&documents().await).await;
    let id = parameter(operation(&spec, "/documents/{id}", "get"), "id").unwrap();
    assert_eq!(id["schema"]["format"], "uuid");
}

/// OPTIONS answers for any last segment, which its description says.
#[tokio::test]
async fn st_3_options_answers_for_any_segment() {
    let app = documents().await;
    let spec = spec_of(&app).await;
    let id = parameter(operation(&spec, "/documents/{id}", "options"), "id").unwrap();
    assert_eq!(id["schema"], json!({"type": "string"}));
    let reply = send(&app, Method::OPTIONS, "/documents/null,null", &[], "").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
}

/// A merge refuses a member the resource does not have (422), so the
/// bodies of PATCH and of a merging PUT allow no other members.
#[tokio::test]
async fn st_4_merge_bodies_allow_no_unknown_member() {
    let app = profiles().await;
    let spec = spec_of(&app).await;
    for (method, media_type) in [
        ("put", "application/json"),
        ("patch", "application/merge-patch+json"),
    ] {
        let body = &operation(&spec, "/profiles/{id}", method)["requestBody"]["content"];
        assert_eq!(
            body[media_type]["schema"]["additionalProperties"], false,
            "{method}"
        );
    }
    let reply = send(
        &app,
        Method::PATCH,
        "/profiles/42",
        &[
            ("content-type", "application/merge-patch+json"),
            ("if-match", "\"prof-42-v7\""),
        ],
        r#"{"nickname":"Avi"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    // A POST body is read as the model, which ignores unknown members.
    let post = &operation(&spec, "/profiles", "post")["requestBody"]["content"];
    assert!(post["application/json"]["schema"]
        .get("additionalProperties")
        .is_none());
    let created = post_profile(
        &app,
        r#"{"id":7,"name":"Eve","city":"Rome","nickname":"E"}"#,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
}

/// A malformed If-None-Match is ignored on GET (any string is valid
/// there) and is 412 on a write (its schema has a pattern).
#[tokio::test]
async fn st_5_if_none_match_on_reads_and_on_writes() {
    let app = profiles().await;
    let spec = spec_of(&app).await;
    let on_get = parameter(operation(&spec, "/profiles/{id}", "get"), "If-None-Match").unwrap();
    assert!(on_get["schema"].get("pattern").is_none());
    let on_put = parameter(operation(&spec, "/profiles/{id}", "put"), "If-None-Match").unwrap();
    assert!(on_put["schema"]["pattern"].is_string());
    let read = send(
        &app,
        Method::GET,
        "/profiles/42",
        &[("if-none-match", "r")],
        "",
    )
    .await;
    assert_eq!(read.status, StatusCode::OK);
    let write = send(
        &app,
        Method::PUT,
        "/profiles/42",
        &[("if-none-match", "r"), ("content-type", "application/json")],
        r#"{"city":"Lyon"}"#,
    )
    .await;
    assert_eq!(write.status, StatusCode::PRECONDITION_FAILED, "{write:?}");
}

#[derive(Clone, serde::Serialize, serde::Deserialize, occ_core::Versioned, utoipa::ToSchema)]
#[occ(etag = "note-{id}-v{version}")]
struct Note {
    id: u32,
    #[version]
    #[serde(skip)]
    version: i64,
    text: String,
}

#[tokio::test]
async fn oa_12_the_description_follows_the_settings() {
    use occ_axum::routes::{ConditionalRoutes, PutMode};
    use occ_core::repository::MemoryRepository;
    let repo = std::sync::Arc::new(MemoryRepository::<Note>::new());
    let strict = ConditionalRoutes::new(repo.clone());
    let spec = serde_json::to_value(strict.openapi("/notes/")).unwrap();
    let put = operation(&spec, "/notes/{id}", "put");
    assert!(put["responses"]["428"].is_object());
    assert!(put["responses"].get("201").is_none());
    // A replacing PUT needs the members the server does not own.
    let body = &put["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["required"], json!(["text"]));
    assert!(body.get("additionalProperties").is_none());
    // An unsigned 32-bit id in a URL: digits, no sign.
    let id = parameter(put, "id").unwrap();
    assert_eq!(id["schema"]["pattern"], "^[0-9]{1,9}$");
    assert!(put["responses"]["412"]["description"]
        .as_str()
        .unwrap()
        .contains("`current`"));

    let relaxed = ConditionalRoutes::new(repo)
        .policy(occ_core::Policy::Optional)
        .put_mode(PutMode::Merge)
        .creating_put(true)
        .current_in_412(false)
        .list_etag_member(None)
        .body_limit(1000)
        .page_limit(7);
    let spec = serde_json::to_value(relaxed.openapi("/notes")).unwrap();
    for method in ["put", "patch", "delete"] {
        let op = operation(&spec, "/notes/{id}", method);
        assert!(op["responses"].get("428").is_none(), "{method}");
        assert!(!op["description"].as_str().unwrap().contains("one of"));
    }
    let put = operation(&spec, "/notes/{id}", "put");
    assert!(put["responses"]["201"]["headers"]["Location"].is_object());
    assert!(put["responses"]["413"]["description"]
        .as_str()
        .unwrap()
        .contains("1000 bytes"));
    assert!(!put["responses"]["412"]["description"]
        .as_str()
        .unwrap()
        .contains("`current`"));
    assert_eq!(
        put["responses"]["412"]["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    let limit = parameter(operation(&spec, "/notes", "get"), "limit").unwrap();
    assert!(limit["description"].as_str().unwrap().contains("1 and 7"));
    let item = &spec["components"]["schemas"]["NotePage"]["properties"]["items"]["items"];
    assert_eq!(item["$ref"], "#/components/schemas/Note");
}

/// A repository that keeps no idempotency keys (the trait's default).
struct Keyless(occ_core::repository::MemoryRepository<Note>);

#[async_trait::async_trait]
impl occ_core::repository::Repository<Note> for Keyless {
    async fn get(&self, id: &u32) -> Result<Note, occ_core::repository::RepositoryError<Note>> {
        self.0.get(id).await
    }
    async fn create(
        &self,
        note: Note,
    ) -> Result<Note, occ_core::repository::RepositoryError<Note>> {
        self.0.create(note).await
    }
    async fn update(
        &self,
        note: Note,
        condition: &occ_core::repository::WriteCondition<i64>,
    ) -> Result<Note, occ_core::repository::RepositoryError<Note>> {
        self.0.update(note, condition).await
    }
    async fn delete(
        &self,
        id: &u32,
        condition: &occ_core::repository::WriteCondition<i64>,
    ) -> Result<Note, occ_core::repository::RepositoryError<Note>> {
        self.0.delete(id, condition).await
    }
    async fn list(
        &self,
        after: Option<&u32>,
        limit: u32,
    ) -> Result<occ_core::repository::Page<Note>, occ_core::repository::RepositoryError<Note>> {
        self.0.list(after, limit).await
    }
}

/// `Idempotency-Key` is described only where the repository keeps keys:
/// elsewhere a key is refused (400), and the description must not offer it.
#[tokio::test]
async fn oa_13_idempotency_key_only_where_keys_are_kept() {
    use occ_axum::routes::ConditionalRoutes;
    use occ_core::repository::MemoryRepository;
    let keeps = ConditionalRoutes::new(std::sync::Arc::new(MemoryRepository::<Note>::new()));
    let keyless = ConditionalRoutes::new(std::sync::Arc::new(Keyless(MemoryRepository::new())));
    let with = serde_json::to_value(keeps.openapi("/notes")).unwrap();
    let without = serde_json::to_value(keyless.openapi("/notes")).unwrap();
    for (path, method) in [
        ("/notes", "post"),
        ("/notes/{id}", "put"),
        ("/notes/{id}", "patch"),
        ("/notes/{id}", "delete"),
    ] {
        assert!(
            parameter(operation(&with, path, method), "Idempotency-Key").is_some(),
            "{method} {path}"
        );
        assert!(
            parameter(operation(&without, path, method), "Idempotency-Key").is_none(),
            "{method} {path}"
        );
    }
}

/// The description shows the model's own tags as examples, never another
/// service's; the hand-written pieces show a neutral one, and the write
/// headers leave `Idempotency-Key` to the handlers that keep keys.
#[test]
fn examples_are_the_models_own_tags() {
    use occ_examples::document::Document;
    use utoipa::IntoParams;

    let repo = std::sync::Arc::new(occ_core::repository::MemoryRepository::<Document>::new());
    let spec = occ_axum::routes::ConditionalRoutes::<Document, _>::new(repo).openapi("/documents");
    let text = serde_json::to_string(&spec).unwrap();
    assert!(
        text.contains(r#"\"doc-0192f0c4-7a3b-7c2e-9d4f-0123456789ab-r1\""#),
        "{text}"
    );
    assert!(!text.contains("prof-42"));
    assert!(!text.contains(&serde_json::to_string(occ_axum::openapi::EXAMPLE_TAG).unwrap()));
    let names: Vec<String> = occ_axum::openapi::WritePreconditions::into_params(|| None)
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["If-Match", "If-None-Match", "If-Unmodified-Since"]);
}
