//! Moves due scheduled tasks (delays and retry backoffs) into their queues on time.
//!
//! The promoter sleeps exactly until the earliest due time it knows of. A listener
//! blocks on the queues' timer lists, which every script that schedules a task signals,
//! and wakes the promoter so that a newly scheduled earlier task is not missed. A pass at
//! least every few seconds covers what other processes scheduled while this one slept.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::fetcher::Backoff;
use super::passes;
use super::pool::Shared;
use crate::queue::BlockingConnection;
use crate::task::{QueueName, now_ms};

const LONGEST_SLEEP: Duration = Duration::from_secs(5);

/// Promotes until `stop`.
pub async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let names: Vec<QueueName> = shared.settings.queues.iter().map(|q| q.name.clone()).collect();
    let signal = Arc::new(Notify::new());
    shared.loops.spawn(listen(shared.clone(), names, signal.clone(), stop.clone()));
    let mut backoff = Backoff::default();
    loop {
        let pass = passes::over_queues(&shared, |name| {
            let queue = shared.queue.clone();
            async move { queue.promote_due(&name).await.map(|p| p.next_due_ms) }
        });
        let next_due = match pass.await {
            Ok(next_due) => next_due,
            Err(e) => {
                if !backoff.wait(&stop, &e).await {
                    return;
                }
                continue;
            }
        };
        backoff.reset();
        let until_due = |due: i64| (due - now_ms()).clamp(0, LONGEST_SLEEP.as_millis() as i64);
        let sleep =
            next_due.map_or(LONGEST_SLEEP, |due| Duration::from_millis(until_due(due) as u64));
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = signal.notified() => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Blocks on the timer lists and wakes the promoter when something was scheduled.
async fn listen(
    shared: Arc<Shared>,
    names: Vec<QueueName>,
    signal: Arc<Notify>,
    stop: CancellationToken,
) {
    let mut conn: Option<BlockingConnection> = None;
    let mut backoff = Backoff::default();
    loop {
        let current = match &mut conn {
            Some(c) => c,
            None => match shared.queue.blocking_connection().await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    if !backoff.wait(&stop, &e).await {
                        return;
                    }
                    continue;
                }
            },
        };
        tokio::select! {
            woke = shared.queue.wait_for_schedule(current, &names, LONGEST_SLEEP) => match woke {
                Ok(true) => signal.notify_one(),
                Ok(false) => {}
                Err(e) => {
                    conn = None;
                    if !backoff.wait(&stop, &e).await {
                        return;
                    }
                }
            },
            () = stop.cancelled() => return,
        }
    }
}
