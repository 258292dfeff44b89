//! Long-poll waiters: `GET /tasks/{id}?wait_ms=N` parks on a per-task `Notify` that the
//! process's one subscriber connection wakes, so N waiters cost one connection, not N
//! polls. The subscriber holds a sharded subscription for each queue some waiter waits
//! on (see `queue::watch`), made when the first waiter of the queue arrives and dropped a
//! minute after the last one left.
//!
//! Pub/sub may lose a message while a subscription is being made or renewed, so waiters
//! re-read their task whenever their queue's subscription was (re)made and whenever the
//! connection reported a disconnection; a waiter that arrived before its queue's
//! subscription was confirmed therefore misses nothing.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::queue::{Finished, FinishedTasks, Queue};
use crate::task::{QueueName, TaskId};

/// How long a queue's subscription outlives its last waiter.
const LINGER: Duration = Duration::from_secs(60);
/// How often failed subscriptions are tried again.
const RETRY: Duration = Duration::from_secs(1);
/// Every so many retry ticks, every subscription is renewed (harmless when it holds): a
/// cluster client does not always restore sharded subscriptions after a failover.
const RENEW_EVERY_TICKS: u32 = 5;

/// Per task id: the `Notify` its waiters park on, how many there are, and its queue.
#[derive(Debug, Default)]
struct Registry {
    by_id: HashMap<String, (Arc<Notify>, usize, QueueName)>,
    by_queue: HashMap<QueueName, usize>,
}

/// Waiters of this process, by task id.
#[derive(Debug, Clone, Default)]
pub struct Waiters {
    registry: Arc<Mutex<Registry>>,
    /// Told when a queue gains its first waiter.
    changed: Arc<Notify>,
}

/// A registration; dropping it forgets the waiter.
pub struct Waiting {
    waiters: Waiters,
    id: String,
    /// Woken when the task finishes (or may have).
    pub notify: Arc<Notify>,
}

impl Waiters {
    /// Registers interest in `id` (before reading the task, so no news is missed).
    pub fn register(&self, id: &TaskId) -> Waiting {
        let key = id.as_str().to_owned();
        let notify = match self.registry.lock() {
            Ok(mut registry) => {
                let queue = id.queue().clone();
                let entry = registry
                    .by_id
                    .entry(key.clone())
                    .or_insert_with(|| (Arc::new(Notify::new()), 0, queue.clone()));
                entry.1 += 1;
                let notify = entry.0.clone();
                let count = registry.by_queue.entry(queue).or_insert(0);
                *count += 1;
                if *count == 1 {
                    self.changed.notify_one();
                }
                notify
            }
            Err(_) => Arc::new(Notify::new()),
        };
        Waiting { waiters: self.clone(), id: key, notify }
    }

    fn wake(&self, ids: &[String]) {
        if let Ok(registry) = self.registry.lock() {
            for id in ids {
                if let Some((notify, _, _)) = registry.by_id.get(id) {
                    notify.notify_waiters();
                }
            }
        }
    }

    /// Wakes the waiters of `queues` (their view is re-read).
    fn wake_queues(&self, queues: &HashSet<QueueName>) {
        if let Ok(registry) = self.registry.lock() {
            for (notify, _, queue) in registry.by_id.values() {
                if queues.contains(queue) {
                    notify.notify_waiters();
                }
            }
        }
    }

    /// Wakes everyone: news may have been missed.
    fn wake_all(&self) {
        if let Ok(registry) = self.registry.lock() {
            registry.by_id.values().for_each(|(notify, _, _)| notify.notify_waiters());
        }
    }

    /// The queues some waiter waits on.
    fn wanted(&self) -> HashSet<QueueName> {
        self.registry.lock().map(|r| r.by_queue.keys().cloned().collect()).unwrap_or_default()
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Ok(mut registry) = self.waiters.registry.lock() else { return };
        let Some(entry) = registry.by_id.get_mut(&self.id) else { return };
        entry.1 -= 1;
        let queue = entry.2.clone();
        if entry.1 == 0 {
            registry.by_id.remove(&self.id);
        }
        if let Some(count) = registry.by_queue.get_mut(&queue) {
            *count -= 1;
            if *count == 0 {
                registry.by_queue.remove(&queue);
            }
        }
    }
}

