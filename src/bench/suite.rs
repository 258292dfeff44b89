//! The standard `make bench` scenarios, with the same machine's raw Redis figures
//! (redis-benchmark against the same Redis) printed beside them.

use std::process::Command;

use anyhow::Context;

use super::client::Client;
use super::probe::RedisProbe;
use super::report::{Summary, table};
use super::{BenchArgs, load};

/// redis-benchmark throughput (requests/s) of `tests` against the Redis at `url`.
fn redis_benchmark(url: &str, pipeline: u32) -> anyhow::Result<Vec<(String, f64)>> {
    let address = url.trim_start_matches("redis://").trim_end_matches('/');
    let (host, port) = address.rsplit_once(':').context("--redis-url must be redis://host:port")?;
    let output = Command::new("redis-benchmark")
        .args(["-h", host, "-p", port, "-c", "50", "-n", "200000", "-P", &pipeline.to_string()])
        .args(["-t", "set,lpush,zadd,hset", "--csv"])
        .output()
        .context("redis-benchmark is not installed (package redis-tools)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut cells = line.split(',').map(|c| c.trim_matches('"'));
            let test = cells.next()?.to_owned();
            let rps = cells.next()?.parse().ok()?;
            Some((test, rps))
        })
        .collect())
}

/// Runs every scenario in order and prints the table.
pub async fn run(base: &BenchArgs) -> anyhow::Result<()> {
    let url = base.redis_url.clone().context("--suite needs --redis-url")?;
    eprintln!("raw Redis: redis-benchmark, 50 clients, unpipelined and pipelined 16");
    let raw = redis_benchmark(&url, 1)?;
    let piped = redis_benchmark(&url, 16)?;
    let probe = RedisProbe::new(&url)?;
    let mut rows: Vec<Summary> = Vec::new();
    for (name, args) in scenarios(base) {
        eprintln!("scenario: {name}");
        probe.reset()?;
        if base.external_queue.as_ref() == Some(&args.queue) {
            // The reset flushed the kind's declaration with everything else.
            Client::new(&args)?.declare_kind(&args.kind).await?;
        }
        rows.push(load::scenario(&args, name).await?);
    }
    if base.json {
        let raw: Vec<_> = raw.iter().chain(&piped).collect();
        let all = serde_json::json!({"redis_benchmark": raw, "scenarios": rows});
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        print_tables(&raw, &piped, &rows);
    }
    Ok(())
}

/// The standard scenarios, latency first, on an empty Redis; every scenario starts from
/// a flushed Redis with a compacted AOF, so none pays for the data (memory, AOF
/// rewrites) of the one before.
fn scenarios(base: &BenchArgs) -> Vec<(&'static str, BenchArgs)> {
    let embedded = BenchArgs { worker_pid: None, ..base.clone() };
    let mut all = embedded_scenarios(&embedded);
    if let Some(queue) = &base.external_queue {
        all.extend(external_scenarios(base, queue));
    }
    all
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

/// The raw Redis figures and the scenario table, as text.
fn print_tables(raw: &[(String, f64)], piped: &[(String, f64)], rows: &[Summary]) {
    println!("\nRaw Redis on this machine (redis-benchmark -c 50 -n 200000), requests/s:\n");
    println!("| command | unpipelined | pipelined (16) |\n|---|---:|---:|");
    for (test, rps) in raw {
        let p = piped.iter().find(|(t, _)| t == test).map_or(0.0, |(_, r)| *r);
        println!("| {test} | {rps:.0} | {p:.0} |");
    }
    println!(
        "\nttp (noop tasks, results kept; lease API rows: py.sha256 of one byte):\n\n{}",
        table(rows)
    );
    print_http_hop(rows);
    if let Some((_, set)) = raw.iter().find(|(t, _)| t == "SET") {
        println!("Ratios to unpipelined SET ({set:.0}/s): finished/s ÷ SET/s");
        for r in rows {
            println!("- {}: {:.3}", r.scenario, r.finished_per_s / set);
        }
    }
}

/// The latency the lease API adds at 500 tasks/s: its end-to-end percentiles minus the
/// embedded workers' at the same rate, in the same run.
fn print_http_hop(rows: &[Summary]) {
    let at_500 = |prefix: &str| {
        rows.iter()
            .find(|r| r.scenario.starts_with(prefix) && r.scenario.contains("500 tasks/s"))
            .and_then(|r| r.end_to_end)
    };
    if let (Some(embedded), Some(external)) = (at_500("open loop"), at_500("lease API")) {
        println!(
            "Added by the HTTP hop at 500 tasks/s (lease API minus embedded, end to end): p50 {:+.1} ms, p99 {:+.1} ms\n",
            external.p50_ms - embedded.p50_ms,
            external.p99_ms - embedded.p99_ms
        );
    }
}
