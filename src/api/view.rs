//! The task view: how a task appears in responses (SPEC §2), times as RFC 3339 UTC with
//! millisecond precision.

use chrono::{DateTime, SecondsFormat};
use serde::Serialize;
use serde_json::Value;

use crate::task::{State, TaskRecord};

/// A task as clients see it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    /// Opaque id.
    pub id: String,
    /// Queue name.
    pub queue: String,
    /// Handler kind.
    pub kind: String,
    /// Current state.
    pub state: State,
    /// 0..=9.
    pub priority: u8,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Retention after finishing.
    pub result_ttl_s: u64,
    /// Submission time.
    pub created_at: Option<String>,
    /// Earliest start (delay or retry backoff).
    pub run_at: Option<String>,
    /// Start of the latest attempt.
    pub started_at: Option<String>,
    /// When it became terminal.
    pub finished_at: Option<String>,
    /// Handler result, once succeeded.
    pub result: Option<Value>,
    /// Message of the last failure.
    pub error: Option<String>,
    /// The submitted payload.
    pub payload: Value,
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
        }
    }
}
