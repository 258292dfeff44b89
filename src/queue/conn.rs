//! One connection type for every call, whatever the deployment: the rest of the queue
//! writes `cmd.query_async(&mut conn)` or `script.invoke_async(&mut conn)` once, and the
//! call goes over a standalone server's self-reconnecting multiplexed connection, or
//! through the cluster client (which routes by the first key and follows `MOVED`/`ASK`,
//! reconnects and re-reads the topology by itself), or straight to one node.

use redis::aio::{ConnectionLike, ConnectionManager, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// A connection a call runs on.
#[derive(Clone)]
pub(super) enum Conn {
    /// A shared connection to the one server.
    Single(ConnectionManager),
    /// A shared connection to a cluster (one multiplexed connection per node inside).
    Cluster(ClusterConnection),
    /// A dedicated connection to one node.
    Node(MultiplexedConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
            Self::Node(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Node(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
            Self::Node(c) => c.get_db(),
        }
    }
}
