//! Upgrading data stored by the previous layout (layout 1: one hash field per task value,
//! a schedule's template field by field) to this one (layout 2: the packed body, short
//! field names; see `fields.rs` and `body.rs`), once per deployment.
//!
//! Every process runs it at start-up until the deployment's layout key says 2: it scans
//! every master for task hashes, converts those still in the old layout with a script that
//! checks first (so two processes upgrading at once, or a call whose reply was lost, do no
//! harm), then converts the schedules' templates. Until it has finished, the calls that
//! read task hashes (claims, the reaper, schedule firing, task reads) answer
//! `Unavailable` and readiness stays 503, so nothing reads a hash it cannot decode.
//! Old and new processes must not run together (README: stop old processes first).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use super::body::Body;
use super::topology::Node;
use super::{Queue, QueueError};
use crate::task::{Payload, Priority, QueueName};

/// The layout this version writes.
const LAYOUT: u64 = 2;

/// Keys asked of `SCAN` per call.
const SCAN_COUNT: usize = 500;

/// A task's values in the old layout, in `HMGET` order.
const OLD_TASK: [&str; 7] = ["kind", "payload", "prio", "max", "timeout", "ttl", "created"];

/// A schedule template's values in the old layout, in `HMGET` order.
const OLD_TEMPLATE: [&str; 6] = ["t_kind", "t_payload", "t_prio", "t_max", "t_timeout", "t_ttl"];

/// What an upgrade converted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Upgraded {
    /// Task hashes converted.
    pub tasks: u64,
    /// Schedule records converted.
    pub schedules: u64,
}

impl Queue {
    /// Whether the stored data is known to be in this version's layout.
    pub fn layout_ready(&self) -> bool {
        self.upgraded.load(Ordering::Acquire)
    }

    /// `Unavailable` until the stored data is in this version's layout (readiness asks
    /// it too).
    pub fn require_layout(&self) -> Result<(), QueueError> {
        if self.layout_ready() {
            Ok(())
        } else {
            Err(QueueError::Unavailable(
                "upgrading the stored tasks to this version's layout (see the log)".into(),
            ))
        }
    }

    /// Whether the deployment's data is in this version's layout (then the calls that
    /// read task hashes are allowed from now on).
    pub async fn check_layout(&self) -> Result<bool, QueueError> {
        let key = self.keys.layout();
        let layout: Option<u64> = self
            .redis
            .read(|mut c| async move { redis::cmd("GET").arg(key).query_async(&mut c).await })
            .await?;
        let current = layout.unwrap_or(1) >= LAYOUT;
        if current {
            self.upgraded.store(true, Ordering::Release);
        }
        Ok(current)
    }

    /// Converts whatever the previous layout stored, then records the layout; nothing
    /// when the deployment was upgraded already. Safe to run from every process at once.
    pub async fn upgrade_layout(&self) -> Result<Upgraded, QueueError> {
        let mut done = Upgraded::default();
        if !self.check_layout().await? {
            for node in self.redis.masters().await? {
                done.tasks += self.upgrade_tasks_on(&node).await?;
            }
            done.schedules = self.upgrade_schedules().await?;
            let key = self.keys.layout();
            self.redis
                .call(|mut c| async move {
                    redis::cmd("SET").arg(key).arg(LAYOUT).query_async::<()>(&mut c).await
                })
                .await?;
        }
        self.upgraded.store(true, Ordering::Release);
        Ok(done)
    }

    /// Every task hash of one master, `SCAN_COUNT` at a time.
    async fn upgrade_tasks_on(&self, node: &Node) -> Result<u64, QueueError> {
        let (mut cursor, mut converted) = (0u64, 0);
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(self.keys.task_pattern())
                .arg("COUNT")
                .arg(SCAN_COUNT);
            let (next, keys): (u64, Vec<String>) =
                redis::from_redis_value(self.redis.on_node(node, &scan).await?)
                    .map_err(|e| QueueError::Corrupt(format!("SCAN answered {e}")))?;
            converted += self.upgrade_tasks(keys).await?;
            if next == 0 {
                return Ok(converted);
            }
            cursor = next;
        }
    }

    /// Converts the old-layout hashes among `keys`, one script call per queue.
    async fn upgrade_tasks(&self, keys: Vec<String>) -> Result<u64, QueueError> {
        let keys: Vec<String> =
            keys.into_iter().filter(|k| self.keys.task_of(k).is_some()).collect();
        if keys.is_empty() {
            return Ok(0);
        }
        let rows = self
            .redis
            .read_grouped(&keys, 1, |pipe, i| {
                pipe.cmd("HMGET").arg(&keys[i]).arg(&OLD_TASK);
            })
            .await?;
        let mut by_queue: BTreeMap<QueueName, (Vec<&String>, Vec<String>)> = BTreeMap::new();
        for (key, row) in keys.iter().zip(rows) {
            let Ok(values) = redis::from_redis_value::<Vec<Option<String>>>(row) else { continue };
            let Some(body) = old_body(&values) else { continue };
            let Some(id) = self.keys.task_of(key) else { continue };
            let entry = by_queue.entry(id.queue().clone()).or_default();
            entry.0.push(key);
            entry.1.push(body.text());
        }
        let mut converted = 0;
        for (hashes, bodies) in by_queue.values() {
            let mut call = self.scripts.upgrade_tasks.prepare_invoke();
            for (hash, body) in hashes.iter().zip(bodies) {
                call.key(hash.as_str()).arg(body.as_str());
            }
            let n: u64 =
                self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
            converted += n;
        }
        Ok(converted)
    }

    /// Converts the templates of the schedules in the deployment's index.
    async fn upgrade_schedules(&self) -> Result<u64, QueueError> {
        let (_, schedules) = self.schedule_index().await?;
        let mut converted = 0;
        for (name, queue) in schedules {
            let record = self.keys.schedule(&queue, &name);
            let key = record.clone();
            let old: Vec<Option<String>> = self
                .redis
                .read(|mut c| async move {
                    redis::cmd("HMGET").arg(key).arg(&OLD_TEMPLATE).query_async(&mut c).await
                })
                .await?;
            let Some((head, tail)) = old_body(&old).map(|b| b.template()) else { continue };
            let mut call = self.scripts.upgrade_schedule.prepare_invoke();
            call.key(record).arg(head).arg(tail);
            let n: u64 =
                self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
            converted += n;
        }
        Ok(converted)
    }
}

/// A task's body from its old-layout values (in [`OLD_TASK`] order; a template's have no
/// creation time); `None` when they are not an old-layout task's (converted already) or
/// are unreadable (left as they are for an operator to see).
fn old_body(values: &[Option<String>]) -> Option<Body> {
    let text = |i: usize| values.get(i).cloned().flatten();
    let number = |i: usize| text(i).and_then(|v| v.parse::<i64>().ok());
    let payload = text(1).unwrap_or_else(|| "null".into());
    Payload::from_stored(payload.clone())?;
    Some(Body {
        kind: text(0).filter(|k| !k.is_empty() && !k.contains(' '))?,
        payload,
        priority: Priority::new(number(2)?).ok()?,
        max_attempts: u32::try_from(number(3)?).ok()?,
        timeout_ms: u64::try_from(number(4)?).ok()?,
        result_ttl_s: u64::try_from(number(5)?).ok()?,
        created_at_ms: number(6).unwrap_or(0),
    })
}