/// Listens for finished tasks until `stop`, opening the subscriber connection again
/// after it is lost.
pub async fn watch(queue: Arc<Queue>, waiters: Waiters, stop: CancellationToken) {
    let mut backoff = Backoff::new("finished-task subscription");
    loop {
        let opened = tokio::select! {
            s = queue.watch_finished() => s,
            () = stop.cancelled() => return,
        };
        let wait = match opened {
            Ok(finished) => {
                backoff.reset();
                Subscriptions::new(finished).listen(&waiters, &stop).await;
                // The connection is gone: news may have been missed meanwhile.
                waiters.wake_all();
                "the subscriber connection closed".to_owned()
            }
            Err(e) => e.to_string(),
        };
        if stop.is_cancelled() || !backoff.wait(&stop, &wait).await {
            return;
        }
    }
}

/// One subscriber connection and what it is subscribed to.
struct Subscriptions {
    finished: FinishedTasks,
    /// Subscribed queues, with when a waiter last wanted each.
    held: HashMap<QueueName, Instant>,
    /// Queues to (re)subscribe; `true` when their waiters must re-read afterwards.
    pending: HashMap<QueueName, bool>,
}

impl Subscriptions {
    fn new(finished: FinishedTasks) -> Self {
        Self { finished, held: HashMap::new(), pending: HashMap::new() }
    }

    /// Keeps the subscriptions in step with the waiters until the connection is gone or
    /// `stop`.
    async fn listen(mut self, waiters: &Waiters, stop: &CancellationToken) {
        let mut tick = tokio::time::interval(RETRY);
        let mut ticks = 0u32;
        loop {
            self.catch_up(waiters).await;
            tokio::select! {
                news = self.finished.next() => match news {
                    Some(Finished::Tasks(ids)) => waiters.wake(&ids),
                    Some(Finished::Disconnected) if self.finished.reconnects() => {
                        self.renew_all(true);
                        waiters.wake_all();
                    }
                    _ => return,
                },
                () = waiters.changed.notified() => {}
                _ = tick.tick() => {
                    ticks += 1;
                    if ticks.is_multiple_of(RENEW_EVERY_TICKS) {
                        self.renew_all(false);
                    }
                }
                () = stop.cancelled() => return,
            }
        }
    }

    fn renew_all(&mut self, reread: bool) {
        for queue in self.held.keys() {
            let wake = self.pending.entry(queue.clone()).or_insert(false);
            *wake |= reread;
        }
    }

    /// Subscribes the queues waiters newly wait on and those due for renewal (waking
    /// their waiters when asked), and drops the queues nobody waited on for a while.
    async fn catch_up(&mut self, waiters: &Waiters) {
        let now = Instant::now();
        for queue in waiters.wanted() {
            if self.held.insert(queue.clone(), now).is_none() {
                self.pending.insert(queue, true);
            }
        }
        let mut reread = HashSet::new();
        let pending: Vec<(QueueName, bool)> = self.pending.drain().collect();
        for (queue, wake) in pending {
            match self.finished.subscribe(&queue).await {
                Ok(()) if wake => drop(reread.insert(queue)),
                Ok(()) => {}
                Err(e) => {
                    tracing::debug!(queue = %queue, error = %e, "subscription not made; trying again");
                    self.pending.insert(queue, wake);
                }
            }
        }
        waiters.wake_queues(&reread);
        let idle: Vec<QueueName> = self
            .held
            .iter()
            .filter(|(_, at)| at.elapsed() > LINGER)
            .map(|(q, _)| q.clone())
            .collect();
        for queue in idle {
            self.held.remove(&queue);
            self.pending.remove(&queue);
            let _ = self.finished.unsubscribe(&queue).await;
        }
    }
}
