//! Claiming work: pop ready tasks into the lease set and read what the worker needs of
//! them, in one script call (claim.lua). A claim is idempotent by its id, so
//! a claimer that got no answer (a timeout, a stall) sends the same request again and
//! gets the same tasks: a claim nobody received never costs a task an attempt.

use std::time::Duration;

use serde_json::Value;

use super::fields::ClaimFields;
use super::{Holder, LeaseToken, Queue, QueueError};
use crate::task::{QueueName, State, TaskId};

/// A task a worker now holds under a lease.
#[derive(Debug, Clone)]
pub struct ClaimedTask {
    /// Its id.
    pub id: TaskId,
    /// The claim's fencing token: outcomes apply only while the lease is this claim's.
    pub token: LeaseToken,
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
            token: Some(self.token.clone()),
            attempt: self.attempt,
            started_at_ms: self.started_at_ms,
            created_at_ms: self.created_at_ms,
            priority: self.priority,
            result_ttl_s: self.result_ttl_s,
            kind: self.kind.clone(),
        }
    }
}

/// Most tasks one claim takes: the script passes two values per task to single `ZADD` and
/// `HSET` calls, and Lua's `unpack` fails beyond about 8,000 values — after the pop, which
/// Redis does not roll back. 1,000 keeps every call far below that.
pub const MAX_CLAIM: usize = 1000;

/// One claim: how many tasks, under what lease, and the ids that make it idempotent.
/// Send the same request again after a timeout: it answers the tasks the first one took
/// (while its lease lasts) instead of taking more.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// Names the claim (the token for embedded workers, the client's `claim_id` for
    /// external ones).
    pub claim_id: String,
    /// The fencing token the claim's tasks get when it is new.
    pub token: LeaseToken,
    /// Most tasks to take (at most [`MAX_CLAIM`]).
    pub max: usize,
    /// The lease.
    pub lease: Duration,
    /// The claiming worker's name (external workers), kept with the lease and shown in
    /// the task view while it runs; no spaces.
    pub worker_id: Option<String>,
}

impl ClaimRequest {
    /// A new claim with a fresh token that also names it.
    pub fn new(max: usize, lease: Duration) -> Result<Self, QueueError> {
        let token = LeaseToken::generate()?;
        Ok(Self { claim_id: token.to_string(), token, max, lease, worker_id: None })
    }
}

impl Queue {
    /// Claims up to `request.max` ready tasks of `queue` under a lease; empty when none
    /// is ready or the queue is paused. The same request again (after a lost reply)
    /// answers the tasks still held under the first.
    pub async fn claim(
        &self,
        queue: &QueueName,
        request: &ClaimRequest,
    ) -> Result<Vec<ClaimedTask>, QueueError> {
        self.require_layout()?;
        let mut call = self.scripts.claim.prepare_invoke();
        call.key(self.keys.pending(queue))
            .key(self.keys.leased(queue))
            .key(self.keys.paused(queue))
            .key(self.keys.wake(queue))
            .key(self.keys.started(queue))
            .key(self.keys.claim(queue, &request.claim_id))
            .key(self.keys.task_prefix(queue))
            .arg(request.max.clamp(1, MAX_CLAIM))
            .arg(request.lease.as_millis() as u64)
            .arg(request.token.as_str())
            .arg(request.worker_id.as_deref().unwrap_or("-"));
        let reply: Vec<Option<String>> =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        let corrupt = || QueueError::Corrupt("claim answered a malformed claim".into());
        let mut reply = reply.into_iter();
        let (Some(token), Some(started)) = (reply.next(), reply.next()) else {
            return Ok(Vec::new());
        };
        let token = token.as_deref().and_then(LeaseToken::parse).ok_or_else(corrupt)?;
        let started: i64 = started.and_then(|s| s.parse().ok()).ok_or_else(corrupt)?;
        let per_task = 1 + ClaimFields::NAMES.len();
        let rest: Vec<Option<String>> = reply.collect();
        if !rest.len().is_multiple_of(per_task) {
            return Err(corrupt());
        }
        // A task whose hash is gone (deleted by hand) stays leased; the reaper forgets it.
        Ok(rest
            .chunks(per_task)
            .filter_map(|chunk| {
                let id = TaskId::parse(chunk[0].as_deref()?)?;
                claimed(id, chunk[1..].to_vec(), &token, started)
            })
            .collect())
    }

    /// Extends the leases of tasks this process still runs, each under the claim token
    /// it holds (a lease the reaper took back is neither recreated nor, if another
    /// worker claimed the task since, extended).
    pub async fn renew(
        &self,
        queue: &QueueName,
        held: &[(TaskId, LeaseToken)],
        lease: Duration,
    ) -> Result<(), QueueError> {
        if held.is_empty() {
            return Ok(());
        }
        self.renew_until(queue, held, lease, None).await.map(drop)
    }

    /// Extends the lease of one task held under `token` by `lease`, never past `cap_ms`
    /// (its attempt's timeout); the new deadline, or `None` when the task is not held
    /// under that token (the lease was lost, or the attempt ended).
    pub async fn renew_one(
        &self,
        id: &TaskId,
        token: &LeaseToken,
        lease: Duration,
        cap_ms: i64,
    ) -> Result<Option<i64>, QueueError> {
        let held = [(id.clone(), token.clone())];
        let (extended, deadline) = self.renew_until(id.queue(), &held, lease, Some(cap_ms)).await?;
        Ok((extended == 1).then_some(deadline))
    }

    async fn renew_until(
        &self,
        queue: &QueueName,
        held: &[(TaskId, LeaseToken)],
        lease: Duration,
        cap_ms: Option<i64>,
    ) -> Result<(u64, i64), QueueError> {
        let mut call = self.scripts.renew.prepare_invoke();
        call.key(self.keys.leased(queue))
            .key(self.keys.started(queue))
            .arg(lease.as_millis() as u64)
            .arg(cap_ms.unwrap_or(0));
        for (id, token) in held {
            call.arg(id.as_str()).arg(token.as_str());
        }
        self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await
    }
}

fn claimed(
    id: TaskId,
    row: Vec<Option<String>>,
    token: &LeaseToken,
    started: i64,
) -> Option<ClaimedTask> {
    let fields = ClaimFields::decode(&id, row)?;
    if fields.state != State::Queued {
        return None;
    }
    let body = fields.body;
    Some(ClaimedTask {
        id,
        token: token.clone(),
        attempt: fields.attempts + 1,
        max_attempts: body.max_attempts,
        payload: serde_json::from_str(&body.payload).unwrap_or(Value::Null),
        kind: body.kind,
        timeout_ms: body.timeout_ms,
        created_at_ms: body.created_at_ms,
        ready_at_ms: fields.run_at_ms.unwrap_or(body.created_at_ms),
        started_at_ms: started,
        priority: body.priority.get(),
        result_ttl_s: body.result_ttl_s,
    })
}
