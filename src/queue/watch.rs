//! Finished-task announcements: the settle and cancel scripts `SPUBLISH` the ids of tasks
//! that became terminal on their queue's sharded channel, which lives in the queue's slot
//! (so the scripts may publish on a cluster, and a message crosses no cluster bus). Each
//! API process holds one subscriber connection (RESP3: messages arrive as pushes) with a
//! subscription per queue that some long-poll waits on, and fans the news out to its
//! waiters, so thousands of waiters cost Redis nothing.
//!
//! Pub/sub is at most once: a message published while a subscription is being renewed is
//! lost. The waiters therefore re-read their task whenever a subscription is (re)made and
//! when the connection reports a disconnection (on a cluster, a node failing over).

use std::time::Duration;

use redis::{PushKind, Value};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::conn::Conn;
use super::{Queue, QueueError};
use crate::task::QueueName;

/// A subscriber connection and the pushes it receives.
pub struct FinishedTasks {
    connection: Conn,
    pushes: UnboundedReceiver<redis::PushInfo>,
    keys: super::Keys,
    deadline: Duration,
}

/// What the subscription heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// These tasks became terminal.
    Tasks(Vec<String>),
    /// A node's connection dropped: messages may have been missed, and (on a cluster,
    /// where the client reconnects by itself) the subscriptions must be renewed.
    Disconnected,
}

impl Queue {
    /// Opens a subscriber connection (no subscriptions yet).
    pub async fn watch_finished(&self) -> Result<FinishedTasks, QueueError> {
        let (sender, pushes) = unbounded_channel();
        let connection = self.redis.subscriber(sender).await?;
        let (keys, deadline) = (self.keys.clone(), self.redis.timeout());
        Ok(FinishedTasks { connection, pushes, keys, deadline })
    }
}

impl FinishedTasks {
    /// Whether the connection reconnects by itself after a disconnection (a cluster's
    /// does; a standalone subscriber must be opened again).
    pub fn reconnects(&self) -> bool {
        matches!(self.connection, Conn::Cluster(_))
    }

    /// Subscribes to `queue`'s finished tasks (again: renewing is harmless), within the
    /// deadline.
    pub async fn subscribe(&mut self, queue: &QueueName) -> Result<(), QueueError> {
        self.send("SSUBSCRIBE", queue).await
    }

    /// Stops hearing of `queue`'s finished tasks.
    pub async fn unsubscribe(&mut self, queue: &QueueName) -> Result<(), QueueError> {
        self.send("SUNSUBSCRIBE", queue).await
    }

    async fn send(&mut self, command: &str, queue: &QueueName) -> Result<(), QueueError> {
        let channel = self.keys.finished(queue);
        let sent = async {
            match &mut self.connection {
                Conn::Cluster(c) if command == "SSUBSCRIBE" => c.ssubscribe(channel).await,
                Conn::Cluster(c) => c.sunsubscribe(channel).await,
                // The reply to a (un)subscription is a push, delivered to the pushes too.
                other => {
                    redis::cmd(command).arg(channel).query_async::<Value>(other).await.map(drop)
                }
            }
        };
        match tokio::time::timeout(self.deadline, sent).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(QueueError::Timeout(self.deadline.as_millis() as u64)),
        }
    }

    /// The next news; `None` when the connection is gone for good.
    pub async fn next(&mut self) -> Option<Finished> {
        loop {
            let push = self.pushes.recv().await?;
            match push.kind {
                PushKind::SMessage | PushKind::Message => {
                    let Some(Value::BulkString(bytes)) = push.data.get(1) else { continue };
                    let text = String::from_utf8_lossy(bytes);
                    return Some(Finished::Tasks(text.split(' ').map(str::to_owned).collect()));
                }
                PushKind::Disconnection => return Some(Finished::Disconnected),
                _ => {}
            }
        }
    }
}
