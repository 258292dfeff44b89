//! Example bodies of the schedule routes: `nightly-rollup`, a cron schedule in Berlin
//! time putting an `echo` task into queue `reports` at 03:00 every day, as ttp answers.

use serde_json::{Value, json};

use super::with;

/// A `PUT /schedules/{name}` body.
pub fn schedule_request() -> Value {
    json!({
        "cron": "0 3 * * *",
        "timezone": "Europe/Berlin",
        "task": {"kind": "echo", "payload": {"report": "daily"}, "queue": "reports", "priority": 7},
        "catchup": "latest",
        "overlap": "skip"
    })
}

/// The schedule as `PUT` and `GET` answer it.
pub fn schedule_view() -> Value {
    json!({
        "name": "nightly-rollup",
        "state": "active",
        "spec": {
            "cron": "0 3 * * *",
            "timezone": "Europe/Berlin",
            "task": {"kind": "echo", "payload": {"report": "daily"}, "queue": "reports",
                     "priority": 7, "delay_ms": 0, "max_attempts": 3, "timeout_ms": 30000,
                     "result_ttl_s": 86400},
            "start_at": null, "end_at": null, "catchup": "latest", "catchup_window_s": 3600,
            "overlap": "skip", "paused": false
        },
        "next_runs": ["2026-12-02T02:00:00.000Z", "2026-12-03T02:00:00.000Z",
                      "2026-12-04T02:00:00.000Z", "2026-12-05T02:00:00.000Z",
                      "2026-12-06T02:00:00.000Z"],
        "last_run_at": "2026-12-01T02:00:00.004Z",
        "fired": 12,
        "missed": 0,
        "recent_runs": [{"tick_at": "2026-12-01T02:00:00.000Z",
                         "task_id": "01M8SCP1WPV37571EZBBN1QE9D.reports"}],
        "created_at": "2026-11-19T09:12:44.265Z",
        "updated_at": "2026-11-19T09:12:44.265Z"
    })
}

/// The schedule after `POST /schedules/{name}/pause`.
pub fn paused_schedule_view() -> Value {
    let mut view = with(schedule_view(), json!({"state": "paused"}));
    view["spec"]["paused"] = json!(true);
    view
}

/// `GET /schedules`.
pub fn schedule_list() -> Value {
    json!({"schedules": [schedule_view()]})
}

/// The task `POST /schedules/{name}/run` submitted.
pub fn schedule_run_view() -> Value {
    json!({
        "id": "01M8SCP1WPV37571EZBBN1QE9D.reports", "queue": "reports", "kind": "echo",
        "state": "queued", "priority": 7, "attempts": 0, "max_attempts": 3,
        "timeout_ms": 30000, "result_ttl_s": 86400, "created_at": "2026-12-01T18:08:16.279Z",
        "run_at": null, "started_at": null, "finished_at": null, "result": null, "error": null,
        "payload": {"report": "daily"}, "schedule": "nightly-rollup"
    })
}
