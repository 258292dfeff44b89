//! One firing pass over one queue: read its due schedules (by Redis' clock) and their
//! state, plan each one (a pure function of spec, stored next tick and clock), and apply
//! the plans in batched fire scripts, each of which re-checks every schedule's state.

use super::cache::Schedules;
use crate::metrics::Metrics;
use crate::queue::schedules::{FireResult, Firing, FiringState};
use crate::queue::{Queue, QueueError};
use crate::schedule::{Overlap, Plan, Schedule};
use crate::task::{QueueName, TaskId};
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use std::sync::Arc;
use std::time::Duration;

/// Due schedules read per pass of a queue; more are fired by the next pass at once.
const DUE_PER_PASS: usize = 1000;

/// Schedules per fire script call.
const PER_CALL: usize = 50;

/// Fire calls a process keeps in flight: enough that Redis has the next one while the
/// answers travel back (8 measured worse: more calls sent past a batch another process
/// applied).
const WINDOW: usize = 4;

/// Fire calls a walk back from its start keeps in flight (see [`walk`]): one, so that
/// meeting the walk coming the other way wastes one call at most.
const BACK_WINDOW: usize = 1;

/// Wait after a pass that made no progress (every firing refused for a changed state
/// other than a tick fired elsewhere, or no plan could be made), or that left firings to
/// another process's walk: long enough not to spin, short next to any tick. Left firings
/// are taken up after it, should that process have died.
const RETRY: Duration = Duration::from_millis(50);

/// Fires the due schedules of `on`; the time until its next pass (ms by Redis' clock),
/// if it has schedules.
///
/// First those this process knows to be due by its own reckoning of Redis' clock (at a
/// tick, the firing begins without a read), then those the due zset names: new or changed
/// schedules, ticks fired or left by others, and whatever the first step could not apply.
pub async fn fire_queue(
    queue: &Queue,
    metrics: &Metrics,
    cache: &mut Schedules,
    on: &QueueName,
) -> Result<Option<i64>, QueueError> {
    let began = std::time::Instant::now();
    cache.learn_unknown(queue, on).await?;
    let mut outcome = Outcome::default();
    let mut late_ms = None;
    if let Some(now) = cache.redis_now(on) {
        let known = cache.due_by_guess(on, now);
        late_ms = known.first().and_then(|(_, state)| Some(now - state.next.parse::<i64>().ok()?));
        outcome.add(&fire_states(queue, metrics, cache, on, known, now).await?);
    }
    let guessed = outcome.planned;
    let due = queue.due_schedules(on, DUE_PER_PASS).await?;
    cache.set_clock(on, due.now_ms);
    let (states, left) = cache.firing_states(queue, on, &due.due, RETRY).await?;
    outcome.add(&fire_states(queue, metrics, cache, on, states, due.now_ms).await?);
    if outcome.planned > 0 || left > 0 {
        tracing::debug!(queue = %on, late_ms, guessed, due = due.due.len(), left,
            planned = outcome.planned, done = outcome.done, moved_on = outcome.moved_on,
            stopped = outcome.stopped, elapsed_ms = began.elapsed().as_millis() as u64,
            latest_lag_ms = outcome.latest_lag_ms, "scheduler pass");
    }
    Ok(if outcome.planned > 0 {
        Some(outcome.wait_ms())
    } else if left > 0 || !due.due.is_empty() {
        Some(RETRY.as_millis() as i64)
    } else {
        due.next_ms.map(|next| next - due.now_ms)
    })
}

/// Fires each of `states` as planned at `now_ms`.
async fn fire_states(
    queue: &Queue,
    metrics: &Metrics,
    cache: &mut Schedules,
    on: &QueueName,
    states: Vec<(String, FiringState)>,
    now_ms: i64,
) -> Result<Outcome, QueueError> {
    if states.is_empty() {
        return Ok(Outcome::default());
    }
    let wanted: Vec<(&str, &str)> =
        states.iter().map(|(name, state)| (name.as_str(), state.sha.as_str())).collect();
    let schedules = cache.get_many(queue, on, &wanted).await?;
    let due: Vec<Due> = states
        .into_iter()
        .zip(schedules)
        .filter_map(|((name, state), schedule)| Some(Due { name, state, schedule: schedule? }))
        .collect();
    walk(queue, metrics, cache, on, &due, now_ms).await
}

/// A due schedule to plan: its name, the state to plan from, its parsed spec.
struct Due {
    name: String,
    state: FiringState,
    schedule: Arc<Schedule>,
}

/// The firings of `batch` at `now_ms` (those that are due).
fn plan_batch(batch: &[Due], now_ms: i64) -> Vec<Firing> {
    batch
        .iter()
        .filter_map(|d| plan(&d.schedule, d.name.clone(), d.state.clone(), now_ms))
        .collect()
}

