//! Operator transitions: cancel, remove, dead-letter replay, pause and resume, and the
//! dead-letter list.

use super::body::Body;
use super::replies::RemoveCode;
use super::{Queue, QueueError, Transition, fields};
use crate::task::{QueueName, TaskId, TaskRecord, now_ms};

/// One page of a dead-letter list.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadPage {
    /// Failed tasks, newest first.
    pub tasks: Vec<TaskRecord>,
    /// Cursor of the next page, if there may be one.
    pub next_cursor: Option<String>,
}

/// What [`Queue::remove`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// The task had not started: it was cancelled and removed.
    Cancelled {
        /// Its kind.
        kind: String,
        /// Its submission time (ms since the epoch), for the end-to-end histogram.
        created_at_ms: i64,
    },
    /// The task had finished (succeeded, failed or cancelled): it was removed, from the
    /// dead-letter sets too.
    Finished,
    /// The task is running: nothing changed.
    Running,
    /// No such task (unknown, expired, or removed already).
    Missing,
}

impl Queue {
    /// Cancels a task that is `queued` or `scheduled`.
    pub async fn cancel(&self, id: &TaskId) -> Result<Transition, QueueError> {
        self.require_layout()?;
        let queue = id.queue();
        let mut call = self.scripts.cancel.prepare_invoke();
        call.key(self.keys.pending(queue))
            .key(self.keys.scheduled(queue))
            .key(self.keys.task(id))
            .key(self.keys.flow(queue))
            .key(self.keys.finished(queue))
            .arg(id.as_str())
            .arg(now_ms());
        let code: i64 =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Transition::from_reply(code)
    }

    /// Deletes a task that is not running: one that has not started is cancelled and
    /// removed, a finished one is removed (from the dead-letter sets too). Its kind is
    /// read first because the script needs the kind's dead-letter set among its keys.
    pub async fn remove(&self, id: &TaskId) -> Result<Removal, QueueError> {
        self.require_layout()?;
        let queue = id.queue();
        let Some((kind, created_at_ms)) = self.identity_of(id).await? else {
            return Ok(Removal::Missing);
        };
        let mut call = self.scripts.remove.prepare_invoke();
        call.key(self.keys.pending(queue))
            .key(self.keys.scheduled(queue))
            .key(self.keys.leased(queue))
            .key(self.keys.task(id))
            .key(self.keys.dead(queue))
            .key(self.keys.dead_of_kind(queue, &kind))
            .key(self.keys.flow(queue))
            .key(self.keys.finished(queue))
            .arg(id.as_str());
        let code: i64 =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok(match RemoveCode::from_reply(code)? {
            RemoveCode::Cancelled => Removal::Cancelled { kind, created_at_ms },
            RemoveCode::Finished => Removal::Finished,
            RemoveCode::Running => Removal::Running,
            RemoveCode::Missing => Removal::Missing,
        })
    }

    /// Re-enqueues a `failed` or `cancelled` task with fresh attempts.
    pub async fn revive(&self, id: &TaskId) -> Result<Transition, QueueError> {
        self.require_layout()?;
        let queue = id.queue();
        let Some((kind, _)) = self.identity_of(id).await? else {
            return Ok(Transition::Missing);
        };
        let mut call = self.scripts.revive.prepare_invoke();
        call.key(self.keys.dead(queue))
            .key(self.keys.pending(queue))
            .key(self.keys.seq(queue))
            .key(self.keys.wake(queue))
            .key(self.keys.task(id))
            .key(self.keys.dead_of_kind(queue, &kind))
            .key(self.keys.scheduled(queue))
            .key(self.keys.flow(queue))
            .arg(id.as_str())
            .arg(self.limits.max_queue_length);
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

    /// The kind and submission time (ms) of task `id`; `None` when it is gone.
    async fn identity_of(&self, id: &TaskId) -> Result<Option<(String, i64)>, QueueError> {
        let key = self.keys.task(id);
        let body: Option<String> = self
            .redis
            .read(|mut c| async move {
                redis::cmd("HGET").arg(key).arg(fields::name::BODY).query_async(&mut c).await
            })
            .await?;
        Ok(body.and_then(|b| Body::decode(&b)).map(|b| (b.kind, b.created_at_ms)))
    }

    /// A page of `queue`'s dead-letter list, newest first, optionally only `kind`: two
    /// reads whatever the filter (the ids of the page, then their records), because each
    /// kind has its own dead-letter set. The cursor is opaque to clients:
    /// `<failure ms>:<items already shown at that ms>`, which pages correctly even when
    /// a batch failed within one millisecond.
    pub async fn dead_letters(
        &self,
        queue: &QueueName,
        limit: usize,
        cursor: Option<&str>,
        kind: Option<&str>,
    ) -> Result<DeadPage, QueueError> {
        let key = match kind {
            Some(kind) => self.keys.dead_of_kind(queue, kind),
            None => self.keys.dead(queue),
        };
        let mut at = parse_cursor(cursor);
        let rows = self.dead_range(key, &at, limit).await?;
        let full = rows.len() == limit;
        let ids: Vec<TaskId> = rows.iter().map(|(id, _)| id.clone()).collect();
        let records = self.get_many(&ids).await?;
        for (_, score) in &rows {
            at = match at {
                Some((max, skip)) if max == *score => Some((max, skip + 1)),
                _ => Some((*score, 1)),
            };
        }
        // A dead letter whose hash expired (its TTL) is skipped.
        let tasks = records.into_iter().flatten().collect();
        let next_cursor = at.filter(|_| full).map(|(max, skip)| format!("{max}:{skip}"));
        Ok(DeadPage { tasks, next_cursor })
    }

    async fn dead_range(
        &self,
        key: String,
        at: &Option<(i64, usize)>,
        limit: usize,
    ) -> Result<Vec<(TaskId, i64)>, QueueError> {
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
