//! Reads: one task's record and per-queue counts.

use super::fields::{ClaimEntry, RecordFields};
use super::{Queue, QueueError};
use crate::task::{QueueName, State, TaskId, TaskRecord};

/// The flow counters of one queue (the whole deployment's, since the queue first got a
/// task): tasks stored and tasks finished. Rates are their deltas over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flow {
    /// Tasks stored: submitted (replays of an idempotency key aside) or replayed from
    /// the dead-letter list.
    pub tasks_in: u64,
    /// Tasks finished: succeeded, failed for good, or cancelled.
    pub tasks_out: u64,
}

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
        let mut records = self.get_many(std::slice::from_ref(id)).await?;
        Ok(records.pop().flatten())
    }

    /// The records of `ids`, in order, read in one pipelined round trip.
    pub async fn get_many(&self, ids: &[TaskId]) -> Result<Vec<Option<TaskRecord>>, QueueError> {
        let reads = self.read_many(ids).await?;
        Ok(reads.into_iter().map(|read| read.map(|r| r.record)).collect())
    }

    /// Task `id` with its lease, for the lease API: `None` when unknown or expired.
    pub async fn read_lease(&self, id: &TaskId) -> Result<Option<TaskRead>, QueueError> {
        let mut reads = self.read_many(std::slice::from_ref(id)).await?;
        Ok(reads.pop().flatten())
    }

    async fn read_many(&self, ids: &[TaskId]) -> Result<Vec<Option<TaskRead>>, QueueError> {
        self.require_layout()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let hashes: Vec<String> = ids.iter().map(|id| self.keys.task(id)).collect();
        let flat = self
            .redis
            .read_grouped(&hashes, 3, |pipe, i| {
                let id = &ids[i];
                // Lease first, hash last: a settlement that lands between the reads then
                // shows its outcome, never a finished task as `queued`. (MULTI would make
                // the reads atomic but Redis refuses it at maxmemory, when reads must work.)
                pipe.cmd("ZSCORE").arg(self.keys.leased(id.queue())).arg(id.as_str());
                pipe.cmd("HGET").arg(self.keys.started(id.queue())).arg(id.as_str());
                pipe.cmd("HMGET").arg(&hashes[i]).arg(&RecordFields::NAMES);
            })
            .await?;
        ids.iter().zip(flat.chunks(3)).map(|(id, reply)| record_of(id, reply)).collect()
    }

    /// Counts of `queue`.
    pub async fn stats(&self, queue: &QueueName) -> Result<QueueStats, QueueError> {
        let mut all = self.stats_many(std::slice::from_ref(queue)).await?;
        all.pop().ok_or_else(|| QueueError::Corrupt("no stats for the queue".into()))
    }

    /// Counts of every queue in `queues`, in order, read in one pipelined round trip per
    /// Redis node.
    pub async fn stats_many(&self, queues: &[QueueName]) -> Result<Vec<QueueStats>, QueueError> {
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = queues.iter().map(|q| self.keys.pending(q)).collect();
        let flat =
            self.redis.read_grouped(&keys, 5, |pipe, i| self.add_stats(pipe, &queues[i])).await?;
        let counts = flat
            .iter()
            .map(redis::from_redis_value_ref::<u64>)
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|e| QueueError::Corrupt(format!("queue counts: {e}")))?;
        Ok(counts.chunks(5).map(stats_of).collect())
    }

    /// Counts and flow counters of every queue in `queues`, in order, in one pipelined
    /// round trip (the dashboard's snapshot).
    pub async fn overview(
        &self,
        queues: &[QueueName],
    ) -> Result<Vec<(QueueStats, Flow)>, QueueError> {
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        // Grouped by node, like `stats_of_queues`: a cluster refuses one pipeline across
        // the slots of several queues.
        let keys: Vec<String> = queues.iter().map(|q| self.keys.flow(q)).collect();
        let flat = self
            .redis
            .read_grouped(&keys, 6, |pipe, i| {
                self.add_stats(pipe, &queues[i]);
                pipe.cmd("HMGET").arg(&keys[i]).arg("in").arg("out");
            })
            .await?;
        flat.chunks(6).map(overview_of).collect()
    }

    /// Counts of `queue` and its sequence counter (moved by every submission).
    pub async fn activity(&self, queue: &QueueName) -> Result<(QueueStats, u64), QueueError> {
        let mut pipe = redis::pipe();
        self.add_stats(&mut pipe, queue);
        pipe.cmd("GET").arg(self.keys.seq(queue));
        let pipe = &pipe;
        let (a, b, c, d, e, seq): (u64, u64, u64, u64, u64, Option<u64>) =
            self.redis.read(|mut conn| async move { pipe.query_async(&mut conn).await }).await?;
        Ok((stats_of(&[a, b, c, d, e]), seq.unwrap_or(0)))
    }

    fn add_stats(&self, pipe: &mut redis::Pipeline, queue: &QueueName) {
        pipe.zcard(self.keys.pending(queue))
            .zcard(self.keys.scheduled(queue))
            .zcard(self.keys.leased(queue))
            .zcard(self.keys.dead(queue))
            .exists(self.keys.paused(queue));
    }
}

