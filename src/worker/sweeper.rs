//! Forgets queues nobody uses: a queue that stayed empty (nothing waiting, running or
//! dead, not paused) with no submission for an hour leaves the deployment's set of queues,
//! so names invented once do not count against `TTP_MAX_QUEUES`, `/metrics` and
//! `GET /queues` forever. Any worker process may sweep; doing it twice is harmless.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::shared::Shared;
use crate::backoff::Backoff;
use crate::queue::{Queue, QueueError};
use crate::task::QueueName;

/// How long a queue must stay empty and unused before it is forgotten.
pub const IDLE_BEFORE_FORGOTTEN: Duration = Duration::from_secs(3600);
/// Time between sweeps.
const EVERY: Duration = Duration::from_secs(300);

/// What a sweeper saw of each queue: its sequence counter (moved by every submission)
/// when it was first seen empty, and since when.
#[derive(Debug, Default)]
pub struct IdleQueues {
    empty_since: HashMap<QueueName, (u64, Instant)>,
}

impl IdleQueues {
    /// Records what a sweep saw of `queue` at `now`; true when it has been empty and
    /// unused for [`IDLE_BEFORE_FORGOTTEN`] (its counter did not move since).
    pub fn observe(&mut self, queue: &QueueName, empty: bool, seq: u64, now: Instant) -> bool {
        if !empty {
            self.empty_since.remove(queue);
            return false;
        }
        let (seen_seq, since) = *self.empty_since.entry(queue.clone()).or_insert((seq, now));
        if seen_seq != seq {
            self.empty_since.insert(queue.clone(), (seq, now));
            return false;
        }
        now.duration_since(since) >= IDLE_BEFORE_FORGOTTEN
    }
}

/// Sweeps until `stop`.
pub async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let mut idle = IdleQueues::default();
    let mut backoff = Backoff::new("sweep queues");
    loop {
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = stop.cancelled() => return,
        }
        match sweep(&shared.queue, &mut idle).await {
            Ok(forgotten) if forgotten > 0 => {
                backoff.reset();
                tracing::info!(forgotten, "forgot queues that stayed empty and unused");
            }
            Ok(_) => backoff.reset(),
            Err(e) => {
                if !backoff.wait(&stop, &e).await {
                    return;
                }
            }
        }
    }
}

/// One sweep over every registered queue; how many it forgot.
pub async fn sweep(queue: &Queue, idle: &mut IdleQueues) -> Result<usize, QueueError> {
    let mut forgotten = 0;
    for name in queue.known_queues().await? {
        let (stats, seq) = queue.activity(&name).await?;
        let empty = stats == Default::default();
        if idle.observe(&name, empty, seq, Instant::now())
            && queue.forget_if_idle(&name, seq).await?
        {
            forgotten += 1;
        }
    }
    Ok(forgotten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_is_forgotten_only_after_an_idle_hour_without_submissions() {
        let queue = QueueName::parse("q").unwrap();
        let mut idle = IdleQueues::default();
        let t0 = Instant::now();
        let hour = IDLE_BEFORE_FORGOTTEN;
        assert!(!idle.observe(&queue, true, 7, t0));
        assert!(!idle.observe(&queue, true, 7, t0 + hour / 2));
        assert!(idle.observe(&queue, true, 7, t0 + hour));
        // A submission in between (the counter moved) starts the hour again.
        let mut idle = IdleQueues::default();
        assert!(!idle.observe(&queue, true, 7, t0));
        assert!(!idle.observe(&queue, true, 8, t0 + hour));
        assert!(idle.observe(&queue, true, 8, t0 + 2 * hour));
        // So does work in it.
        assert!(!idle.observe(&queue, false, 8, t0 + 3 * hour));
        assert!(!idle.observe(&queue, true, 8, t0 + 3 * hour));
    }
}
