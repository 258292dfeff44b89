//! Bench results: one `Summary` per scenario, printed as a table or JSON.

use hdrhistogram::Histogram;
use serde::Serialize;

use super::floor::FloorRun;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    /// Percentiles of a microsecond histogram.
    pub fn from_us(hist: &Histogram<u64>) -> Self {
        let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        Self {
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: hist.max() as f64 / 1000.0,
        }
    }
}

/// The figures of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Tasks accepted.
    pub tasks: usize,
    /// Requests that failed (non-2xx or transport error).
    pub request_errors: usize,
    /// Accepted tasks that did not end `succeeded` (or could not be read).
    pub tasks_not_succeeded: usize,
    /// Accepted tasks per second of the submission phase.
    pub submitted_per_s: f64,
    /// Tasks per second from the first submission (backlog: from resume) to the last finish.
    pub finished_per_s: f64,
    /// HTTP round trip of a submission (open loop: from the intended send time).
    pub submit: Latency,
    /// Submission → finished, from the task records (ms precision); none for backlog.
    pub end_to_end: Option<Latency>,
    /// Redis CPU (user + sys) per task, µs.
    pub redis_cpu_us_per_task: Option<f64>,
    /// That Redis CPU per task ÷ the floor's (`floor.py` on the same Redis, same run).
    pub redis_cpu_x_floor: Option<f64>,
    /// … and ÷ the keyless floor's (`floor_keyless.py`, same Redis, same run).
    pub redis_cpu_x_keyless_floor: Option<f64>,
    /// Growth of Redis memory per task kept until its result TTL, bytes.
    pub redis_bytes_per_task: Option<f64>,
    /// CPU (user + sys) of the ttp process per task, µs, up to the last finish.
    pub ttp_cpu_us_per_task: Option<f64>,
    /// Peak resident memory of the ttp process, MiB.
    pub ttp_rss_peak_mb: Option<f64>,
    /// CPU of the load generator (this `ttp bench` process) per task, µs, up to the last
    /// finish: what submitting costs the client side, which ttp's figure leaves out.
    pub load_cpu_us_per_task: Option<f64>,
    /// CPU of the external worker process per task, µs (lease-API scenarios).
    pub worker_cpu_us_per_task: Option<f64>,
}

fn opt(value: Option<f64>, digits: usize) -> String {
    value.map_or("—".to_owned(), |v| format!("{v:.digits$}"))
}

/// "1.85 / 2.90": the two floor ratios of a row.
fn ratios(keyed: Option<f64>, keyless: Option<f64>) -> String {
    match (keyed, keyless) {
        (None, None) => "—".to_owned(),
        _ => format!("{} / {}", opt(keyed, 2), opt(keyless, 2)),
    }
}

/// A Markdown table of the summaries.
pub fn table(rows: &[Summary]) -> String {
    let mut out = String::from(
        "| scenario | tasks | submitted/s | finished/s | submit p50 / p99 / p99.9 ms | end-to-end p50 / p99 / p99.9 / max ms | Redis CPU µs/task | × floor (keyed / keyless) | ttp CPU µs/task | load generator CPU µs/task | Redis bytes/task | ttp RSS peak MiB | worker CPU µs/task | errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let e2e = r.end_to_end.map_or("—".to_owned(), |l| {
            format!("{:.1} / {:.1} / {:.1} / {:.1}", l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms)
        });
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {:.2} / {:.2} / {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.scenario,
            r.tasks,
            r.submitted_per_s,
            r.finished_per_s,
            r.submit.p50_ms,
            r.submit.p99_ms,
            r.submit.p999_ms,
            e2e,
            opt(r.redis_cpu_us_per_task, 1),
            ratios(r.redis_cpu_x_floor, r.redis_cpu_x_keyless_floor),
            opt(r.ttp_cpu_us_per_task, 1),
            opt(r.load_cpu_us_per_task, 1),
            opt(r.redis_bytes_per_task, 0),
            opt(r.ttp_rss_peak_mb, 1),
            opt(r.worker_cpu_us_per_task, 0),
            r.request_errors + r.tasks_not_succeeded,
        ));
    }
    out
}

/// A Markdown table of the floor reference runs.
pub fn floor_table(runs: &[FloorRun]) -> String {
    let mut out = String::from(
        "| reference | Redis | tasks | Redis CPU µs/task | enqueue | claim | settle | tasks/s (one client) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in runs {
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} | {:.1} | {} | {} | {:.0} |\n",
            r.reference,
            r.persistence,
            r.tasks,
            r.redis_cpu_us_per_task,
            r.enqueue_us_per_task,
            opt(r.claim_us_per_task, 1),
            opt(r.settle_us_per_task, 1),
            r.tasks_per_s,
        ));
    }
    out
}
