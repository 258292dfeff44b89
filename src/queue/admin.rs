//! Operator transitions: cancel, dead-letter replay, pause and resume, and the
//! dead-letter list.

use super::{Queue, QueueError, Transition};
use crate::task::{QueueName, TaskId, TaskRecord, now_ms};

/// One page of a dead-letter list.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadPage {
    /// Failed tasks, newest first.
    pub tasks: Vec<TaskRecord>,
    /// Cursor of the next page, if there may be one.
    pub next_cursor: Option<String>,
}

impl Queue {
    /// Cancels a task that is `queued` or `scheduled`.
    pub async fn cancel(&self, id: &TaskId) -> Result<Transition, QueueError> {
        let queue = id.queue();
        let mut call = self.scripts.cancel.prepare_invoke();
        call.key(self.keys.pending(queue))
            .key(self.keys.scheduled(queue))
            .key(self.keys.task(id))
            .arg(id.as_str())
            .arg(now_ms())
            .arg(self.keys.finished_channel());
        let code: i64 =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Transition::from_reply(code)
    }

    /// Re-enqueues a `failed` or `cancelled` task with fresh attempts.
    pub async fn revive(&self, id: &TaskId) -> Result<Transition, QueueError> {
        let queue = id.queue();
        let mut call = self.scripts.revive.prepare_invoke();
        call.key(self.keys.dead(queue))
            .key(self.keys.pending(queue))
            .key(self.keys.seq(queue))
            .key(self.keys.wake(queue))
            .key(self.keys.task(id))
            .arg(id.as_str());
        let code: i64 =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Transition::from_reply(code)
    }

    /// Stops claiming from `queue` in every process; submissions go on.
    pub async fn pause(&self, queue: &QueueName) -> Result<(), QueueError> {
        let key = self.keys.paused(queue);
        self.redis
            .call(|mut c| async move {
                redis::cmd("SET").arg(key).arg(now_ms()).query_async::<()>(&mut c).await
            })
            .await
    }

    /// Restarts claiming from `queue` and wakes idle workers.
    pub async fn resume(&self, queue: &QueueName) -> Result<(), QueueError> {
        let mut call = self.scripts.resume.prepare_invoke();
        call.key(self.keys.paused(queue)).key(self.keys.wake(queue));
        self.redis.call(|mut c| async move { call.invoke_async::<()>(&mut c).await }).await
    }

    /// A page of `queue`'s dead-letter list, newest first, optionally only `kind`.
    /// The cursor is opaque to clients: `<failure ms>:<items already shown at that ms>`,
    /// which pages correctly even when a batch failed within one millisecond.
    pub async fn dead_letters(
        &self,
        queue: &QueueName,
        limit: usize,
        cursor: Option<&str>,
        kind: Option<&str>,
    ) -> Result<DeadPage, QueueError> {
        let mut at = parse_cursor(cursor);
        let mut tasks = Vec::new();
        // Bounded: at most 20 reads of `limit` candidates each, even with a kind filter.
        for _ in 0..20 {
            let rows = self.dead_candidates(queue, &at, limit).await?;
            let exhausted = rows.len() < limit;
            for (id, score) in rows {
                at = match at {
                    Some((max, skip)) if max == score => Some((max, skip + 1)),
                    _ => Some((score, 1)),
                };
                let Some(record) = self.get(&id).await? else {
                    continue;
                };
                if kind.is_none_or(|k| record.kind == k) {
                    tasks.push(record);
                }
                if tasks.len() == limit {
                    let next_cursor = at.map(|(max, skip)| format!("{max}:{skip}"));
                    return Ok(DeadPage { tasks, next_cursor });
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(DeadPage { tasks, next_cursor: None })
    }

    async fn dead_candidates(
        &self,
        queue: &QueueName,
        at: &Option<(i64, usize)>,
        limit: usize,
    ) -> Result<Vec<(TaskId, i64)>, QueueError> {
        let key = self.keys.dead(queue);
        let (max, skip) = at.map_or(("+inf".to_owned(), 0), |(max, skip)| (max.to_string(), skip));
        let rows: Vec<(String, i64)> = self
            .redis
            .read(|mut c| async move {
                redis::cmd("ZREVRANGEBYSCORE")
                    .arg(key)
                    .arg(max)
                    .arg("-inf")
                    .arg("WITHSCORES")
                    .arg("LIMIT")
                    .arg(skip)
                    .arg(limit)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(rows.into_iter().filter_map(|(id, s)| Some((TaskId::parse(&id)?, s))).collect())
    }
}

/// Parses a dead-letter cursor; `None` when malformed.
pub fn parse_cursor(cursor: Option<&str>) -> Option<(i64, usize)> {
    let (max, skip) = cursor?.split_once(':')?;
    Some((max.parse().ok()?, skip.parse().ok()?))
}
