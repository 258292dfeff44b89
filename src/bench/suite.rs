//! The standard `make bench` scenarios, with the same machine's raw Redis figures
//! (redis-benchmark against the same Redis) and the floor reference (on the same Redis,
//! with and without its AOF) printed beside them; each scenario's Redis CPU per task is
//! also given as a multiple of the floor's.

use std::process::Command;

use anyhow::Context;

use super::client::Client;
use super::floor::FloorRun;
use super::probe::RedisProbe;
use super::report::{Summary, floor_table, table};
use super::{BenchArgs, load, scenarios};

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
    eprintln!("floor: floor.py and floor_keyless.py ported, {} tasks each", base.floor_tasks);
    let floor = super::measure_floor(base).await?;
    let keyed = floor_of(&floor, "floor.py");
    let keyless = floor_of(&floor, "floor_keyless.py");
    let probe = RedisProbe::new(&url)?;
    let mut rows: Vec<Summary> = Vec::new();
    for (name, args) in scenarios::selected(base) {
        eprintln!("scenario: {name}");
        probe.reset()?;
        if base.external_queue.as_ref() == Some(&args.queue) {
            // The reset flushed the kind's declaration with everything else.
            Client::new(&args)?.declare_kind(&args.kind).await?;
        }
        let mut row = load::scenario(&args, name).await?;
        row.redis_cpu_x_floor = row.redis_cpu_us_per_task.zip(keyed).map(|(r, f)| r / f);
        row.redis_cpu_x_keyless_floor = row.redis_cpu_us_per_task.zip(keyless).map(|(r, f)| r / f);
        rows.push(row);
    }
    if base.json {
        let raw: Vec<_> = raw.iter().chain(&piped).collect();
        let all = serde_json::json!({"redis_benchmark": raw, "floor": floor, "scenarios": rows});
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        print_tables(&raw, &piped, &floor, &rows);
    }
    Ok(())
}

/// Redis CPU per task of `reference` on the Redis as configured (its first run; the
/// runs with the AOF switched off come after).
fn floor_of(runs: &[FloorRun], reference: &str) -> Option<f64> {
    runs.iter().find(|r| r.reference == reference).map(|r| r.redis_cpu_us_per_task)
}

/// The raw Redis figures and the scenario table, as text.
fn print_tables(
    raw: &[(String, f64)],
    piped: &[(String, f64)],
    floor: &[FloorRun],
    rows: &[Summary],
) {
    println!("\nRaw Redis on this machine (redis-benchmark -c 50 -n 200000), requests/s:\n");
    println!("| command | unpipelined | pipelined (16) |\n|---|---:|---:|");
    for (test, rps) in raw {
        let p = piped.iter().find(|(t, _)| t == test).map_or(0.0, |(_, r)| *r);
        println!("| {test} | {rps:.0} | {p:.0} |");
    }
    println!(
        "\nThe floor on the same Redis (floor.rs, a port of floor.py / floor_keyless.py; \
         × floor below divides by the first two rows, the Redis as configured):\n\n{}",
        floor_table(floor)
    );
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
