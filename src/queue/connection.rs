//! Redis connections: the pool for ordinary calls, each under a deadline, and dedicated
//! connections for blocking waits.
//!
//! Every call goes through [`Redis::call`], which bounds the whole call (pool wait,
//! connect, command) by `TTP_REDIS_TIMEOUT_MS` and counts failures in
//! `ttp_redis_errors_total`, so no request can hang on a dead or stalled Redis.

use std::future::Future;
use std::time::Duration;

use deadpool_redis::{Connection, Pool, PoolConfig, Runtime, Timeouts};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult};

use super::QueueError;
use crate::config::Config;

/// A connection reserved for `BLPOP`, without a response timeout of its own (the caller
/// bounds the wait).
pub type BlockingConnection = MultiplexedConnection;

/// The pool plus what is needed to open dedicated connections.
pub(super) struct Redis {
    pool: Pool,
    client: redis::Client,
    deadline: Duration,
    errors: prometheus::IntCounter,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Redis {
    pub(super) fn new(config: &Config, errors: prometheus::IntCounter) -> Result<Self, QueueError> {
        let deadline = Duration::from_millis(config.redis_timeout_ms);
        let mut pool_config = deadpool_redis::Config::from_url(config.redis_url.clone());
        pool_config.pool = Some(PoolConfig {
            max_size: config.redis_pool_size,
            timeouts: Timeouts {
                wait: Some(deadline),
                create: Some(deadline),
                recycle: Some(deadline),
            },
            ..PoolConfig::default()
        });
        let pool = pool_config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| QueueError::Unavailable(format!("cannot build the Redis pool: {e}")))?;
        let client = redis::Client::open(config.redis_url.as_str())?;
        Ok(Self {
            pool,
            client,
            deadline,
            errors,
        })
    }

    /// Runs `op` on a pooled connection within the deadline.
    pub(super) async fn call<T, F, Fut>(&self, op: F) -> Result<T, QueueError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let work = async {
            let conn = self
                .pool
                .get()
                .await
                .map_err(|e| QueueError::Unavailable(e.to_string()))?;
            op(conn).await.map_err(QueueError::from)
        };
        let result = match tokio::time::timeout(self.deadline, work).await {
            Ok(result) => result,
            Err(_) => Err(QueueError::Timeout(self.deadline.as_millis() as u64)),
        };
        if result.is_err() {
            self.errors.inc();
        }
        result
    }

    /// Opens a dedicated connection for blocking commands.
    pub(super) async fn blocking_connection(&self) -> Result<BlockingConnection, QueueError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.deadline))
            .set_response_timeout(None);
        let result = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(QueueError::from);
        if result.is_err() {
            self.errors.inc();
        }
        result
    }

    /// Counts a failure observed outside [`Redis::call`] (blocking waits).
    pub(super) fn count_error(&self) {
        self.errors.inc();
    }
}
