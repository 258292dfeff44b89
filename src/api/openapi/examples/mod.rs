//! Example bodies for the document: every request and response body carries one, so
//! generated clients, documentation and fuzzers start from real shapes. The values are
//! what ttp answers (ids, times, problem texts), kept in one place because several
//! operations show the same task in different states. `redocly lint` checks each against
//! its schema; the unit tests in `openapi` check that every body has one. Those of the
//! kinds and lease routes are in `workers`.

mod schedules;
mod workers;

pub use schedules::*;
pub use workers::*;

use serde_json::{Map, Value, json};

/// The task id the examples share.
const TASK_ID: &str = "01JDX3Q9ZK8M4V2T6B7C5N1H0E.default";
/// The id of the failed task in the dead-letter examples.
const FAILED_ID: &str = "01JDX3R2B7W9E0Q4YV3M8K6T5A.default";

/// One snapshot of the dashboard's stream (`GET /ui/events`), as its `data` line carries it.
pub fn snapshot_view() -> Value {
    json!({
        "seq": 42,
        "at": "2026-12-01T09:30:05.000Z",
        "interval_ms": 1000,
        "redis_error": null,
        "viewer": {"key_id": "ops", "scopes": ["read", "admin"]},
        "process": {"workers_busy": 12, "concurrency": 64, "latency_window_s": 60},
        "queues": [{
            "name": "default", "queued": 1234, "scheduled": 5, "running": 12, "dead": 3,
            "paused": false, "tasks_in": 98765, "tasks_out": 97514,
            "in_per_s": 210.0, "out_per_s": 198.0, "p99_ms": 38.5
        }]
    })
}

/// A `telemetry.aggregate` task that succeeded.
pub fn task_view() -> Value {
    json!({
        "id": TASK_ID,
        "queue": "default",
        "kind": "telemetry.aggregate",
        "state": "succeeded",
        "priority": 7,
        "attempts": 1,
        "max_attempts": 5,
        "timeout_ms": 30000,
        "result_ttl_s": 86400,
        "created_at": "2026-11-26T16:46:39.123Z",
        "run_at": null,
        "started_at": "2026-11-26T16:46:39.125Z",
        "finished_at": "2026-11-26T16:46:39.126Z",
        "result": {"count": 4, "min": 11.75, "max": 48.0, "mean": 21.3125, "stddev": 15.414,
                   "p50": 12.75, "p90": 37.5, "p95": 42.75, "p99": 46.95},
        "error": null,
        "payload": {"samples": [12.5, 13.0, 11.75, 48.0]}
    })
}

/// The same task just accepted.
pub fn queued_view() -> Value {
    with(
        task_view(),
        json!({"state": "queued", "attempts": 0, "started_at": null, "finished_at": null, "result": null}),
    )
}

/// A delayed `sleep` task cancelled before it started.
pub fn cancelled_view() -> Value {
    with(
        task_view(),
        json!({
            "kind": "sleep", "state": "cancelled", "priority": 5, "attempts": 0, "max_attempts": 3,
            "run_at": "2026-11-26T16:47:39.123Z", "started_at": null,
            "finished_at": "2026-11-26T16:46:40.001Z", "result": null, "payload": {"ms": 250}
        }),
    )
}

/// A `fail` task whose attempts ran out (a dead letter).
pub fn failed_view() -> Value {
    with(
        task_view(),
        json!({
            "id": FAILED_ID, "kind": "fail", "state": "failed", "priority": 5, "attempts": 3,
            "max_attempts": 3, "started_at": "2026-11-26T16:46:45.310Z",
            "finished_at": "2026-11-26T16:46:45.311Z", "result": null, "error": "boom",
            "payload": {"message": "boom"}
        }),
    )
}

/// The dead letter back in its queue (`POST /tasks/{id}/retry`); the last error stays
/// until an attempt succeeds.
pub fn retried_view() -> Value {
    with(
        failed_view(),
        json!({"state": "queued", "attempts": 0, "started_at": null, "finished_at": null}),
    )
}

