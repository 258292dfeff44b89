//! Background reads and transitions: promoting due scheduled tasks, and reading expired
//! leases for the reaper (which decides their fate and settles them).
//!
//! Both read the candidates first and then run a script that re-checks each one, because
//! a script may only touch keys it was given, and the candidates' hash keys are only
//! known after the read. The re-check (the settle script's fence) makes the gap harmless.

use super::fields::{ClaimEntry, LeaseFields};
use super::{Queue, QueueError};
use crate::task::{QueueName, TaskId, now_ms};

/// What a promotion pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promoted {
    /// Tasks moved to pending.
    pub moved: usize,
    /// Due time of the earliest task still scheduled.
    pub next_due_ms: Option<i64>,
}

/// Leases that expired: their workers crashed, were killed or stalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredLeases {
    /// The expired leases (at most one pass).
    pub leases: Vec<ExpiredLease>,
    /// Deadline of the earliest lease still held.
    pub next_deadline_ms: Option<i64>,
}

/// One expired lease and what the reaper needs to end its attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredLease {
    /// The task.
    pub id: TaskId,
    /// The claim that held it, if its entry is still there (without one the lease cannot
    /// be fenced and can only be dropped).
    pub claim: Option<ClaimEntry>,
    /// The task's fields; `None` when its hash is gone.
    pub task: Option<LeaseFields>,
}

const PASS_LIMIT: isize = 500;

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
            .read(|mut c| async move {
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
        self.require_layout()?;
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

    /// The expired leases of `queue` (at most one pass) with what ending their attempts
    /// needs; ending them is the reaper's decision, written back with [`Queue::settle`].
    pub async fn expired_leases(&self, queue: &QueueName) -> Result<ExpiredLeases, QueueError> {
        self.require_layout()?;
        let now = now_ms();
        let (ids, next_deadline_ms) = self.due_and_next(self.keys.leased(queue), now).await?;
        if ids.is_empty() {
            return Ok(ExpiredLeases { leases: Vec::new(), next_deadline_ms });
        }
        let hashes: Vec<String> = ids.iter().map(|id| self.keys.task(id)).collect();
        let started_key = self.keys.started(queue);
        let id_texts: Vec<&str> = ids.iter().map(TaskId::as_str).collect();
        type Pair = (Vec<Option<String>>, Option<String>);
        let rows: Vec<Pair> = self
            .redis
            .read(|mut c| async move {
                let mut pipe = redis::pipe();
                for (hash, id) in hashes.iter().zip(&id_texts) {
                    pipe.cmd("HMGET").arg(hash).arg(&LeaseFields::NAMES);
                    pipe.cmd("HGET").arg(&started_key).arg(*id);
                }
                let flat: Vec<redis::Value> = pipe.query_async(&mut c).await?;
                flat.chunks(2)
                    .map(|pair| {
                        let fields = redis::from_redis_value_ref(&pair[0])?;
                        let claim = redis::from_redis_value_ref(&pair[1])?;
                        Ok((fields, claim))
                    })
                    .collect()
            })
            .await?;
        let leases = ids
            .into_iter()
            .zip(rows)
            .map(|(id, (fields, claim))| ExpiredLease {
                task: LeaseFields::decode(&id, fields),
                claim: claim.as_deref().and_then(ClaimEntry::parse),
                id,
            })
            .collect();
        Ok(ExpiredLeases { leases, next_deadline_ms: Some(now) })
    }
}
