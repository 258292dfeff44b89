//! The OpenAPI 3.1 document. Routes are registered through utoipa-axum's
//! `OpenApiRouter` (see `api::routes`), so every served route is documented by the same
//! `#[utoipa::path]` attribute that names it, and the two cannot drift apart.
//!
//! Two things the derive macros cannot say are added to the generated document here:
//! the task request as one variant per registered kind (so the spec's payload rules are
//! the handlers' rules) and the `x-request-id` header every response carries.
//!
//! `ttp openapi` prints the document; `openapi/openapi.json` and `openapi/openapi.yaml`
//! are committed copies that a test keeps equal to it.

use axum::Extension;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use utoipa::{OpenApi, ToResponse};

use super::error::Problem;
use crate::kinds::{HandlerRegistry, PayloadSchema};
use crate::task::TaskRequest;

/// The document's fixed parts; paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ttp",
        description = "TelemetryTaskProcessor: an HTTP/JSON task queue on Redis. Submit a task with `POST /tasks`, follow it with `GET /tasks/{id}` (long-poll with `wait_ms`), administer queues and the dead-letter list under `/queues`.\n\nEvery error is RFC 9457 problem details (`application/problem+json`). Every response carries an `x-request-id` header: the one the request sent, or a new ULID; it is also in the server's log lines for that request."
    ),
    tags(
        (name = "tasks", description = "Submit, read, cancel and retry tasks."),
        (name = "queues", description = "Queue counts, pause and resume, the dead-letter list."),
        (name = "kinds", description = "The kinds a task may have, with their payload schemas; declaring external kinds."),
        (name = "schedules", description = "Recurring tasks: cron or interval schedules, fired exactly once per tick by every ttp process together."),
        (name = "workers", description = "The lease API: workers in any language claim tasks, renew their leases and hand back outcomes."),
        (name = "health", description = "Liveness, readiness, metrics and this document."),
    ),
    components(
        schemas(Problem, TaskRequest),
        responses(BadRequest, NotFound, Conflict, TooLarge, NotJson, Invalid, QueueFull, Internal, Unavailable, OutcomeUnknown, BodyTimeout)
    )
)]
pub struct ApiDoc;

/// Malformed JSON, a value of the wrong JSON type, an unknown field, or a query
/// parameter that does not parse; `field` names it when known.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:ttp:problem:malformed-request", "title": "Bad Request", "status": 400,
                     "detail": "priority: invalid type: string \"high\", expected i64", "field": "priority"})
)]
pub struct BadRequest(pub Problem);

/// Unknown or expired task, or a queue name that breaks the naming rule.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:ttp:problem:not-found", "title": "Not Found", "status": 404,
                     "detail": "no task \"01JDX3Q9ZK8M4V2T6B7C5N1H0E.default\" (unknown, or expired after its result TTL)"})
)]
pub struct NotFound(pub Problem);

/// An idempotency key reused with a different request (or an `Idempotency-Key` header
/// that differs from the `idempotency_key` field), or a task in a state that does not
/// allow the action.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:ttp:problem:conflict", "title": "Conflict", "status": 409,
                     "detail": "task 01JDX3Q9ZK8M4V2T6B7C5N1H0E.default is running (attempt 1); only queued or scheduled tasks can be cancelled"})
)]
pub struct Conflict(pub Problem);

/// The body is over `TTP_MAX_BODY_BYTES` (1 MiB by default).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct TooLarge(pub Problem);

/// The body is not declared as `application/json`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct NotJson(pub Problem);

/// A value breaks its rule (range, pattern, unknown kind, a payload the kind refuses,
/// `delay_ms` together with `run_at`); `field` names it.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:ttp:problem:invalid-field", "title": "Unprocessable Entity", "status": 422,
                     "detail": "priority: must be 0..=9, got 12", "field": "priority"})
)]
pub struct Invalid(pub Problem);

/// The queue holds `TTP_MAX_QUEUE_LENGTH` waiting tasks; retry later.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))
)]
pub struct QueueFull(pub Problem);

/// A bug, or data in Redis that ttp did not write; details are in the server log.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Internal(pub Problem);

/// Nothing was stored or changed: Redis is unreachable or out of memory, too many large
/// bodies are in flight, the request took longer than `TTP_REQUEST_TIMEOUT_MS`, or the
/// process is shutting down; retry later (each cause has its own problem `type`).
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u32, description = "Seconds to wait before retrying.")),
    example = json!({"type": "urn:ttp:problem:store-unavailable", "title": "Service Unavailable", "status": 503,
                     "detail": "the task store (Redis) is unavailable; nothing was changed; retry later"})
)]
pub struct Unavailable(pub Problem);

/// ttp sent the write but Redis did not confirm it in time (a stall): it may or may not
/// have been applied. For a submission the body names the task (`task_id`, also in
/// `Location`): read it, or submit again with the same idempotency key.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Location" = String, description = "`/tasks/{id}` of the task the write concerns, when there is one.")),
    example = json!({"type": "urn:ttp:problem:outcome-unknown", "title": "Gateway Timeout", "status": 504,
                     "detail": "Redis did not confirm the write within the deadline: it may or may not have been applied; read the task, or retry with the same idempotency key",
                     "task_id": "01JDX3Q9ZK8M4V2T6B7C5N1H0E.default"})
)]
pub struct OutcomeUnknown(pub Problem);

/// The client did not send the request body within `TTP_HTTP_BODY_TIMEOUT_MS`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct BodyTimeout(pub Problem);

/// The serialized document, served by `GET /openapi.json`.
#[derive(Clone)]
pub struct Served(pub Bytes);

