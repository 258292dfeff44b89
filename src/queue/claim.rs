//! Claiming work: pop ready tasks into the lease set (claim.lua), then read what the
//! worker needs of them in one pipelined round trip.

use std::time::Duration;

use serde_json::Value;

use super::fields::ClaimFields;
use super::{Holder, Queue, QueueError};
use crate::task::{QueueName, State, TaskId, now_ms};

/// A task a worker now holds under a lease.
#[derive(Debug, Clone)]
pub struct ClaimedTask {
    /// Its id.
    pub id: TaskId,
    /// The claim's fencing token: outcomes apply only while the lease is this claim's.
    pub token: u64,
    /// This attempt's number (1-based).
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
    /// Its priority (for a shutdown hand-back).
    pub priority: u8,
    /// Its result TTL (for a success).
    pub result_ttl_s: u64,
}

impl ClaimedTask {
    /// What a settlement of this attempt must carry.
    pub fn holder(&self) -> Holder {
        Holder {
            token: self.token,
            attempt: self.attempt,
            started_at_ms: self.started_at_ms,
            priority: self.priority,
            result_ttl_s: self.result_ttl_s,
        }
    }
}

/// Most tasks one claim takes: the script passes two values per task to single `ZADD` and
/// `HSET` calls, and Lua's `unpack` fails beyond about 8,000 values — after the pop, which
/// Redis does not roll back. 1,000 keeps every call far below that.
pub const MAX_CLAIM: usize = 1000;

impl Queue {
    /// Claims up to `max` (at most [`MAX_CLAIM`]) ready tasks of `queue` under a lease of
    /// `lease`; empty when none is ready or the queue is paused.
    pub async fn claim(
        &self,
        queue: &QueueName,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<ClaimedTask>, QueueError> {
        let now = now_ms();
        let max = max.clamp(1, MAX_CLAIM);
        let mut call = self.scripts.claim.prepare_invoke();
        call.key(self.keys.pending(queue))
            .key(self.keys.leased(queue))
            .key(self.keys.paused(queue))
            .key(self.keys.wake(queue))
            .key(self.keys.started(queue))
            .key(self.keys.seq(queue))
            .arg(max)
            .arg(now + lease.as_millis() as i64)
            .arg(now);
        let reply: Vec<String> =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        let Some((token, ids)) = reply.split_first() else {
            return Ok(Vec::new());
        };
        let token: u64 =
            token.parse().map_err(|_| QueueError::Corrupt("bad claim token".into()))?;
        let ids: Vec<TaskId> = ids.iter().filter_map(|id| TaskId::parse(id)).collect();
        let hashes: Vec<String> = ids.iter().map(|id| self.keys.task(id)).collect();
        // The tasks are already leased to this claim: a failed read is tried again, as
        // giving up would leave them to the reaper (which counts an attempt).
        let mut rows: Result<Vec<Vec<Option<String>>>, QueueError> = Err(QueueError::Timeout(0));
        for _ in 0..3 {
            let hashes = &hashes;
            rows = self
                .redis
                .call(|mut c| async move {
                    let mut pipe = redis::pipe();
                    for hash in hashes {
                        pipe.cmd("HMGET").arg(hash).arg(&ClaimFields::NAMES);
                    }
                    pipe.query_async(&mut c).await
                })
                .await;
            if rows.is_ok() {
                break;
            }
        }
        let rows = rows?;
        // A task whose hash is gone (deleted by hand) stays leased; the reaper forgets it.
        Ok(ids.into_iter().zip(rows).filter_map(|(id, row)| claimed(id, row, token, now)).collect())
    }

    /// Extends the leases of tasks this process still runs, each under the claim token
    /// it holds (a lease the reaper took back is neither recreated nor, if another
    /// worker claimed the task since, extended).
    pub async fn renew(
        &self,
        queue: &QueueName,
        held: &[(TaskId, u64)],
        lease: Duration,
    ) -> Result<(), QueueError> {
        if held.is_empty() {
            return Ok(());
        }
        let mut call = self.scripts.renew.prepare_invoke();
        call.key(self.keys.leased(queue))
            .key(self.keys.started(queue))
            .arg(now_ms() + lease.as_millis() as i64);
        for (id, token) in held {
            call.arg(id.as_str()).arg(token);
        }
        self.redis.call(|mut c| async move { call.invoke_async::<()>(&mut c).await }).await
    }
}

fn claimed(id: TaskId, row: Vec<Option<String>>, token: u64, now: i64) -> Option<ClaimedTask> {
    let fields = ClaimFields::decode(&id, row)?;
    if fields.state != State::Queued {
        return None;
    }
    let payload = fields.payload.and_then(|p| serde_json::from_str(&p).ok());
    Some(ClaimedTask {
        id,
        token,
        attempt: fields.attempts + 1,
        max_attempts: fields.max_attempts,
        kind: fields.kind,
        payload: payload.unwrap_or(Value::Null),
        timeout_ms: fields.timeout_ms,
        created_at_ms: fields.created_at_ms,
        ready_at_ms: fields.run_at_ms.unwrap_or(fields.created_at_ms),
        started_at_ms: now,
        priority: fields.priority,
        result_ttl_s: fields.result_ttl_s,
    })
}
