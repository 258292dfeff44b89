//! Replication safety (`TTP_REDIS_MIN_REPLICAS` ≥ 1): a submission is acknowledged only
//! after `WAIT` saw that many replicas hold it, so a master failing over right after the
//! 202 cannot take the task with it (a replica that confirmed it is the one promoted).
//!
//! `WAIT` counts the replicas that caught up with the *calling connection's* last write,
//! so the store and its `WAIT` must share a connection; and `WAIT` blocks that connection
//! until the replicas answer, so it must not be a shared one. Each call therefore takes a
//! dedicated connection to the master of the queue's slot, sends the store and `WAIT` in
//! one pipeline, and gives the connection back for the next call. A store whose reply was
//! lost, or that was redirected (the slot moved), is sent again while time is left: it is
//! idempotent by its task ids.

use redis::{ErrorKind, RedisError, ScriptInvocation, ServerErrorKind};
use tokio::time::Instant;

use super::topology::Node;
use super::{Queue, QueueError};

/// Between two sends of a store that was redirected or refused.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// What a replicated store answered: the script's replies and the replicas that
/// confirmed them.
pub(super) struct Replicated<T> {
    pub(super) replies: T,
    pub(super) acked: u64,
}

impl Queue {
    /// Runs `call` (its keys in the slot of `key`) and `WAIT` on one dedicated connection
    /// to the slot's master, answering by `deadline`.
    pub(super) async fn invoke_replicated<T: redis::FromRedisValue>(
        &self,
        key: &str,
        script: &redis::Script,
        call: &ScriptInvocation<'_>,
        deadline: Instant,
    ) -> Result<Replicated<T>, QueueError> {
        let waited = deadline.saturating_duration_since(Instant::now()).as_millis() as u64;
        loop {
            let node = self.redis.node_of(key).await?;
            let sent = self.store_and_wait(&node, script, call, deadline);
            let error = match tokio::time::timeout_at(deadline, sent).await {
                Ok(Ok(stored)) => return Ok(stored),
                Ok(Err(error)) => error,
                Err(_) => return self.redis.counted(Err(QueueError::Timeout(waited))),
            };
            self.redis.count_error();
            let retry = match error.kind() {
                // The slot moved, its master is gone (nothing was sent), or the script
                // cache was flushed under an open connection: ask again.
                ErrorKind::Server(
                    ServerErrorKind::Moved | ServerErrorKind::Ask | ServerErrorKind::NoScript,
                ) => true,
                _ if error.is_connection_refusal() => true,
                // Sent, but the connection broke: safe to send again, by the task ids.
                _ => matches!(QueueError::from(error.clone()), QueueError::Lost(_)),
            };
            if !retry || Instant::now() + PAUSE >= deadline {
                return Err(error.into());
            }
            self.redis.doubt_topology();
            tokio::time::sleep(PAUSE).await;
        }
    }

    /// The store and its `WAIT` in one pipeline. A new connection loads the script first:
    /// a `NOSCRIPT` inside the pipeline would come back only after the `WAIT`, too late
    /// to try again.
    async fn store_and_wait<T: redis::FromRedisValue>(
        &self,
        node: &Node,
        script: &redis::Script,
        call: &ScriptInvocation<'_>,
        deadline: Instant,
    ) -> Result<Replicated<T>, RedisError> {
        let (mut connection, fresh) = self.redis.take_replicated(node).await.map_err(as_redis)?;
        if fresh {
            script.prepare_invoke().load_async(&mut connection).await?;
        }
        // WAIT 0 would wait for ever; leave the reply a little time to come back.
        let left = deadline.saturating_duration_since(Instant::now()).as_millis() as u64;
        let wait_ms = left.saturating_sub(20).max(1);
        let mut pipe = redis::pipe();
        pipe.invoke_script(call).cmd("WAIT").arg(self.min_replicas).arg(wait_ms);
        let (replies, acked): (T, u64) = pipe.query_async(&mut connection).await?;
        self.redis.put_back(node.clone(), connection);
        Ok(Replicated { replies, acked })
    }
}

/// A failure to open the connection, as the error a call would have had.
fn as_redis(error: QueueError) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, error.to_string()))
}
