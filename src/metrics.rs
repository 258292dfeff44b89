//! Prometheus metrics: one registry per `App` (never the global default, so several apps
//! in one test process do not collide), typed handles, text rendering and the HTTP
//! middleware that counts requests.
//!
//! Histogram buckets grow by 2^(1/3) (≈ 26 %) from 100 µs to 60 s, so that
//! `histogram_quantile(0.99, …)` interpolates within a narrow bucket anywhere in that
//! range instead of reporting the edge of a coarse one.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Every metric ttp exports (names are part of the SPEC §6 contract).
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// `ttp_tasks_submitted_total{queue,kind}`.
    pub submitted: IntCounterVec,
    /// `ttp_tasks_finished_total{queue,kind,outcome}`.
    pub finished: IntCounterVec,
    /// `ttp_task_run_seconds{queue,kind}`.
    pub run_seconds: HistogramVec,
    /// `ttp_task_queue_wait_seconds{queue}`.
    pub queue_wait_seconds: HistogramVec,
    /// `ttp_task_end_to_end_seconds{queue}`.
    pub end_to_end_seconds: HistogramVec,
    /// `ttp_queue_depth{queue,state}`.
    pub queue_depth: IntGaugeVec,
    /// `ttp_workers_busy`.
    pub workers_busy: IntGauge,
    /// `ttp_http_requests_total{method,route,status}`.
    pub http_requests: IntCounterVec,
    /// `ttp_http_request_duration_seconds{method,route}`.
    pub http_duration_seconds: HistogramVec,
    /// `ttp_redis_errors_total`.
    pub redis_errors: IntCounter,
    /// `ttp_http_rate_limited_total{key_id}`: requests refused by a rate limit, by key id
    /// (`-` without keys; never a secret or an IP).
    pub http_rate_limited: IntCounterVec,
    /// `ttp_schedule_ticks_total{queue,outcome}`: schedule ticks by outcome (fired,
    /// caught_up, skipped_overlap, missed), by queue, never by schedule name.
    pub schedule_ticks: IntCounterVec,
    /// `ttp_schedule_lag_seconds{queue}`: a tick's task stored this long after the tick.
    pub schedule_lag_seconds: HistogramVec,
}

/// How an attempt (or a task) ended, as `ttp_tasks_finished_total` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The task succeeded.
    Succeeded,
    /// The task failed for good (the dead-letter list).
    Failed,
    /// The attempt failed and another was scheduled.
    Retried,
    /// The task was cancelled before it started.
    Cancelled,
}

impl Outcome {
    /// The `outcome` label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Retried => "retried",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the task is finished (its end-to-end time is observed).
    fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// One ended attempt, or a cancelled task.
#[derive(Debug, Clone, Copy)]
pub struct AttemptEnd<'a> {
    /// The task's queue.
    pub queue: &'a str,
    /// The task's kind.
    pub kind: &'a str,
    /// What happened to the task.
    pub outcome: Outcome,
    /// Whether the attempt hit its timeout (counted as `timed_out` as well).
    pub timed_out: bool,
    /// Submission time of the task, for the end-to-end histogram.
    pub created_at_ms: i64,
}

/// 100 µs · 2^(k/3) up to 60 s and beyond.
pub fn latency_buckets() -> Vec<f64> {
    (0..60).map(|k| 1e-4 * 2f64.powf(f64::from(k) / 3.0)).take_while(|b| *b < 80.0).collect()
}

fn histogram(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<HistogramVec> {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(latency_buckets()), labels)
}

