//! Long-poll waiters: `GET /tasks/{id}?wait_ms=N` parks on a per-task `Notify` that the
//! process's single subscription to the finished-task channel wakes, so N waiters cost
//! one Redis subscription, not N polls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::queue::Queue;

/// Per task id: the `Notify` its waiters park on and how many there are.
type WaiterMap = HashMap<String, (Arc<Notify>, usize)>;

/// Waiters of this process, by task id.
#[derive(Debug, Clone, Default)]
pub struct Waiters {
    by_id: Arc<Mutex<WaiterMap>>,
}

/// A registration; dropping it forgets the waiter.
pub struct Waiting {
    waiters: Waiters,
    id: String,
    /// Woken when the task finishes.
    pub notify: Arc<Notify>,
}

impl Waiters {
    /// Registers interest in `id` (before reading the task, so no news is missed).
    pub fn register(&self, id: &str) -> Waiting {
        let notify = match self.by_id.lock() {
            Ok(mut map) => {
                let entry =
                    map.entry(id.to_owned()).or_insert_with(|| (Arc::new(Notify::new()), 0));
                entry.1 += 1;
                entry.0.clone()
            }
            Err(_) => Arc::new(Notify::new()),
        };
        Waiting { waiters: self.clone(), id: id.to_owned(), notify }
    }

    fn wake(&self, ids: &[String]) {
        if let Ok(map) = self.by_id.lock() {
            for id in ids {
                if let Some((notify, _)) = map.get(id) {
                    notify.notify_waiters();
                }
            }
        }
    }

    /// Wakes everyone (their view is re-read): used after losing the subscription, when
    /// news may have been missed.
    fn wake_all(&self) {
        if let Ok(map) = self.by_id.lock() {
            map.values().for_each(|(notify, _)| notify.notify_waiters());
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Ok(mut map) = self.waiters.by_id.lock()
            && let Some(entry) = map.get_mut(&self.id)
        {
            entry.1 -= 1;
            if entry.1 == 0 {
                map.remove(&self.id);
            }
        }
    }
}

/// Listens to the finished-task channel until `stop`, resubscribing after Redis errors.
pub async fn watch(queue: Arc<Queue>, waiters: Waiters, stop: CancellationToken) {
    let mut backoff = Backoff::new("finished-task subscription");
    loop {
        let subscribed = tokio::select! {
            s = queue.watch_finished() => s,
            () = stop.cancelled() => return,
        };
        match subscribed {
            Ok(mut finished) => {
                backoff.reset();
                waiters.wake_all();
                loop {
                    tokio::select! {
                        ids = finished.next() => match ids {
                            Some(ids) => waiters.wake(&ids),
                            None => break,
                        },
                        () = stop.cancelled() => return,
                    }
                }
                // The subscription dropped: news may have been missed meanwhile.
                waiters.wake_all();
                if !backoff.wait(&stop, &"the subscription connection closed").await {
                    return;
                }
            }
            Err(e) => {
                if !backoff.wait(&stop, &e).await {
                    return;
                }
            }
        }
    }
}
