//! What a scheduler keeps between passes: the deployment's schedule index (re-read only
//! when its version moves), each schedule's parsed spec, keyed by the sha of the stored
//! text so that a changed spec is parsed again and an unchanged one never, and the firing
//! state each schedule was last seen in.
//!
//! The state is what makes a pass cheap when a thousand schedules share a tick: after a
//! firing, this process knows the state it left (or, when another process fired first, the
//! next tick that one stored, from the fire script's reply, and the task its identical plan
//! stored). A due schedule whose known state has the due zset's next tick is planned from
//! it without reading its hash. A wrong guess costs nothing but a read: the fire script
//! compares the whole state, refuses, and the state is read again on the next pass.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::queue::schedules::{FireResult, Firing, FiringState};
use crate::queue::{Queue, QueueError};
use crate::schedule::{Schedule, ScheduleSpec};
use crate::task::QueueName;

/// Schedules whose state [`Schedules::learn_unknown`] reads in one pipelined round trip.
const LEARN_PER_READ: usize = 1000;

/// What is known of one queue's schedules, by name.
#[derive(Default)]
struct Known {
    /// The names the index holds for the queue.
    members: Vec<String>,
    /// The index moved since the states of `members` not known here were last read.
    unlearned: bool,
    /// The sha of the spec parsed, and the schedule (`None`: unreadable).
    parsed: HashMap<String, (String, Option<Arc<Schedule>>)>,
    /// The firing state last seen or left.
    states: HashMap<String, Seen>,
    /// The names whose state the last pass read (not guessed).
    read: HashSet<String>,
    /// The clock of the queue's Redis (ms) as last read, and when.
    clock: Option<(i64, Instant)>,
}

/// A schedule's firing state as this process knows it.
struct Seen {
    state: FiringState,
    /// Its next tick, ms (`state.next` parsed).
    next_ms: i64,
    /// When it was assumed that another process applied the plan that led to it (this
    /// process left that firing to the other's walk), if it was.
    assumed: Option<Instant>,
}

impl Seen {
    /// A state just read from Redis (an unreadable next tick is never due).
    fn read(state: FiringState) -> Self {
        let next_ms = state.next.parse().unwrap_or(i64::MAX);
        Self { state, next_ms, assumed: None }
    }
}

/// The index, and the parsed specs, firing states and Redis' clock of each queue.
#[derive(Default)]
pub struct Schedules {
    version: Option<u64>,
    queues: Vec<QueueName>,
    known: HashMap<QueueName, Known>,
}

impl Schedules {
    /// The queues that hold schedules (the index is re-read when its version moved; what
    /// is known of schedules no longer in it is dropped).
    pub async fn queues(&mut self, queue: &Queue) -> Result<Vec<QueueName>, QueueError> {
        let version = queue.schedule_index_version().await?;
        if self.version != Some(version) {
            let (version, entries) = queue.schedule_index().await?;
            let mut names: HashMap<&QueueName, Vec<&str>> = HashMap::new();
            for (name, on) in &entries {
                names.entry(on).or_default().push(name);
            }
            self.known.retain(|on, known| {
                let Some(held) = names.get(on) else { return false };
                known.parsed.retain(|name, _| held.contains(&name.as_str()));
                known.states.retain(|name, _| held.contains(&name.as_str()));
                true
            });
            for (on, held) in &names {
                let known = self.known.entry((*on).clone()).or_default();
                known.members = held.iter().map(|name| (*name).to_owned()).collect();
                known.unlearned = true;
            }
            let mut queues: Vec<QueueName> = names.into_keys().cloned().collect();
            queues.sort();
            (self.version, self.queues) = (Some(version), queues);
        }
        Ok(self.queues.clone())
    }

