//! Blocking waits: idle workers and promoters sleep in `BLPOP` on wake-up lists that the
//! scripts fill, so new work is picked up at once without polling (asynq's 1 s sleep
//! costs ~190 ms of pick-up delay; a blocked client costs Redis nothing).
//!
//! A blocked connection must not be a shared one, which it would stall for everyone, so a
//! [`Waiter`] owns dedicated connections. On a standalone Redis one `BLPOP` covers every
//! queue it waits on. A cluster refuses a command whose keys are in several slots, so
//! there the waiter keeps one lane per slot: a connection to the slot's master and the
//! `BLPOP` on it, and the wait ends when any lane pops. The other lanes stay blocked and
//! are picked up by the next wait, so a token they pop meanwhile is not lost. A lane that
//! fails is opened again (to the slot's current master) by the next wait; the loops that
//! wait only decide how long to back off.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::topology::{Node, key_slot};
use super::{Queue, QueueError};
use crate::task::QueueName;

/// What a waiter blocks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// Ready work in a queue (its wake-up list).
    Work,
    /// A newly scheduled task (its timer list), for the promoters.
    Schedule,
    /// A schedule created or changed (its queue's schedule wake list), for the schedulers.
    Schedules,
}

/// What a finished `BLPOP` hands back: its connection and whether it popped.
type Blocked = JoinHandle<(MultiplexedConnection, Result<bool, QueueError>)>;

/// The keys of one slot (of every queue, standalone) and their connection.
struct Lane {
    keys: Vec<String>,
    node: Node,
    idle: Option<MultiplexedConnection>,
    blocked: Option<Blocked>,
}

impl Drop for Lane {
    fn drop(&mut self) {
        // Closing its connection ends the server-side block.
        if let Some(blocked) = self.blocked.take() {
            blocked.abort();
        }
    }
}

/// A blocking waiter with its own connections.
pub struct Waiter {
    queue: Arc<Queue>,
    what: WaitFor,
    /// By slot (`None`: the one lane of a standalone Redis).
    lanes: HashMap<Option<u16>, Lane>,
}

impl Queue {
    /// A waiter for `what`; it connects on first use.
    pub fn waiter(self: &Arc<Self>, what: WaitFor) -> Waiter {
        Waiter { queue: self.clone(), what, lanes: HashMap::new() }
    }
}

/// Slack past the server-side timeout before a silent connection counts as dead.
const GUARD: Duration = Duration::from_secs(2);

impl Waiter {
    /// Blocks until one of `queues` signals, or `timeout`. True when woken. A lane whose
    /// call failed is dropped and opened again by the next call.
    pub async fn wait(
        &mut self,
        queues: &[QueueName],
        timeout: Duration,
    ) -> Result<bool, QueueError> {
        let deadline = Instant::now() + timeout;
        if self.arrange(queues).await? {
            return Ok(true);
        }
        loop {
            self.start_idle_lanes(deadline).await?;
            let mut blocked: Vec<(Option<u16>, &mut Blocked)> = self
                .lanes
                .iter_mut()
                .filter_map(|(slot, lane)| Some((*slot, lane.blocked.as_mut()?)))
                .collect();
            if blocked.is_empty() {
                return Ok(false);
            }
            let ends = blocked.iter_mut().map(|(_, b)| &mut **b);
            let first = futures_util::future::select_all(ends);
            let Ok((ended, at, _)) = tokio::time::timeout_at(deadline + GUARD, first).await else {
                self.lanes.clear();
                self.queue.redis.count_error();
                return Err(QueueError::Timeout((timeout + GUARD).as_millis() as u64));
            };
            let slot = blocked[at].0;
            drop(blocked);
            if self.settle_lane(slot, ended)? {
                return Ok(true);
            }
            if Instant::now() + Duration::from_millis(20) >= deadline {
                return Ok(false);
            }
        }
    }

    /// Makes the lanes match `queues`: lanes of slots no longer waited on (or whose keys
    /// changed) are closed. True when one of the closed lanes had popped meanwhile.
    async fn arrange(&mut self, queues: &[QueueName]) -> Result<bool, QueueError> {
        let keys = self.queue.keys();
        let cluster = self.queue.redis.is_cluster();
        let mut wanted: HashMap<Option<u16>, Vec<String>> = HashMap::new();
        for queue in queues {
            let key = match self.what {
                WaitFor::Work => keys.wake(queue),
                WaitFor::Schedule => keys.timer(queue),
                WaitFor::Schedules => keys.schedules_wake(queue),
            };
            let slot = cluster.then(|| key_slot(key.as_bytes()));
            wanted.entry(slot).or_default().push(key);
        }
        let mut popped = false;
        self.lanes.retain(|slot, lane| {
            let keep = wanted.get(slot).is_some_and(|keys| *keys == lane.keys);
            if !keep && let Some(blocked) = &lane.blocked {
                popped |= blocked.is_finished();
            }
            keep
        });
        for (slot, keys) in wanted {
            if !self.lanes.contains_key(&slot) {
                let node = self.queue.redis.node_of(&keys[0]).await?;
                self.lanes.insert(slot, Lane { keys, node, idle: None, blocked: None });
            }
        }
        Ok(popped)
    }

    /// Sends a `BLPOP` (until `deadline`) on every lane that has none in flight.
    async fn start_idle_lanes(&mut self, deadline: Instant) -> Result<(), QueueError> {
        let left = deadline.saturating_duration_since(Instant::now());
        for lane in self.lanes.values_mut() {
            if lane.blocked.is_some() || left < Duration::from_millis(20) {
                continue;
            }
            let connection = match lane.idle.take() {
                Some(connection) => connection,
                None => self.queue.redis.dedicated(&lane.node).await.inspect_err(|_| {
                    self.queue.redis.doubt_topology();
                })?,
            };
            lane.blocked = Some(tokio::spawn(block_on(connection, lane.keys.clone(), left)));
        }
        Ok(())
    }

    /// Takes a finished `BLPOP`'s outcome: its connection back when it went well; a
    /// failed lane is dropped (opened again, to the slot's current master, next time).
    fn settle_lane(
        &mut self,
        slot: Option<u16>,
        ended: Result<(MultiplexedConnection, Result<bool, QueueError>), tokio::task::JoinError>,
    ) -> Result<bool, QueueError> {
        let outcome = match ended {
            Ok((connection, Ok(popped))) => {
                if let Some(lane) = self.lanes.get_mut(&slot) {
                    lane.blocked = None;
                    lane.idle = Some(connection);
                }
                return Ok(popped);
            }
            Ok((_, Err(e))) => e,
            Err(e) => QueueError::Lost(e.to_string()),
        };
        self.lanes.remove(&slot);
        self.queue.redis.count_error();
        self.queue.redis.doubt_topology();
        Err(outcome)
    }
}

async fn block_on(
    mut connection: MultiplexedConnection,
    keys: Vec<String>,
    timeout: Duration,
) -> (MultiplexedConnection, Result<bool, QueueError>) {
    let seconds = timeout.as_secs_f64().max(0.01);
    // The server-side timeout ends the wait; the client-side one only catches a
    // connection that died without a reset.
    let popped = connection.blpop::<_, Option<(String, String)>>(&keys, seconds);
    let result = match tokio::time::timeout(timeout + GUARD, popped).await {
        Ok(Ok(popped)) => Ok(popped.is_some()),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(QueueError::Timeout((timeout + GUARD).as_millis() as u64)),
    };
    (connection, result)
}
