//! The problem details (RFC 9457) a refusal carries.

use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};

/// A refusal's `application/problem+json` body, with occ's extension
/// members: `current_etag` and `current` on a 412 (the state to apply the
/// change to again), `conflicts` on a 412 of a merging write.
///
/// An answer that is not problem details (a proxy's HTML error page) gives
/// a problem with the status's reason phrase as title and the start of
/// the body as detail.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Problem {
    /// The answer's status.
    pub status: StatusCode,
    /// The problem type (`about:blank` when the body names none).
    pub kind: String,
    /// A short summary of the problem type.
    pub title: String,
    /// What went wrong with this request.
    pub detail: Option<String>,
    /// 412: the resource's current entity tag.
    pub current_etag: Option<String>,
    /// 412: the resource's current representation, as a GET returns it.
    pub current: Option<Value>,
    /// 412 of a merging write: the members that changed since the version
    /// the write was based on.
    pub conflicts: Vec<String>,
    /// Any other member.
    pub extensions: Map<String, Value>,
}

/// The members as they arrive; any may be missing or odd.
#[derive(Deserialize)]
struct Members {
    #[serde(rename = "type")]
    kind: Option<String>,
    title: Option<String>,
    detail: Option<String>,
    current_etag: Option<String>,
    current: Option<Value>,
    #[serde(default)]
    conflicts: Vec<String>,
    #[serde(flatten)]
    extensions: Map<String, Value>,
}

/// How much of a body that is not problem details becomes the detail.
const DETAIL_LIMIT: usize = 512;

impl Problem {
    /// The problem of an answer with `status` and `body`.
    pub(crate) fn from_answer(status: StatusCode, body: &[u8]) -> Self {
        let reason = || status.canonical_reason().unwrap_or("Error").to_owned();
        match serde_json::from_slice::<Members>(body) {
            Ok(mut members) => {
                members.extensions.remove("status");
                members.extensions.remove("instance");
                Self {
                    status,
                    kind: members.kind.unwrap_or_else(|| "about:blank".to_owned()),
                    title: members.title.unwrap_or_else(reason),
                    detail: members.detail,
                    current_etag: members.current_etag,
                    current: members.current,
                    conflicts: members.conflicts,
                    extensions: members.extensions,
                }
            }
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let detail = text.trim();
                let detail = match detail.char_indices().nth(DETAIL_LIMIT) {
                    Some((end, _)) => format!("{}…", &detail[..end]),
                    None => detail.to_owned(),
                };
                Self {
                    status,
                    kind: "about:blank".to_owned(),
                    title: reason(),
                    detail: (!detail.is_empty()).then_some(detail),
                    current_etag: None,
                    current: None,
                    conflicts: Vec::new(),
                    extensions: Map::new(),
                }
            }
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_occ_members() {
        let body = br#"{"type":"about:blank","title":"Precondition Failed","status":412,
            "detail":"changed","current_etag":"\"p-1-v2\"","current":{"id":1},
            "conflicts":["city"],"trace":"x"}"#;
        let problem = Problem::from_answer(StatusCode::PRECONDITION_FAILED, body);
        assert_eq!(problem.title, "Precondition Failed");
        assert_eq!(problem.current_etag.as_deref(), Some("\"p-1-v2\""));
        assert_eq!(problem.current, Some(serde_json::json!({"id": 1})));
        assert_eq!(problem.conflicts, ["city"]);
        assert_eq!(problem.extensions.get("trace"), Some(&Value::from("x")));
        assert_eq!(problem.to_string(), "412 Precondition Failed: changed");
    }

    #[test]
    fn a_body_that_is_not_problem_details_becomes_the_detail() {
        let problem = Problem::from_answer(StatusCode::BAD_GATEWAY, b"<h1>upstream down</h1>\n");
        assert_eq!(problem.title, "Bad Gateway");
        assert_eq!(problem.detail.as_deref(), Some("<h1>upstream down</h1>"));
        let long = "é".repeat(2 * DETAIL_LIMIT);
        let problem = Problem::from_answer(StatusCode::BAD_GATEWAY, long.as_bytes());
        assert_eq!(
            problem.detail.map(|d| d.chars().count()),
            Some(DETAIL_LIMIT + 1)
        );
    }
}
