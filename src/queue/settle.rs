//! Ending attempts (settle.lua): success, retry, failure, shutdown hand-back, and
//! dropping stale leases — fenced by the claim token, so a late answer never
//! overwrites a newer attempt.

use serde_json::Value;

use super::replies::SettleCode;
use super::{LeaseToken, Queue, QueueError};
use crate::task::{QueueName, TaskId, now_ms};

/// What the claim that ran an attempt knew: the fence, and what ending it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The claim's fencing token; `None` only for dropping a lease whose claim entry is
    /// gone (nothing can be fenced then).
    pub token: Option<LeaseToken>,
    /// The attempt's number (1-based); stored as the task's attempt count when it ends.
    pub attempt: u32,
    /// When the attempt started.
    pub started_at_ms: i64,
    /// When the task was submitted (times are stored relative to it).
    pub created_at_ms: i64,
    /// The task's priority (a hand-back goes to the front of it).
    pub priority: u8,
    /// The task's result TTL (a success expires after it).
    pub result_ttl_s: u64,
    /// The task's kind (a failure joins its kind's dead-letter set).
    pub kind: String,
}

/// How an attempt ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Store the result; the task expires after its result TTL.
    Succeed(Value),
    /// Schedule another attempt at `due_ms`, keeping the error.
    Retry {
        /// When the next attempt may start.
        due_ms: i64,
        /// Why this attempt failed.
        error: String,
    },
    /// Fail for good: the dead-letter list.
    Fail(String),
    /// Shutdown hand-back: to the front of its priority, attempt not counted.
    Release,
    /// A stale lease (the task is gone, or in a state that is not running): drop it.
    Forget,
}

/// One action on one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    /// The task.
    pub id: TaskId,
    /// The claim that ran the attempt; the action applies only while it holds the lease.
    pub holder: Holder,
    /// Whether the lease must also have expired (the reaper's condition).
    pub lease_expired: bool,
    /// The action.
    pub action: Action,
}

impl Queue {
    /// Applies settlements of one queue in one call; per item, whether it applied
    /// (false: the fence did not hold, e.g. the lease was lost or already settled).
    pub async fn settle(
        &self,
        queue: &QueueName,
        items: &[Settlement],
    ) -> Result<Vec<bool>, QueueError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut call = self.scripts.settle.prepare_invoke();
        call.key(self.keys.leased(queue))
            .key(self.keys.pending(queue))
            .key(self.keys.scheduled(queue))
            .key(self.keys.dead(queue))
            .key(self.keys.started(queue))
            .key(self.keys.wake(queue))
            .key(self.keys.timer(queue))
            .key(self.keys.flow(queue))
            .key(self.keys.finished(queue))
            .arg(now)
            .arg(self.limits.dead_ttl_s)
            .arg(self.limits.dead_max);
        for item in items {
            let (name, text, due) = match &item.action {
                Action::Succeed(result) => ("succeed", result.to_string(), 0),
                Action::Retry { due_ms, error } => ("retry", error.clone(), *due_ms),
                Action::Fail(error) => ("fail", error.clone(), 0),
                Action::Release => ("release", String::new(), 0),
                Action::Forget => ("forget", String::new(), 0),
            };
            let holder = &item.holder;
            call.key(self.keys.task(&item.id))
                .key(self.keys.dead_of_kind(queue, &holder.kind))
                .arg(item.id.as_str())
                .arg(name)
                .arg(holder.token.as_ref().map_or("", LeaseToken::as_str))
                .arg(u8::from(item.lease_expired))
                .arg(holder.started_at_ms - holder.created_at_ms)
                .arg(now - holder.created_at_ms)
                .arg(holder.attempt)
                .arg(holder.priority)
                .arg(holder.result_ttl_s)
                .arg(text)
                .arg(due);
        }
        let applied: Vec<i64> =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        applied
            .into_iter()
            .map(|code| SettleCode::from_reply(code).map(|c| c == SettleCode::Applied))
            .collect()
    }
}
