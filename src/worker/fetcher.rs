//! The claim loop: as soon as slots are free, claim that many tasks across the served
//! queues; when nothing is ready, block on the queues' wake-up lists (no sleep-polling).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::executor;
use super::shared::Shared;
use super::weights;
use crate::backoff::Backoff;
use crate::queue::{Action, ClaimRequest, ClaimedTask, QueueError, Settlement, WaitFor, Waiter};
use crate::task::QueueName;

/// Longest idle wait before claiming again anyway (a safety net for a lost wake-up).
const IDLE_WAIT: Duration = Duration::from_secs(5);

/// Claims and dispatches tasks until `stop`.
pub async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let names = shared.settings.queue_names();
    let mut waiter = shared.queue.waiter(WaitFor::Work);
    let mut backoff = Backoff::new("claim");
    loop {
        let permits = tokio::select! {
            permits = free_slots(&shared) => permits,
            () = stop.cancelled() => return,
        };
        let claimed = match claim_round(&shared, permits.len(), &stop).await {
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
            if !idle(&names, &mut waiter, &mut backoff, &stop).await {
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
async fn claim_round(
    shared: &Shared,
    wanted: usize,
    stop: &CancellationToken,
) -> Result<Vec<ClaimedTask>, QueueError> {
    let mut claimed = Vec::new();
    for name in weights::round_order(&shared.settings.queues) {
        let missing = wanted - claimed.len();
        if missing == 0 {
            break;
        }
        match claim_from(shared, name, missing, stop).await {
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

/// Claims from one queue. A claim whose answer was lost (a timeout, a broken
/// connection, its tasks unread) may have run in Redis: it is sent again, the same
/// request, until it is answered — the answer is the tasks it took, which then run — so
/// a claim no worker received never costs its tasks an attempt. At a stop the tasks are
/// handed back.
async fn claim_from(
    shared: &Shared,
    name: &QueueName,
    wanted: usize,
    stop: &CancellationToken,
) -> Result<Vec<ClaimedTask>, QueueError> {
    let request = ClaimRequest::new(wanted, shared.settings.lease)?;
    let mut backoff = Backoff::new("claim whose answer was lost");
    loop {
        match shared.queue.claim(name, &request).await {
            Ok(tasks) => return Ok(tasks),
            Err(e) if e.outcome_unknown() => {
                if !backoff.wait(stop, &e).await {
                    hand_back(shared, name, &request).await;
                    return Ok(Vec::new());
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// At a stop, asks once more for the tasks of a claim whose answer was lost and hands
/// them back (attempt not counted); if Redis still does not answer, their leases expire.
async fn hand_back(shared: &Shared, name: &QueueName, request: &ClaimRequest) {
    let Ok(tasks) = shared.queue.claim(name, request).await else {
        tracing::warn!(queue = %name, "a claim's answer was lost and Redis does not answer at shutdown; its tasks return when their leases expire");
        return;
    };
    for task in tasks {
        let holder = task.holder();
        let release =
            Settlement { id: task.id, holder, lease_expired: false, action: Action::Release };
        let _ = shared.outcomes.send(release);
    }
}

/// Blocks until work is signalled, the idle timeout passes, or `stop`. False on stop.
async fn idle(
    names: &[QueueName],
    waiter: &mut Waiter,
    backoff: &mut Backoff,
    stop: &CancellationToken,
) -> bool {
    tokio::select! {
        woke = waiter.wait(names, IDLE_WAIT) => match woke {
            Ok(_) => true,
            Err(e) => backoff.wait(stop, &e).await,
        },
        () = stop.cancelled() => false,
    }
}