    /// Reads, once after the index moved, the firing state of each schedule of `on` this
    /// process knows nothing of (in pipelined reads of [`LEARN_PER_READ`]). Processes cut
    /// a tick's firings into the same batches only when they know the same schedules: one
    /// that learnt of schedules only as it found them due would cut its batches elsewhere
    /// for good (a schedule the others always fire first is never due when it looks), and
    /// batches that overlap are what leaves firings to a later pass.
    pub async fn learn_unknown(&mut self, queue: &Queue, on: &QueueName) -> Result<(), QueueError> {
        let Some(known) = self.known.get_mut(on).filter(|known| known.unlearned) else {
            return Ok(());
        };
        let unknown: Vec<String> = known
            .members
            .iter()
            .filter(|name| !known.states.contains_key(*name))
            .cloned()
            .collect();
        for names in unknown.chunks(LEARN_PER_READ) {
            let read = queue.firing_states(on, names).await?;
            for (name, state) in names.iter().zip(read) {
                let Some(state) = state else { continue };
                known.states.insert(name.clone(), Seen::read(state));
            }
        }
        known.unlearned = false;
        Ok(())
    }

    /// Notes the clock (ms) of `on`'s Redis, just read (in a cluster, each master has
    /// its own).
    pub fn set_clock(&mut self, on: &QueueName, redis_ms: i64) {
        self.known.entry(on.clone()).or_default().clock = Some((redis_ms, Instant::now()));
    }

    /// The clock of `on`'s Redis now, from the last reading: never ahead of it, since the
    /// reading was taken before its answer arrived.
    pub fn redis_now(&self, on: &QueueName) -> Option<i64> {
        let (ms, at) = self.known.get(on)?.clock?;
        Some(ms + at.elapsed().as_millis() as i64)
    }

    /// The known states of `on` whose next tick is at or before `now`, in the due zset's
    /// order (tick, then name), so that every process batches them alike.
    pub fn due_by_guess(&mut self, on: &QueueName, now: i64) -> Vec<(String, FiringState)> {
        let Some(known) = self.known.get_mut(on) else { return Vec::new() };
        known.read.clear();
        let mut due: Vec<(i64, &String, &FiringState)> = known
            .states
            .iter()
            .map(|(name, seen)| (seen.next_ms, name, &seen.state))
            .filter(|(next, _, _)| *next <= now)
            .collect();
        due.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        due.into_iter().map(|(_, name, state)| (name.clone(), state.clone())).collect()
    }

    /// The firing states of `due` (name, stored next tick) in `on`, for those that are
    /// active: the known state when its next tick is the due one, else read (in one
    /// pipelined round trip for all the others). Left out, and counted: those this process
    /// assumed less than `recent` ago that another process is firing.
    pub async fn firing_states(
        &mut self,
        queue: &Queue,
        on: &QueueName,
        due: &[(String, i64)],
        recent: Duration,
    ) -> Result<(Vec<(String, FiringState)>, usize), QueueError> {
        let known = self.known.entry(on.clone()).or_default();
        known.read.clear();
        let assumed = |name: &str, next: i64| {
            known.states.get(name).is_some_and(|seen| {
                seen.assumed.is_some_and(|at| at.elapsed() < recent) && seen.next_ms != next
            })
        };
        let all = due.len();
        let due: Vec<&(String, i64)> =
            due.iter().filter(|(name, next)| !assumed(name, *next)).collect();
        let left = all - due.len();
        let current = |name: &str, next: i64| {
            let seen = known.states.get(name)?;
            (seen.next_ms == next).then(|| seen.state.clone())
        };
        let mut states: Vec<Option<FiringState>> =
            due.iter().map(|(name, next)| current(name, *next)).collect();
        let unknown: Vec<String> = due
            .iter()
            .zip(&states)
            .filter(|(_, state)| state.is_none())
            .map(|((name, _), _)| name.clone())
            .collect();
        if !unknown.is_empty() {
            let mut read = queue.firing_states(on, &unknown).await?.into_iter();
            for slot in states.iter_mut().filter(|s| s.is_none()) {
                *slot = read.next().flatten();
            }
            for (name, state) in due.iter().map(|(name, _)| name).zip(&states) {
                if let Some(state) = state {
                    known.states.insert(name.clone(), Seen::read(state.clone()));
                }
            }
            known.read.extend(unknown);
        }
        let states =
            due.iter().zip(states).filter_map(|((name, _), s)| Some((name.clone(), s?))).collect();
        Ok((states, left))
    }

