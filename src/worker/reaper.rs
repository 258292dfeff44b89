//! Takes back leases that expired because their worker crashed, was killed or stalled.
//!
//! It sleeps until the earliest lease deadline it saw (renewed leases move that deadline
//! forward, so a healthy system costs one cheap read per renewal period).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::fetcher::Backoff;
use super::pool::Shared;
use crate::task::now_ms;

/// Reaps until `stop`.
pub async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let lease_ms = shared.settings.lease.as_millis() as i64;
    let mut backoff = Backoff::default();
    loop {
        let mut next: i64 = now_ms() + lease_ms;
        let mut failed = None;
        for weight in &shared.settings.queues {
            match shared.queue.reap_expired(&weight.name, shared.settings.retry).await {
                Ok(r) => {
                    if r.reaped > 0 {
                        tracing::info!(queue = %weight.name, reaped = r.reaped, "took back expired leases");
                    }
                    if let Some(deadline) = r.next_deadline_ms {
                        next = next.min(deadline);
                    }
                }
                Err(e) => failed = Some(e),
            }
        }
        if let Some(e) = failed {
            if !backoff.wait(&stop, &e).await {
                return;
            }
            continue;
        }
        backoff.reset();
        // A few ms past the deadline, so the lease is expired by Redis' clock too.
        let sleep = Duration::from_millis((next - now_ms() + 5).clamp(5, lease_ms) as u64);
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = stop.cancelled() => return,
        }
    }
}
