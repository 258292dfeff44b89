//! Redis connections: a few shared, multiplexed, self-reconnecting connections for
//! ordinary calls, each call under a deadline, and dedicated connections for blocking
//! waits.
//!
//! Why not a checkout pool (deadpool-redis, which SPEC §1 names): a checkout pool gives
//! each request a connection of its own and PINGs it on every checkout, so every call
//! costs two round trips and concurrent requests never share a write. A multiplexed
//! connection (redis-rs' `ConnectionManager`) pipelines the commands of all the tasks
//! that use it, reconnects by itself after a Redis restart, and needs no checkout.
//! `TTP_REDIS_POOL_SIZE` is the number of such connections, used round-robin.
//!
//! Every call goes through [`Redis::call`], which bounds it by `TTP_REDIS_TIMEOUT_MS` and
//! counts failures in `ttp_redis_errors_total`, so no request can hang on a dead or
//! stalled Redis.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, IntoConnectionInfo, RedisResult};

use super::QueueError;
use crate::config::RedisSettings;

/// A connection reserved for `BLPOP`, without a response timeout of its own (the caller
/// bounds the wait).
pub type BlockingConnection = MultiplexedConnection;

/// A client for `settings`: the URL, with the configured user and password in place of
/// the URL's, and for `rediss://` the configured CA (instead of the public roots) and
/// client certificate.
pub(super) fn client(settings: &RedisSettings) -> Result<redis::Client, QueueError> {
    let mut info = settings.url.as_str().into_connection_info()?;
    let mut redis = info.redis_settings().clone();
    if let Some(user) = &settings.username {
        redis = redis.set_username(user);
    }
    if let Some(password) = &settings.password {
        redis = redis.set_password(password.expose());
    }
    info = info.set_redis_settings(redis);
    if !settings.url.starts_with("rediss://") {
        return Ok(redis::Client::open(info)?);
    }
    let tls = &settings.tls;
    let certificates = redis::TlsCertificates {
        client_tls: tls.client.as_ref().map(|(cert, key)| redis::ClientTlsConfig {
            client_cert: cert.clone(),
            client_key: key.clone(),
        }),
        root_cert: tls.ca.clone(),
    };
    Ok(redis::Client::build_with_tls(info, certificates)?)
}

/// The shared connections plus what is needed to open dedicated ones.
pub(super) struct Redis {
    shared: Vec<ConnectionManager>,
    next: AtomicUsize,
    client: redis::Client,
    deadline: Duration,
    errors: prometheus::IntCounter,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("connections", &self.shared.len())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Prepares the connections; they connect on first use, so ttp starts while Redis
    /// is still down.
    pub(super) fn new(
        settings: &RedisSettings,
        errors: prometheus::IntCounter,
    ) -> Result<Self, QueueError> {
        let deadline = settings.timeout;
        let client = client(settings)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(deadline))
            .set_response_timeout(Some(deadline))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(deadline / 2);
        let shared = (0..settings.pool_size)
            .map(|_| {
                ConnectionManager::new_lazy_with_config(client.clone(), manager_config.clone())
            })
            .collect::<RedisResult<Vec<_>>>()?;
        Ok(Self { shared, next: AtomicUsize::new(0), client, deadline, errors })
    }

    /// Runs `op` on one of the shared connections within the deadline.
    pub(super) async fn call<T, F, Fut>(&self, op: F) -> Result<T, QueueError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.call_until(self.deadline(), op).await
    }

    /// Runs a read-only `op` within the deadline: a read that got no answer changed
    /// nothing, so every failure is "unavailable", never "outcome unknown".
    pub(super) async fn read<T, F, Fut>(&self, op: F) -> Result<T, QueueError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.call(op).await.map_err(|e| match e {
            QueueError::Timeout(_) | QueueError::Lost(_) => QueueError::Unavailable(e.to_string()),
            other => other,
        })
    }

    /// Runs `op` on one of the shared connections, answering by `deadline` (a request's
    /// whole budget, which may be shorter than the usual deadline).
    pub(super) async fn call_until<T, F, Fut>(
        &self,
        deadline: tokio::time::Instant,
        op: F,
    ) -> Result<T, QueueError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.shared.len();
        self.call_on(index, deadline, op).await
    }

    /// Like [`Redis::call_until`] for a call that carries large values: all such calls
    /// share one connection, because a connection keeps the buffer its largest write
    /// needed, and spreading megabyte payloads over every pooled connection would leave
    /// each holding megabytes after a burst.
    pub(super) async fn call_large_until<T, F, Fut>(
        &self,
        deadline: tokio::time::Instant,
        op: F,
    ) -> Result<T, QueueError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.call_on(0, deadline, op).await
    }

    async fn call_on<T, F, Fut>(
        &self,
        index: usize,
        deadline: tokio::time::Instant,
        op: F,
    ) -> Result<T, QueueError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.shared[index].clone();
        let waited = deadline.saturating_duration_since(tokio::time::Instant::now());
        let result = match tokio::time::timeout_at(deadline, op(conn)).await {
            Ok(result) => result.map_err(QueueError::from),
            Err(_) => Err(QueueError::Timeout(waited.as_millis() as u64)),
        };
        if result.is_err() {
            self.errors.inc();
        }
        result
    }

    /// The deadline of a call sent now.
    pub(super) fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.deadline
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

    /// Opens a dedicated pub/sub connection.
    pub(super) async fn pubsub(&self) -> Result<redis::aio::PubSub, QueueError> {
        let opened = tokio::time::timeout(self.deadline, self.client.get_async_pubsub()).await;
        let result = match opened {
            Ok(result) => result.map_err(QueueError::from),
            Err(_) => Err(QueueError::Timeout(self.deadline.as_millis() as u64)),
        };
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
