//! The API keys in the OpenAPI document: both schemes (bearer and `X-API-Key`), a
//! requirement on every guarded operation (optional: keys are optional by
//! configuration), no requirement on the open ones, and the 401, 403 and 429 answers.

use super::scopes::OPEN;

/// Documents the keys: both schemes, an optional requirement on every guarded operation
/// (keys are optional by configuration), and its 401, 403 and 429 responses.
pub fn document_keys(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};
    let problem = json!({"$ref": "#/components/schemas/Problem"});
    if let Some(Value::Object(components)) = doc.get_mut("components") {
        components.insert(
            "securitySchemes".into(),
            json!({
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An API key's secret (TTP_API_KEYS_FILE or TTP_API_KEYS), when keys are configured."},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "An API key's secret (TTP_API_KEYS_FILE or TTP_API_KEYS), when keys are configured."}
            }),
        );
        if let Some(Value::Object(responses)) = components.get_mut("responses") {
            responses.insert(
                "Unauthorized".into(),
                json!({
                    "description": "API keys are configured and the request carries no valid key.",
                    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                    "content": {"application/problem+json": {"schema": problem}}
                }),
            );
            responses.insert(
                "Forbidden".into(),
                json!({
                    "description": "The key is valid but lacks the route's scope (submit, read, work or admin) or the queue; the detail names which.",
                    "content": {"application/problem+json": {"schema": problem}}
                }),
            );
            responses.insert(
                "RateLimited".into(),
                json!({
                    "description": "The key (or client IP, without keys) made more requests of this scope than TTP_RATE_LIMIT_<SCOPE>_PER_S allows; nothing was done.",
                    "headers": {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}},
                    "content": {"application/problem+json": {"schema": problem}}
                }),
            );
        }
    }
    let Some(Value::Object(paths)) = doc.get_mut("paths") else { return };
    for (path, item) in paths.iter_mut() {
        if OPEN.contains(&path.as_str()) {
            continue;
        }
        let operations = item.as_object_mut().into_iter().flat_map(|item| item.values_mut());
        for operation in operations.filter_map(Value::as_object_mut) {
            operation.insert("security".into(), json!([{"bearer": []}, {"apiKey": []}, {}]));
            if let Some(Value::Object(responses)) = operation.get_mut("responses") {
                for (status, name) in
                    [("401", "Unauthorized"), ("403", "Forbidden"), ("429", "RateLimited")]
                {
                    let reference = json!({"$ref": format!("#/components/responses/{name}")});
                    responses.entry(status).or_insert(reference);
                }
            }
        }
    }
}
