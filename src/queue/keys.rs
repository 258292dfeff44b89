//! Redis key names: the only place that formats them.
//!
//! Everything a queue owns sits under one Redis Cluster hash tag, `{<queue>}`, so every
//! script's keys hash to one slot and the same scripts run on a cluster. See the layout
//! table in `queue/mod.rs`.

use crate::task::{QueueName, TaskId};

/// Formats key names under a deployment's prefix (`TTP_KEY_PREFIX`).
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned() }
    }

    fn queue_key(&self, queue: &QueueName, suffix: &str) -> String {
        format!("{}:{{{}}}:{}", self.prefix, queue, suffix)
    }

    /// Hash of one task: [`Keys::task_prefix`] of its queue, then its id.
    pub fn task(&self, id: &TaskId) -> String {
        let mut key = self.task_prefix(id.queue());
        key.push_str(id.as_str());
        key
    }

    /// What every task hash of `queue` starts with: `claim.lua` forms the hashes of the
    /// tasks it pops from it (their ids are only known once popped).
    pub fn task_prefix(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "task:")
    }

    /// The `SCAN MATCH` pattern of every task hash of the deployment.
    pub fn task_pattern(&self) -> String {
        format!("{}:{{*}}:task:*", self.prefix)
    }

    /// The id of the task whose hash is `key`; `None` for any other key.
    pub fn task_of(&self, key: &str) -> Option<TaskId> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix(":{")?;
        let (queue, id) = rest.split_once("}:task:")?;
        TaskId::parse(id).filter(|id| id.queue().as_str() == queue)
    }

    /// Ready tasks, by priority then sequence.
    pub fn pending(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "pending")
    }

    /// Tasks waiting for their time, by due time.
    pub fn scheduled(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "scheduled")
    }

    /// Claimed tasks, by lease deadline.
    pub fn leased(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "leased")
    }

    /// Start time of each running attempt: task id → ms.
    pub fn started(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "started")
    }

    /// Failed tasks (the dead-letter list), by failure time.
    pub fn dead(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "dead")
    }

    /// The dead-letter entries of one kind (the same as in [`Keys::dead`]), so a listing
    /// filtered by kind reads only what it returns.
    pub fn dead_of_kind(&self, queue: &QueueName, kind: &str) -> String {
        self.queue_key(queue, &format!("dead:{kind}"))
    }

    /// FIFO sequence counter.
    pub fn seq(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "seq")
    }

    /// Counters of the queue's flow: `in` (tasks stored: submitted or replayed) and `out`
    /// (tasks finished: succeeded, failed for good, cancelled). The dashboard's rates are
    /// their deltas, so they cover every process of the deployment.
    pub fn flow(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "flow")
    }

    /// Wake-up list idle workers block on.
    pub fn wake(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "wake")
    }

    /// Wake-up list of the promoters: a task was scheduled.
    pub fn timer(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "timer")
    }

    /// The record of one claim (its token, start and tasks), kept for its lease so that
    /// the same claim sent again answers the same tasks.
    pub fn claim(&self, queue: &QueueName, claim_id: &str) -> String {
        self.queue_key(queue, &format!("claim:{claim_id}"))
    }

    /// Sharded pub/sub channel announcing the queue's finished tasks (space-separated
    /// ids), for long-poll: in the queue's slot, so `SPUBLISH` runs inside its scripts.
    pub fn finished(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "finished")
    }

    /// Present while the queue is paused.
    pub fn paused(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "paused")
    }

    /// Idempotency key of a submission: `<task id>\n<request fingerprint>`.
    pub fn idempotency(&self, queue: &QueueName, key: &str) -> String {
        self.queue_key(queue, &format!("idem:{key}"))
    }

    /// A schedule's record (spec, template, next tick, counters); it lives in the slot of
    /// the queue its tasks go to, so firing touches one slot.
    pub fn schedule(&self, queue: &QueueName, name: &str) -> String {
        self.queue_key(queue, &format!("schedule:{name}"))
    }

    /// A schedule's recent runs as earlier versions kept them (`<tick> <task id> <fired>`,
    /// newest first, at most 40): read after the ring in its hash, deleted with it.
    pub fn schedule_runs(&self, queue: &QueueName, name: &str) -> String {
        self.queue_key(queue, &format!("schedule:{name}:runs"))
    }

    /// The active schedules of a queue, by next tick: what the schedulers fire.
    pub fn schedules_due(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "schedules:due")
    }

    /// Wake-up list of the schedulers: a schedule of the queue was created or changed.
    pub fn schedules_wake(&self, queue: &QueueName) -> String {
        self.queue_key(queue, "schedules:wake")
    }

    /// The version of the layout the deployment's data is stored in (absent: the first).
    pub fn layout(&self) -> String {
        self.global("layout")
    }

    /// A key of the whole deployment: all of them share the hash tag `{:global}` (no
    /// queue name contains `:`, so it can be no queue's), one fixed Redis Cluster slot.
    fn global(&self, suffix: &str) -> String {
        format!("{}:{{:global}}:{suffix}", self.prefix)
    }

    /// Key written by the readiness probe.
    pub fn probe(&self) -> String {
        self.global("probe")
    }

    /// Set of every queue name that has received a task.
    pub fn queues(&self) -> String {
        self.global("queues")
    }

    /// External kinds: kind → its declaration (JSON: queue, description, payload schema).
    pub fn kinds(&self) -> String {
        self.global("kinds")
    }

    /// Every schedule's name → its queue: how a name is found, and which queues the
    /// schedulers look at.
    pub fn schedule_index(&self) -> String {
        self.global("schedules")
    }

    /// A counter moved by every change of [`Keys::schedule_index`].
    pub fn schedule_index_version(&self) -> String {
        self.global("schedules:version")
    }

    /// A counter moved by every change of [`Keys::kinds`], so processes notice changes
    /// with one cheap read.
    pub fn kinds_version(&self) -> String {
        self.global("kinds:version")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_keys_share_one_hash_tag() {
        let keys = Keys::new("ttp");
        let queue = QueueName::parse("emails").unwrap();
        let id = TaskId::generate(&queue);
        let schedule = [
            keys.schedule(&queue, "s"),
            keys.schedule_runs(&queue, "s"),
            keys.schedules_due(&queue),
        ];
        for key in [keys.task(&id), keys.pending(&queue), keys.leased(&queue), keys.dead(&queue)]
            .into_iter()
            .chain(schedule)
        {
            assert!(key.starts_with("ttp:{emails}:"), "{key}");
        }
    }
}
