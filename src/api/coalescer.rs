//! Coalescing of concurrent single submissions: while one enqueue script call is in
//! flight, submissions that arrive wait in a channel and go out together in the next
//! call. At low load a submission goes out alone and at once; under load the script calls
//! (and Redis' per-call cost) are shared by many requests — the same effect as
//! `POST /tasks/batch`, without asking clients to batch. It sits above the queue (which
//! stays a plain Redis façade) and is built by `App::build`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::SeqCst;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use crate::queue::{Enqueued, Queue, QueueError};
use crate::task::{NewTask, QueueName};

/// Script calls in flight at once; while all are busy, submissions accumulate.
const IN_FLIGHT: usize = 2;
/// Most submissions in one script call.
const MAX_BATCH: usize = 512;

/// Where a waiting submission is: still waiting in the channel, sent to Redis, or given
/// up by its request at the deadline. Whoever moves it out of `WAITING` first decides:
/// a submission given up before it was sent was not stored (503); one sent may have been.
const WAITING: u8 = 0;
const SENT: u8 = 1;
const ABANDONED: u8 = 2;

type Reply = oneshot::Sender<Result<Enqueued, QueueError>>;

/// One submission on its way.
struct Pending {
    task: NewTask,
    reply: Reply,
    progress: Arc<AtomicU8>,
    deadline: Instant,
}

/// The submission channel; its task runs on the app's tracker and ends (after the
/// calls in flight) when the last handle is dropped, at shutdown.
#[derive(Debug, Clone)]
pub struct Coalescer {
    sender: mpsc::UnboundedSender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("id", &self.task.id).finish_non_exhaustive()
    }
}

impl Coalescer {
    /// Starts the coalescing task for `queue` on `tracker`.
    pub fn start(queue: Arc<Queue>, tracker: &TaskTracker) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tracker.spawn(run(queue, receiver, tracker.clone()));
        Self { sender }
    }

    /// Stores `task` in the next script call of its queue, answering by `deadline`:
    /// `Unavailable` when it was not sent by then (not stored), a timeout when it was
    /// sent but not confirmed (outcome unknown).
    pub async fn submit(&self, task: NewTask, deadline: Instant) -> Result<Enqueued, QueueError> {
        let (reply, answer) = oneshot::channel();
        let progress = Arc::new(AtomicU8::new(WAITING));
        let stopped = || QueueError::Unavailable("the submission task stopped".into());
        let pending = Pending { task, reply, progress: progress.clone(), deadline };
        let waited = deadline.saturating_duration_since(Instant::now());
        self.sender.send(pending).map_err(|_| stopped())?;
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(answer) => answer.map_err(|_| stopped())?,
            Err(_) => match progress.compare_exchange(WAITING, ABANDONED, SeqCst, SeqCst) {
                Ok(_) => Err(QueueError::Unavailable("not sent before the deadline".into())),
                Err(_) => Err(QueueError::Timeout(waited.as_millis() as u64)),
            },
        }
    }
}

async fn run(
    queue: Arc<Queue>,
    mut receiver: mpsc::UnboundedReceiver<Pending>,
    tracker: TaskTracker,
) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = receiver.recv().await {
        let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let queue = queue.clone();
        tracker.spawn(async move {
            store(&queue, batch).await;
            drop(permit);
        });
    }
}

/// Sends the submissions their requests still wait for, one call per queue, all queues
/// at once.
async fn store(queue: &Queue, batch: Vec<Pending>) {
    let mut by_queue: HashMap<QueueName, Vec<Pending>> = HashMap::new();
    for pending in batch {
        if pending.progress.compare_exchange(WAITING, SENT, SeqCst, SeqCst).is_ok() {
            by_queue.entry(pending.task.queue.clone()).or_default().push(pending);
        }
    }
    let calls = by_queue.into_iter().map(|(name, items)| store_queue(queue, name, items));
    futures_util::future::join_all(calls).await;
}

async fn store_queue(queue: &Queue, name: QueueName, items: Vec<Pending>) {
    let deadline = items.iter().map(|p| p.deadline).max().unwrap_or_else(Instant::now);
    let (tasks, replies): (Vec<NewTask>, Vec<Reply>) =
        items.into_iter().map(|p| (p.task, p.reply)).unzip();
    match queue.enqueue_in_queue(&name, tasks, deadline).await {
        Ok(results) => {
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
