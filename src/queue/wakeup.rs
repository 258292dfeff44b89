//! Blocking waits: idle workers and promoters sleep in `BLPOP` on wake-up lists that the
//! scripts fill, so new work is picked up at once without polling (asynq's 1 s sleep
//! costs ~190 ms of pick-up delay; a blocked client costs Redis nothing).

use std::time::Duration;

use redis::AsyncCommands;

use super::{BlockingConnection, Queue, QueueError};
use crate::task::QueueName;

impl Queue {
    /// Blocks until one of `queues` signals ready work, or `timeout`. True when woken.
    pub async fn wait_for_work(
        &self,
        conn: &mut BlockingConnection,
        queues: &[QueueName],
        timeout: Duration,
    ) -> Result<bool, QueueError> {
        let keys: Vec<String> = queues.iter().map(|q| self.keys.wake(q)).collect();
        self.block_on(conn, keys, timeout).await
    }

    /// Blocks until a task is scheduled in one of `queues`, or `timeout`. True when woken.
    pub async fn wait_for_schedule(
        &self,
        conn: &mut BlockingConnection,
        queues: &[QueueName],
        timeout: Duration,
    ) -> Result<bool, QueueError> {
        let keys: Vec<String> = queues.iter().map(|q| self.keys.timer(q)).collect();
        self.block_on(conn, keys, timeout).await
    }

    async fn block_on(
        &self,
        conn: &mut BlockingConnection,
        keys: Vec<String>,
        timeout: Duration,
    ) -> Result<bool, QueueError> {
        let seconds = timeout.as_secs_f64().max(0.01);
        // The server-side timeout ends the wait; the client-side one only catches a
        // connection that died without a reset.
        let guard = timeout + Duration::from_secs(2);
        let reply =
            tokio::time::timeout(guard, conn.blpop::<_, Option<(String, String)>>(keys, seconds))
                .await;
        match reply {
            Ok(Ok(popped)) => Ok(popped.is_some()),
            Ok(Err(e)) => {
                self.redis.count_error();
                Err(e.into())
            }
            Err(_) => {
                self.redis.count_error();
                Err(QueueError::Timeout(guard.as_millis() as u64))
            }
        }
    }
}
