//! The error responses routes share, each a `components.responses` entry of the
//! document with an example of its problem details (taken from what ttp really answers,
//! so clients and fuzzers see true shapes).

use utoipa::ToResponse;

use crate::api::error::Problem;

/// Malformed JSON, a value of the wrong JSON type, an unknown field, or a query
/// parameter that does not parse; `field` names it when known.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:ttp:problem:malformed-request", "title": "Bad Request", "status": 400,
                     "detail": "priority: invalid type: string \"high\", expected i64", "field": "priority"})
)]
pub struct BadRequest(pub Problem);

/// Unknown, deleted or expired task, or a queue name that breaks the naming rule.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:ttp:problem:not-found", "title": "Not Found", "status": 404,
                     "detail": "no task \"01JDX3Q9ZK8M4V2T6B7C5N1H0E.default\" (unknown, deleted, or expired after its result TTL)"})
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
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:ttp:problem:body-too-large", "title": "Payload Too Large", "status": 413,
                     "detail": "request body is larger than the limit (TTP_MAX_BODY_BYTES)"})
)]
pub struct TooLarge(pub Problem);

/// The body is not declared as `application/json`.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:ttp:problem:not-json", "title": "Unsupported Media Type", "status": 415,
                     "detail": "expected Content-Type: application/json"})
)]
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
    headers(("Retry-After" = u32, description = "Seconds to wait before retrying.")),
    example = json!({"type": "urn:ttp:problem:queue-full", "title": "Too Many Requests", "status": 429,
                     "detail": "queue default is full: 1000000 tasks are waiting"})
)]
pub struct QueueFull(pub Problem);

/// A bug, or data in Redis that ttp did not write; details are in the server log.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:ttp:problem:internal", "title": "Internal Server Error", "status": 500,
                     "detail": "internal error; see the server log"})
)]
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
#[response(
    content_type = "application/problem+json",
    example = json!({"type": "urn:ttp:problem:body-timeout", "title": "Request Timeout", "status": 408,
                     "detail": "the request body did not arrive within TTP_HTTP_BODY_TIMEOUT_MS"})
)]
pub struct BodyTimeout(pub Problem);
