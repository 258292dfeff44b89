//! Firing the due schedules of a queue: read what is due by Redis' clock, read the state
//! each plan starts from, then one script call for a batch of schedules that re-checks
//! each one's state (compare-and-set) before it stores tasks and the next tick.

use super::super::{Queue, QueueError};
use crate::task::{QueueName, TaskId};

/// The due schedules of a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSchedules {
    /// Redis' clock when they were read, ms.
    pub now_ms: i64,
    /// Due schedules (name, stored next tick), earliest first.
    pub due: Vec<(String, i64)>,
    /// The earliest tick not yet due, ms.
    pub next_ms: Option<i64>,
}

/// The stored state a firing is planned from (and compared with when it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiringState {
    /// The stored next tick, as stored (compared as text).
    pub next: String,
    /// The sha of the stored spec.
    pub sha: String,
    /// The schedule's last task, if any.
    pub last_task: Option<TaskId>,
    /// Its last task's id as stored ('' when none), compared as text.
    pub last_task_text: String,
}

/// One schedule's planned firing.
#[derive(Debug, Clone)]
pub struct Firing {
    /// Its name.
    pub name: String,
    /// The state it was planned from.
    pub from: FiringState,
    /// The next tick to store; `None`: the schedule has ended.
    pub next_ms: Option<i64>,
    /// Skip a tick while the last task is waiting or running.
    pub skip_overlap: bool,
    /// Due ticks the plan fires no task for.
    pub missed: u64,
    /// Ticks to fire and their tasks' ids.
    pub ticks: Vec<(i64, TaskId)>,
    /// More than one tick was due: the fired ones are a catch-up.
    pub behind: bool,
}

/// What the fire script did with one firing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FireResult {
    /// False when the schedule changed meanwhile (another process fired it, or it was
    /// changed, paused or removed): nothing was done.
    pub done: bool,
    /// Ticks skipped because the previous task was still waiting or running.
    pub overlapped: u64,
    /// Ticks refused because the queue was full.
    pub refused: u64,
    /// Ticks that stored a task.
    pub fired: Vec<i64>,
    /// When not done because only the stored next tick moved on (another process fired
    /// the schedule): that next tick.
    pub moved_to: Option<i64>,
}

/// A fire script's reply: Redis' clock when it ran, and the results of the firings it
/// tried one after the other, flat (decoded by [`results`]).
type FireReply = (i64, Vec<i64>);

