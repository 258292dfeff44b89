//! The check every error answer must pass: RFC 9457 problem details.

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Asserts `response` is a problem details document with `status` (and `field`, when
/// given) and returns its body.
pub async fn assert_problem(response: Response, status: u16, field: Option<&str>) -> Value {
    assert_eq!(response.status().as_u16(), status, "{response:?}");
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].clone();
    let text = response.text().await.unwrap();
    assert_eq!(content_type, "application/problem+json", "{text}");
    let problem: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(problem["status"], status, "{problem}");
    let reason = StatusCode::from_u16(status).unwrap().canonical_reason();
    assert_eq!(problem["title"].as_str(), reason, "{problem}");
    let non_empty = |key: &str| problem[key].as_str().is_some_and(|s| !s.is_empty());
    assert!(non_empty("type") && non_empty("detail"), "{problem}");
    if let Some(field) = field {
        assert_eq!(problem["field"], field, "{problem}");
    }
    problem
}
