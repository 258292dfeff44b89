//! Claiming work: pop ready tasks into the lease set (claim.lua), then mark them running
//! and count the attempt (start.lua). Two calls because the task hashes' keys are only
//! known after the pop, and every key a script touches must be declared in KEYS.

use std::time::Duration;

use serde_json::Value;

use super::{Queue, QueueError};
use crate::task::{QueueName, TaskId, now_ms};

/// A task a worker now holds under a lease.
#[derive(Debug, Clone)]
pub struct ClaimedTask {
    /// Its id.
    pub id: TaskId,
    /// This attempt's number (1-based); also the lease's fencing token.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Its kind.
    pub kind: String,
    /// Its payload.
    pub payload: Value,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Submission time.
    pub created_at_ms: i64,
    /// When it became ready (its `run_at`, else its creation).
    pub ready_at_ms: i64,
    /// When this attempt started.
    pub started_at_ms: i64,
}

type StartReply = Option<(u32, u32, String, String, u64, i64, Option<i64>, u8)>;

impl Queue {
    /// Claims up to `max` ready tasks of `queue` under a lease of `lease`; empty when
    /// none is ready or the queue is paused.
    pub async fn claim(
        &self,
        queue: &QueueName,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<ClaimedTask>, QueueError> {
        let deadline = now_ms() + lease.as_millis() as i64;
        let mut call = self.scripts.claim.prepare_invoke();
        call.key(self.keys.pending(queue))
            .key(self.keys.leased(queue))
            .key(self.keys.paused(queue))
            .key(self.keys.wake(queue))
            .arg(max)
            .arg(deadline);
        let ids: Vec<String> =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<TaskId> = ids.iter().filter_map(|id| TaskId::parse(id)).collect();
        self.start(queue, ids).await
    }

    async fn start(
        &self,
        queue: &QueueName,
        ids: Vec<TaskId>,
    ) -> Result<Vec<ClaimedTask>, QueueError> {
        let now = now_ms();
        let mut call = self.scripts.start.prepare_invoke();
        call.key(self.keys.leased(queue)).arg(now);
        for id in &ids {
            call.key(self.keys.task(id)).arg(id.as_str());
        }
        let replies: Vec<StartReply> =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok(ids
            .into_iter()
            .zip(replies)
            .filter_map(|(id, reply)| {
                let (attempt, max_attempts, kind, payload, timeout_ms, created, run_at, _prio) =
                    reply?;
                Some(ClaimedTask {
                    id,
                    attempt,
                    max_attempts,
                    kind,
                    payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                    timeout_ms,
                    created_at_ms: created,
                    ready_at_ms: run_at.unwrap_or(created),
                    started_at_ms: now,
                })
            })
            .collect())
    }

    /// Extends the leases of tasks this process still runs (`ZADD XX`: a lease the reaper
    /// already took back is not recreated).
    pub async fn renew(
        &self,
        queue: &QueueName,
        ids: &[TaskId],
        lease: Duration,
    ) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        let deadline = now_ms() + lease.as_millis() as i64;
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(self.keys.leased(queue)).arg("XX");
        for id in ids {
            cmd.arg(deadline).arg(id.as_str());
        }
        self.redis.call(|mut c| async move { cmd.query_async::<()>(&mut c).await }).await
    }
}
