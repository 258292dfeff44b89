//! Task ids: a ULID (time-ordered, unique without coordination) followed by the queue
//! name, e.g. `01JDX3Q9ZK8M4V2T6B7C5N1H0E.default`.
//!
//! Carrying the queue in the id is what lets `GET /tasks/{id}` find the task's hash in
//! one lookup: every key of a queue lives under the queue's Redis Cluster hash tag, so
//! the queue is the routing hint. Both parts use URL-safe characters only.

use std::fmt;

use super::QueueName;

/// A task's id. Clients treat it as opaque.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    text: String,
    queue: QueueName,
}

const ULID_LEN: usize = 26;

impl TaskId {
    /// A fresh id for a task in `queue`.
    pub fn generate(queue: &QueueName) -> Self {
        Self { text: format!("{}.{}", ulid::Ulid::new(), queue), queue: queue.clone() }
    }

    /// The id of the task a schedule submits for its tick `tick_ms`: a ULID whose time is
    /// the tick and whose random part is drawn from the schedule's name, so every process
    /// that fires the tick computes the same id, and storing it twice stores it once.
    pub fn for_tick(queue: &QueueName, schedule: &str, tick_ms: i64) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, schedule.as_bytes());
        let mut random = [0u8; 16];
        random[6..].copy_from_slice(&digest.as_ref()[..10]);
        let ulid = ulid::Ulid::from_parts(tick_ms.max(0) as u64, u128::from_be_bytes(random));
        Self { text: format!("{ulid}.{queue}"), queue: queue.clone() }
    }

    /// The time part of the id (for a schedule's task, its tick), ms since the epoch.
    pub fn time_ms(&self) -> Option<i64> {
        let (ulid, _) = self.text.split_at_checked(ULID_LEN)?;
        ulid::Ulid::from_string(ulid).ok().map(|u| u.timestamp_ms() as i64)
    }

    /// Parses an id received from a client; `None` when it is not one of ours.
    pub fn parse(text: &str) -> Option<Self> {
        let (ulid, queue) = text.split_at_checked(ULID_LEN)?;
        let queue = queue.strip_prefix('.')?;
        ulid::Ulid::from_string(ulid).ok()?;
        let queue = QueueName::parse(queue).ok()?;
        Some(Self { text: text.to_owned(), queue })
    }

    /// The queue the task belongs to.
    pub fn queue(&self) -> &QueueName {
        &self.queue
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_carry_their_queue() {
        let queue = QueueName::parse("critical").unwrap();
        let id = TaskId::generate(&queue);
        let parsed = TaskId::parse(id.as_str()).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(parsed.queue(), &queue);
    }

    #[test]
    fn tick_ids_are_the_same_everywhere_and_differ_per_tick_and_schedule() {
        let queue = QueueName::parse("reports").unwrap();
        let id = TaskId::for_tick(&queue, "hourly", 1_767_225_600_000);
        assert_eq!(id, TaskId::for_tick(&queue, "hourly", 1_767_225_600_000));
        assert_eq!(TaskId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.time_ms(), Some(1_767_225_600_000));
        assert_ne!(id, TaskId::for_tick(&queue, "hourly", 1_767_225_600_200));
        assert_ne!(id, TaskId::for_tick(&queue, "daily", 1_767_225_600_000));
    }

    #[test]
    fn foreign_ids_are_rejected() {
        for bad in [
            "",
            "abc",
            "01JDX3Q9ZK8M4V2T6B7C5N1H0E",
            "01JDX3Q9ZK8M4V2T6B7C5N1H0E.",
            "not-a-ulid-at-all-not-a-ul.default",
        ] {
            assert!(TaskId::parse(bad).is_none(), "{bad}");
        }
    }
}
