//! The task view: how a task appears in responses (SPEC §2), times as RFC 3339 UTC with
//! millisecond precision.

use chrono::{DateTime, SecondsFormat};
use serde::Serialize;
use serde_json::Value;

use crate::task::{Payload, State, TaskRecord};

/// A task as clients see it. Times are RFC 3339, UTC, millisecond precision; a time
/// that has not happened yet is `null`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(examples(crate::api::openapi::examples::task_view))]
pub struct TaskView {
    /// Opaque, URL-safe, time-ordered id.
    pub id: String,
    /// Queue name.
    pub queue: String,
    /// Handler kind.
    pub kind: String,
    /// Current state.
    pub state: State,
    /// 0..=9, higher runs first.
    #[schema(maximum = 9)]
    pub priority: u8,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Per-attempt timeout in milliseconds.
    pub timeout_ms: u64,
    /// Retention after finishing, in seconds.
    pub result_ttl_s: u64,
    /// Submission time.
    #[schema(required, format = DateTime)]
    pub created_at: Option<String>,
    /// Earliest start (a delay or a retry backoff); `null` when it may run at once.
    #[schema(required, format = DateTime)]
    pub run_at: Option<String>,
    /// Start of the latest attempt.
    #[schema(required, format = DateTime)]
    pub started_at: Option<String>,
    /// When it became terminal.
    #[schema(required, format = DateTime)]
    pub finished_at: Option<String>,
    /// The handler's result, once succeeded.
    #[schema(required)]
    pub result: Option<Value>,
    /// Message of the last failure.
    #[schema(required)]
    pub error: Option<String>,
    /// The submitted payload.
    #[schema(value_type = serde_json::Value)]
    pub payload: Payload,
    /// The name of the schedule that submitted it; absent for a task submitted directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// While it runs under an external worker's lease, the `worker_id` that worker
    /// claimed it with (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
}

/// Milliseconds since the epoch as RFC 3339 UTC, e.g. `2026-11-26T16:46:39.123Z`.
pub fn rfc3339(ms: i64) -> Option<String> {
    DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

impl From<TaskRecord> for TaskView {
    fn from(task: TaskRecord) -> Self {
        Self {
            id: task.id.to_string(),
            queue: task.id.queue().to_string(),
            kind: task.kind,
            state: task.state,
            priority: task.priority.get(),
            attempts: task.attempts,
            max_attempts: task.max_attempts,
            timeout_ms: task.timeout_ms,
            result_ttl_s: task.result_ttl_s,
            created_at: rfc3339(task.created_at_ms),
            run_at: task.run_at_ms.and_then(rfc3339),
            started_at: task.started_at_ms.and_then(rfc3339),
            finished_at: task.finished_at_ms.and_then(rfc3339),
            result: task.result,
            error: task.error,
            payload: task.payload,
            schedule: task.schedule,
            worker_id: task.worker_id,
        }
    }
}
