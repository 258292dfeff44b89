//! The standard scenarios of `make bench`, and the two knobs that make a short run of
//! them possible on a shared machine: `--only` (run the scenarios whose name contains a
//! word) and `--scale` (fewer tasks, shorter open loops, same shape).
//!
//! The bulk row is the workload issue 16 states its targets on and `make bench-peers`
//! runs against BullMQ: 100,000 no-op tasks submitted in batches of 1,000, one request
//! in flight, while the workers run.

use super::BenchArgs;

/// Tasks of the bulk scenario at scale 1.
pub const BULK_TASKS: usize = 100_000;
/// Tasks per request of the bulk scenario.
pub const BULK_BATCH: usize = 1000;

/// The standard scenarios `--only` and `--scale` leave, in order.
pub fn selected(base: &BenchArgs) -> Vec<(&'static str, BenchArgs)> {
    all(base)
        .into_iter()
        .filter(|(name, _)| base.only.is_empty() || base.only.iter().any(|w| name.contains(w)))
        .map(|(name, args)| (name, scaled(args, base.scale)))
        .collect()
}

/// `args` with `scale` × its tasks (whole requests, at least one) and its open-loop
/// duration (at least 2 s).
fn scaled(args: BenchArgs, scale: f64) -> BenchArgs {
    let batch = args.batch.max(1);
    let requests = ((args.tasks as f64 * scale) / batch as f64).round().max(1.0) as usize;
    let duration_s = ((args.duration_s as f64 * scale).round() as u64).max(2);
    BenchArgs { tasks: requests * batch, duration_s, ..args }
}

/// Every standard scenario, latency first, on an empty Redis; every scenario starts from
/// a flushed Redis with a compacted AOF, so none pays for the data (memory, AOF
/// rewrites) of the one before.
fn all(base: &BenchArgs) -> Vec<(&'static str, BenchArgs)> {
    let embedded = BenchArgs { worker_pid: None, ..base.clone() };
    let mut all = embedded_scenarios(&embedded);
    if let Some(queue) = &base.external_queue {
        all.extend(external_scenarios(base, queue));
    }
    all
}

/// The bulk workload: `BULK_TASKS` in batches of `BULK_BATCH`, one request in flight,
/// workers running.
pub fn bulk(base: &BenchArgs) -> BenchArgs {
    BenchArgs {
        tasks: BULK_TASKS,
        batch: BULK_BATCH,
        concurrency: 1,
        rate: None,
        backlog: false,
        ..base.clone()
    }
}

/// Through the lease API: the same load, run by one external worker process
/// (`examples/worker.py`, claiming batches of 50 and completing each task over HTTP).
/// Beside the embedded 500 tasks/s row, the first row is the added latency of the HTTP
/// hop (claim long-poll woken by the submission, then complete); the second what one
/// Python process can take.
fn external_scenarios(base: &BenchArgs, queue: &str) -> Vec<(&'static str, BenchArgs)> {
    let external = BenchArgs {
        queue: queue.to_owned(),
        kind: "py.sha256".into(),
        payload: Some(r#"{"text": "x"}"#.into()),
        ..base.clone()
    };
    vec![
        (
            "lease API, one Python worker: open loop 500 tasks/s for 20 s",
            BenchArgs { rate: Some(500), duration_s: 20, batch: 1, ..external.clone() },
        ),
        (
            "lease API, one Python worker: 20k via batches of 100",
            BenchArgs { tasks: 20_000, batch: 100, concurrency: 2, ..external },
        ),
    ]
}

/// The embedded workers' scenarios (kind `noop`).
fn embedded_scenarios(base: &BenchArgs) -> Vec<(&'static str, BenchArgs)> {
    vec![
        (
            "open loop: 500 tasks/s for 20 s",
            BenchArgs { rate: Some(500), duration_s: 20, batch: 1, ..base.clone() },
        ),
        (
            "open loop: 5,000 tasks/s for 20 s",
            BenchArgs { rate: Some(5000), duration_s: 20, batch: 1, ..base.clone() },
        ),
        (
            "backlog: 200k via batches of 100, workers paused, then drained",
            BenchArgs { tasks: 200_000, batch: 100, concurrency: 8, backlog: true, ..base.clone() },
        ),
        ("bulk: 100k via batches of 1,000, one in flight, workers running", bulk(base)),
        (
            "closed loop: single POST /tasks, 64 connections, 200k",
            BenchArgs { tasks: 200_000, batch: 1, concurrency: 64, ..base.clone() },
        ),
        (
            "closed loop: batches of 100, 200k",
            BenchArgs { tasks: 200_000, batch: 100, concurrency: 8, ..base.clone() },
        ),
    ]
}
