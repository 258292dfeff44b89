//! Blocking waits: idle workers and promoters sleep in `BLPOP` on wake-up lists that the
//! scripts fill, so new work is picked up at once without polling (asynq's 1 s sleep
//! costs ~190 ms of pick-up delay; a blocked client costs Redis nothing).
//!
//! A [`Waiter`] owns its dedicated connection (a blocked connection must not be a shared
//! one, which it would stall for everyone) and reconnects it after an error, so the loops
//! that wait only decide how long to back off.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;

use super::{BlockingConnection, Queue, QueueError};
use crate::task::QueueName;

/// What a waiter blocks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// Ready work in a queue (its wake-up list).
    Work,
    /// A newly scheduled task (its timer list), for the promoters.
    Schedule,
    /// A schedule created or changed (its queue's schedule wake list), for the schedulers.
    Schedules,
}

/// A blocking waiter with its own connection.
pub struct Waiter {
    queue: Arc<Queue>,
    what: WaitFor,
    connection: Option<BlockingConnection>,
}

impl Queue {
    /// A waiter for `what`; it connects on first use.
    pub fn waiter(self: &Arc<Self>, what: WaitFor) -> Waiter {
        Waiter { queue: self.clone(), what, connection: None }
    }
}

impl Waiter {
    /// Blocks until one of `queues` signals, or `timeout`. True when woken. After an
    /// error the connection is dropped and the next call opens a new one.
    pub async fn wait(
        &mut self,
        queues: &[QueueName],
        timeout: Duration,
    ) -> Result<bool, QueueError> {
        let keys = self.queue.keys();
        let keys: Vec<String> = queues
            .iter()
            .map(|q| match self.what {
                WaitFor::Work => keys.wake(q),
                WaitFor::Schedule => keys.timer(q),
                WaitFor::Schedules => keys.schedules_wake(q),
            })
            .collect();
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => self.connection.insert(self.queue.redis.blocking_connection().await?),
        };
        let result = block_on(connection, keys, timeout).await;
        if result.is_err() {
            self.queue.redis.count_error();
            self.connection = None;
        }
        result
    }
}

async fn block_on(
    connection: &mut BlockingConnection,
    keys: Vec<String>,
    timeout: Duration,
) -> Result<bool, QueueError> {
    let seconds = timeout.as_secs_f64().max(0.01);
    // The server-side timeout ends the wait; the client-side one only catches a
    // connection that died without a reset.
    let guard = timeout + Duration::from_secs(2);
    let popped = connection.blpop::<_, Option<(String, String)>>(keys, seconds);
    match tokio::time::timeout(guard, popped).await {
        Ok(Ok(popped)) => Ok(popped.is_some()),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(QueueError::Timeout(guard.as_millis() as u64)),
    }
}
