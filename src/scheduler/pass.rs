//! One firing pass over one queue: read its due schedules (by Redis' clock) and their
//! state, plan each one (a pure function of spec, stored next tick and clock), and apply
//! the plans in batched fire scripts, each of which re-checks every schedule's state.

use super::cache::Schedules;
use crate::metrics::Metrics;
use crate::queue::schedules::{FireResult, Firing, FiringState};
use crate::queue::{Queue, QueueError};
use crate::schedule::{Overlap, Plan, Schedule};
use crate::task::{QueueName, TaskId};

/// Due schedules read per pass of a queue; more are fired by the next pass at once.
const DUE_PER_PASS: usize = 1000;

/// Schedules per fire script call.
const PER_CALL: usize = 50;

/// Wait after a pass whose plans all lost their compare-and-set (another process fired
/// them) or could not be made: long enough not to spin, short next to any tick.
const RETRY_MS: i64 = 50;

/// Fires the due schedules of `on`; the time until its next tick (ms by Redis' clock),
/// if it has one.
pub async fn fire_queue(
    queue: &Queue,
    metrics: &Metrics,
    cache: &mut Schedules,
    on: &QueueName,
) -> Result<Option<i64>, QueueError> {
    let due = queue.due_schedules(on, DUE_PER_PASS).await?;
    if due.due.is_empty() {
        return Ok(due.next_ms.map(|next| next - due.now_ms));
    }
    let names: Vec<String> = due.due.iter().map(|(name, _)| name.clone()).collect();
    let states = queue.firing_states(on, &names).await?;
    let active: Vec<(String, FiringState)> =
        names.into_iter().zip(states).filter_map(|(name, state)| Some((name, state?))).collect();
    let wanted: Vec<(&str, &str)> =
        active.iter().map(|(name, state)| (name.as_str(), state.sha.as_str())).collect();
    let schedules = cache.get_many(queue, on, &wanted).await?;
    let firings: Vec<Firing> = active
        .into_iter()
        .zip(schedules)
        .filter_map(|((name, state), schedule)| plan(&schedule?, name, state, due.now_ms))
        .collect();
    let applied = fire_batches(queue, metrics, on, &firings).await?;
    Ok(Some(if applied > 0 { 0 } else { RETRY_MS }))
}

/// Sends the batches of `firings` at once (Redis runs them one after the other, without
/// a round trip between them); how many firings were applied. Every process plans the
/// same batches; each sends them around the ring from its own random start, so that
/// processes woken by the same tick begin on different batches and then meet batches
/// already applied (a cheap lost compare-and-set), instead of racing for the same ones
/// in the same order.
async fn fire_batches(
    queue: &Queue,
    metrics: &Metrics,
    on: &QueueName,
    firings: &[Firing],
) -> Result<usize, QueueError> {
    let mut batches: Vec<&[Firing]> = firings.chunks(PER_CALL).collect();
    let start = fastrand::usize(..batches.len().max(1));
    batches.rotate_left(start);
    let calls = batches.iter().map(|batch| queue.fire(on, batch));
    let replies = futures_util::future::join_all(calls).await;
    let mut applied = 0;
    let mut failed = None;
    for (batch, reply) in batches.iter().zip(replies) {
        match reply {
            Ok((now, results)) => {
                for (firing, result) in batch.iter().zip(&results) {
                    applied += usize::from(result.done);
                    count(metrics, on, firing, result, now);
                }
            }
            Err(e) => failed = Some(e),
        }
    }
    failed.map_or(Ok(applied), Err)
}

/// The firing of `schedule` from its stored `state` at `now_ms`.
fn plan(schedule: &Schedule, name: String, state: FiringState, now_ms: i64) -> Option<Firing> {
    // The state is read after the due list: another process may have fired the tick
    // meanwhile, leaving a next tick that is not due yet.
    let due: i64 = state.next.parse().ok().filter(|due| *due <= now_ms)?;
    let Plan { fire, missed, next, behind } = schedule.plan(due, now_ms);
    let queue = schedule.queue().clone();
    let ticks = fire.into_iter().map(|t| (t, TaskId::for_tick(&queue, &name, t))).collect();
    Some(Firing {
        skip_overlap: schedule.spec().overlap == Overlap::Skip,
        name,
        from: state,
        next_ms: next,
        missed,
        ticks,
        behind,
    })
}

/// `ttp_schedule_ticks_total{queue,outcome}` and `ttp_schedule_lag_seconds{queue}` of
/// one applied firing.
fn count(metrics: &Metrics, on: &QueueName, firing: &Firing, result: &FireResult, now: i64) {
    if !result.done {
        return;
    }
    let ticks = |outcome: &str, n: u64| {
        if n > 0 {
            metrics.schedule_ticks.with_label_values(&[on.as_str(), outcome]).inc_by(n);
        }
    };
    let fired = if firing.behind { "caught_up" } else { "fired" };
    ticks(fired, result.fired.len() as u64);
    ticks("skipped_overlap", result.overlapped);
    ticks("missed", firing.missed + result.refused);
    let lag = metrics.schedule_lag_seconds.with_label_values(&[on.as_str()]);
    for tick in &result.fired {
        lag.observe((now - tick).max(0) as f64 / 1000.0);
    }
}
