//! Workers: the loops that claim tasks, run them and write their outcomes back.
//!
//! One process runs these tokio tasks, all on one `TaskTracker`:
//! - `fetcher`: claims up to the free slots (of `TTP_CONCURRENCY`) across the served
//!   queues in weighted random order, and blocks on the wake-up lists when idle;
//! - `executor`: one per claimed task, runs the handler under its timeout;
//! - `completer`: writes outcomes back in batches, one script call per queue;
//! - `leases`: renews the leases of running tasks every third of `TTP_LEASE_MS`;
//! - `reaper`: takes back leases that expired (a crashed or stalled worker elsewhere);
//! - `promoter`: moves due scheduled tasks (delays, retry backoffs) to their queue;
//! - `sweeper`: forgets queues that stayed empty and unused for an hour.
//!
//! Shutdown (`WorkerPool::shutdown`): stop claiming, let running tasks finish within the
//! grace period, hand back the leases of those that did not, flush outcomes, exit.

mod completer;
mod executor;
mod fetcher;
mod leases;
mod passes;
mod pool;
mod promoter;
mod reaper;
mod shared;
mod sweeper;
mod weights;

pub use pool::WorkerPool;
pub use reaper::{Reaped, reap_once};
pub use shared::QueueSet;
pub use sweeper::{IDLE_BEFORE_FORGOTTEN, IdleQueues, sweep};