/// What the fire calls of one pass did.
#[derive(Default)]
struct Outcome {
    /// Firings planned.
    planned: usize,
    /// Firings applied here.
    done: usize,
    /// Firings found applied by another process.
    moved_on: usize,
    /// Some firing was refused for a state this process had guessed: read it at once.
    guessed_wrong: bool,
    /// The walk stopped at a batch another process had applied: that one walks on.
    stopped: bool,
    /// The longest time from a tick to its task stored by this pass (Redis' clock), ms.
    latest_lag_ms: i64,
}

impl Outcome {
    /// How long to wait before the next pass of the queue: at once when this one
    /// applied firings to the end of its walk (more may be due) or must read a state
    /// again, else [`RETRY`] (another process is firing, or nothing could be).
    fn wait_ms(&self) -> i64 {
        let at_once = self.guessed_wrong || (self.done > 0 && !self.stopped);
        if at_once { 0 } else { RETRY.as_millis() as i64 }
    }

    /// Adds what another walk of the same pass did.
    fn add(&mut self, other: &Outcome) {
        self.planned += other.planned;
        self.done += other.done;
        self.moved_on += other.moved_on;
        self.guessed_wrong |= other.guessed_wrong;
        self.stopped |= other.stopped;
        self.latest_lag_ms = self.latest_lag_ms.max(other.latest_lag_ms);
    }

    fn count(&mut self, result: &FireResult, now: i64, guessed_wrong: bool) {
        self.done += usize::from(result.done);
        self.moved_on += usize::from(result.moved_to.is_some());
        self.guessed_wrong |= guessed_wrong;
        let lag = result.fired.iter().map(|tick| now - tick).max().unwrap_or(0);
        self.latest_lag_ms = self.latest_lag_ms.max(lag);
    }
}

/// Applies the firings of `due` in batches of [`PER_CALL`], walking around the ring of
/// batches from a random start with [`WINDOW`] calls in flight, and stops where it meets
/// a batch another process applied. Every process plans the same batches from the same
/// state, so several processes woken by the same tick split the ring between them instead
/// of each sending every batch: a batch is applied by whoever reaches it first, and the
/// others stop there. No batch is left: the process that applied the batch before it
/// walks on to it (a walk goes on as long as its latest answered call applied something);
/// one left by a process that died is fired by the next pass, [`RETRY`] later.
///
/// A walk that stopped then walks back from its start, [`BACK_WINDOW`] call at a time,
/// until it meets a batch another process applied: the batches just before its start are
/// the last the walk coming towards it reaches, so where that process is slow (or gone),
/// the two meet half-way instead of one waiting for the other.
async fn walk(
    queue: &Queue,
    metrics: &Metrics,
    cache: &mut Schedules,
    on: &QueueName,
    due: &[Due],
    now_ms: i64,
) -> Result<Outcome, QueueError> {
    let batches: Vec<&[Due]> = due.chunks(PER_CALL).collect();
    let ring = batches.len().max(1);
    let mut sent = vec![false; batches.len()];
    let start = fastrand::usize(..ring);
    let (mut cursor, mut step, mut window) = (start, 1, WINDOW);
    let mut in_flight = FuturesOrdered::new();
    // Each batch is planned as it is sent, so that the planning of a tick's thousand
    // firings does not all come before the first call.
    let send = |batch: &[Due]| {
        let firings = plan_batch(batch, now_ms);
        async move {
            let reply = queue.fire(on, &firings).await;
            (firings, reply)
        }
    };
    let mut outcome = Outcome { planned: due.len(), ..Outcome::default() };
    loop {
        while in_flight.len() < window && sent.get(cursor) == Some(&false) {
            sent[cursor] = true;
            in_flight.push_back(send(batches[cursor]));
            cursor = (cursor + step) % ring;
        }
        let Some((firings, reply)) = in_flight.next().await else {
            let back = (start + ring - 1) % ring;
            if !outcome.stopped || step != 1 || sent.get(back) != Some(&false) {
                break;
            }
            (cursor, step, window) = (back, ring - 1, BACK_WINDOW);
            continue;
        };
        let (now, results) = reply?;
        let mut applied = false;
        for (firing, result) in firings.iter().zip(&results) {
            let guessed_wrong = cache.learn(on, firing, result);
            outcome.count(result, now, guessed_wrong);
            count(metrics, on, firing, result, now);
            applied |= result.done;
        }
        // Not tried: the batch's first firing had been applied by another process, whose
        // plan of the batch was this one.
        for firing in firings.get(results.len()..).unwrap_or_default() {
            cache.assume(on, firing);
        }
        outcome.stopped = !applied;
        window = match (applied, step) {
            (false, _) => 0,
            (true, 1) => WINDOW,
            (true, _) => BACK_WINDOW,
        };
    }
    // Planned now, once this process's calls are done: the plans of the batches it left.
    for (batch, _) in batches.iter().zip(&sent).filter(|(_, sent)| !**sent) {
        for firing in plan_batch(batch, now_ms) {
            cache.assume(on, &firing);
        }
    }
    Ok(outcome)
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
