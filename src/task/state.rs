//! Task states and the transitions between them.
//!
//! ```text
//! scheduled ──due──▶ queued ──claim──▶ running ──▶ succeeded
//!     ▲                │                  │  └───▶ failed (dead-letter list)
//!     └──retry backoff─┼──────────────────┘
//!                      └──cancel──▶ cancelled  (also from scheduled)
//! ```
//! The Lua scripts perform the transitions; this type names them for the API and tests.

use std::fmt;
use std::str::FromStr;

/// Where a task is in its life.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = TaskState)]
pub enum State {
    /// Waiting for its `run_at` time (a delay or a retry backoff).
    Scheduled,
    /// Ready; waiting for a worker.
    Queued,
    /// Claimed by a worker under a lease.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Attempts exhausted or a permanent error; in the dead-letter list.
    Failed,
    /// Cancelled before it started.
    Cancelled,
}

impl State {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the task will not change any more (until a manual retry).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "scheduled" => Self::Scheduled,
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            other => return Err(format!("unknown state {other:?}")),
        })
    }
}
