//! Finished-task announcements: the settle and cancel scripts publish the ids of tasks
//! that became terminal on one channel; each API process holds one subscription and fans
//! the news out to its long-poll waiters, so thousands of waiters cost Redis nothing.

use futures_util::StreamExt;

use super::{Queue, QueueError};

/// A subscription to the finished-task channel.
pub struct FinishedTasks {
    stream: redis::aio::PubSubStream,
}

impl FinishedTasks {
    /// The next batch of finished task ids; `None` when the connection dropped.
    pub async fn next(&mut self) -> Option<Vec<String>> {
        let message = self.stream.next().await?;
        let text: String = message.get_payload().ok()?;
        Some(text.split(' ').map(str::to_owned).collect())
    }
}

impl Queue {
    /// Subscribes to the finished-task channel (a dedicated connection).
    pub async fn watch_finished(&self) -> Result<FinishedTasks, QueueError> {
        let mut pubsub = self.redis.pubsub().await?;
        pubsub.subscribe(self.keys.finished_channel()).await?;
        Ok(FinishedTasks { stream: pubsub.into_on_message() })
    }
}
