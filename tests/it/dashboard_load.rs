//! The dashboard's cost: one snapshot per second per process, shared by every viewer, so
//! 50 viewers cost Redis exactly what one does, and none cost nothing. Counted with
//! `INFO commandstats` on the test's private Redis (the commands a snapshot sends:
//! SMEMBERS, then ZCARD ×4, EXISTS and HMGET per queue), and `total_commands_processed`
//! for everything (other background work included).

use std::time::Duration;

use serde_json::json;
use ttp::testkit::{EventStream, RedisServer, TestApp};

const SNAPSHOT_COMMANDS: [&str; 4] = ["smembers", "zcard", "exists", "hmget"];

/// Calls so far of the snapshot's commands, and every command processed.
fn redis_calls(redis: &RedisServer) -> (u64, u64) {
    let mut conn = redis.connection();
    let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut conn).unwrap();
    let snapshot = stats
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.strip_prefix("calls=")?.split(',').next()?.parse::<u64>().ok()?;
            SNAPSHOT_COMMANDS.contains(&name).then_some(calls)
        })
        .sum();
    let info: String = redis::cmd("INFO").arg("stats").query(&mut conn).unwrap();
    let total = info
        .lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:")?.trim().parse().ok())
        .unwrap();
    (snapshot, total)
}

/// The calls over `snapshots` consecutive snapshots, as `stream` sees them.
async fn calls_over(redis: &RedisServer, stream: &mut EventStream, snapshots: u64) -> (u64, u64) {
    let wait = Duration::from_secs(3);
    let start = stream.snapshot(wait).await["seq"].as_u64().unwrap();
    let before = redis_calls(redis);
    let end = loop {
        let seq = stream.snapshot(wait).await["seq"].as_u64().unwrap();
        if seq >= start + snapshots {
            break seq;
        }
    };
    assert_eq!(end, start + snapshots, "a snapshot was skipped");
    let after = redis_calls(redis);
    (after.0 - before.0, after.1 - before.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_viewers_cost_the_redis_calls_of_one_and_none_cost_nothing() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    for queue in ["alpha", "beta", "gamma"] {
        app.submit_ok(&json!({"kind": "noop", "queue": queue})).await;
    }
    let url = app.url("/ui/events");
    let mut first = EventStream::open(&app.http, &url, None).await;
    let (one, one_total) = calls_over(&redis, &mut first, 5).await;
    // default, alpha, beta, gamma: SMEMBERS + 4 × (4 ZCARD + EXISTS + HMGET) per snapshot.
    assert_eq!(one, 5 * (1 + 4 * 6), "per snapshot: one SMEMBERS, six commands per queue");

    let mut others = Vec::new();
    for _ in 0..49 {
        others.push(EventStream::open(&app.http, &url, None).await);
    }
    for viewer in &mut others {
        viewer.snapshot(Duration::from_secs(3)).await;
    }
    let (fifty, fifty_total) = calls_over(&redis, &mut first, 5).await;
    eprintln!(
        "dashboard Redis calls over 5 snapshots: 1 viewer {one} snapshot commands ({one_total} in all); 50 viewers {fifty} ({fifty_total} in all)"
    );
    assert_eq!(fifty, one, "50 viewers share the one snapshot");
    // Everything else this process does (the kinds' version each second, INFO itself)
    // does not grow with viewers either.
    assert!(fifty_total <= one_total + 3, "{fifty_total} vs {one_total}");

    drop(first);
    drop(others);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let idle = redis_calls(&redis).0;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(redis_calls(&redis).0, idle, "no viewer, no snapshot");
    app.shutdown().await;
}
