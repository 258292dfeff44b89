//! The start-up check that Redis is the kind `TTP_REDIS_MODE` says: a single-node client
//! pointed at a cluster node works for the keys that node serves and fails with `MOVED`
//! for the rest, and a cluster client pointed at a standalone server fails on every call;
//! both are refused at start-up with one line naming the setting instead.

use super::topology::Node;
use super::{Queue, QueueError};

/// What the first seed node said about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// It is the kind the settings say.
    Matches,
    /// It did not answer; the kind is checked by the calls themselves.
    Unreachable,
}

impl Queue {
    /// Asks the first node of `TTP_REDIS_URL` (`INFO cluster`) whether it is a cluster
    /// node; `Misconfigured` when that contradicts `TTP_REDIS_MODE`.
    pub async fn check_mode(&self) -> Result<Checked, QueueError> {
        let asked = async {
            let mut connection = self.redis.dedicated(&Node::Single).await?;
            let info: String =
                redis::cmd("INFO").arg("cluster").query_async(&mut connection).await?;
            Ok::<_, QueueError>(info)
        };
        let info = match tokio::time::timeout(self.redis.timeout(), asked).await {
            Ok(Ok(info)) => info,
            Ok(Err(QueueError::Unavailable(_) | QueueError::Lost(_))) | Err(_) => {
                return Ok(Checked::Unreachable);
            }
            Ok(Err(e)) => return Err(e),
        };
        let is_cluster = info.lines().any(|line| line.trim() == "cluster_enabled:1");
        match (self.redis.is_cluster(), is_cluster) {
            (true, false) => Err(QueueError::Misconfigured(
                "TTP_REDIS_MODE=cluster, but the first node of TTP_REDIS_URL is not a Redis Cluster node (cluster_enabled:0); set TTP_REDIS_MODE=standalone, or point TTP_REDIS_URL at the cluster's nodes".into(),
            )),
            (false, true) => Err(QueueError::Misconfigured(
                "TTP_REDIS_MODE=standalone, but TTP_REDIS_URL names a Redis Cluster node (cluster_enabled:1); set TTP_REDIS_MODE=cluster and list seed nodes in TTP_REDIS_URL, comma-separated".into(),
            )),
            _ => Ok(Checked::Matches),
        }
    }
}
