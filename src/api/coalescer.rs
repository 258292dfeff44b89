//! Coalescing of concurrent single submissions: while one enqueue script call is in
//! flight, submissions that arrive wait in a channel and go out together in the next
//! call. At low load a submission goes out alone and at once; under load the script calls
//! (and Redis' per-call cost) are shared by many requests — the same effect as
//! `POST /tasks/batch`, without asking clients to batch. It sits above the queue (which
//! stays a plain Redis façade) and is built by `App::build`.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::task::TaskTracker;

use crate::queue::{Enqueued, Queue, QueueError};
use crate::task::{NewTask, QueueName};

/// Script calls in flight at once; while all are busy, submissions accumulate.
const IN_FLIGHT: usize = 4;
/// Most submissions in one script call.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<Enqueued, QueueError>>;

/// The submission channel; its task runs on the app's tracker and ends (after the
/// calls in flight) when the last handle is dropped, at shutdown.
#[derive(Debug, Clone)]
pub struct Coalescer {
    sender: mpsc::UnboundedSender<(NewTask, Reply)>,
}

impl Coalescer {
    /// Starts the coalescing task for `queue` on `tracker`.
    pub fn start(queue: Arc<Queue>, tracker: &TaskTracker) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tracker.spawn(run(queue, receiver, tracker.clone()));
        Self { sender }
    }

    /// Stores `task` in the next script call of its queue.
    pub async fn submit(&self, task: NewTask) -> Result<Enqueued, QueueError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || QueueError::Unavailable("the submission task stopped".into());
        self.sender.send((task, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(
    queue: Arc<Queue>,
    mut receiver: mpsc::UnboundedReceiver<(NewTask, Reply)>,
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

async fn store(queue: &Queue, batch: Vec<(NewTask, Reply)>) {
    let mut by_queue: HashMap<QueueName, (Vec<NewTask>, Vec<Reply>)> = HashMap::new();
    for (task, reply) in batch {
        let entry = by_queue.entry(task.queue.clone()).or_default();
        entry.0.push(task);
        entry.1.push(reply);
    }
    for (name, (tasks, replies)) in by_queue {
        match queue.enqueue_in_queue(&name, tasks).await {
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
}