impl Metrics {
    /// Creates and registers every metric, plus the process collector.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let metrics = Self {
            submitted: IntCounterVec::new(
                Opts::new("ttp_tasks_submitted_total", "Tasks accepted by POST /tasks."),
                &["queue", "kind"],
            )?,
            finished: IntCounterVec::new(
                Opts::new(
                    "ttp_tasks_finished_total",
                    "Attempts ended, by outcome: succeeded, failed, retried, cancelled, timed_out.",
                ),
                &["queue", "kind", "outcome"],
            )?,
            run_seconds: histogram(
                "ttp_task_run_seconds",
                "Execution time of one attempt.",
                &["queue", "kind"],
            )?,
            queue_wait_seconds: histogram(
                "ttp_task_queue_wait_seconds",
                "Time from ready (submitted, or due) to started.",
                &["queue"],
            )?,
            end_to_end_seconds: histogram(
                "ttp_task_end_to_end_seconds",
                "Time from submitted to finished.",
                &["queue"],
            )?,
            queue_depth: IntGaugeVec::new(
                Opts::new("ttp_queue_depth", "Tasks per queue and state, sampled at scrape time."),
                &["queue", "state"],
            )?,
            workers_busy: IntGauge::new("ttp_workers_busy", "Tasks this process is running now.")?,
            http_requests: IntCounterVec::new(
                Opts::new("ttp_http_requests_total", "HTTP requests served."),
                &["method", "route", "status"],
            )?,
            http_duration_seconds: histogram(
                "ttp_http_request_duration_seconds",
                "HTTP request latency.",
                &["method", "route"],
            )?,
            redis_errors: IntCounter::new(
                "ttp_redis_errors_total",
                "Redis calls that failed or timed out.",
            )?,
            http_rate_limited: IntCounterVec::new(
                Opts::new(
                    "ttp_http_rate_limited_total",
                    "Requests refused by a rate limit, by API key id.",
                ),
                &["key_id"],
            )?,
            schedule_ticks: IntCounterVec::new(
                Opts::new(
                    "ttp_schedule_ticks_total",
                    "Schedule ticks by outcome: fired, caught_up, skipped_overlap, missed.",
                ),
                &["queue", "outcome"],
            )?,
            schedule_lag_seconds: histogram(
                "ttp_schedule_lag_seconds",
                "Time from a schedule's tick to its task being stored.",
                &["queue"],
            )?,
            registry,
        };
        metrics.register_all()?;
        Ok(metrics)
    }

    fn register_all(&self) -> prometheus::Result<()> {
        let r = &self.registry;
        r.register(Box::new(self.submitted.clone()))?;
        r.register(Box::new(self.finished.clone()))?;
        r.register(Box::new(self.run_seconds.clone()))?;
        r.register(Box::new(self.queue_wait_seconds.clone()))?;
        r.register(Box::new(self.end_to_end_seconds.clone()))?;
        r.register(Box::new(self.queue_depth.clone()))?;
        r.register(Box::new(self.workers_busy.clone()))?;
        r.register(Box::new(self.http_requests.clone()))?;
        r.register(Box::new(self.http_duration_seconds.clone()))?;
        r.register(Box::new(self.redis_errors.clone()))?;
        r.register(Box::new(self.http_rate_limited.clone()))?;
        r.register(Box::new(self.schedule_ticks.clone()))?;
        r.register(Box::new(self.schedule_lag_seconds.clone()))?;
        r.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
        Ok(())
    }

    /// Records an ended attempt: executors, the reaper and cancel all report here, so
    /// every path counts outcomes alike (`timed_out` in addition to the outcome, and the
    /// end-to-end time of tasks that finished).
    pub fn attempt_ended(&self, end: AttemptEnd<'_>) {
        let count =
            |label: &str| self.finished.with_label_values(&[end.queue, end.kind, label]).inc();
        if end.timed_out {
            count("timed_out");
        }
        count(end.outcome.label());
        if end.outcome.is_final() {
            let total_ms = (crate::task::now_ms() - end.created_at_ms).max(0);
            let histogram = self.end_to_end_seconds.with_label_values(&[end.queue]);
            histogram.observe(total_ms as f64 / 1000.0);
        }
    }

    /// Drops the per-queue series of queues that no longer exist (forgotten, or never
    /// admitted), so the series stay bounded by `TTP_MAX_QUEUES` however queue names come
    /// and go. Called at each scrape with the queues that exist.
    pub fn retain_queues(&self, exist: &std::collections::HashSet<&str>) {
        fn retain<M: prometheus::core::MetricVecBuilder>(
            family: &prometheus::core::MetricVec<M>,
            exist: &std::collections::HashSet<&str>,
        ) {
            use prometheus::core::Collector;
            for collected in family.collect() {
                for metric in collected.get_metric() {
                    let labels: std::collections::HashMap<&str, &str> =
                        metric.get_label().iter().map(|l| (l.name(), l.value())).collect();
                    if labels.get("queue").is_some_and(|q| !exist.contains(q)) {
                        let _ = family.remove(&labels);
                    }
                }
            }
        }
        retain(&self.submitted, exist);
        retain(&self.finished, exist);
        retain(&self.run_seconds, exist);
        retain(&self.queue_wait_seconds, exist);
        retain(&self.end_to_end_seconds, exist);
        retain(&self.queue_depth, exist);
        retain(&self.schedule_ticks, exist);
        retain(&self.schedule_lag_seconds, exist);
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// The method as a label; non-standard methods share one label so that clients cannot
/// create series at will.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Axum middleware: counts and times every request by its route template.
pub async fn track_http(
    State(metrics): State<std::sync::Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method()).to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics.http_requests.with_label_values(&[&method, &route, &status]).inc();
    metrics
        .http_duration_seconds
        .with_label_values(&[&method, &route])
        .observe(started.elapsed().as_secs_f64());
    response
}
