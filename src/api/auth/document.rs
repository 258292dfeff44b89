//! The API keys in the OpenAPI document: both schemes (bearer and `X-API-Key`), a
//! requirement on every guarded operation (optional: keys are optional by
//! configuration), an explicitly empty requirement on the open ones (linters and
//! generators read a missing one as "unknown", not "none"), and the 401, 403 and 429
//! answers, each with an example of what ttp really answers.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::scopes::OPEN;
use crate::api::ApiError;

/// Documents the keys: both schemes, an optional requirement on every guarded operation
/// (keys are optional by configuration) with its 401, 403 and 429 responses, and no
/// requirement on the open ones.
pub fn document_keys(doc: &mut Value) {
    if let Some(Value::Object(components)) = doc.get_mut("components") {
        components.insert("securitySchemes".into(), schemes());
        if let Some(Value::Object(responses)) = components.get_mut("responses") {
            responses.extend(shared_responses());
        }
    }
    let Some(Value::Object(paths)) = doc.get_mut("paths") else { return };
    for (path, item) in paths.iter_mut() {
        let open = OPEN.contains(&path.as_str());
        let operations = item.as_object_mut().into_iter().flat_map(|item| item.values_mut());
        for operation in operations.filter_map(Value::as_object_mut) {
            if open {
                operation.insert("security".into(), json!([]));
            } else {
                guard(operation);
            }
        }
    }
}

/// Bearer and `X-API-Key`: the same secret either way.
fn schemes() -> Value {
    let description =
        "An API key's secret (TTP_API_KEYS_FILE or TTP_API_KEYS), when keys are configured.";
    json!({
        "bearer": {"type": "http", "scheme": "bearer", "description": description},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": description}
    })
}

/// `Unauthorized`, `Forbidden` and `RateLimited`, each with the problem ttp answers.
fn shared_responses() -> Map<String, Value> {
    let forbidden = ApiError::Forbidden(
        "the API key \"reader\" lacks the `admin` scope this route needs".into(),
    );
    let retry_after = json!({"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}});
    let mut responses = Map::new();
    responses.insert(
        "Unauthorized".into(),
        response(
            "API keys are configured and the request carries no valid key.",
            json!({"WWW-Authenticate": {"description": "`Bearer`.", "schema": {"type": "string"}}}),
            &ApiError::Unauthorized,
        ),
    );
    responses.insert(
        "Forbidden".into(),
        response(
            "The key is valid but lacks the route's scope (submit, read, work or admin) or the queue; the detail names which.",
            json!({}),
            &forbidden,
        ),
    );
    responses.insert(
        "RateLimited".into(),
        response(
            "The key (or client IP, without keys) made more requests of this scope than TTP_RATE_LIMIT_<SCOPE>_PER_S allows; nothing was done.",
            retry_after,
            &ApiError::RateLimited(Duration::from_millis(250)),
        ),
    );
    responses
}

/// A reusable response: problem details, with `example` as its example.
fn response(description: &str, headers: Value, example: &ApiError) -> Value {
    let mut response = json!({
        "description": description,
        "content": {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"},
            "example": example.problem().1
        }}
    });
    if let (Some(object), Value::Object(headers)) = (response.as_object_mut(), headers)
        && !headers.is_empty()
    {
        object.insert("headers".into(), Value::Object(headers));
    }
    response
}

/// A guarded operation: the optional key requirement and its 401, 403 and 429 answers
/// (a 429 the operation documents already, such as a full queue, stays).
fn guard(operation: &mut Map<String, Value>) {
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