impl Queue {
    /// Up to `limit` schedules of `queue` due by Redis' clock, and the next tick after.
    pub async fn due_schedules(
        &self,
        queue: &QueueName,
        limit: usize,
    ) -> Result<DueSchedules, QueueError> {
        let mut call = self.scripts.schedule.due.prepare_invoke();
        call.key(self.keys.schedules_due(queue)).arg(limit);
        let call = &call;
        let (now_ms, due, next): (i64, Vec<(String, i64)>, Option<i64>) =
            self.redis.read(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok(DueSchedules { now_ms, due, next_ms: next })
    }

    /// The firing state of each of `names` in `queue` (`None` when gone or not active).
    pub async fn firing_states(
        &self,
        queue: &QueueName,
        names: &[String],
    ) -> Result<Vec<Option<FiringState>>, QueueError> {
        let mut pipe = redis::pipe();
        for name in names {
            pipe.cmd("HMGET").arg(self.keys.schedule(queue, name)).arg(&[
                "next",
                "sha",
                "last_task",
                "state",
            ]);
        }
        let pipe = &pipe;
        let rows: Vec<Vec<Option<String>>> =
            self.redis.read(|mut c| async move { pipe.query_async(&mut c).await }).await?;
        Ok(rows
            .into_iter()
            .map(|row| match row.as_slice() {
                [Some(next), Some(sha), last, Some(state)] if state == "active" => {
                    Some(FiringState {
                        next: next.clone(),
                        sha: sha.clone(),
                        last_task: last.as_deref().and_then(TaskId::parse),
                        last_task_text: last.clone().unwrap_or_default(),
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// The stored specs (with their sha) of `names` in `queue`.
    pub async fn schedule_specs(
        &self,
        queue: &QueueName,
        names: &[&str],
    ) -> Result<Vec<Option<(String, String)>>, QueueError> {
        let mut pipe = redis::pipe();
        for name in names {
            pipe.cmd("HMGET").arg(self.keys.schedule(queue, name)).arg(&["sha", "spec"]);
        }
        let pipe = &pipe;
        let rows: Vec<(Option<String>, Option<String>)> =
            self.redis.read(|mut c| async move { pipe.query_async(&mut c).await }).await?;
        Ok(rows.into_iter().map(|(sha, spec)| sha.zip(spec)).collect())
    }

    /// Runs `firings` of `queue` in one script call: Redis' clock when it ran, and one
    /// result per firing tried — only the first one's when another process had fired it
    /// already (the rest is not tried: processes plan the same batches, so it is most
    /// likely that process's too; anything still due is read by the next pass). A lost
    /// reply is harmless: sent again, or run by another process, the compare-and-set
    /// finds the schedule moved on and does nothing.
    pub async fn fire(
        &self,
        queue: &QueueName,
        firings: &[Firing],
    ) -> Result<(i64, Vec<FireResult>), QueueError> {
        self.require_layout()?;
        let mut call = self.scripts.schedule.fire.prepare_invoke();
        call.key(self.keys.schedules_due(queue))
            .key(self.keys.pending(queue))
            .key(self.keys.scheduled(queue))
            .key(self.keys.seq(queue))
            .key(self.keys.wake(queue))
            .key(self.keys.timer(queue))
            .key(self.keys.flow(queue))
            .arg(self.limits.max_queue_length)
            .arg(firings.len());
        for firing in firings {
            let record = self.keys.schedule(queue, &firing.name);
            let last = match &firing.from.last_task {
                Some(id) if firing.skip_overlap => self.keys.task(id),
                _ => record.clone(),
            };
            call.key(record).key(last);
            call.arg(&firing.name)
                .arg(&firing.from.next)
                .arg(&firing.from.sha)
                .arg(&firing.from.last_task_text)
                .arg(firing.next_ms.map(|t| t.to_string()).unwrap_or_default())
                .arg(if firing.skip_overlap { "skip" } else { "allow" })
                .arg(firing.missed)
                .arg(firing.ticks.len());
            for (tick, id) in &firing.ticks {
                call.key(self.keys.task(id)).arg(*tick).arg(id.as_str());
            }
        }
        let call = &call;
        let (now, flat): FireReply =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok((now, results(&flat)))
    }
}

/// The results in a fire script's flat reply: per firing tried, `1 overlapped refused n`
/// and then its `n` fired ticks when done, else `0 next` (schedule_fire.lua).
fn results(mut flat: &[i64]) -> Vec<FireResult> {
    let mut results = Vec::new();
    while let [done, rest @ ..] = flat {
        let result = match (done, rest) {
            (1, [overlapped, refused, n, rest @ ..]) => {
                let n = usize::try_from(*n).unwrap_or(0).min(rest.len());
                let (fired, rest) = rest.split_at(n);
                flat = rest;
                FireResult {
                    done: true,
                    overlapped: (*overlapped).max(0) as u64,
                    refused: (*refused).max(0) as u64,
                    fired: fired.to_vec(),
                    moved_to: None,
                }
            }
            (_, [next, rest @ ..]) => {
                flat = rest;
                FireResult { moved_to: Some(*next).filter(|n| *n >= 0), ..FireResult::default() }
            }
            _ => break,
        };
        results.push(result);
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_reply_reads_as_one_result_per_firing() {
        let flat = [1, 0, 0, 1, 1000, 0, 2000, 1, 2, 1, 0, 0, -1, 1, 0, 0, 2, 3000, 4000];
        let done = |overlapped, refused, fired: &[i64]| FireResult {
            done: true,
            overlapped,
            refused,
            fired: fired.to_vec(),
            moved_to: None,
        };
        let not_done = |moved_to| FireResult { moved_to, ..FireResult::default() };
        assert_eq!(
            results(&flat),
            [
                done(0, 0, &[1000]),
                not_done(Some(2000)),
                done(2, 1, &[]),
                not_done(None),
                done(0, 0, &[3000, 4000]),
            ]
        );
    }
}
