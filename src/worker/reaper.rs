//! Takes back leases that expired because their worker crashed, was killed or stalled.
//!
//! It sleeps until the earliest lease deadline it saw (renewed leases move that deadline
//! forward, so a healthy system costs one cheap read per renewal period).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::fetcher::Backoff;
use super::passes;
use super::pool::Shared;
use crate::metrics::{Metrics, outcome};
use crate::queue::ReapedAttempt;
use crate::task::{QueueName, now_ms};

/// Reaps until `stop`.
pub async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let lease_ms = shared.settings.lease.as_millis() as i64;
    let mut backoff = Backoff::default();
    loop {
        let pass = passes::over_queues(&shared, |name| {
            let (queue, retry) = (shared.queue.clone(), shared.settings.retry);
            let metrics = shared.metrics.clone();
            async move {
                let reaped = queue.reap_expired(&name, retry).await?;
                if reaped.reaped > 0 {
                    tracing::info!(queue = %name, reaped = reaped.reaped, "took back expired leases");
                }
                count(&metrics, &name, &reaped.ended);
                Ok(reaped.next_deadline_ms)
            }
        });
        let next = match pass.await {
            Ok(next) => next.unwrap_or(i64::MAX).min(now_ms() + lease_ms),
            Err(e) => {
                if !backoff.wait(&stop, &e).await {
                    return;
                }
                continue;
            }
        };
        backoff.reset();
        // A few ms past the deadline, so the lease is expired by Redis' clock too.
        let sleep = Duration::from_millis((next - now_ms() + 5).clamp(5, lease_ms) as u64);
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Counts the attempts the reaper ended like the executor counts the others.
fn count(metrics: &Metrics, queue: &QueueName, ended: &[ReapedAttempt]) {
    for attempt in ended {
        let outcome = if attempt.failed { outcome::FAILED } else { outcome::RETRIED };
        metrics.finished.with_label_values(&[queue.as_str(), &attempt.kind, outcome]).inc();
        if attempt.failed {
            let total_ms = (now_ms() - attempt.created_at_ms).max(0);
            let histogram = metrics.end_to_end_seconds.with_label_values(&[queue.as_str()]);
            histogram.observe(total_ms as f64 / 1000.0);
        }
    }
}
