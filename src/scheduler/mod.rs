//! The scheduler: fires the schedules (SPEC §10) of every queue that has some, in every
//! process that runs workers (unless `TTP_SCHEDULER=off`). There is no leader and no lock:
//! every process plans the same firing from the same stored state and Redis' clock, and
//! the fire script's compare-and-set lets exactly one of them apply it. A process killed
//! mid-call, or a call whose reply is lost, is harmless: the script ran entirely or not at
//! all, and the next pass (here or elsewhere) sees which.
//!
//! The loop sleeps until the earliest next tick it knows of (by Redis' clock), at most
//! [`LONGEST_SLEEP`]; a listener wakes it when a schedule is created, changed or resumed.

mod cache;
mod pass;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::metrics::Metrics;
use crate::queue::{Queue, WaitFor};
use crate::task::QueueName;

pub use pass::fire_queue;

/// Longest sleep between passes: how soon a schedule on a queue this process did not
/// know of yet is seen.
const LONGEST_SLEEP: Duration = Duration::from_secs(1);

/// How often the listener looks again for queues to listen to while it knows of none.
const NO_QUEUES_SLEEP: Duration = Duration::from_millis(100);

/// Fires schedules until `stop`.
pub async fn run(queue: Arc<Queue>, metrics: Metrics, stop: CancellationToken) {
    let signal = Arc::new(Notify::new());
    let queues = Arc::new(std::sync::Mutex::new(Vec::<QueueName>::new()));
    let listener =
        tokio::spawn(listen(queue.clone(), queues.clone(), signal.clone(), stop.clone()));
    let mut cache = cache::Schedules::default();
    let mut backoff = Backoff::new("scheduler");
    loop {
        let wait = match pass_all(&queue, &metrics, &mut cache).await {
            Ok((wait, names)) => {
                backoff.reset();
                if let Ok(mut known) = queues.lock() {
                    *known = names;
                }
                wait
            }
            Err(e) => {
                if !backoff.wait(&stop, &e).await {
                    break;
                }
                continue;
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = signal.notified() => {}
            () = stop.cancelled() => break,
        }
    }
    let _ = listener.await;
}

/// One pass over every queue with schedules: how long to sleep, and the queues seen.
async fn pass_all(
    queue: &Queue,
    metrics: &Metrics,
    cache: &mut cache::Schedules,
) -> Result<(Duration, Vec<QueueName>), crate::queue::QueueError> {
    let names = cache.queues(queue).await?;
    let mut wait_ms = LONGEST_SLEEP.as_millis() as i64;
    let mut failed = None;
    for name in &names {
        match fire_queue(queue, metrics, cache, name).await {
            Ok(Some(ms)) => wait_ms = wait_ms.min(ms),
            Ok(None) => {}
            Err(e) => failed = Some(e),
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok((Duration::from_millis(wait_ms.max(0) as u64), names)),
    }
}

/// Blocks on the schedule wake lists of the known queues and wakes the loop.
async fn listen(
    queue: Arc<Queue>,
    queues: Arc<std::sync::Mutex<Vec<QueueName>>>,
    signal: Arc<Notify>,
    stop: CancellationToken,
) {
    let mut waiter = queue.waiter(WaitFor::Schedules);
    let mut backoff = Backoff::new("scheduler listener");
    loop {
        let names = queues.lock().map(|q| q.clone()).unwrap_or_default();
        if names.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(NO_QUEUES_SLEEP) => continue,
                () = stop.cancelled() => return,
            }
        }
        tokio::select! {
            woke = waiter.wait(&names, LONGEST_SLEEP) => match woke {
                Ok(woken) => {
                    backoff.reset();
                    if woken {
                        signal.notify_one();
                    }
                }
                Err(e) => {
                    if !backoff.wait(&stop, &e).await {
                        return;
                    }
                }
            },
            () = stop.cancelled() => return,
        }
    }
}
