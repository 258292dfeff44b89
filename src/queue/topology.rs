//! Where keys live. On a Redis Cluster a key belongs to one of 16,384 slots (the CRC16 of
//! its hash tag) and each slot to one master; every key of a queue shares the queue's
//! tag, so a queue is one slot. Calls that must reach that master directly — grouped
//! reads, blocking waits, `WAIT` — look it up here: the map comes from `CLUSTER SLOTS`
//! and is read again when it is older than [`MAX_AGE`] or a call found it wrong.
//! A standalone Redis is one node that owns every slot.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::Value;
use tokio::time::Instant;

use super::QueueError;

/// Slots of a Redis Cluster.
const SLOTS: u16 = 16384;
/// How long a slot map is trusted without a reason to doubt it.
const MAX_AGE: Duration = Duration::from_secs(5);

/// A Redis server a call can be sent to directly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Node {
    /// The one server of a standalone deployment.
    Single,
    /// A cluster master.
    At {
        /// Its host, as the cluster announces it.
        host: String,
        /// Its port.
        port: u16,
    },
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Single => f.write_str("redis"),
            Self::At { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// The slot of `key`: the CRC16 (XMODEM) of its hash tag — the text between the first
/// `{` and the next `}`, when not empty — or of the whole key.
pub(super) fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let len = rest.iter().position(|&b| b == b'}')?;
        (len > 0).then(|| &rest[..len])
    });
    let mut crc: u16 = 0;
    for &byte in tagged.unwrap_or(key) {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc % SLOTS
}

/// Slot ranges and their masters, sorted by first slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SlotMap {
    ranges: Vec<(u16, u16, Node)>,
}

impl SlotMap {
    /// Reads a `CLUSTER SLOTS` reply: `[[first, last, [host, port, id, …], replicas…]…]`.
    /// A master announced without a host is on `seed_host`.
    pub(super) fn parse(reply: &Value, seed_host: &str) -> Result<Self, QueueError> {
        let corrupt = || QueueError::Corrupt("CLUSTER SLOTS answered an unexpected shape".into());
        let Value::Array(entries) = reply else { return Err(corrupt()) };
        let mut ranges = Vec::with_capacity(entries.len());
        for entry in entries {
            let Value::Array(fields) = entry else { return Err(corrupt()) };
            let [first, last, Value::Array(master), ..] = fields.as_slice() else {
                return Err(corrupt());
            };
            let slot = |v: &Value| redis::from_redis_value_ref::<u16>(v).map_err(|_| corrupt());
            let [host, port, ..] = master.as_slice() else { return Err(corrupt()) };
            let host: String = redis::from_redis_value_ref(host).map_err(|_| corrupt())?;
            let port: u16 = redis::from_redis_value_ref(port).map_err(|_| corrupt())?;
            let host = if host.is_empty() || host == "?" { seed_host.to_owned() } else { host };
            ranges.push((slot(first)?, slot(last)?, Node::At { host, port }));
        }
        ranges.sort_by_key(|(first, _, _)| *first);
        Ok(Self { ranges })
    }

    /// The master serving `slot`, if the map covers it.
    pub(super) fn master_of(&self, slot: u16) -> Option<&Node> {
        let at = self.ranges.partition_point(|(first, _, _)| *first <= slot);
        let (_, last, node) = self.ranges.get(at.checked_sub(1)?)?;
        (slot <= *last).then_some(node)
    }

    /// Every master, once each.
    pub(super) fn masters(&self) -> Vec<Node> {
        let mut nodes: Vec<Node> = self.ranges.iter().map(|(_, _, n)| n.clone()).collect();
        nodes.sort();
        nodes.dedup();
        nodes
    }
}

/// The slot map as last read, and when.
#[derive(Debug, Default)]
pub(super) struct Topology {
    current: Mutex<Option<(Instant, Arc<SlotMap>)>>,
    reading: tokio::sync::Mutex<()>,
}

impl Topology {
    /// The map, when it is fresh enough to trust.
    pub(super) fn fresh(&self) -> Option<Arc<SlotMap>> {
        let current = self.current.lock().ok()?;
        let (read_at, map) = current.as_ref()?;
        (read_at.elapsed() < MAX_AGE).then(|| map.clone())
    }

    /// Forgets the map: a call found a slot elsewhere, or a node gone.
    pub(super) fn doubt(&self) {
        if let Ok(mut current) = self.current.lock() {
            *current = None;
        }
    }

    /// Keeps `map`, read just now.
    pub(super) fn store(&self, map: SlotMap) -> Arc<SlotMap> {
        let map = Arc::new(map);
        if let Ok(mut current) = self.current.lock() {
            *current = Some((Instant::now(), map.clone()));
        }
        map
    }

    /// Serializes re-reads: the callers that find the map stale at once read it once.
    pub(super) async fn reading(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.reading.lock().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster_keyslot() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.0.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"a{}b"), key_slot(b"a{}b"));
        assert_eq!(key_slot(b"{}{q}"), key_slot(b"{}{q}"));
        assert_eq!(key_slot(b"ttp:{q}:pending"), key_slot(b"q"));
        assert_eq!(key_slot(b"123456789"), 0x31C3 % SLOTS);
    }

    #[test]
    fn slot_map_finds_the_master_of_each_slot() {
        let node = |port: i64| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ])
        };
        let range = |a: i64, b: i64, port: i64| {
            Value::Array(vec![Value::Int(a), Value::Int(b), node(port), node(port + 3)])
        };
        let reply =
            Value::Array(vec![range(5461, 10922, 2), range(0, 5460, 1), range(10923, 16383, 3)]);
        let map = SlotMap::parse(&reply, "h").unwrap();
        let at = |port| Node::At { host: "127.0.0.1".into(), port };
        assert_eq!(map.master_of(0), Some(&at(1)));
        assert_eq!(map.master_of(5461), Some(&at(2)));
        assert_eq!(map.master_of(16383), Some(&at(3)));
        assert_eq!(map.masters().len(), 3);
    }
}
