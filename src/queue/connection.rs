//! Redis connections: a few shared, multiplexed, self-reconnecting connections for
//! ordinary calls, each call under a deadline, and dedicated connections to one node for
//! what would stall a shared one (blocking waits, `WAIT`).
//!
//! Why not a checkout pool (deadpool-redis, which SPEC §1 names): a checkout pool gives
//! each request a connection of its own and PINGs it on every checkout, so every call
//! costs two round trips and concurrent requests never share a write. A multiplexed
//! connection (redis-rs' `ConnectionManager`, or on a cluster its `ClusterConnection`,
//! one multiplexed connection per node) pipelines the commands of all the tasks that use
//! it, reconnects by itself, and needs no checkout. `TTP_REDIS_POOL_SIZE` is the number
//! of such connections, used round-robin.
//!
//! Every call goes through [`Redis::call`], which bounds it by `TTP_REDIS_TIMEOUT_MS` and
//! counts failures in `ttp_redis_errors_total`, so no request can hang on a dead or
//! stalled Redis. The rest of the queue never asks which mode it runs in: calls take a
//! [`Conn`], and what must reach a slot's master directly asks [`Redis::node_of`].

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, RedisResult};
use tokio::sync::OnceCell;

use super::QueueError;
use super::clients::{self, Clients};
use super::conn::Conn;
use super::topology::{Node, SlotMap, Topology, key_slot};
use crate::config::{RedisMode, RedisSettings};

/// The shared connections of one mode.
enum Backend {
    /// One server: self-reconnecting multiplexed connections.
    Single(Vec<ConnectionManager>),
    /// A cluster: cluster connections, each made on first use.
    Cluster(Box<ClusterClient>, Vec<OnceCell<ClusterConnection>>),
}

/// The shared connections plus what is needed to open dedicated ones.
pub(super) struct Redis {
    backend: Backend,
    next: AtomicUsize,
    settings: RedisSettings,
    clients: Clients,
    topology: Topology,
    /// Idle dedicated connections for `WAIT`, per node.
    replicated: Mutex<Vec<(Node, MultiplexedConnection)>>,
    deadline: Duration,
    errors: prometheus::IntCounter,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (mode, connections) = match &self.backend {
            Backend::Single(shared) => ("standalone", shared.len()),
            Backend::Cluster(_, shared) => ("cluster", shared.len()),
        };
        f.debug_struct("Redis")
            .field("mode", &mode)
            .field("connections", &connections)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// Most idle `WAIT` connections kept per node.
const IDLE_REPLICATED: usize = 8;

impl Redis {
    /// Prepares the connections; they connect on first use, so ttp starts while Redis
    /// is still down.
    pub(super) fn new(
        settings: &RedisSettings,
        errors: prometheus::IntCounter,
    ) -> Result<Self, QueueError> {
        let deadline = settings.timeout;
        let clients = Clients::new(settings)?;
        let backend = match settings.mode {
            RedisMode::Standalone => Backend::Single(managers(&clients, settings)?),
            RedisMode::Cluster => {
                let cells = (0..settings.pool_size).map(|_| OnceCell::new()).collect();
                Backend::Cluster(Box::new(clients::cluster(settings, None)?), cells)
            }
        };
        Ok(Self {
            backend,
            next: AtomicUsize::new(0),
            settings: settings.clone(),
            clients,
            topology: Topology::default(),
            replicated: Mutex::new(Vec::new()),
            deadline,
            errors,
        })
    }

    /// Whether this is a cluster.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster(..))
    }

