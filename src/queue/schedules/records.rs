//! A schedule's record in its queue's slot: create or change, remove, pause, resume, run
//! once, and read. Each transition is one script whose repetition is harmless, so a call
//! whose reply was lost may be sent again (or may still run late) without harm.

use crate::queue::conn::Conn;
use tokio::time::Instant;

use super::super::{Queue, QueueError};
use crate::queue::body;
use crate::task::{NewTask, QueueName, TaskId};

/// A schedule to create or change.
#[derive(Debug, Clone)]
pub struct SchedulePut {
    /// Its name.
    pub name: String,
    /// Its queue.
    pub queue: QueueName,
    /// Its canonical spec (JSON): equal text means an unchanged schedule.
    pub spec: String,
    /// Its next tick, ms; `None` when it has none (ended).
    pub next_ms: Option<i64>,
    /// Created or changed paused.
    pub paused: bool,
    /// The task template: its tasks' body before and after their creation time
    /// (`body::template`), and their delay in ms.
    pub template: [String; 3],
}

/// The template of a schedule whose tasks are like `task`, delayed by `delay_ms`.
pub fn task_template(task: &NewTask, delay_ms: impl ToString) -> [String; 3] {
    let (head, tail) = body::template(task);
    [head, tail, delay_ms.to_string()]
}

/// What a PUT did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// A new schedule.
    Created,
    /// A changed spec (the next tick was computed again).
    Changed,
    /// The same spec: nothing changed.
    Unchanged,
}

/// What resuming did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeOutcome {
    /// The state after (`active`, or `ended` when no tick is left; also the state of a
    /// schedule that was not paused).
    State(String),
    /// The spec changed since the next tick was computed: compute it again.
    Moved,
    /// No such schedule.
    Missing,
}

/// What running a schedule once did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// The task was stored (or had been, by an earlier send of the same call).
    Stored,
    /// The queue is full.
    Full,
    /// No such schedule.
    Missing,
}

fn opt_ms(ms: Option<i64>) -> String {
    ms.map(|t| t.to_string()).unwrap_or_default()
}

impl Queue {
    /// Redis' clock, ms: the one every schedule decision is made by.
    pub async fn redis_time_ms(&self) -> Result<i64, QueueError> {
        let (s, us): (i64, i64) = self
            .redis
            .read(|mut c| async move { redis::cmd("TIME").query_async(&mut c).await })
            .await?;
        Ok(s * 1000 + us / 1000)
    }

    /// Creates or changes a schedule; an unchanged spec changes nothing. Sent again
    /// within the deadline when the connection breaks (the script's repetition is
    /// harmless). The state after comes along.
    pub async fn put_schedule(
        &self,
        put: &SchedulePut,
    ) -> Result<(PutOutcome, String), QueueError> {
        let mut call = self.scripts.schedule.put.prepare_invoke();
        call.key(self.keys.schedule(&put.queue, &put.name))
            .key(self.keys.schedules_due(&put.queue))
            .key(self.keys.schedules_wake(&put.queue))
            .arg(&put.name)
            .arg(&put.spec)
            .arg(opt_ms(put.next_ms))
            .arg(u8::from(put.paused))
            .arg(&put.template[..]);
        let deadline = self.redis.deadline();
        let (code, state): (i64, String) = loop {
            let op = |mut c: Conn| {
                let call = &call;
                async move { call.invoke_async(&mut c).await }
            };
            match self.redis.call_until(deadline, op).await {
                Err(QueueError::Lost(_)) if Instant::now() < deadline => continue,
                other => break other?,
            }
        };
        let outcome = match code {
            1 => PutOutcome::Created,
            2 => PutOutcome::Changed,
            _ => PutOutcome::Unchanged,
        };
        Ok((outcome, state))
    }

    /// Removes a schedule (its stored tasks stay); true when there was one.
    pub async fn delete_schedule(&self, queue: &QueueName, name: &str) -> Result<bool, QueueError> {
        let mut call = self.scripts.schedule.delete.prepare_invoke();
        call.key(self.keys.schedule(queue, name))
            .key(self.keys.schedule_runs(queue, name))
            .key(self.keys.schedules_due(queue))
            .arg(name);
        let call = &call;
        let existed: i64 =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok(existed == 1)
    }

    /// Pauses a schedule; its state before, `None` when there is none.
    pub async fn pause_schedule(
        &self,
        queue: &QueueName,
        name: &str,
    ) -> Result<Option<String>, QueueError> {
        let mut call = self.scripts.schedule.pause.prepare_invoke();
        call.key(self.keys.schedule(queue, name)).key(self.keys.schedules_due(queue)).arg(name);
        let call = &call;
        self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await
    }

    /// Resumes a paused schedule at `next_ms`, computed from the spec of `sha`.
    pub async fn resume_schedule(
        &self,
        queue: &QueueName,
        name: &str,
        sha: &str,
        next_ms: Option<i64>,
    ) -> Result<ResumeOutcome, QueueError> {
        let mut call = self.scripts.schedule.resume.prepare_invoke();
        call.key(self.keys.schedule(queue, name))
            .key(self.keys.schedules_due(queue))
            .key(self.keys.schedules_wake(queue))
            .arg(name)
            .arg(sha)
            .arg(opt_ms(next_ms));
        let call = &call;
        let state: Option<String> =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok(match state.as_deref() {
            None => ResumeOutcome::Missing,
            Some("moved") => ResumeOutcome::Moved,
            Some(state) => ResumeOutcome::State(state.to_owned()),
        })
    }

    /// Stores one task `id` of the schedule now, by `deadline`; sent again when the
    /// connection breaks (the id makes it idempotent).
    pub async fn run_schedule(
        &self,
        name: &str,
        id: &TaskId,
        deadline: Instant,
    ) -> Result<RunOutcome, QueueError> {
        self.require_layout()?;
        let queue = id.queue();
        let mut call = self.scripts.schedule.run.prepare_invoke();
        call.key(self.keys.pending(queue))
            .key(self.keys.scheduled(queue))
            .key(self.keys.seq(queue))
            .key(self.keys.wake(queue))
            .key(self.keys.timer(queue))
            .key(self.keys.schedule(queue, name))
            .key(self.keys.task(id))
            .key(self.keys.flow(queue))
            .arg(name)
            .arg(id.as_str())
            .arg(self.limits.max_queue_length);
        let (code, _now): (i64, i64) = loop {
            let op = |mut c: Conn| {
                let call = &call;
                async move { call.invoke_async(&mut c).await }
            };
            match self.redis.call_until(deadline, op).await {
                Err(QueueError::Lost(_)) if Instant::now() < deadline => continue,
                other => break other?,
            }
        };
        Ok(match code {
            -1 => RunOutcome::Missing,
            0 => RunOutcome::Full,
            _ => RunOutcome::Stored,
        })
    }
}