fn stats_of(counts: &[u64]) -> QueueStats {
    let at = |i: usize| counts.get(i).copied().unwrap_or(0);
    QueueStats { queued: at(0), scheduled: at(1), running: at(2), failed: at(3), paused: at(4) > 0 }
}

/// One queue's counts and flow from its six replies (four ZCARDs, EXISTS, HMGET).
fn overview_of(reply: &[redis::Value]) -> Result<(QueueStats, Flow), QueueError> {
    let corrupt = |e: redis::ParsingError| QueueError::Corrupt(format!("queue overview: {e}"));
    let [counts @ .., flow] = reply else {
        return Err(QueueError::Corrupt("a queue overview answered no replies".into()));
    };
    let counts: Vec<u64> = counts
        .iter()
        .map(|v| redis::from_redis_value_ref(v).map_err(corrupt))
        .collect::<Result<_, _>>()?;
    let flow: Vec<Option<u64>> = redis::from_redis_value_ref(flow).map_err(corrupt)?;
    let at = |i: usize| flow.get(i).copied().flatten().unwrap_or(0);
    Ok((stats_of(&counts), Flow { tasks_in: at(0), tasks_out: at(1) }))
}

/// A task as read, with its lease while it runs.
#[derive(Debug, Clone)]
pub struct TaskRead {
    /// Its record (`running` while leased).
    pub record: TaskRecord,
    /// The claim that holds it, while it runs.
    pub claim: Option<ClaimEntry>,
    /// Its lease deadline (ms, Redis' clock), while it runs.
    pub lease_deadline_ms: Option<i64>,
}

/// One task's record from its three replies (lease, claim entry, hash).
fn record_of(id: &TaskId, reply: &[redis::Value]) -> Result<Option<TaskRead>, QueueError> {
    let [lease, claim, values] = reply else {
        return Err(QueueError::Corrupt("a task read answered the wrong number of replies".into()));
    };
    let corrupt = |e: redis::ParsingError| QueueError::Corrupt(format!("task {id}: {e}"));
    let lease: Option<f64> = redis::from_redis_value_ref(lease).map_err(corrupt)?;
    let claim: Option<String> = redis::from_redis_value_ref(claim).map_err(corrupt)?;
    let values: Vec<Option<String>> = redis::from_redis_value_ref(values).map_err(corrupt)?;
    let record = RecordFields::decode(id, values)?;
    Ok(record.map(|mut record| {
        let running = record.state == State::Queued && lease.is_some();
        let claim = claim.as_deref().and_then(ClaimEntry::parse).filter(|_| running);
        if running {
            record.state = State::Running;
            record.attempts += 1;
            record.started_at_ms = claim.as_ref().map(|c| c.started_at_ms).or(record.started_at_ms);
            record.worker_id = claim.as_ref().and_then(|c| c.worker_id.clone());
        }
        let lease_deadline_ms = lease.filter(|_| running).map(|l| l as i64);
        TaskRead { record, claim, lease_deadline_ms }
    }))
}