/// A `POST /tasks/batch` body.
pub fn batch_request() -> Value {
    json!({"tasks": [
        {"kind": "echo", "payload": {"n": 1}},
        {"kind": "telemetry.aggregate", "payload": {"samples": [1.0, 2.5, 4.0]}, "priority": 9,
         "idempotency_key": "sensor-7-2026-11-26T16:00"},
        {"kind": "sleep", "payload": {"ms": 90000}, "queue": "slow", "delay_ms": 5000}
    ]})
}

/// Its answer: one new task, one idempotent replay, one refused item.
pub fn batch_response() -> Value {
    json!({
        "accepted": 1, "replayed": 1, "rejected": 1,
        "results": [
            {"status": 202, "id": TASK_ID, "state": "queued"},
            {"status": 200, "id": "01JDX3Q9ZM2C8R5T7W1X4Y6Z9A.default", "state": "succeeded"},
            {"status": 422, "problem": {
                "type": "urn:ttp:problem:invalid-field", "title": "Unprocessable Entity",
                "status": 422, "detail": "tasks[2].payload.ms: must be an integer from 0 to 60000",
                "field": "tasks[2].payload.ms"}}
        ]
    })
}

/// One queue's counts.
pub fn queue_view() -> Value {
    json!({"name": "default", "queued": 12, "scheduled": 3, "running": 2, "failed": 1, "paused": false})
}

/// The same queue paused.
pub fn paused_queue_view() -> Value {
    with(queue_view(), json!({"paused": true}))
}

/// A page of `GET /queues`.
pub fn queue_list() -> Value {
    json!({
        "queues": [
            queue_view(),
            {"name": "slow", "queued": 0, "scheduled": 1, "running": 0, "failed": 0, "paused": true}
        ],
        "next_cursor": "slow"
    })
}

/// A page of a dead-letter list.
pub fn dead_list() -> Value {
    json!({"tasks": [failed_view()], "next_cursor": "1764175605311:1"})
}

/// `GET /healthz`.
pub fn liveness() -> Value {
    json!({"status": "ok"})
}

/// `GET /readyz`.
pub fn readiness() -> Value {
    json!({"status": "ready"})
}

/// A line of `GET /metrics`.
pub fn metrics_text() -> Value {
    json!(
        "# HELP ttp_tasks_submitted_total Tasks accepted by POST /tasks.\n# TYPE ttp_tasks_submitted_total counter\nttp_tasks_submitted_total{queue=\"default\",kind=\"echo\"} 42\n"
    )
}

/// The smallest OpenAPI document (`GET /openapi.json` answers the whole one).
pub fn openapi_document() -> Value {
    json!({"openapi": "3.1.0", "info": {"title": "ttp", "version": "0.1.0"}, "paths": {}})
}

/// Optional request fields the `POST /tasks` example of a built-in kind shows, so that
/// together the examples cover every field; other kinds show `kind` and `payload` only.
pub fn request_options(kind: &str) -> Value {
    match kind {
        "fail" => json!({"max_attempts": 3}),
        "noop" => json!({"priority": 9}),
        "sleep" => json!({"delay_ms": 1000, "timeout_ms": 5000}),
        "telemetry.aggregate" => json!({
            "queue": "default", "priority": 7, "max_attempts": 5, "result_ttl_s": 3600,
            "idempotency_key": "sensor-42-2026-11-26T16:00"
        }),
        "telemetry.downsample" => json!({"run_at": "2026-11-26T17:00:00Z"}),
        _ => json!({}),
    }
}

/// `base` with the fields of `changes` replaced.
fn with(mut base: Value, changes: Value) -> Value {
    if let (Some(base), Value::Object(changes)) = (base.as_object_mut(), changes) {
        base.extend(changes);
    }
    base
}

/// The fields of an object (empty for anything else).
pub fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}
