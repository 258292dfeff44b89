//! The p99 end-to-end latency of each queue over the last minute, from this process's
//! `ttp_task_end_to_end_seconds` histogram.
//!
//! A histogram only grows, so "since start" would hide a slowdown behind hours of good
//! history. The window keeps a copy of the bucket counts every [`MARK_EVERY`] and
//! answers from the difference with the oldest copy under [`WINDOW`] old — at most
//! seven copies, whatever the traffic — interpolating inside the bucket as Prometheus'
//! `histogram_quantile` does. The numbers are this process's only (other processes keep
//! their own histograms), and the page says so.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::metrics::Metrics;

/// How far back the percentile looks.
pub const WINDOW: Duration = Duration::from_secs(60);

/// How often the bucket counts are copied.
const MARK_EVERY: Duration = Duration::from_secs(10);

/// Cumulative bucket counts of one queue's histogram (same bounds for every queue), and
/// its total count.
#[derive(Debug, Clone, Default, PartialEq)]
struct Counts {
    cumulative: Vec<u64>,
    total: u64,
}

/// The copies of the bucket counts, oldest first.
#[derive(Debug)]
pub struct LatencyWindow {
    bounds: Vec<f64>,
    marks: VecDeque<(Instant, HashMap<String, Counts>)>,
}

impl LatencyWindow {
    /// An empty window over `bounds` (the histogram's bucket upper bounds, in seconds).
    pub fn new(bounds: Vec<f64>) -> Self {
        Self { bounds, marks: VecDeque::new() }
    }

    /// The p99 in milliseconds per queue of the tasks that finished since the oldest
    /// copy; queues that finished none are absent.
    pub fn p99_ms(&mut self, metrics: &Metrics, now: Instant) -> HashMap<String, f64> {
        let current = read(metrics);
        let due = self.marks.back().is_none_or(|(at, _)| now.duration_since(*at) >= MARK_EVERY);
        if due {
            self.marks.push_back((now, current.clone()));
        }
        while self.marks.len() > 1
            && self.marks.get(1).is_some_and(|(at, _)| now.duration_since(*at) >= WINDOW)
        {
            self.marks.pop_front();
        }
        let Some((_, oldest)) = self.marks.front() else { return HashMap::new() };
        let mut out = HashMap::new();
        for (queue, counts) in &current {
            let before = oldest.get(queue).cloned().unwrap_or_default();
            if let Some(seconds) = quantile(0.99, &self.bounds, counts, &before) {
                out.insert(queue.clone(), seconds * 1000.0);
            }
        }
        out
    }
}

/// The current counts of every queue's end-to-end histogram.
fn read(metrics: &Metrics) -> HashMap<String, Counts> {
    use prometheus::core::Collector;
    let mut out = HashMap::new();
    for family in metrics.end_to_end_seconds.collect() {
        for metric in family.get_metric() {
            let queue = metric.get_label().iter().find(|l| l.name() == "queue");
            let Some(queue) = queue.map(|l| l.value().to_owned()) else { continue };
            let histogram = metric.get_histogram();
            let cumulative = histogram.get_bucket().iter().map(|b| b.cumulative_count()).collect();
            out.insert(queue, Counts { cumulative, total: histogram.get_sample_count() });
        }
    }
    out
}

/// The `q` quantile (in seconds) of the observations between `before` and `now`,
/// interpolated linearly inside its bucket; past the last bound, that bound. `None`
/// without observations.
fn quantile(q: f64, bounds: &[f64], now: &Counts, before: &Counts) -> Option<f64> {
    let total = now.total.checked_sub(before.total).filter(|n| *n > 0)?;
    let rank = q * total as f64;
    let mut below = 0u64;
    for (i, upper) in bounds.iter().enumerate() {
        let at = |c: &Counts| c.cumulative.get(i).copied().unwrap_or(0);
        let cumulative = at(now).saturating_sub(at(before));
        if cumulative as f64 >= rank && cumulative > below {
            let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
            let share = (rank - below as f64) / (cumulative - below) as f64;
            return Some(lower + (upper - lower) * share.clamp(0.0, 1.0));
        }
        below = cumulative;
    }
    bounds.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::latency_buckets;

    #[test]
    fn the_p99_lies_in_the_bucket_of_the_99th_percent_observation() {
        let metrics = Metrics::new().unwrap();
        let histogram = metrics.end_to_end_seconds.with_label_values(&["q"]);
        for _ in 0..990 {
            histogram.observe(0.010);
        }
        for _ in 0..10 {
            histogram.observe(2.0);
        }
        let mut window = LatencyWindow::new(latency_buckets());
        let start = Instant::now();
        // The first copy is the baseline: nothing finished since.
        assert!(window.p99_ms(&metrics, start).is_empty());
        for _ in 0..99 {
            histogram.observe(0.010);
        }
        histogram.observe(2.0);
        let p99 = window.p99_ms(&metrics, start + Duration::from_secs(1))["q"];
        assert!((8.0..=13.0).contains(&p99), "{p99}");
    }

    #[test]
    fn observations_older_than_the_window_drop_out() {
        let metrics = Metrics::new().unwrap();
        let histogram = metrics.end_to_end_seconds.with_label_values(&["q"]);
        let mut window = LatencyWindow::new(latency_buckets());
        let start = Instant::now();
        window.p99_ms(&metrics, start);
        histogram.observe(5.0);
        let slow = window.p99_ms(&metrics, start + Duration::from_secs(10))["q"];
        assert!(slow > 4000.0, "{slow}");
        let mut now = start;
        for _ in 0..8 {
            now += Duration::from_secs(10);
            window.p99_ms(&metrics, now);
        }
        histogram.observe(0.001);
        let fast = window.p99_ms(&metrics, now + Duration::from_secs(1))["q"];
        assert!(fast < 2.0, "{fast}");
    }

    #[test]
    fn a_quantile_needs_observations() {
        let counts = Counts { cumulative: vec![1, 2], total: 2 };
        assert_eq!(quantile(0.99, &[0.1, 0.2], &counts, &counts), None);
    }
}
