//! Starting and stopping a process's workers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::leases::{self, LeaseTable};
use super::shared::{QueueSet, Shared};
use super::{completer, fetcher, promoter, reaper, sweeper};
use crate::config::WorkerSettings;
use crate::kinds::HandlerRegistry;
use crate::metrics::Metrics;
use crate::queue::Queue;

/// The running workers of one process.
pub struct WorkerPool {
    shared: Arc<Shared>,
    stop_claiming: CancellationToken,
    abandon_outcomes: CancellationToken,
    stop_heartbeat: CancellationToken,
    completer: JoinHandle<()>,
    heartbeat: JoinHandle<()>,
}

impl WorkerPool {
    /// Starts the promoter, reaper, sweeper, completer and heartbeat over the `maintained`
    /// queues, and with `claiming` the fetcher that runs tasks of the served queues.
    pub fn start(
        queue: Arc<Queue>,
        registry: HandlerRegistry,
        metrics: Metrics,
        settings: WorkerSettings,
        maintained: QueueSet,
        claiming: bool,
    ) -> Self {
        let (outcomes, received) = mpsc::unbounded_channel();
        let leases = LeaseTable::default();
        let abandon_outcomes = CancellationToken::new();
        let stop_heartbeat = CancellationToken::new();
        let completer = tokio::spawn(completer::run(
            queue.clone(),
            leases.clone(),
            received,
            abandon_outcomes.clone(),
        ));
        let heartbeat = tokio::spawn(leases::heartbeat(
            queue.clone(),
            leases.clone(),
            settings.lease,
            stop_heartbeat.clone(),
        ));
        let shared = Arc::new(Shared {
            slots: Arc::new(Semaphore::new(settings.concurrency)),
            queue,
            registry,
            metrics,
            settings,
            leases,
            outcomes,
            executors: TaskTracker::new(),
            loops: TaskTracker::new(),
            hard_stop: CancellationToken::new(),
            maintained,
        });
        let stop_claiming = CancellationToken::new();
        if claiming {
            shared.loops.spawn(fetcher::run(shared.clone(), stop_claiming.clone()));
        }
        shared.loops.spawn(promoter::run(shared.clone(), stop_claiming.clone()));
        shared.loops.spawn(reaper::run(shared.clone(), stop_claiming.clone()));
        shared.loops.spawn(sweeper::run(shared.clone(), stop_claiming.clone()));
        Self { shared, stop_claiming, abandon_outcomes, stop_heartbeat, completer, heartbeat }
    }

    /// Stops claiming, waits up to the grace period for running tasks, hands back the
    /// leases of those still running, writes every outcome, then stops the heartbeat.
    pub async fn shutdown(self) {
        let Self { shared, stop_claiming, abandon_outcomes, stop_heartbeat, completer, heartbeat } =
            self;
        stop_claiming.cancel();
        shared.loops.close();
        shared.loops.wait().await;
        shared.executors.close();
        let grace = shared.settings.grace;
        let running = shared.executors.len();
        if running > 0 {
            tracing::info!(
                running,
                grace_ms = grace.as_millis() as u64,
                "waiting for running tasks"
            );
        }
        if tokio::time::timeout(grace, shared.executors.wait()).await.is_err() {
            tracing::warn!(
                running = shared.executors.len(),
                "grace period over; handing back the leases of unfinished tasks"
            );
            shared.hard_stop.cancel();
            // An async handler stops at its next await; one that blocks its thread cannot
            // be stopped, so the wait is bounded and its lease simply expires.
            if tokio::time::timeout(Duration::from_secs(5), shared.executors.wait()).await.is_err()
            {
                tracing::error!(
                    "a handler ignores the stop (it blocks its thread); its lease will expire"
                );
            }
        }
        drop(shared); // the last sender: the completer drains what is left and ends
        let flush_limit = grace.max(Duration::from_secs(5));
        let mut completer = completer;
        if tokio::time::timeout(flush_limit, &mut completer).await.is_err() {
            abandon_outcomes.cancel();
            let _ = completer.await;
        }
        stop_heartbeat.cancel();
        let _ = heartbeat.await;
    }
}
