//! The dashboard's live data: one snapshot per second per process, shared by every
//! viewer, so viewers add no Redis load (SPEC §11).
//!
//! Why lazily: a snapshot reads every queue (six commands each, up to `TTP_MAX_QUEUES`),
//! which is cheap once a second but wasted on the many processes nobody watches. So the
//! sampler starts when the first viewer subscribes and stops at the first tick that finds
//! none left; snapshots go out through a `tokio::sync::watch`, which keeps only the
//! latest, so a slow viewer skips snapshots instead of queueing them. A restarted sampler
//! starts from an empty snapshot (`seq` 0), never from an old one, and its first snapshot
//! has no rates (rates need two).
//!
//! Each viewer's stream (`api::ui`) reads the watch and filters the queues by its key.

mod latency;
mod sampler;
mod snapshot;

pub use sampler::{Sampler, Source};
pub use snapshot::{ProcessRow, QueueRow, Snapshot, SnapshotView, Viewer};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often a snapshot is taken.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// The shared snapshots of one process; cheap to clone.
#[derive(Clone, Debug)]
pub struct Dashboard {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    snapshots: watch::Sender<Arc<Snapshot>>,
    /// Whether a sampler runs; changed only under this lock, together with the decision
    /// to start or stop, so a viewer arriving as the last one leaves is never stranded.
    running: Mutex<bool>,
    source: Source,
    /// One permit per open stream (`TTP_UI_MAX_STREAMS`).
    streams: Arc<Semaphore>,
    max_streams: usize,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Dashboard {
    /// A dashboard reading `source` for at most `max_streams` viewers at once; its
    /// sampler runs on `tasks` and stops at `shutdown`.
    pub fn new(
        source: Source,
        max_streams: usize,
        tasks: TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        let (snapshots, _) = watch::channel(Arc::new(Snapshot::default()));
        let running = Mutex::new(false);
        let streams = Arc::new(Semaphore::new(max_streams));
        let inner = Inner { snapshots, running, source, streams, max_streams, tasks, shutdown };
        Self { inner: Arc::new(inner) }
    }

    /// A place for one more stream, held until dropped; `None` when all
    /// [`Self::max_streams`] are taken.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.inner.streams.clone().try_acquire_owned().ok()
    }

    /// The most streams open at once (`TTP_UI_MAX_STREAMS`).
    pub fn max_streams(&self) -> usize {
        self.inner.max_streams
    }

    /// A new viewer: the latest snapshot and every later one, starting the sampler if
    /// none runs.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        let inner = &self.inner;
        let mut running = inner.running.lock().unwrap_or_else(|e| e.into_inner());
        let receiver = inner.snapshots.subscribe();
        if !*running && !inner.shutdown.is_cancelled() {
            *running = true;
            inner.tasks.spawn(run(self.inner.clone()));
        }
        receiver
    }
}

/// The sampler: a snapshot each [`INTERVAL`] while anyone watches.
async fn run(inner: Arc<Inner>) {
    let mut sampler = Sampler::new();
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = inner.shutdown.cancelled() => break,
        }
        if stop_if_unwatched(&inner) {
            return;
        }
        let snapshot = tokio::select! {
            snapshot = sampler.sample(&inner.source) => snapshot,
            () = inner.shutdown.cancelled() => break,
        };
        inner.snapshots.send_replace(Arc::new(snapshot));
    }
    stop(&inner);
}

/// Stops (true) when no viewer is left.
fn stop_if_unwatched(inner: &Inner) -> bool {
    let mut running = inner.running.lock().unwrap_or_else(|e| e.into_inner());
    if inner.snapshots.receiver_count() > 0 {
        return false;
    }
    *running = false;
    inner.snapshots.send_replace(Arc::new(Snapshot::default()));
    true
}

fn stop(inner: &Inner) {
    let mut running = inner.running.lock().unwrap_or_else(|e| e.into_inner());
    *running = false;
}
