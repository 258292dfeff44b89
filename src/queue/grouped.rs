//! Reads over many queues in one round trip per node — queue stats, `/metrics` depths and
//! task records — and `INFO` of every master. A pipeline may hold keys of several slots when they all live on the
//! node it is sent to, so the reads are grouped by master and sent to it directly (the
//! cluster client would refuse a pipeline across slots). A slot that moved since the map
//! was read answers `MOVED` inside the pipeline; that node's items are then read again
//! per slot through the cluster client, which follows redirections.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Pipeline, Value};

use super::QueueError;
use super::connection::Redis;
use super::topology::{Node, key_slot};

impl Redis {
    /// Reads `keys.len()` items, each of `per_item` commands that `add(pipe, i)` appends
    /// for item `i` (all in the slot of `keys[i]`); the replies, flat, in item order.
    pub(super) async fn read_grouped<F>(
        &self,
        keys: &[String],
        per_item: usize,
        add: F,
    ) -> Result<Vec<Value>, QueueError>
    where
        F: Fn(&mut Pipeline, usize),
    {
        let mut groups: BTreeMap<Node, Vec<usize>> = BTreeMap::new();
        for (i, key) in keys.iter().enumerate() {
            groups.entry(self.node_of(key).await?).or_default().push(i);
        }
        let add = &add;
        let reads = groups.iter().map(|(node, items)| self.read_node(node, items, keys, add));
        let mut flat = vec![Value::Nil; keys.len() * per_item];
        for (items, replies) in groups.values().zip(join_all(reads).await) {
            let replies = replies?;
            if replies.len() != items.len() * per_item {
                return Err(QueueError::Corrupt("a grouped read answered short".into()));
            }
            for (item, chunk) in items.iter().zip(replies.chunks(per_item)) {
                flat[item * per_item..(item + 1) * per_item].clone_from_slice(chunk);
            }
        }
        Ok(flat)
    }

    /// The items of one node in one pipeline sent to it; per slot through the cluster
    /// client when the node no longer serves one of them.
    async fn read_node<F>(
        &self,
        node: &Node,
        items: &[usize],
        keys: &[String],
        add: &F,
    ) -> Result<Vec<Value>, QueueError>
    where
        F: Fn(&mut Pipeline, usize),
    {
        let mut pipe = redis::pipe();
        items.iter().for_each(|&i| add(&mut pipe, i));
        let Node::At { host, port } = node else {
            let pipe = &pipe;
            return self.read(|mut c| async move { pipe.query_async(&mut c).await }).await;
        };
        let route = SingleNodeRoutingInfo::ByAddress { host: host.clone(), port: *port };
        let sent = async {
            let Some(mut connection) = self.cluster_connection().await? else {
                return Err(QueueError::Unavailable("not a cluster connection".into()));
            };
            let count = pipe.len();
            Ok(connection.route_pipeline(pipe.clone(), 0, count, route).await?)
        };
        let Ok(answered) = tokio::time::timeout_at(self.deadline(), sent).await else {
            self.count_error();
            return Err(QueueError::Unavailable(format!("{node} did not answer in time")));
        };
        match answered {
            Ok(replies) if !replies.iter().any(|v| matches!(v, Value::ServerError(_))) => {
                Ok(replies)
            }
            // MOVED inside the pipeline, or the node is gone: the map is stale.
            _ => {
                self.count_error();
                self.doubt_topology();
                self.read_per_slot(items, keys, add).await
            }
        }
    }

    /// The items, one pipeline per slot, each routed (and redirected) by the cluster client.
    async fn read_per_slot<F>(
        &self,
        items: &[usize],
        keys: &[String],
        add: &F,
    ) -> Result<Vec<Value>, QueueError>
    where
        F: Fn(&mut Pipeline, usize),
    {
        let mut by_slot: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
        for (at, &i) in items.iter().enumerate() {
            by_slot.entry(key_slot(keys[i].as_bytes())).or_default().push(at);
        }
        let mut replies: Vec<Vec<Value>> = vec![Vec::new(); items.len()];
        for positions in by_slot.values() {
            let mut pipe = redis::pipe();
            positions.iter().for_each(|&at| add(&mut pipe, items[at]));
            let pipe = &pipe;
            let answer: Vec<Value> =
                self.read(|mut c| async move { pipe.query_async(&mut c).await }).await?;
            let per_item = answer.len() / positions.len().max(1);
            for (&at, chunk) in positions.iter().zip(answer.chunks(per_item.max(1))) {
                replies[at] = chunk.to_vec();
            }
        }
        Ok(replies.into_iter().flatten().collect())
    }

    /// `INFO section` of every master (of the one server, standalone).
    pub(super) async fn info_of_masters(&self, section: &str) -> Result<Vec<String>, QueueError> {
        let mut info = redis::cmd("INFO");
        info.arg(section);
        let replies = self.on_masters(&info).await?;
        replies
            .into_iter()
            .map(|reply| {
                redis::from_redis_value::<String>(reply)
                    .map_err(|e| QueueError::Corrupt(format!("INFO answered {e}")))
            })
            .collect()
    }

    /// The replies of every master to a keyless read `cmd`, each sent to it directly.
    pub(super) async fn on_masters(&self, cmd: &redis::Cmd) -> Result<Vec<Value>, QueueError> {
        let masters = self.masters().await?;
        join_all(masters.iter().map(|node| self.on_node(node, cmd))).await.into_iter().collect()
    }

    /// The reply of `node` to `cmd`, sent to it directly.
    pub(super) async fn on_node(&self, node: &Node, cmd: &redis::Cmd) -> Result<Value, QueueError> {
        let Node::At { host, port } = node else {
            return self.read(|mut c| async move { cmd.query_async(&mut c).await }).await;
        };
        let route = SingleNodeRoutingInfo::ByAddress { host: host.clone(), port: *port };
        let asked = async {
            let Some(mut connection) = self.cluster_connection().await? else {
                return Err(QueueError::Unavailable("not a cluster connection".into()));
            };
            Ok(connection.route_command(cmd.clone(), RoutingInfo::SingleNode(route)).await?)
        };
        match tokio::time::timeout_at(self.deadline(), asked).await {
            Ok(reply) => self.counted(reply),
            Err(_) => {
                self.counted(Err(QueueError::Unavailable(format!("{node} did not answer in time"))))
            }
        }
    }
}