    /// A connection for sharded pub/sub: RESP3, its pushes (messages, and a
    /// `Disconnection` when a node's connection drops) sent to `pushes`.
    pub(super) async fn subscriber(
        &self,
        pushes: tokio::sync::mpsc::UnboundedSender<redis::PushInfo>,
    ) -> Result<Conn, QueueError> {
        let opened = async {
            if self.is_cluster() {
                let client = clients::cluster(&self.settings, Some(pushes))?;
                return Ok(Conn::Cluster(client.get_async_connection().await?));
            }
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(self.deadline))
                .set_response_timeout(Some(self.deadline))
                .set_push_sender(pushes);
            let client = self.clients.standalone_resp3()?;
            Ok(Conn::Node(client.get_multiplexed_async_connection_with_config(&config).await?))
        };
        let opened = tokio::time::timeout(self.deadline, opened).await;
        self.counted(
            opened.unwrap_or_else(|_| Err(QueueError::Timeout(self.deadline.as_millis() as u64))),
        )
    }

    /// Runs `op` on one of the shared connections within the deadline.
    pub(super) async fn call<T, F, Fut>(&self, op: F) -> Result<T, QueueError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.call_until(self.deadline(), op).await
    }

    /// Runs a read-only `op` within the deadline: a read that got no answer changed
    /// nothing, so every failure is "unavailable", never "outcome unknown".
    pub(super) async fn read<T, F, Fut>(&self, op: F) -> Result<T, QueueError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.call(op).await.map_err(unknown_is_unavailable)
    }

    /// Runs `op` on one of the shared connections, answering by `deadline` (a request's
    /// whole budget, which may be shorter than the usual deadline).
    pub(super) async fn call_until<T, F, Fut>(
        &self,
        deadline: tokio::time::Instant,
        op: F,
    ) -> Result<T, QueueError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
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
        F: FnOnce(Conn) -> Fut,
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
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let waited = deadline.saturating_duration_since(tokio::time::Instant::now());
        let call = async {
            let conn = self.shared(index).await?;
            op(conn).await
        };
        let result = match tokio::time::timeout_at(deadline, call).await {
            Ok(result) => result.map_err(QueueError::from),
            Err(_) => Err(QueueError::Timeout(waited.as_millis() as u64)),
        };
        self.counted(result)
    }

    /// Shared connection `index` (modulo the pool), connecting a cluster one on first
    /// use (a failed connect is tried again by the next call).
    async fn shared(&self, index: usize) -> RedisResult<Conn> {
        match &self.backend {
            Backend::Single(shared) => Ok(Conn::Single(shared[index % shared.len()].clone())),
            Backend::Cluster(client, cells) => {
                let cell = &cells[index % cells.len()];
                let connection = cell.get_or_try_init(|| client.get_async_connection()).await?;
                Ok(Conn::Cluster(connection.clone()))
            }
        }
    }

    /// The deadline of a call sent now.
    pub(super) fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.deadline
    }

    /// The per-call deadline (`TTP_REDIS_TIMEOUT_MS`).
    pub(super) fn timeout(&self) -> Duration {
        self.deadline
    }

    /// Counts a failure observed outside [`Redis::call`] (blocking waits).
    pub(super) fn count_error(&self) {
        self.errors.inc();
    }

    pub(super) fn counted<T>(&self, result: Result<T, QueueError>) -> Result<T, QueueError> {
        if result.is_err() {
            self.errors.inc();
        }
        result
    }

    /// The master serving `key`'s slot (the one server, standalone).
    pub(super) async fn node_of(&self, key: &str) -> Result<Node, QueueError> {
        if !self.is_cluster() {
            return Ok(Node::Single);
        }
        let slot = key_slot(key.as_bytes());
        let map = self.slot_map().await?;
        map.master_of(slot)
            .cloned()
            .ok_or_else(|| QueueError::Unavailable(format!("no master serves slot {slot}")))
    }

    /// Every master (the one server, standalone).
    pub(super) async fn masters(&self) -> Result<Vec<Node>, QueueError> {
        if !self.is_cluster() {
            return Ok(vec![Node::Single]);
        }
        Ok(self.slot_map().await?.masters())
    }

    /// Forgets the slot map after a call to a node found it wrong (a slot moved, a
    /// master failed over).
    pub(super) fn doubt_topology(&self) {
        self.topology.doubt();
    }

    /// The slot map, read again when stale (once, however many callers find it so).
    async fn slot_map(&self) -> Result<Arc<SlotMap>, QueueError> {
        if let Some(map) = self.topology.fresh() {
            return Ok(map);
        }
        let _reading = self.topology.reading().await;
        if let Some(map) = self.topology.fresh() {
            return Ok(map);
        }
        let reply: redis::Value = self
            .read(
                |mut c| async move { redis::cmd("CLUSTER").arg("SLOTS").query_async(&mut c).await },
            )
            .await?;
        Ok(self.topology.store(SlotMap::parse(&reply, &self.clients.seed_host())?))
    }

    /// Opens a dedicated connection to `node`, without a response timeout of its own
    /// (the caller bounds each wait).
    pub(super) async fn dedicated(&self, node: &Node) -> Result<MultiplexedConnection, QueueError> {
        let client = match node {
            Node::Single => self.clients.standalone()?,
            Node::At { host, port } => self.clients.node(host, *port)?,
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.deadline))
            .set_response_timeout(None);
        let opened = client.get_multiplexed_async_connection_with_config(&config).await;
        self.counted(opened.map_err(QueueError::from))
    }

    /// A dedicated connection to `node` for a write followed by `WAIT`: an idle one, or a
    /// new one (then `true`). Give it back with [`Redis::put_back`] when the call went well.
    pub(super) async fn take_replicated(
        &self,
        node: &Node,
    ) -> Result<(MultiplexedConnection, bool), QueueError> {
        let idle = self.replicated.lock().ok().and_then(|mut idle| {
            let at = idle.iter().position(|(n, _)| n == node)?;
            Some(idle.swap_remove(at).1)
        });
        match idle {
            Some(connection) => Ok((connection, false)),
            None => Ok((self.dedicated(node).await?, true)),
        }
    }

    /// Keeps a `WAIT` connection for the next call (a few per node).
    pub(super) fn put_back(&self, node: Node, connection: MultiplexedConnection) {
        if let Ok(mut idle) = self.replicated.lock()
            && idle.iter().filter(|(n, _)| *n == node).count() < IDLE_REPLICATED
        {
            idle.push((node, connection));
        }
    }

    /// A shared cluster connection, for calls routed by hand.
    pub(super) async fn cluster_connection(&self) -> Result<Option<ClusterConnection>, QueueError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        match self.shared(index).await.map_err(QueueError::from)? {
            Conn::Cluster(connection) => Ok(Some(connection)),
            _ => Ok(None),
        }
    }
}

/// The shared connections of a standalone deployment.
fn managers(
    clients: &Clients,
    settings: &RedisSettings,
) -> Result<Vec<ConnectionManager>, QueueError> {
    let deadline = settings.timeout;
    let client = clients.standalone()?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(deadline))
        .set_response_timeout(Some(deadline))
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(10))
        .set_max_delay(deadline / 2);
    Ok((0..settings.pool_size)
        .map(|_| ConnectionManager::new_lazy_with_config(client.clone(), config.clone()))
        .collect::<RedisResult<Vec<_>>>()?)
}

/// A read that got no answer changed nothing: "unavailable", never "outcome unknown".
pub(super) fn unknown_is_unavailable(error: QueueError) -> QueueError {
    match error {
        QueueError::Timeout(_) | QueueError::Lost(_) => QueueError::Unavailable(error.to_string()),
        other => other,
    }
}
