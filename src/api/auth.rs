//! API keys (`TTP_API_KEYS`): when configured, every `/tasks` and `/queues` route needs
//! one, as `Authorization: Bearer <key>` or `X-API-Key: <key>`; a request without a valid
//! key gets 401. Health, readiness, metrics and the OpenAPI document stay open so probes
//! and scrapers need no secret.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Paths that never need a key.
const OPEN: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/openapi.json"];

/// The accepted keys.
#[derive(Debug, Clone)]
pub struct ApiKeys(pub Arc<Vec<String>>);

/// Middleware: 401 unless the request is for an open path or carries a valid key.
pub async fn require_key(State(keys): State<ApiKeys>, request: Request, next: Next) -> Response {
    let open = OPEN.contains(&request.uri().path());
    if open || presented(request.headers()).is_some_and(|key| keys.accepts(key)) {
        next.run(request).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

fn presented(headers: &HeaderMap) -> Option<&str> {
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, secret) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
    });
    bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
}

impl ApiKeys {
    /// Whether `candidate` is one of the keys, compared in constant time per key so the
    /// answer time does not reveal how much of a key matched.
    fn accepts(&self, candidate: &str) -> bool {
        self.0.iter().fold(false, |found, key| found | same(key.as_bytes(), candidate.as_bytes()))
    }
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Documents the keys in the OpenAPI document: both schemes, an optional requirement on
/// every `/tasks` and `/queues` operation (keys are optional by configuration) and its
/// 401 response, and an explicitly empty requirement on the open routes (linters and
/// generators read a missing one as "unknown", not "none").
pub fn document_keys(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};
    let problem = json!({"$ref": "#/components/schemas/Problem"});
    if let Some(Value::Object(components)) = doc.get_mut("components") {
        components.insert(
            "securitySchemes".into(),
            json!({
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "One of TTP_API_KEYS, when keys are configured."},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "One of TTP_API_KEYS, when keys are configured."}
            }),
        );
        if let Some(Value::Object(responses)) = components.get_mut("responses") {
            responses.insert(
                "Unauthorized".into(),
                json!({
                    "description": "TTP_API_KEYS is set and the request carries no valid key.",
                    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                    "content": {"application/problem+json": {
                        "schema": problem,
                        "example": {
                            "type": "urn:ttp:problem:unauthorized", "title": "Unauthorized",
                            "status": 401, "detail": ApiError::Unauthorized.to_string()
                        }
                    }}
                }),
            );
        }
    }
    let Some(Value::Object(paths)) = doc.get_mut("paths") else { return };
    for (path, item) in paths.iter_mut() {
        let open = OPEN.contains(&path.as_str());
        let operations = item.as_object_mut().into_iter().flat_map(|item| item.values_mut());
        for operation in operations.filter_map(Value::as_object_mut) {
            if open {
                operation.insert("security".into(), json!([]));
                continue;
            }
            operation.insert("security".into(), json!([{"bearer": []}, {"apiKey": []}, {}]));
            if let Some(Value::Object(responses)) = operation.get_mut("responses") {
                responses
                    .insert("401".into(), json!({"$ref": "#/components/responses/Unauthorized"}));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_keys_are_accepted() {
        let keys = ApiKeys(Arc::new(vec!["0123456789abcdef".into(), "fedcba9876543210".into()]));
        assert!(keys.accepts("fedcba9876543210"));
        assert!(!keys.accepts("0123456789abcde"));
        assert!(!keys.accepts("0123456789abcdef0"));
        assert!(!keys.accepts(""));
    }
}
