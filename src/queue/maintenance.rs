//! Background transitions: promoting due scheduled tasks and reaping expired leases.
//!
//! Both read the candidates first and then run a script that re-checks each one, because
//! a script may only touch keys it was given, and the candidates' hash keys are only
//! known after the read. The re-check makes the gap harmless.

use super::read::{claim_started, claim_token};
use super::{Action, Holder, Queue, QueueError, Settlement};
use crate::task::{QueueName, RetryPolicy, TaskId, now_ms};

/// What a promotion pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promoted {
    /// Tasks moved to pending.
    pub moved: usize,
    /// Due time of the earliest task still scheduled.
    pub next_due_ms: Option<i64>,
}

/// What a reaping pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaped {
    /// Expired leases taken back.
    pub reaped: usize,
    /// The attempts this pass ended (for metrics): retried or failed.
    pub ended: Vec<ReapedAttempt>,
    /// Deadline of the earliest lease still held.
    pub next_deadline_ms: Option<i64>,
}

/// An attempt the reaper ended because its worker stopped renewing the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReapedAttempt {
    /// The task's kind.
    pub kind: String,
    /// True when the task failed for good; false when it was scheduled again.
    pub failed: bool,
    /// Submission time of the task.
    pub created_at_ms: i64,
}

const PASS_LIMIT: isize = 500;

/// What the reaper reads of an expired lease: state, attempts ended, max, kind, creation,
/// claim entry.
type LeaseRow =
    (Option<String>, Option<u32>, Option<u32>, Option<String>, Option<i64>, Option<String>);

impl Queue {
    /// Members of the zset `key` scored at or before `now` (at most one pass), and the
    /// lowest score still in it: what is due, and when the next thing will be.
    async fn due_and_next(
        &self,
        key: String,
        now: i64,
    ) -> Result<(Vec<TaskId>, Option<i64>), QueueError> {
        let (due, next): (Vec<String>, Vec<(String, f64)>) = self
            .redis
            .call(|mut c| async move {
                redis::pipe()
                    .zrangebyscore_limit(&key, "-inf", now, 0, PASS_LIMIT)
                    .zrange_withscores(&key, 0, 0)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let due = due.iter().filter_map(|id| TaskId::parse(id)).collect();
        Ok((due, next.first().map(|(_, score)| *score as i64)))
    }

    /// Moves scheduled tasks of `queue` that are due into pending.
    pub async fn promote_due(&self, queue: &QueueName) -> Result<Promoted, QueueError> {
        let now = now_ms();
        let (due, next_due_ms) = self.due_and_next(self.keys.scheduled(queue), now).await?;
        if due.is_empty() {
            return Ok(Promoted { moved: 0, next_due_ms });
        }
        let mut call = self.scripts.promote.prepare_invoke();
        call.key(self.keys.scheduled(queue))
            .key(self.keys.pending(queue))
            .key(self.keys.seq(queue))
            .key(self.keys.wake(queue))
            .arg(now);
        for id in &due {
            call.key(self.keys.task(id)).arg(id.as_str());
        }
        let (moved, next): (usize, Option<i64>) =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok(Promoted { moved, next_due_ms: next })
    }

    /// Takes back expired leases of `queue`: the attempt counts, and the task is retried
    /// with backoff or failed when its attempts are used up; a lease whose task is gone
    /// or not running is dropped.
    pub async fn reap_expired(
        &self,
        queue: &QueueName,
        policy: RetryPolicy,
    ) -> Result<Reaped, QueueError> {
        let now = now_ms();
        let (ids, next_deadline_ms) = self.due_and_next(self.keys.leased(queue), now).await?;
        if ids.is_empty() {
            return Ok(Reaped { reaped: 0, ended: Vec::new(), next_deadline_ms });
        }
        let hashes: Vec<String> = ids.iter().map(|id| self.keys.task(id)).collect();
        let started_key = self.keys.started(queue);
        let id_texts: Vec<&str> = ids.iter().map(TaskId::as_str).collect();
        let rows: Vec<LeaseRow> = self
            .redis
            .call(|mut c| async move {
                let mut pipe = redis::pipe();
                for (hash, id) in hashes.iter().zip(&id_texts) {
                    pipe.cmd("HMGET").arg(hash).arg(&["state", "att", "max", "kind", "created"]);
                    pipe.cmd("HGET").arg(&started_key).arg(*id);
                }
                let flat: Vec<redis::Value> = pipe.query_async(&mut c).await?;
                flat.chunks(2)
                    .map(|pair| {
                        let (state, att, max, kind, created) =
                            redis::from_redis_value_ref(&pair[0])?;
                        let started: Option<String> = redis::from_redis_value_ref(&pair[1])?;
                        Ok((state, att, max, kind, created, started))
                    })
                    .collect()
            })
            .await?;
        let about: Vec<(String, i64)> = rows
            .iter()
            .map(|row| (row.3.clone().unwrap_or_default(), row.4.unwrap_or(now)))
            .collect();
        let items: Vec<Settlement> = ids
            .into_iter()
            .zip(rows)
            .map(|(id, (state, ended, max, _, _, claim))| {
                let holder = Holder {
                    token: claim.as_deref().and_then(claim_token).unwrap_or(0),
                    attempt: ended.unwrap_or(0) + 1,
                    started_at_ms: claim.as_deref().and_then(claim_started).unwrap_or(now),
                    priority: 0,
                    result_ttl_s: 0,
                };
                // A lease without a claim entry cannot be fenced; it can only be dropped.
                let state = if claim.is_some() { state.as_deref() } else { None };
                reap_decision(id, state, holder, max.unwrap_or(1), policy, now)
            })
            .collect();
        let applied = self.settle(queue, &items).await?;
        let reaped = applied.iter().filter(|a| **a).count();
        let ended = items
            .iter()
            .zip(applied)
            .zip(about)
            .filter(|((item, applied), _)| *applied && !matches!(item.action, Action::Forget))
            .map(|((item, _), (kind, created_at_ms))| ReapedAttempt {
                kind,
                failed: matches!(item.action, Action::Fail(_)),
                created_at_ms,
            })
            .collect();
        Ok(Reaped { reaped, ended, next_deadline_ms: Some(now) })
    }
}

fn reap_decision(
    id: TaskId,
    state: Option<&str>,
    holder: Holder,
    max: u32,
    policy: RetryPolicy,
    now: i64,
) -> Settlement {
    let attempt = holder.attempt;
    let action = match state {
        Some("queued") if attempt >= max => Action::Fail(format!(
            "lease expired on attempt {attempt} of {max}: the worker stopped renewing it (crash, kill or stall)"
        )),
        Some("queued") => Action::Retry {
            due_ms: now + policy.backoff(attempt).as_millis() as i64,
            error: format!(
                "lease expired on attempt {attempt}: the worker stopped renewing it (crash, kill or stall)"
            ),
        },
        _ => Action::Forget,
    };
    Settlement { id, holder, lease_expired: true, action }
}
