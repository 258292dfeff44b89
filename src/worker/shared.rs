//! The state every worker loop of one process shares: the task store, the kinds, the
//! metrics, the settings, the lease table, the outcome channel to the completer, the
//! concurrency slots and the trackers that shutdown waits on.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::leases::LeaseTable;
use crate::config::WorkerSettings;
use crate::kinds::HandlerRegistry;
use crate::metrics::Metrics;
use crate::queue::{Queue, Settlement};

/// State shared by the worker loops of one process.
pub struct Shared {
    /// The task store.
    pub queue: Arc<Queue>,
    /// The kinds this process runs.
    pub registry: HandlerRegistry,
    /// Metrics handles.
    pub metrics: Metrics,
    /// The workers' slice of the configuration.
    pub settings: WorkerSettings,
    /// Leases this process holds (renewed by the heartbeat).
    pub leases: LeaseTable,
    /// Outcomes on their way to the completer.
    pub outcomes: UnboundedSender<Settlement>,
    /// Free concurrency slots.
    pub slots: Arc<Semaphore>,
    /// Running executors (one per task).
    pub executors: TaskTracker,
    /// The claiming and maintenance loops.
    pub loops: TaskTracker,
    /// Cancelled at the end of the shutdown grace: executors hand their tasks back.
    pub hard_stop: CancellationToken,
    /// The queues whose due tasks and expired leases this process looks after: the ones
    /// it serves, and those of external kinds (served by external workers, which cannot
    /// promote or reap).
    pub maintained: QueueSet,
}

/// A set of queues that may change while the process runs.
pub type QueueSet = Arc<dyn Fn() -> Vec<crate::task::QueueName> + Send + Sync>;