    /// Remembers the state `firing` left (or found) by what the fire script did with it;
    /// true when it was refused for a state this process had guessed (read it now).
    pub fn learn(&mut self, on: &QueueName, firing: &Firing, result: &FireResult) -> bool {
        // Done: the state this call stored. Lost to another process that fired the same
        // plan: the next tick it stored (later than the one planned from; an earlier one
        // means this process's state was ahead of Redis: read it), and (the plan being the
        // same) its last task.
        let planned_from = firing.from.next.parse::<i64>().ok();
        let moved_on = result.moved_to.filter(|next| Some(*next) > planned_from);
        let (next, last_tick) = if result.done {
            (firing.next_ms, result.fired.last().copied())
        } else {
            (moved_on, firing.ticks.last().map(|(tick, _)| *tick))
        };
        let guessed = !self.known.get(on).is_some_and(|k| k.read.contains(&firing.name));
        self.remember(on, firing, next, last_tick, None);
        !result.done && moved_on.is_none() && guessed
    }

    /// Guesses the state of a firing this process planned but left to another process (its
    /// walk stopped before it): that process applied the same plan.
    pub fn assume(&mut self, on: &QueueName, firing: &Firing) {
        let last_tick = firing.ticks.last().map(|(tick, _)| *tick);
        self.remember(on, firing, firing.next_ms, last_tick, Some(Instant::now()));
    }

    /// Remembers that `firing`'s schedule now waits for `next` (none: forget it) with the
    /// task of `last_tick` as its last (none: the one it had), as `assumed` at a time.
    fn remember(
        &mut self,
        on: &QueueName,
        firing: &Firing,
        next: Option<i64>,
        last_tick: Option<i64>,
        assumed: Option<Instant>,
    ) {
        let states = &mut self.known.entry(on.clone()).or_default().states;
        let Some(next) = next else {
            states.remove(&firing.name);
            return;
        };
        let last = last_tick.and_then(|t| firing.ticks.iter().find(|(tick, _)| *tick == t));
        let (last_task, last_task_text) = match last {
            Some((_, id)) => (Some(id.clone()), id.as_str().to_owned()),
            None => (firing.from.last_task.clone(), firing.from.last_task_text.clone()),
        };
        let sha = firing.from.sha.clone();
        let state = FiringState { next: next.to_string(), sha, last_task, last_task_text };
        states.insert(firing.name.clone(), Seen { state, next_ms: next, assumed });
    }

    /// The parsed schedules of `wanted` (name, sha of the stored spec) in `on`, in order:
    /// those not known at that sha are read in one pipelined round trip and parsed. `None`
    /// for one that is gone or unreadable (logged).
    pub async fn get_many(
        &mut self,
        queue: &Queue,
        on: &QueueName,
        wanted: &[(&str, &str)],
    ) -> Result<Vec<Option<Arc<Schedule>>>, QueueError> {
        let parsed = &mut self.known.entry(on.clone()).or_default().parsed;
        let known = |(name, sha): &(&str, &str)| parsed.get(*name).is_some_and(|(at, _)| at == sha);
        let missing: Vec<&str> =
            wanted.iter().filter(|w| !known(w)).map(|(name, _)| *name).collect();
        if !missing.is_empty() {
            let stored = queue.schedule_specs(on, &missing).await?;
            for (name, stored) in missing.iter().zip(stored) {
                let Some((sha, text)) = stored else { continue };
                let schedule = ScheduleSpec::from_json(&text)
                    .and_then(|s| Schedule::new(s).ok())
                    .map(Arc::new);
                if schedule.is_none() {
                    tracing::error!(schedule = name, queue = %on, "stored schedule spec is unreadable; it does not fire");
                }
                parsed.insert((*name).to_owned(), (sha, schedule));
            }
        }
        Ok(wanted
            .iter()
            .map(|(name, _)| parsed.get(*name).and_then(|(_, schedule)| schedule.clone()))
            .collect())
    }
}
