//! The ttp side of `make bench-peers`: reads what a peer measured (the JSON document
//! `scripts/peers/bullmq.js` prints), runs the same workloads through ttp in the same run,
//! and prints both side by side with the ratios.
//!
//! "The same workload" is read from the peer's document, not restated here, so the two
//! sides cannot drift apart: the job count, the batch size (`addBulk` batches ↔ `POST
//! /tasks/batch`), the requests in flight and the open-loop rate. Each workload starts
//! from a flushed Redis, as every `make bench` scenario does.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::probe::RedisProbe;
use super::report::Summary;
use super::{BenchArgs, load};

/// What the peer script measured.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct PeerRun {
    /// The peer, e.g. `BullMQ`.
    peer: String,
    /// Its version, as installed.
    version: String,
    /// Its runtime, e.g. `node v20.20.2`.
    runtime: String,
    /// Jobs its worker runs at once.
    worker_concurrency: u64,
    /// One entry per workload.
    workloads: Vec<PeerWorkload>,
}

/// One workload as the peer ran it, and its figures.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct PeerWorkload {
    /// `bulk`, `single` or `rate`.
    name: String,
    /// Jobs added (open loop: rate × duration).
    jobs: usize,
    /// Jobs per add call (1: one at a time).
    batch: usize,
    /// Add calls in flight (closed loop; none in the open loop).
    in_flight: Option<usize>,
    /// Open loop: jobs per second …
    rate: Option<u64>,
    /// … for this many seconds.
    duration_s: Option<u64>,
    /// Jobs that ended completed.
    completed: usize,
    /// Jobs that did not.
    failed: usize,
    /// Jobs added per second of the adding phase.
    added_per_s: f64,
    /// Jobs per second from the first add to the last completion.
    processed_per_s: f64,
    /// Redis CPU per job, µs (INFO cpu).
    redis_cpu_us_per_job: f64,
    /// CPU of the peer's processes (worker + producer) per job, µs.
    node_cpu_us_per_job: f64,
    /// The worker process' share of it.
    worker_cpu_us_per_job: Option<f64>,
    /// Add call latency, from the intended send time in the open loop.
    add: Percentiles,
    /// Job timestamp → finishedOn, from the job records (ms precision).
    end_to_end: Percentiles,
}

/// Two percentiles, ms.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
struct Percentiles {
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs ttp through the workloads of the peer document `file` and prints the comparison.
pub async fn run(base: &BenchArgs, file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file:?}"))?;
    let peer: PeerRun = serde_json::from_str(&text).context("peer results are not as expected")?;
    let url = base.redis_url.clone().context("--peer-results needs --redis-url")?;
    let probe = RedisProbe::new(&url)?;
    let mut rows = Vec::new();
    for workload in &peer.workloads {
        let args = ttp_args(base, workload);
        let name = format!("{} ({})", workload.name, describe(workload));
        eprintln!("ttp: {name}");
        probe.reset()?;
        rows.push(load::scenario(&args, &name).await?);
    }
    if base.json {
        let all = serde_json::json!({"peer": peer, "ttp": rows});
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        print_comparison(&peer, &rows);
    }
    Ok(())
}

/// ttp's bench options for the peer's workload.
fn ttp_args(base: &BenchArgs, w: &PeerWorkload) -> BenchArgs {
    BenchArgs {
        tasks: w.jobs,
        batch: w.batch.max(1),
        concurrency: w.in_flight.unwrap_or(1).max(1),
        rate: w.rate,
        duration_s: w.duration_s.unwrap_or(base.duration_s),
        backlog: false,
        ..base.clone()
    }
}

/// A workload in words: "100000 jobs, batches of 1000, 1 in flight".
fn describe(w: &PeerWorkload) -> String {
    match w.rate {
        Some(rate) => format!("open loop {rate}/s for {} s", w.duration_s.unwrap_or(0)),
        None if w.batch > 1 => {
            format!("{} jobs, batches of {}, {} in flight", w.jobs, w.batch, in_flight(w))
        }
        None => format!("{} jobs one at a time, {} in flight", w.jobs, in_flight(w)),
    }
}

fn in_flight(w: &PeerWorkload) -> usize {
    w.in_flight.unwrap_or(1)
}

/// The side-by-side table and the ratios, as Markdown.
fn print_comparison(peer: &PeerRun, rows: &[Summary]) {
    let who = format!("{} {} ({})", peer.peer, peer.version, peer.runtime);
    println!(
        "\n{who}, worker concurrency {}, against ttp {} (its own workers), same Redis settings:\n",
        peer.worker_concurrency,
        env!("CARGO_PKG_VERSION")
    );
    println!(
        "| workload | system | jobs | added/s | processed/s | Redis CPU µs/job | queue CPU µs/job | add p50 / p99 ms | end-to-end p50 / p99 ms | not completed |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (w, r) in peer.workloads.iter().zip(rows) {
        println!(
            "| {} | {} (node: worker + producer) | {} | {:.0} | {:.0} | {:.1} | {:.1} (worker {}) | {:.2} / {:.2} | {:.0} / {:.0} | {} |",
            r.scenario,
            peer.peer,
            w.jobs,
            w.added_per_s,
            w.processed_per_s,
            w.redis_cpu_us_per_job,
            w.node_cpu_us_per_job,
            opt(w.worker_cpu_us_per_job, 1),
            w.add.p50_ms,
            w.add.p99_ms,
            w.end_to_end.p50_ms,
            w.end_to_end.p99_ms,
            w.jobs.saturating_sub(w.completed),
        );
        let e2e =
            r.end_to_end.map_or("—".to_owned(), |l| format!("{:.0} / {:.0}", l.p50_ms, l.p99_ms));
        println!(
            "| {} | ttp (server: HTTP API + embedded workers) | {} | {:.0} | {:.0} | {} | {} (load generator {}) | {:.2} / {:.2} | {} | {} |",
            r.scenario,
            r.tasks,
            r.submitted_per_s,
            r.finished_per_s,
            opt(r.redis_cpu_us_per_task, 1),
            opt(r.ttp_cpu_us_per_task, 1),
            opt(r.load_cpu_us_per_task, 1),
            r.submit.p50_ms,
            r.submit.p99_ms,
            e2e,
            r.request_errors + r.tasks_not_succeeded,
        );
    }
    println!(
        "\nRatios, ttp ÷ {} (CPU: below 1, ttp spends less; processed/s: above 1, ttp is faster; \
         queue CPU: ttp's server process against the peer's worker and producer processes):\n",
        peer.peer
    );
    println!("| workload | Redis CPU µs | queue CPU µs | processed/s |\n|---|---:|---:|---:|");
    for (w, r) in peer.workloads.iter().zip(rows) {
        let ratio = |ttp: Option<f64>, theirs: f64| opt(ttp.map(|t| t / theirs), 2);
        println!(
            "| {} | {} | {} | {} |",
            w.name,
            ratio(r.redis_cpu_us_per_task, w.redis_cpu_us_per_job),
            ratio(r.ttp_cpu_us_per_task, w.node_cpu_us_per_job),
            ratio(Some(r.finished_per_s), w.processed_per_s),
        );
    }
}

fn opt(value: Option<f64>, digits: usize) -> String {
    value.map_or("—".to_owned(), |v| format!("{v:.digits$}"))
}
