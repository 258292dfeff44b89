//! A task as stored: what `GET /tasks/{id}` shows and what a worker needs to run it.

use serde_json::Value;

use super::{Payload, Priority, State, TaskId};

/// The stored view of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    /// Its id (which carries its queue).
    pub id: TaskId,
    /// Its kind.
    pub kind: String,
    /// Its current state.
    pub state: State,
    /// Its priority.
    pub priority: Priority,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Retention after it finishes.
    pub result_ttl_s: u64,
    /// Submission time, ms since the epoch.
    pub created_at_ms: i64,
    /// Earliest start (delay or retry backoff), if any.
    pub run_at_ms: Option<i64>,
    /// Start of the latest attempt.
    pub started_at_ms: Option<i64>,
    /// When it reached a terminal state.
    pub finished_at_ms: Option<i64>,
    /// The handler's result, once succeeded.
    pub result: Option<Value>,
    /// The last failure's message.
    pub error: Option<String>,
    /// The submitted payload.
    pub payload: Payload,
    /// The schedule that submitted it, if one did.
    pub schedule: Option<String>,
    /// While it runs under an external worker's lease: the worker's name, if it gave one.
    pub worker_id: Option<String>,
}

impl TaskRecord {
    /// When the task became (or becomes) ready to run: its `run_at`, else its creation.
    pub fn ready_at_ms(&self) -> i64 {
        self.run_at_ms.unwrap_or(self.created_at_ms)
    }
}
