//! Takes one snapshot: the queue names (one `SMEMBERS`), then every queue's counts and
//! flow counters in one pipeline, so a snapshot costs two round trips and six commands
//! per queue however many people watch. Rates are the flow counters' deltas since the
//! previous snapshot; latency comes from this process's histogram.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use tokio::time::Instant;

use super::latency::{LatencyWindow, WINDOW};
use super::snapshot::{ProcessRow, QueueRow, Snapshot};
use crate::kinds::Catalog;
use crate::metrics::Metrics;
use crate::queue::{Flow, Queue, QueueError, QueueStats};
use crate::task::QueueName;

/// What a snapshot reads.
#[derive(Clone)]
pub struct Source {
    /// The task store.
    pub queue: Arc<Queue>,
    /// Kinds (external kinds' queues are listed before they get a task).
    pub catalog: Arc<Catalog>,
    /// Queues this process serves (listed even while empty).
    pub served: Vec<QueueName>,
    /// This process's metrics.
    pub metrics: Metrics,
    /// `TTP_CONCURRENCY` when this process runs workers, else 0.
    pub concurrency: usize,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("served", &self.served).finish_non_exhaustive()
    }
}

impl Source {
    /// Every queue: served here, of external kinds, or registered in Redis; sorted.
    async fn queue_names(&self) -> Result<Vec<QueueName>, QueueError> {
        let mut names = self.served.clone();
        names.extend(self.catalog.external_queues());
        names.extend(self.queue.known_queues().await?);
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn read(&self) -> Result<Vec<(QueueName, QueueStats, Flow)>, QueueError> {
        let names = self.queue_names().await?;
        let rows = self.queue.overview(&names).await?;
        Ok(names.into_iter().zip(rows).map(|(name, (stats, flow))| (name, stats, flow)).collect())
    }
}

/// What one sampler remembers between snapshots.
#[derive(Debug)]
pub struct Sampler {
    seq: u64,
    previous: Option<(Instant, HashMap<String, Flow>)>,
    latency: LatencyWindow,
    last_rows: Vec<QueueRow>,
}

impl Sampler {
    /// A sampler with no history (its first snapshot has no rates).
    pub fn new() -> Self {
        Self {
            seq: 0,
            previous: None,
            latency: LatencyWindow::new(crate::metrics::latency_buckets()),
            last_rows: Vec::new(),
        }
    }

    /// The next snapshot. When Redis cannot be read it carries the error and the last
    /// rows read, without rates.
    pub async fn sample(&mut self, source: &Source) -> Snapshot {
        let now = Instant::now();
        let read = source.read().await;
        let p99 = self.latency.p99_ms(&source.metrics, now);
        self.seq += 1;
        let redis_error = match read {
            Ok(rows) => {
                self.last_rows = self.rows(now, rows, &p99);
                None
            }
            Err(e) => {
                self.previous = None;
                self.last_rows.iter_mut().for_each(|r| (r.in_per_s, r.out_per_s) = (None, None));
                Some(e.to_string())
            }
        };
        Snapshot {
            seq: self.seq,
            at: Some(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
            redis_error,
            process: ProcessRow {
                workers_busy: source.metrics.workers_busy.get(),
                concurrency: source.concurrency,
                latency_window_s: WINDOW.as_secs(),
            },
            queues: self.last_rows.clone(),
        }
    }

    fn rows(
        &mut self,
        now: Instant,
        read: Vec<(QueueName, QueueStats, Flow)>,
        p99: &HashMap<String, f64>,
    ) -> Vec<QueueRow> {
        let previous = self.previous.take();
        let rate = |name: &str, pick: fn(&Flow) -> u64, current: u64| {
            let (at, flows) = previous.as_ref()?;
            let seconds = now.duration_since(*at).as_secs_f64();
            let before = flows.get(name).map_or(0, pick);
            // A counter that went back (Redis lost its data) has no rate this time.
            let delta = current.checked_sub(before)?;
            (seconds > 0.0).then(|| round(delta as f64 / seconds))
        };
        let rows = read
            .iter()
            .map(|(name, stats, flow)| QueueRow {
                name: name.to_string(),
                queued: stats.queued,
                scheduled: stats.scheduled,
                running: stats.running,
                dead: stats.failed,
                paused: stats.paused,
                tasks_in: flow.tasks_in,
                tasks_out: flow.tasks_out,
                in_per_s: rate(name.as_str(), |f| f.tasks_in, flow.tasks_in),
                out_per_s: rate(name.as_str(), |f| f.tasks_out, flow.tasks_out),
                p99_ms: p99.get(name.as_str()).copied().map(round),
            })
            .collect();
        let flows = read.into_iter().map(|(name, _, flow)| (name.to_string(), flow)).collect();
        self.previous = Some((now, flows));
        rows
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

/// Two decimals are all a dashboard shows; fewer digits on the wire.
fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
