//! The OpenAPI 3.1 document. Routes are registered through utoipa-axum's
//! `OpenApiRouter` (see `api::routes`), so every served route is documented by the same
//! `#[utoipa::path]` attribute that names it, and the two cannot drift apart.
//!
//! The document is written for the tools people generate clients with
//! (openapi-python-client, openapi-typescript) and lint with (`redocly lint`, recommended
//! rules): unique, meaningful schema names, one open task request with a named payload
//! component per kind (`kinds`), an example on every body (`examples`), `security` on
//! every operation. What the derive macros cannot say is added here, after generation:
//! the kinds of the registry, the API keys (`auth::document_keys`) and the
//! `x-request-id` header every response carries. `make clients` proves the result with
//! the generators against a live ttp.
//!
//! `ttp openapi` prints the document; `openapi/openapi.json` and `openapi/openapi.yaml`
//! are committed copies that a test keeps equal to it. `ttp openapi --fuzz` prints the
//! variant `make api-fuzz` drives schemathesis with (the task request as one variant per
//! kind, so valid-by-the-spec means accepted-by-ttp).

pub(crate) mod examples;
mod kinds;
mod responses;

pub use kinds::payload_component_name;
pub use responses::*;

use axum::Extension;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use super::error::Problem;
use crate::kinds::HandlerRegistry;
use crate::task::TaskRequest;

/// The document's fixed parts; paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ttp",
        description = "TelemetryTaskProcessor: an HTTP/JSON task queue on Redis. Submit a task with `POST /tasks`, follow it with `GET /tasks/{id}` (long-poll with `wait_ms`), administer queues and the dead-letter list under `/queues`.\n\nEvery error is RFC 9457 problem details (`application/problem+json`). Every response carries an `x-request-id` header: the one the request sent, or a new ULID; it is also in the server's log lines for that request.",
        contact(name = "ttp maintainers")
    ),
    servers((url = "/", description = "The ttp that serves this document (`GET /openapi.json`); a local `ttp serve` listens on `TTP_LISTEN`, 0.0.0.0:8080 by default.")),
    tags(
        (name = "tasks", description = "Submit, read, cancel, delete and retry tasks."),
        (name = "queues", description = "Queue counts, pause and resume, the dead-letter list."),
        (name = "kinds", description = "The kinds a task may have, with their payload schemas; declaring external kinds."),
        (name = "schedules", description = "Recurring tasks: cron or interval schedules, fired exactly once per tick by every ttp process together."),
        (name = "workers", description = "The lease API: workers in any language claim tasks, renew their leases and hand back outcomes."),
        (name = "health", description = "Liveness, readiness, metrics and this document."),
        (name = "dashboard", description = "The live stream behind the dashboard at `/ui`."),
    ),
    components(
        schemas(Problem, TaskRequest),
        responses(BadRequest, NotFound, Conflict, TooLarge, NotJson, Invalid, QueueFull, Internal, Unavailable, OutcomeUnknown, BodyTimeout)
    )
)]
pub struct ApiDoc;

/// Why the document could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Two registered kinds map to one component name.
    #[error(
        "kinds {:?} and {:?} would share the OpenAPI component name {name}; rename one of them",
        kinds[0], kinds[1]
    )]
    KindNameClash {
        /// The two kinds.
        kinds: [String; 2],
        /// The name they share.
        name: String,
    },
    /// A kind's component name is taken by another schema of the document.
    #[error(
        "kind {kind:?} would take the OpenAPI component name {name}, which another schema has; rename the kind"
    )]
    SchemaNameClash {
        /// The kind.
        kind: String,
        /// The name.
        name: String,
    },
}

/// The serialized document, served by `GET /openapi.json`.
#[derive(Clone)]
pub struct Served(pub Bytes);

/// An OpenAPI 3.1 document: a JSON object shaped as the OpenAPI specification says.
// It only names the schema of `GET /openapi.json`; the bytes served are `Served`.
#[derive(utoipa::ToSchema)]
pub struct OpenApiDocument(pub std::collections::HashMap<String, Value>);

/// The OpenAPI document
///
/// This document: OpenAPI 3.1, generated from the code (also committed at
/// `openapi/openapi.json` and `openapi/openapi.yaml`).
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document.",
               body = OpenApiDocument,
               example = json!(examples::openapi_document())))
)]
pub async fn serve(Extension(Served(document)): Extension<Served>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document)
}

/// The OpenAPI document of a ttp serving `registry`'s kinds; fails when two kinds would
/// share a component name.
pub fn document(registry: &HandlerRegistry) -> Result<Value, DocumentError> {
    let (_, api) = super::routes().split_for_parts();
    let mut doc = serde_json::to_value(api).unwrap_or_default();
    kinds::describe_kinds(&mut doc, registry)?;
    super::schedules::schema::document(&mut doc);
    super::auth::document_keys(&mut doc);
    request_id_on_every_response(&mut doc);
    Ok(doc)
}