/// The OpenAPI document
///
/// This document: OpenAPI 3.1, generated from the code (also committed at
/// `openapi/openapi.json` and `openapi/openapi.yaml`).
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object))
)]
pub async fn serve(Extension(Served(document)): Extension<Served>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document)
}

/// The OpenAPI document of a ttp serving `registry`'s kinds.
pub fn document(registry: &HandlerRegistry) -> Value {
    let (_, api) = super::routes().split_for_parts();
    let mut doc = serde_json::to_value(api).unwrap_or_default();
    task_request_per_kind(&mut doc, registry);
    super::schedules::schema::document(&mut doc);
    super::auth::document_keys(&mut doc);
    request_id_on_every_response(&mut doc);
    doc
}

/// The document as pretty JSON with a final newline (the committed file's format).
pub fn to_json(doc: &Value) -> String {
    serde_json::to_string_pretty(doc).map(|s| s + "\n").unwrap_or_default()
}

/// The document as YAML.
pub fn to_yaml(doc: &Value) -> Result<String, yaml_serde::Error> {
    yaml_serde::to_string(doc)
}

/// Replaces the `TaskRequest` schema by a `oneOf` with one variant per registered kind,
/// each with that kind's payload schema.
fn task_request_per_kind(doc: &mut Value, registry: &HandlerRegistry) {
    let Some(slot) = doc.pointer_mut("/components/schemas/TaskRequest") else {
        return;
    };
    let mut base = slot.take();
    let mut union = Map::new();
    if let Some(object) = base.as_object_mut() {
        // The description and example belong to the union, not to each variant.
        for key in ["description", "example"] {
            if let Some(value) = object.remove(key) {
                union.insert(key.into(), value);
            }
        }
        // Both given (not null) is a 422; the spec says so.
        object.insert(
            "not".into(),
            json!({
                "required": ["delay_ms", "run_at"],
                "properties": {"delay_ms": {"type": "integer"}, "run_at": {"type": "string"}}
            }),
        );
    }
    let variants: Vec<Value> = registry
        .kinds()
        .into_iter()
        .filter_map(|kind| Some(variant(&base, kind, registry.get(kind)?.payload_schema())))
        .collect();
    union.insert("oneOf".into(), Value::Array(variants));
    *slot = Value::Object(union);
}

fn variant(base: &Value, kind: &str, payload: PayloadSchema) -> Value {
    let mut variant = base.clone();
    if let Some(object) = variant.as_object_mut() {
        object.insert("title".into(), json!(kind));
        if !payload.optional
            && let Some(Value::Array(required)) = object.get_mut("required")
        {
            required.push(json!("payload"));
        }
    }
    if let Some(Value::Object(properties)) = variant.get_mut("properties") {
        let mut rule = json!({"const": kind});
        if let (Some(description), Some(rule)) =
            (properties.get("kind").and_then(|k| k.get("description")), rule.as_object_mut())
        {
            rule.insert("description".into(), description.clone());
        }
        properties.insert("kind".into(), rule);
        properties.insert("payload".into(), payload.schema);
    }
    variant
}

/// Adds the `x-request-id` header to every response (inline and reusable).
fn request_id_on_every_response(doc: &mut Value) {
    let header = json!({
        "description": "The request's id: the `x-request-id` it sent, or a new ULID.",
        "schema": {"type": "string"}
    });
    let mut add = |response: &mut Value| {
        if let Some(object) = response.as_object_mut()
            && !object.contains_key("$ref")
        {
            let headers = object.entry("headers").or_insert_with(|| Value::Object(Map::new()));
            if let Some(headers) = headers.as_object_mut() {
                headers.insert("x-request-id".into(), header.clone());
            }
        }
    };
    if let Some(Value::Object(responses)) = doc.pointer_mut("/components/responses") {
        responses.values_mut().for_each(&mut add);
    }
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for operation in
            paths.values_mut().filter_map(Value::as_object_mut).flat_map(|p| p.values_mut())
        {
            if let Some(Value::Object(responses)) = operation.get_mut("responses") {
                responses.values_mut().for_each(&mut add);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        document(&HandlerRegistry::with_builtins())
    }

    fn operations(doc: &Value) -> Vec<(String, &Value)> {
        let mut found = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                found.push((format!("{method} {path}"), operation));
            }
        }
        found
    }

    #[test]
    fn every_operation_has_an_id_a_summary_and_a_description() {
        let doc = doc();
        for (name, operation) in operations(&doc) {
            for key in ["operationId", "summary", "description"] {
                let text = operation[key].as_str().unwrap_or_default();
                assert!(!text.is_empty(), "{name} has no {key}");
            }
        }
    }

    #[test]
    fn every_error_response_is_problem_details() {
        let doc = doc();
        for (name, operation) in operations(&doc) {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                if status.starts_with('2') {
                    continue;
                }
                let reference = response["$ref"].as_str().unwrap_or_default();
                let shared = reference.strip_prefix("#/components/responses/");
                let shared = shared.map(|n| &doc["components"]["responses"][n]);
                let content = shared.map(|r| &r["content"]["application/problem+json"]["schema"]);
                assert_eq!(
                    content.map(|s| &s["$ref"]),
                    Some(&json!("#/components/schemas/Problem")),
                    "{name} {status}"
                );
            }
        }
    }

    #[test]
    fn task_request_has_one_variant_per_kind() {
        let doc = doc();
        let variants = doc["components"]["schemas"]["TaskRequest"]["oneOf"].as_array().cloned();
        let kinds: Vec<Value> = variants
            .unwrap_or_default()
            .iter()
            .map(|v| v["properties"]["kind"]["const"].clone())
            .collect();
        let registered: Vec<Value> =
            HandlerRegistry::with_builtins().kinds().into_iter().map(Value::from).collect();
        assert_eq!(kinds, registered);
    }
}
