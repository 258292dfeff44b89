//! `ttp bench`'s measuring parts, run for real on a small scale: the floor reference on a
//! Redis with its AOF on (both references, with and without the AOF, the AOF switched
//! back on and the Redis left empty afterwards), and the ttp side of `make bench-peers`
//! against a real `ttp serve`, from a peer document shaped like `scripts/peers/bullmq.js`
//! prints.

use std::process::Command;

use serde_json::{Value, json};
use ttp::testkit::{RedisServer, TtpProcess};

use crate::TTP_BIN;

/// Runs `ttp bench` with `args`, bounded in time; its stdout, parsed as JSON.
fn bench_json(args: &[&str]) -> Value {
    let output = Command::new("timeout")
        .arg("120")
        .arg(TTP_BIN)
        .arg("bench")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "ttp bench failed: {stderr}");
    serde_json::from_slice(&output.stdout).unwrap()
}

fn config(redis: &RedisServer, name: &str) -> String {
    let pair: Vec<String> =
        redis::cmd("CONFIG").arg("GET").arg(name).query(&mut redis.connection()).unwrap();
    pair[1].clone()
}

#[test]
fn floor_runs_both_references_with_and_without_the_aof_and_restores_it() {
    let redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "everysec"]);
    let url = redis.url();
    let runs = bench_json(&["--floor", "--redis-url", &url, "--floor-tasks", "2000"]);
    let runs = runs.as_array().unwrap();
    let labels: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| (r["reference"].as_str().unwrap(), r["persistence"].as_str().unwrap()))
        .collect();
    assert_eq!(
        labels,
        [
            ("floor.py", "AOF everysec"),
            ("floor_keyless.py", "AOF everysec"),
            ("floor.py", "AOF off"),
            ("floor_keyless.py", "AOF off"),
        ]
    );
    for run in runs {
        assert_eq!(run["tasks"], 2000, "{run}");
        let total = run["redis_cpu_us_per_task"].as_f64().unwrap();
        let enqueue = run["enqueue_us_per_task"].as_f64().unwrap();
        assert!(total > 0.0 && enqueue > 0.0 && enqueue < total, "{run}");
        if run["reference"] == "floor.py" {
            let parts = enqueue
                + run["claim_us_per_task"].as_f64().unwrap()
                + run["settle_us_per_task"].as_f64().unwrap();
            assert!(parts <= total * 1.001, "the parts exceed the whole: {run}");
        }
    }
    assert_eq!(config(&redis, "appendonly"), "yes");
    let keys: u64 = redis::cmd("DBSIZE").query(&mut redis.connection()).unwrap();
    assert_eq!(keys, 0, "the floor leaves its Redis empty");
}

/// A peer document for one bulk workload of `jobs` jobs, with figures a peer could give.
fn peer_document(jobs: usize) -> Value {
    let percentiles = json!({"p50_ms": 1.0, "p99_ms": 2.0});
    json!({
        "peer": "BullMQ", "version": "5.81.5", "runtime": "node v20", "worker_concurrency": 50,
        "workloads": [{
            "name": "bulk", "jobs": jobs, "batch": 1000, "in_flight": 1, "rate": null,
            "duration_s": null, "completed": jobs, "failed": 0, "added_per_s": 10000.0,
            "processed_per_s": 5000.0, "redis_cpu_us_per_job": 130.0,
            "node_cpu_us_per_job": 140.0, "add": percentiles, "end_to_end": percentiles
        }]
    })
}

#[test]
fn peer_results_run_the_same_workload_through_ttp() {
    let redis = RedisServer::start();
    let env = [("TTP_REDIS_URL", redis.url()), ("TTP_CONCURRENCY", "50".to_owned())];
    let ttp = TtpProcess::start(TTP_BIN, &["serve"], &env);
    let file = std::env::temp_dir().join(format!("ttp-peer-{}.json", std::process::id()));
    std::fs::write(&file, peer_document(3000).to_string()).unwrap();
    let pid = ttp.child.id().to_string();
    let out = bench_json(&[
        "--peer-results",
        file.to_str().unwrap(),
        "--url",
        &ttp.url(""),
        "--redis-url",
        &redis.url(),
        "--ttp-pid",
        &pid,
        "--wait-timeout-s",
        "60",
    ]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(out["peer"]["workloads"][0]["redis_cpu_us_per_job"], 130.0);
    let ttp_rows = out["ttp"].as_array().unwrap();
    assert_eq!(ttp_rows.len(), 1);
    let row = &ttp_rows[0];
    assert_eq!(row["tasks"], 3000, "three batches of 1,000: {row}");
    assert_eq!(row["request_errors"], 0, "{row}");
    assert_eq!(row["tasks_not_succeeded"], 0, "{row}");
    assert!(row["redis_cpu_us_per_task"].as_f64().unwrap() > 0.0, "{row}");
    assert!(row["ttp_cpu_us_per_task"].as_f64().unwrap() > 0.0, "{row}");
    assert!(row["load_cpu_us_per_task"].as_f64().unwrap() > 0.0, "{row}");
    assert!(row["scenario"].as_str().unwrap().contains("batches of 1000"), "{row}");
    drop(ttp);
}
