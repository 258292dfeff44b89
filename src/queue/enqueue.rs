//! Submission: new tasks into a queue's pending or scheduled set, one script call per
//! queue however many tasks the call carries. Idempotency keys are checked and set in
//! the same script, so two concurrent submissions with one key create one task.

use redis::AsyncCommands;

use super::replies::EnqueueCode;
use super::{Queue, QueueError};
use crate::task::{NewTask, QueueName, State, TaskId, TaskRecord, now_ms};

/// A submission the queue accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum Enqueued {
    /// A new task was stored.
    Created(TaskRecord),
    /// The idempotency key and request match an earlier submission: that task's id.
    Replayed(TaskId),
}

impl Queue {
    /// Stores tasks of one queue in one script call; one result per task, in order:
    /// `Full` when the queue is at its limit, `IdempotencyConflict` when a key was used
    /// with a different request.
    pub async fn enqueue_in_queue(
        &self,
        queue: &QueueName,
        tasks: Vec<NewTask>,
    ) -> Result<Vec<Result<Enqueued, QueueError>>, QueueError> {
        self.remember_queue(queue).await;
        let now = now_ms();
        let ids: Vec<TaskId> = tasks.iter().map(|_| TaskId::generate(queue)).collect();
        let mut call = self.scripts.enqueue.prepare_invoke();
        call.key(self.keys.pending(queue))
            .key(self.keys.scheduled(queue))
            .key(self.keys.seq(queue))
            .key(self.keys.wake(queue))
            .key(self.keys.timer(queue))
            .arg(now)
            .arg(self.limits.max_queue_length)
            .arg(tasks.len());
        for (id, task) in ids.iter().zip(&tasks) {
            let hash = self.keys.task(id);
            let idem = match &task.idempotency_key {
                Some(key) => self.keys.idempotency(queue, key),
                None => hash.clone(),
            };
            call.key(hash)
                .key(idem)
                .arg(id.as_str())
                .arg(task.priority.get())
                .arg(task.run_at_ms.unwrap_or(0))
                .arg(task.kind.as_str())
                .arg(task.payload.to_string())
                .arg(task.max_attempts)
                .arg(task.timeout_ms)
                .arg(task.result_ttl_s)
                .arg(u8::from(task.idempotency_key.is_some()))
                .arg(&task.fingerprint)
                .arg(task.created_at_ms);
        }
        let replies: Vec<(i64, String)> =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        if replies.len() != tasks.len() {
            return Err(QueueError::Corrupt(
                "enqueue answered for the wrong number of tasks".into(),
            ));
        }
        let limit = self.limits.max_queue_length;
        Ok(ids
            .into_iter()
            .zip(tasks)
            .zip(replies)
            .map(|((id, task), (code, other))| outcome(id, task, code, &other, queue, limit))
            .collect())
    }

    /// Adds `queue` to the set of known queues, once per process.
    async fn remember_queue(&self, queue: &QueueName) {
        let first_time =
            self.known_queues.lock().map(|mut known| known.insert(queue.clone())).unwrap_or(false);
        if first_time {
            let key = self.keys.queues();
            let name = queue.to_string();
            let added =
                self.redis.call(|mut c| async move { c.sadd::<_, _, ()>(key, name).await }).await;
            if added.is_err() {
                // Try again on the next submission.
                if let Ok(mut known) = self.known_queues.lock() {
                    known.remove(queue);
                }
            }
        }
    }
}

/// One task's answer from `enqueue.lua`: its code, and the id it names (its own, or the
/// earlier task an idempotency key belongs to).
fn outcome(
    id: TaskId,
    task: NewTask,
    code: i64,
    other: &str,
    queue: &QueueName,
    limit: u64,
) -> Result<Enqueued, QueueError> {
    let other =
        || TaskId::parse(other).ok_or_else(|| QueueError::Corrupt(format!("bad id {other:?}")));
    match EnqueueCode::from_reply(code)? {
        EnqueueCode::Queued => Ok(Enqueued::Created(record(id, task, State::Queued))),
        EnqueueCode::Scheduled => Ok(Enqueued::Created(record(id, task, State::Scheduled))),
        EnqueueCode::Replayed => Ok(Enqueued::Replayed(other()?)),
        EnqueueCode::Conflict => Err(QueueError::IdempotencyConflict { existing: other()? }),
        EnqueueCode::Rejected => Err(QueueError::Full { queue: queue.clone(), limit }),
    }
}

fn record(id: TaskId, task: NewTask, state: State) -> TaskRecord {
    TaskRecord {
        id,
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
    }
}
