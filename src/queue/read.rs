//! Reads: one task's record and per-queue counts.

use redis::AsyncCommands;

use super::fields::{ClaimEntry, RecordFields};
use super::{Queue, QueueError};
use crate::task::{QueueName, State, TaskId, TaskRecord};

/// Counts of one queue's structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Ready, waiting for a worker.
    pub queued: u64,
    /// Waiting for a delay or a retry backoff.
    pub scheduled: u64,
    /// Claimed under a lease.
    pub running: u64,
    /// In the dead-letter list.
    pub failed: u64,
    /// Whether claiming is paused.
    pub paused: bool,
}

impl Queue {
    /// The record of `id`; `None` when unknown or expired. A task in the lease set is
    /// shown `running`, with the attempt in progress counted and its start time.
    pub async fn get(&self, id: &TaskId) -> Result<Option<TaskRecord>, QueueError> {
        let (key, leased, started) =
            (self.keys.task(id), self.keys.leased(id.queue()), self.keys.started(id.queue()));
        let member = id.to_string();
        let (lease, claim, values): (Option<f64>, Option<String>, Vec<Option<String>>) = self
            .redis
            .call(|mut c| async move {
                // Lease first, hash last: a settlement that lands between the reads then
                // shows its outcome, never a finished task as `queued`. (MULTI would make
                // the reads atomic but Redis refuses it at maxmemory, when reads must work.)
                redis::pipe()
                    .cmd("ZSCORE")
                    .arg(&leased)
                    .arg(&member)
                    .cmd("HGET")
                    .arg(&started)
                    .arg(&member)
                    .cmd("HMGET")
                    .arg(&key)
                    .arg(&RecordFields::NAMES)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let record = RecordFields::decode(id, values)?;
        Ok(record.map(|mut record| {
            if record.state == State::Queued && lease.is_some() {
                record.state = State::Running;
                record.attempts += 1;
                let started = claim.as_deref().and_then(ClaimEntry::parse).map(|c| c.started_at_ms);
                record.started_at_ms = started.or(record.started_at_ms);
            }
            record
        }))
    }

    /// Counts of `queue`.
    pub async fn stats(&self, queue: &QueueName) -> Result<QueueStats, QueueError> {
        let keys = [
            self.keys.pending(queue),
            self.keys.scheduled(queue),
            self.keys.leased(queue),
            self.keys.dead(queue),
        ];
        let paused = self.keys.paused(queue);
        let (queued, scheduled, running, failed, paused): (u64, u64, u64, u64, bool) = self
            .redis
            .call(|mut c| async move {
                redis::pipe()
                    .zcard(&keys[0])
                    .zcard(&keys[1])
                    .zcard(&keys[2])
                    .zcard(&keys[3])
                    .exists(&paused)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(QueueStats { queued, scheduled, running, failed, paused })
    }

    /// Every queue that has received a task, sorted.
    pub async fn known_queues(&self) -> Result<Vec<QueueName>, QueueError> {
        let key = self.keys.queues();
        let names: Vec<String> =
            self.redis.call(|mut c| async move { c.smembers(key).await }).await?;
        let mut queues: Vec<QueueName> =
            names.iter().filter_map(|n| QueueName::parse(n).ok()).collect();
        queues.sort();
        Ok(queues)
    }
}
