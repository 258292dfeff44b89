//! Long-poll claims wait for work through one listener per queue and process: a task
//! that blocks on the queue's wake-up list (its own connection) and wakes every claim
//! waiting on that queue here. A thousand waiting claims cost one blocked connection per
//! queue, not one each. A listener ends a few seconds after its last claim stopped
//! waiting; at most [`MAX_LISTENERS`] run at once, and claims on other queues then look
//! again every quarter second instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::queue::{Queue, WaitFor};
use crate::task::QueueName;

/// Most queues with a listener at once.
const MAX_LISTENERS: usize = 64;
/// How long a listener outlives its last waiting claim.
const LINGER: Duration = Duration::from_secs(5);
/// How often a claim without a listener looks again.
const POLL: Duration = Duration::from_millis(250);

/// One queue's listener and the claims waiting on it.
#[derive(Debug, Default)]
struct Listener {
    notify: Arc<Notify>,
    waiting: AtomicUsize,
}

/// The listeners of one process.
#[derive(Debug, Clone)]
pub struct ClaimWaiters {
    queue: Arc<Queue>,
    stop: CancellationToken,
    listeners: Arc<Mutex<HashMap<QueueName, Arc<Listener>>>>,
}

/// A claim's interest in a queue's next wake-up, taken before it looks (so a wake-up
/// between the look and the wait is not missed).
pub struct Ticket {
    listener: Option<Arc<Listener>>,
    notified: Option<std::pin::Pin<Box<OwnedNotified>>>,
}

impl ClaimWaiters {
    /// Listeners for `queue`'s wake-ups, ending at `stop`.
    pub fn new(queue: Arc<Queue>, stop: CancellationToken) -> Self {
        Self { queue, stop, listeners: Arc::default() }
    }

    /// Registers a claim's interest in `queue`'s next wake-up.
    pub fn ticket(&self, queue: &QueueName) -> Ticket {
        let Some(listener) = self.listener(queue) else {
            return Ticket { listener: None, notified: None };
        };
        listener.waiting.fetch_add(1, Ordering::SeqCst);
        let mut notified = Box::pin(listener.notify.clone().notified_owned());
        notified.as_mut().enable();
        Ticket { listener: Some(listener), notified: Some(notified) }
    }

    fn listener(&self, queue: &QueueName) -> Option<Arc<Listener>> {
        let mut listeners = self.listeners.lock().ok()?;
        if let Some(listener) = listeners.get(queue) {
            return Some(listener.clone());
        }
        if listeners.len() >= MAX_LISTENERS {
            return None;
        }
        let listener = Arc::new(Listener::default());
        listeners.insert(queue.clone(), listener.clone());
        tokio::spawn(listen(self.clone(), queue.clone(), listener.clone()));
        Some(listener)
    }
}

impl Ticket {
    /// Waits for the queue's next wake-up, or `deadline`.
    pub async fn wait(mut self, deadline: Instant) {
        match self.notified.take() {
            Some(notified) => {
                tokio::select! {
                    () = notified => {}
                    () = tokio::time::sleep_until(deadline) => {}
                }
            }
            None => tokio::time::sleep_until(deadline.min(Instant::now() + POLL)).await,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(listener) = &self.listener {
            listener.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Blocks on `queue`'s wake-ups and wakes its waiting claims, until it has been unused
/// for [`LINGER`] or the process stops.
async fn listen(waiters: ClaimWaiters, queue: QueueName, listener: Arc<Listener>) {
    let mut waiter = waiters.queue.waiter(WaitFor::Work);
    let mut backoff = Backoff::new("claim listener");
    let mut idle_since = Instant::now();
    let names = [queue.clone()];
    loop {
        if listener.waiting.load(Ordering::SeqCst) > 0 {
            idle_since = Instant::now();
        } else if idle_since.elapsed() >= LINGER {
            break;
        }
        tokio::select! {
            woke = waiter.wait(&names, Duration::from_secs(1)) => match woke {
                Ok(true) => {
                    backoff.reset();
                    listener.notify.notify_waiters();
                }
                Ok(false) => backoff.reset(),
                Err(e) => {
                    if !backoff.wait(&waiters.stop, &e).await {
                        break;
                    }
                }
            },
            () = waiters.stop.cancelled() => break,
        }
    }
    if let Ok(mut listeners) = waiters.listeners.lock() {
        listeners.remove(&queue);
    }
    listener.notify.notify_waiters();
}
