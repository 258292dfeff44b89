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

use super::passes;
use super::shared::Shared;
use crate::backoff::Backoff;
use crate::queue::WaitFor;
use crate::task::now_ms;

const LONGEST_SLEEP: Duration = Duration::from_secs(5);

/// Promotes until `stop`.
pub async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let signal = Arc::new(Notify::new());
    shared.loops.spawn(listen(shared.clone(), signal.clone(), stop.clone()));
    let mut backoff = Backoff::new("promote");
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
async fn listen(shared: Arc<Shared>, signal: Arc<Notify>, stop: CancellationToken) {
    let mut waiter = shared.queue.waiter(WaitFor::Schedule);
    let mut backoff = Backoff::new("schedule listener");
    loop {
        // The set may change (external kinds come and go); re-read it each wait.
        let names = (shared.maintained)();
        if names.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(LONGEST_SLEEP) => continue,
                () = stop.cancelled() => return,
            }
        }
        tokio::select! {
            woke = waiter.wait(&names, LONGEST_SLEEP) => match woke {
                Ok(true) => {
                    backoff.reset();
                    signal.notify_one();
                }
                Ok(false) => backoff.reset(),
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
