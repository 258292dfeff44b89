//! Takes back leases that expired because their worker crashed, was killed or stalled.
//!
//! The queue reads the expired leases; the reaper decides what follows each (the attempt
//! counts: retry with backoff while attempts remain, else fail — the same rule as a
//! handler's error, from [`RetryPolicy::after`]) and settles them, fenced by the claim
//! that held the lease, so a worker that answers late cannot be overwritten or overwrite.
//! It sleeps until the earliest lease deadline it saw (renewed leases move that deadline
//! forward), but never longer than the shortest lease a claim can take
//! ([`MIN_LEASE_MS`], or `TTP_LEASE_MS` when shorter): a lease taken after the pass, by
//! a worker of the lease API, may be shorter than everything the pass saw. That is one
//! cheap read per queue per second.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::passes;
use super::shared::Shared;
use crate::backoff::Backoff;
use crate::config::MIN_LEASE_MS;
use crate::metrics::{AttemptEnd, Metrics, Outcome};
use crate::queue::{Action, ExpiredLease, Holder, Queue, QueueError, Settlement};
use crate::task::{Next, QueueName, RetryPolicy, State, now_ms};

/// Reaps until `stop`.
pub async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let longest_sleep = (shared.settings.lease.as_millis() as i64).min(MIN_LEASE_MS as i64);
    let mut backoff = Backoff::new("reap");
    loop {
        let pass = passes::over_queues(&shared, |name| reap(shared.clone(), name));
        let next = match pass.await {
            Ok(next) => next.unwrap_or(i64::MAX).min(now_ms() + longest_sleep),
            Err(e) => {
                if !backoff.wait(&stop, &e).await {
                    return;
                }
                continue;
            }
        };
        backoff.reset();
        // A few ms past the deadline, so the lease is expired by Redis' clock too.
        let sleep = Duration::from_millis((next - now_ms() + 5).clamp(5, longest_sleep) as u64);
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// What one reaping pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    /// Expired leases whose attempt this pass ended.
    pub reaped: usize,
    /// Deadline of the earliest lease still held.
    pub next_deadline_ms: Option<i64>,
}

async fn reap(shared: Arc<Shared>, queue: QueueName) -> Result<Option<i64>, QueueError> {
    let pass = reap_once(&shared.queue, &shared.metrics, shared.settings.retry, &queue).await?;
    if pass.reaped > 0 {
        tracing::info!(queue = %queue, reaped = pass.reaped, "took back expired leases");
    }
    Ok(pass.next_deadline_ms)
}

/// One pass over `queue`: ends the attempts of its expired leases (also what tests call
/// to race the reaper against other transitions).
pub async fn reap_once(
    store: &Queue,
    metrics: &Metrics,
    policy: RetryPolicy,
    queue: &QueueName,
) -> Result<Reaped, QueueError> {
    let expired = store.expired_leases(queue).await?;
    let now = now_ms();
    let items: Vec<Settlement> =
        expired.leases.iter().map(|lease| decide(lease, policy, now)).collect();
    let applied = store.settle(queue, &items).await?;
    let mut reaped = 0;
    for ((item, lease), applied) in items.iter().zip(&expired.leases).zip(applied) {
        let (Some(task), true) = (&lease.task, applied) else { continue };
        let outcome = match item.action {
            Action::Retry { .. } => Outcome::Retried,
            Action::Fail(_) => Outcome::Failed,
            _ => continue,
        };
        reaped += 1;
        metrics.attempt_ended(AttemptEnd {
            queue: queue.as_str(),
            kind: &task.kind,
            outcome,
            timed_out: timed_out(lease, now).is_some(),
            created_at_ms: task.created_at_ms,
        });
    }
    Ok(Reaped { reaped, next_deadline_ms: expired.next_deadline_ms })
}

/// Whether the expired attempt outlived its timeout (an external worker held it too
/// long: heartbeats cannot extend a lease past the timeout), rather than losing its
/// worker.
fn timed_out(lease: &ExpiredLease, now: i64) -> Option<u64> {
    let (claim, task) = (lease.claim.as_ref()?, lease.task.as_ref()?);
    (now - claim.started_at_ms >= task.timeout_ms as i64).then_some(task.timeout_ms)
}

/// The error an expired attempt ends with.
fn reason(attempt: u32, max_attempts: u32, timed_out: Option<u64>) -> String {
    match timed_out {
        Some(ms) => format!(
            "attempt {attempt} of {max_attempts} timed out after {ms} ms: its worker held it past timeout_ms"
        ),
        None => format!(
            "lease expired on attempt {attempt} of {max_attempts}: the worker stopped renewing it (crash, kill or stall)"
        ),
    }
}

/// What follows an expired lease: its attempt counts (retry or fail); a lease without
/// a claim entry, or whose task is gone or not running, is only dropped.
fn decide(lease: &ExpiredLease, policy: RetryPolicy, now: i64) -> Settlement {
    let attempt = lease.task.as_ref().map_or(1, |t| t.attempts + 1);
    let holder = Holder {
        token: lease.claim.as_ref().map(|c| c.token.clone()),
        attempt,
        started_at_ms: lease.claim.as_ref().map_or(now, |c| c.started_at_ms),
        created_at_ms: lease.task.as_ref().map_or(now, |t| t.created_at_ms),
        priority: 0,
        result_ttl_s: 0,
        kind: lease.task.as_ref().map(|t| t.kind.clone()).unwrap_or_default(),
    };
    let action = match (&lease.claim, &lease.task) {
        (Some(_), Some(task)) if task.state == State::Queued => {
            let error = reason(attempt, task.max_attempts, timed_out(lease, now));
            match policy.after(attempt, task.max_attempts, true, now) {
                Next::Retry { due_ms } => Action::Retry { due_ms, error },
                Next::Fail => Action::Fail(error),
            }
        }
        _ => Action::Forget,
    };
    Settlement { id: lease.id.clone(), holder, lease_expired: true, action }
}
