//! What the dashboard shows each second: one [`Snapshot`] of every queue, computed once
//! per process and shared by every viewer, and the [`SnapshotView`] one viewer receives:
//! the same numbers, limited to the queues its key may read (SPEC §13).

use serde::Serialize;

use crate::access::Principal;

/// One queue in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QueueRow {
    /// Queue name.
    pub name: String,
    /// Ready, waiting for a worker (the whole deployment, from Redis).
    pub queued: u64,
    /// Waiting for a delay or a retry backoff.
    pub scheduled: u64,
    /// Claimed under a lease.
    pub running: u64,
    /// In the dead-letter list.
    pub dead: u64,
    /// Claiming stopped.
    pub paused: bool,
    /// Tasks stored in this queue so far (submitted or replayed), by every process.
    pub tasks_in: u64,
    /// Tasks finished so far (succeeded, failed for good, cancelled), by every process.
    pub tasks_out: u64,
    /// Tasks stored per second since the previous snapshot (the whole deployment);
    /// `null` in the first snapshot.
    pub in_per_s: Option<f64>,
    /// Tasks finished per second since the previous snapshot (the whole deployment);
    /// `null` in the first snapshot.
    pub out_per_s: Option<f64>,
    /// 99th percentile of the submitted → finished time, in milliseconds, of the tasks
    /// **this process** finished in the last minute; `null` when it finished none.
    pub p99_ms: Option<f64>,
}

/// What this process (not the deployment) is doing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProcessRow {
    /// Tasks this process's workers are running now (`ttp_workers_busy`).
    pub workers_busy: i64,
    /// How many tasks this process runs at once (`TTP_CONCURRENCY`; 0 without workers).
    pub concurrency: usize,
    /// The window of `p99_ms`, in seconds.
    pub latency_window_s: u64,
}

/// One shared snapshot (every queue).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Counts from 1 while a sampler runs; 0 for "none taken yet".
    pub seq: u64,
    /// When it was taken (RFC 3339, UTC, ms).
    pub at: Option<String>,
    /// Why Redis could not be read, when it could not (the queues are then those of the
    /// last snapshot that could).
    pub redis_error: Option<String>,
    /// This process.
    pub process: ProcessRow,
    /// Every queue, by name.
    pub queues: Vec<QueueRow>,
}

/// The key a viewer uses, as the page needs to know it (which buttons to offer).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Viewer {
    /// The key's id; `null` when the API is open (no keys configured).
    pub key_id: Option<String>,
    /// The scopes it holds (`submit`, `read`, `work`, `admin`).
    pub scopes: Vec<String>,
}

impl Viewer {
    fn of(principal: &Principal) -> Self {
        Self {
            key_id: principal.key_id.as_deref().map(str::to_owned),
            scopes: principal.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        }
    }
}

/// One server-sent event of `GET /ui/events`: the snapshot as one viewer may see it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "seq": 42, "at": "2026-11-26T16:46:39.123Z", "interval_ms": 1000, "redis_error": null,
    "viewer": {"key_id": "ops", "scopes": ["read", "admin"]},
    "process": {"workers_busy": 3, "concurrency": 4, "latency_window_s": 60},
    "queues": [{"name": "default", "queued": 1200, "scheduled": 3, "running": 4, "dead": 1,
                "paused": false, "tasks_in": 90211, "tasks_out": 89003,
                "in_per_s": 512.0, "out_per_s": 498.5, "p99_ms": 41.7}]
}))]
pub struct SnapshotView {
    /// Counts from 1 while the process's sampler runs (it restarts when viewers return).
    pub seq: u64,
    /// When the snapshot was taken (RFC 3339, UTC, ms).
    pub at: Option<String>,
    /// How often snapshots come, in milliseconds.
    pub interval_ms: u64,
    /// Why Redis could not be read, when it could not; the queues are then the last ones
    /// read.
    pub redis_error: Option<String>,
    /// The key this stream was opened with.
    pub viewer: Viewer,
    /// This process.
    pub process: ProcessRow,
    /// The queues the key may read, by name.
    pub queues: Vec<QueueRow>,
}

impl Snapshot {
    /// The snapshot as `principal` may see it: only its queues.
    pub fn view_for(&self, principal: &Principal, interval_ms: u64) -> SnapshotView {
        let visible = |row: &&QueueRow| {
            crate::task::QueueName::parse(&row.name).is_ok_and(|q| principal.may_touch(&q))
        };
        SnapshotView {
            seq: self.seq,
            at: self.at.clone(),
            interval_ms,
            redis_error: self.redis_error.clone(),
            viewer: Viewer::of(principal),
            process: self.process.clone(),
            queues: self.queues.iter().filter(visible).cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::access::{QueueAccess, Scope};
    use crate::task::QueueName;

    fn row(name: &str) -> QueueRow {
        QueueRow {
            name: name.into(),
            queued: 1,
            scheduled: 0,
            running: 0,
            dead: 0,
            paused: false,
            tasks_in: 1,
            tasks_out: 0,
            in_per_s: None,
            out_per_s: None,
            p99_ms: None,
        }
    }

    #[test]
    fn a_viewer_sees_only_the_queues_its_key_may_read() {
        let snapshot = Snapshot { seq: 3, queues: vec![row("a"), row("b")], ..Snapshot::default() };
        let only_b = Principal {
            key_id: Some("ops".into()),
            scopes: BTreeSet::from([Scope::Read]),
            queues: QueueAccess::Only(BTreeSet::from([QueueName::parse("b").unwrap()])),
        };
        let view = snapshot.view_for(&only_b, 1000);
        assert_eq!(view.queues, vec![row("b")]);
        assert_eq!(view.viewer.key_id.as_deref(), Some("ops"));
        assert_eq!(view.viewer.scopes, ["read"]);
        assert_eq!(snapshot.view_for(&Principal::open(), 1000).queues.len(), 2);
    }
}
