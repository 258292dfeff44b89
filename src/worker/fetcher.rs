//! The claim loop: as soon as slots are free, claim that many tasks across the served
//! queues; when nothing is ready, block on the queues' wake-up lists (no sleep-polling).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::executor;
use super::pool::Shared;
use super::weights;
use crate::queue::{BlockingConnection, ClaimedTask, QueueError};
use crate::task::QueueName;

/// Longest idle wait before claiming again anyway (a safety net for a lost wake-up).
const IDLE_WAIT: Duration = Duration::from_secs(5);

/// Claims and dispatches tasks until `stop`.
pub async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let names: Vec<QueueName> = shared.settings.queues.iter().map(|q| q.name.clone()).collect();
    let mut waiter: Option<BlockingConnection> = None;
    let mut backoff = Backoff::default();
    loop {
        let permits = tokio::select! {
            permits = free_slots(&shared) => permits,
            () = stop.cancelled() => return,
        };
        let claimed = match claim_round(&shared, permits.len()).await {
            Ok(claimed) => claimed,
            Err(e) => {
                drop(permits);
                if !backoff.wait(&stop, &e).await {
                    return;
                }
                continue;
            }
        };
        backoff.reset();
        if claimed.is_empty() {
            drop(permits);
            if !idle(&shared, &names, &mut waiter, &mut backoff, &stop).await {
                return;
            }
            continue;
        }
        for (task, permit) in claimed.into_iter().zip(permits) {
            shared.executors.spawn(executor::execute(shared.clone(), task, permit));
        }
    }
}

/// Waits for one free slot, then takes every other free one too.
async fn free_slots(shared: &Shared) -> Vec<OwnedSemaphorePermit> {
    let Ok(first) = shared.slots.clone().acquire_owned().await else {
        return Vec::new();
    };
    let mut permits = vec![first];
    while let Ok(more) = shared.slots.clone().try_acquire_owned() {
        permits.push(more);
    }
    permits
}

/// Claims up to `wanted` tasks, visiting queues in weighted random order.
/// An error is returned only when nothing was claimed: tasks claimed from one queue
/// before another queue's claim failed still run.
async fn claim_round(shared: &Shared, wanted: usize) -> Result<Vec<ClaimedTask>, QueueError> {
    let mut claimed = Vec::new();
    for name in weights::round_order(&shared.settings.queues) {
        let missing = wanted - claimed.len();
        if missing == 0 {
            break;
        }
        match shared.queue.claim(name, missing, shared.settings.lease).await {
            Ok(more) => claimed.extend(more),
            Err(e) if claimed.is_empty() => return Err(e),
            Err(e) => {
                tracing::warn!(queue = %name, error = %e, "claim failed; running what was claimed");
                break;
            }
        }
    }
    Ok(claimed)
}

/// Blocks until work is signalled, the idle timeout passes, or `stop`. False on stop.
async fn idle(
    shared: &Shared,
    names: &[QueueName],
    waiter: &mut Option<BlockingConnection>,
    backoff: &mut Backoff,
    stop: &CancellationToken,
) -> bool {
    let conn = match waiter {
        Some(conn) => conn,
        None => match shared.queue.blocking_connection().await {
            Ok(conn) => waiter.insert(conn),
            Err(e) => return backoff.wait(stop, &e).await,
        },
    };
    tokio::select! {
        woke = shared.queue.wait_for_work(conn, names, IDLE_WAIT) => {
            if let Err(e) = woke {
                *waiter = None;
                return backoff.wait(stop, &e).await;
            }
            true
        }
        () = stop.cancelled() => false,
    }
}

/// Exponential pause after Redis errors, so a Redis outage is not a busy loop; the loop
/// resumes by itself when Redis answers again.
#[derive(Debug)]
pub struct Backoff {
    delay: Duration,
    failing: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { delay: Duration::from_millis(50), failing: false }
    }
}

impl Backoff {
    /// Logs (once per outage) and sleeps; false if `stop` fired meanwhile.
    pub async fn wait(&mut self, stop: &CancellationToken, error: &QueueError) -> bool {
        if !self.failing {
            tracing::warn!(error = %error, "Redis call failed; backing off until it answers");
            self.failing = true;
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(Duration::from_secs(2));
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = stop.cancelled() => false,
        }
    }

    /// Call after a success.
    pub fn reset(&mut self) {
        if self.failing {
            tracing::info!("Redis answers again; resuming");
        }
        *self = Self::default();
    }
}
