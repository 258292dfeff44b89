//! Submission: new tasks into a queue's pending or scheduled set, one script call per
//! queue however many tasks the call carries. Idempotency keys are checked and set in
//! the same script, so two concurrent submissions with one key create one task.
//!
//! A store is idempotent by its task ids (chosen before it is sent): when the connection
//! breaks with the call in flight it is sent again within the request's deadline, and a
//! copy that arrives after the first answers "stored already". When no answer comes by
//! the deadline the caller learns that the outcome is unknown, never "not stored". With
//! `TTP_REDIS_MIN_REPLICAS` a store is acknowledged only once that many replicas confirmed
//! it (see `replicated.rs`); fewer is an unknown outcome too.

use tokio::time::Instant;

use super::body::Body;
use super::conn::Conn;
use super::replies::EnqueueCode;
use super::{Queue, QueueError};
use crate::task::{NewTask, QueueName, State, TaskId, TaskRecord, now_ms};

/// Payload bytes above which a store goes over the connection reserved for large calls.
const LARGE_CALL_BYTES: usize = 64 * 1024;

/// A submission the queue accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum Enqueued {
    /// A new task was stored.
    Created(Box<TaskRecord>),
    /// The idempotency key and request match an earlier submission: that task's id.
    Replayed(TaskId),
}

impl Queue {
    /// Stores tasks of one queue in one script call, answering by `deadline`; one result
    /// per task, in order: `Full` when the queue is at its limit, `IdempotencyConflict`
    /// when a key was used with a different request. A whole-call error says whether the
    /// tasks may have been stored ([`QueueError::outcome_unknown`]).
    pub async fn enqueue_in_queue(
        &self,
        queue: &QueueName,
        tasks: Vec<NewTask>,
        deadline: Instant,
    ) -> Result<Vec<Result<Enqueued, QueueError>>, QueueError> {
        self.register(queue, deadline).await?;
        let mut call = self.scripts.enqueue.prepare_invoke();
        call.key(self.keys.pending(queue))
            .key(self.keys.scheduled(queue))
            .key(self.keys.seq(queue))
            .key(self.keys.wake(queue))
            .key(self.keys.timer(queue))
            .key(self.keys.flow(queue))
            .arg(now_ms())
            .arg(self.limits.max_queue_length)
            .arg(tasks.len());
        for task in &tasks {
            self.add_task(&mut call, queue, task);
        }
        let (replies, acked) = self.store(queue, &call, &tasks, deadline).await?;
        if replies.len() != tasks.len() {
            return Err(QueueError::Corrupt(
                "enqueue answered for the wrong number of tasks".into(),
            ));
        }
        let limit = self.limits.max_queue_length;
        let wanted = self.min_replicas;
        Ok(tasks
            .into_iter()
            .zip(replies)
            .map(|(task, (code, other))| outcome(task, code, &other, queue, limit))
            .map(|result| match result {
                // Stored (or stored before) on the master, but not on enough replicas.
                Ok(_) if acked < wanted => Err(QueueError::NotReplicated { acked, wanted }),
                other => other,
            })
            .collect())
    }

    /// Sends the enqueue call: over a shared connection, or with `TTP_REDIS_MIN_REPLICAS`
    /// together with its `WAIT` over a dedicated one. The replies, and how many replicas
    /// confirmed them.
    async fn store(
        &self,
        queue: &QueueName,
        call: &redis::ScriptInvocation<'_>,
        tasks: &[NewTask],
        deadline: Instant,
    ) -> Result<(Vec<(i64, String)>, u64), QueueError> {
        if self.min_replicas > 0 {
            let key = self.keys.pending(queue);
            let stored =
                self.invoke_replicated(&key, &self.scripts.enqueue, call, deadline).await?;
            return Ok((stored.replies, stored.acked));
        }
        let large =
            tasks.iter().map(|t| t.payload.as_str().len()).sum::<usize>() > LARGE_CALL_BYTES;
        loop {
            let op =
                |mut c: Conn| async move { call.invoke_async::<Vec<(i64, String)>>(&mut c).await };
            let sent = match large {
                true => self.redis.call_large_until(deadline, op).await,
                false => self.redis.call_until(deadline, op).await,
            };
            match sent {
                // Sent, but the connection broke: safe to send again while time is left.
                Err(QueueError::Lost(_)) if Instant::now() < deadline => continue,
                other => return other.map(|replies| (replies, 0)),
            }
        }
    }

    fn add_task(&self, call: &mut redis::ScriptInvocation<'_>, queue: &QueueName, task: &NewTask) {
        let hash = self.keys.task(&task.id);
        let idem = match &task.idempotency_key {
            Some(key) => self.keys.idempotency(queue, key),
            None => hash.clone(),
        };
        call.key(hash)
            .key(idem)
            .arg(task.id.as_str())
            .arg(task.priority.get())
            .arg(task.run_at_ms.unwrap_or(0))
            .arg(Body::of(task))
            .arg(task.result_ttl_s)
            .arg(u8::from(task.fingerprint.is_some()))
            .arg(task.fingerprint.as_deref().unwrap_or_default());
    }
}

/// One task's answer from `enqueue.lua`: its code, and the id it names (its own, or the
/// earlier task an idempotency key belongs to).
fn outcome(
    task: NewTask,
    code: i64,
    other: &str,
    queue: &QueueName,
    limit: u64,
) -> Result<Enqueued, QueueError> {
    let other =
        || TaskId::parse(other).ok_or_else(|| QueueError::Corrupt(format!("bad id {other:?}")));
    let waiting = |task: &NewTask| {
        if task.run_at_ms.is_some() { State::Scheduled } else { State::Queued }
    };
    match EnqueueCode::from_reply(code)? {
        EnqueueCode::Queued => Ok(Enqueued::Created(record(task, State::Queued))),
        EnqueueCode::Scheduled => Ok(Enqueued::Created(record(task, State::Scheduled))),
        EnqueueCode::Stored => {
            let state = waiting(&task);
            Ok(Enqueued::Created(record(task, state)))
        }
        EnqueueCode::Replayed => Ok(Enqueued::Replayed(other()?)),
        EnqueueCode::Conflict => Err(QueueError::IdempotencyConflict { existing: other()? }),
        EnqueueCode::Rejected => Err(QueueError::Full { queue: queue.clone(), limit }),
    }
}

fn record(task: NewTask, state: State) -> Box<TaskRecord> {
    Box::new(TaskRecord {
        id: task.id,
        kind: task.kind.as_str().to_owned(),
        state,
        priority: task.priority,
        attempts: 0,
        max_attempts: task.max_attempts,
        timeout_ms: task.timeout_ms,
        result_ttl_s: task.result_ttl_s,
        created_at_ms: task.created_at_ms,
        run_at_ms: task.run_at_ms.filter(|_| state == State::Scheduled),
        started_at_ms: None,
        finished_at_ms: None,
        result: None,
        error: None,
        payload: task.payload,
        schedule: None,
        worker_id: None,
    })
}