/// The document for spec-driven fuzzing (`ttp openapi --fuzz`): the same, but with the
/// task request as one variant per kind carrying its exact payload rules, `run_at`
/// limited to instants long past (see [`PAST_INSTANT`]), `lease_ms` bounded by the
/// default `TTP_LEASE_MAX_MS` (see [`bound_leases`]) and claims that answer at once
/// (see [`claims_answer_at_once`]).
pub fn fuzzing_document(registry: &HandlerRegistry) -> Result<Value, DocumentError> {
    let mut doc = document(registry)?;
    let run_at = "/components/schemas/TaskRequest/properties/run_at";
    if let Some(Value::Object(run_at)) = doc.pointer_mut(run_at) {
        run_at.remove("format");
        run_at.insert("pattern".into(), json!(PAST_INSTANT));
    }
    bound_leases(&mut doc);
    claims_answer_at_once(&mut doc);
    kinds::task_request_per_kind(&mut doc, registry);
    // The schedule template again, from the per-kind task request.
    super::schedules::schema::document(&mut doc);
    schedule_bounds_in_order(&mut doc);
    Ok(doc)
}

/// `lease_ms` of a claim or heartbeat in the fuzzing document: at most the default
/// `TTP_LEASE_MAX_MS`, which the ttp that `make api-fuzz` starts runs with. The bound is
/// a setting, so the committed document only names it; a fuzzer reading no maximum
/// calls a longer lease valid and reports its 422 as a valid request rejected.
fn bound_leases(doc: &mut Value) {
    let most = crate::config::Config::default().lease_max_ms;
    for body in ["ClaimBody", "HeartbeatBody"] {
        let pointer = format!("/components/schemas/{body}/properties/lease_ms");
        if let Some(Value::Object(lease_ms)) = doc.pointer_mut(&pointer) {
            lease_ms.insert("maximum".into(), json!(most));
        }
    }
}

/// `start_at` before 2000 and `end_at` from 2100 in the fuzzing document: "end_at not
/// before start_at" relates two fields, which a JSON Schema cannot say, so the variant
/// draws them from ranges that cannot overlap (the committed document says it in words).
fn schedule_bounds_in_order(doc: &mut Value) {
    let bounds = [("start_at", "^1[0-9]{3}-"), ("end_at", "^21[0-9]{2}-")];
    for (field, pattern) in bounds {
        let place = format!("/components/schemas/ScheduleRequest/properties/{field}");
        if let Some(Value::Object(time)) = doc.pointer_mut(&place) {
            time.insert("pattern".into(), json!(pattern));
        }
    }
}

/// A claim in the fuzzing document has no `wait_ms`. A fuzzer claims from queues that
/// are mostly empty, so every `wait_ms` it draws (up to 30 s) would be waited out in
/// full, and the run would spend its time in long polls (minutes instead of seconds)
/// rather than in requests. Without the property (the body allows no others), a valid
/// claim answers at once; a `wait_ms` the fuzzer adds is an unknown property to it. The
/// long poll itself is covered by the integration tests.
fn claims_answer_at_once(doc: &mut Value) {
    let places = [
        "/components/schemas/ClaimBody/properties",
        "/paths/~1queues~1{name}~1claim/post/requestBody/content/application~1json/example",
    ];
    for place in places {
        if let Some(Value::Object(object)) = doc.pointer_mut(place) {
            object.remove("wait_ms");
        }
    }
    if let Some(Value::Array(examples)) = doc.pointer_mut("/components/schemas/ClaimBody/examples")
    {
        examples
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(|e| drop(e.remove("wait_ms")));
    }
}

/// `run_at` in the fuzzing document: an RFC 3339 instant in 1900–2009. ttp refuses a
/// `run_at` more than 366 days ahead, a bound relative to the clock that JSON Schema
/// cannot state, so a fuzzer reading a plain `date-time` calls a far-future time valid
/// and reports its 422 as a valid request rejected. A past instant is always accepted
/// (it means now), and what the pattern refuses is text that is no RFC 3339 time at all
/// (a fuzzer does not stumble on a well-formed one by chance).
pub const PAST_INSTANT: &str = r"^(19[0-9]{2}|200[0-9])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-9]|2[0-3]):[0-5][0-9])$";

/// The document as pretty JSON with a final newline (the committed file's format).
pub fn to_json(doc: &Value) -> String {
    serde_json::to_string_pretty(doc).map(|s| s + "\n").unwrap_or_default()
}

/// The document as YAML.
pub fn to_yaml(doc: &Value) -> Result<String, yaml_serde::Error> {
    yaml_serde::to_string(doc)
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
mod tests;
