//! Example bodies of the kinds and lease routes: an external kind `email.send` run in
//! queue `emails` by a worker in another language, followed from its declaration through
//! one claim to each way its attempt can end.

use serde_json::{Value, json};

use super::with;

/// The task the worker examples share.
const EMAIL_TASK_ID: &str = "01JDX3S4C8D2F6G0H5J7K9M1N3.emails";
/// The lease token of its claim.
const LEASE_TOKEN: &str = "0f8a5c3e9b7d41e2a6c0d9f1b2e3a4c5";

/// A `PUT /kinds/{kind}` body (the kind owns its example).
pub fn kind_spec() -> Value {
    crate::kinds::KindSpec::example()
}

/// The kind it declares, as `GET /kinds` shows it.
pub fn external_kind_view() -> Value {
    with(
        kind_spec(),
        json!({"name": "email.send", "source": "external", "payload_required": false}),
    )
}

/// A page of `GET /kinds`: an embedded kind and the external one.
pub fn kind_list() -> Value {
    json!({"kinds": [
        external_kind_view(),
        {
            "name": "sleep", "source": "embedded", "queue": null,
            "description": "Sleeps `ms` milliseconds (simulated I/O).",
            "payload_schema": {"type": "object", "required": ["ms"],
                               "properties": {"ms": {"type": "integer", "minimum": 0, "maximum": 60000}}},
            "payload_required": true
        }
    ]})
}

/// A `POST /queues/{name}/claim` body.
pub fn claim_body() -> Value {
    json!({"max": 10, "wait_ms": 20000, "lease_ms": 60000,
           "claim_id": "c7d1e0b2-4f3a-4e59-9a61-2b8f0c3d5e7f", "worker_id": "mailer-7"})
}

/// Its answer: one task under a 60-second lease.
pub fn claim_answer() -> Value {
    json!({"tasks": [{
        "id": EMAIL_TASK_ID, "kind": "email.send",
        "payload": {"to": "ops@example.com", "subject": "Disk almost full"},
        "attempt": 1, "max_attempts": 3, "timeout_ms": 30000,
        "lease_token": LEASE_TOKEN, "lease_expires_at": "2026-11-26T16:47:40.002Z"
    }]})
}

/// A heartbeat body.
pub fn heartbeat_body() -> Value {
    json!({"lease_token": LEASE_TOKEN, "lease_ms": 60000})
}

/// Its answer.
pub fn heartbeat_answer() -> Value {
    json!({"lease_expires_at": "2026-11-26T16:48:10.250Z"})
}

/// A `complete` body.
pub fn complete_body() -> Value {
    json!({"lease_token": LEASE_TOKEN, "result": {"sent": true, "message_id": "<4f1c@example.com>"}})
}

/// A `fail` body.
pub fn fail_body() -> Value {
    json!({"lease_token": LEASE_TOKEN, "error": "SMTP refused: 451 try again later", "retryable": true})
}

/// A `release` body.
pub fn release_body() -> Value {
    json!({"lease_token": LEASE_TOKEN})
}

/// The task while the worker holds it.
fn email_task() -> Value {
    json!({
        "id": EMAIL_TASK_ID, "queue": "emails", "kind": "email.send", "state": "running",
        "priority": 5, "attempts": 1, "max_attempts": 3, "timeout_ms": 30000,
        "result_ttl_s": 86400, "created_at": "2026-11-26T16:46:39.900Z", "run_at": null,
        "started_at": "2026-11-26T16:46:40.002Z", "finished_at": null, "result": null,
        "error": null, "payload": {"to": "ops@example.com", "subject": "Disk almost full"},
        "worker_id": "mailer-7"
    })
}

/// The task after `complete`.
pub fn completed_view() -> Value {
    let mut view = with(
        email_task(),
        json!({"state": "succeeded", "finished_at": "2026-11-26T16:46:41.370Z",
               "result": {"sent": true, "message_id": "<4f1c@example.com>"}}),
    );
    drop_worker(&mut view);
    view
}

/// The task after a retryable `fail`: scheduled for its next attempt.
pub fn failed_attempt_view() -> Value {
    let mut view = with(
        email_task(),
        json!({"state": "scheduled", "run_at": "2026-11-26T16:46:42.480Z",
               "error": "SMTP refused: 451 try again later"}),
    );
    drop_worker(&mut view);
    view
}

/// The task after `release`: queued again, the attempt not counted.
pub fn released_view() -> Value {
    let mut view =
        with(email_task(), json!({"state": "queued", "attempts": 0, "started_at": null}));
    drop_worker(&mut view);
    view
}

/// `worker_id` is shown only while the task runs under a lease.
fn drop_worker(view: &mut Value) {
    if let Some(object) = view.as_object_mut() {
        object.remove("worker_id");
    }
}
