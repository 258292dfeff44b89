//! Redis stalled longer than ttp's Redis deadline (`CLIENT PAUSE`, `DEBUG SLEEP`): a call
//! ttp gave up on still runs when Redis wakes up. Every answer must stay true and no task
//! may lose an attempt to a call whose reply was lost.

use std::time::Duration;

use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{RedisServer, TestApp, test_config};

/// A Redis that accepts `DEBUG SLEEP` from loopback.
fn stallable_redis() -> RedisServer {
    RedisServer::start_with(&["--enable-debug-command", "local"])
}

/// Stalls every client of `redis` for `ms` (the command returns at once).
fn pause_clients(redis: &RedisServer, ms: u64) {
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(ms)
        .arg("ALL")
        .query(&mut redis.connection())
        .unwrap();
}

/// Stalls the whole server for `seconds` (from a thread: the command itself blocks).
fn debug_sleep(redis: &RedisServer, seconds: f64) -> std::thread::JoinHandle<()> {
    let mut conn = redis.connection();
    std::thread::spawn(move || {
        let _: () = redis::cmd("DEBUG").arg("SLEEP").arg(seconds).query(&mut conn).unwrap();
    })
}

/// Workers with a lease longer than the stall: a lease cannot expire honestly, so an
/// attempt lost during the stall could only be a claim no worker received.
async fn app_with_long_leases(redis: &RedisServer) -> TestApp {
    let config = ttp::config::Config {
        lease_ms: 10_000,
        redis_timeout_ms: 500,
        ..test_config(&redis.url())
    };
    let roles = Roles { api: true, workers: true };
    TestApp::spawn_with(config, roles, HandlerRegistry::with_builtins()).await
}

async fn submit_sleepers(app: &TestApp, count: usize) -> Vec<String> {
    let task = json!({"kind": "sleep", "payload": {"ms": 150}, "max_attempts": 1});
    let mut ids = Vec::new();
    for _ in 0..count {
        ids.push(app.submit_ok(&task).await);
    }
    ids
}

async fn assert_all_ran_once(app: &TestApp, ids: &[String]) {
    for id in ids {
        let view: Value = app.wait_for_state(id, "succeeded", Duration::from_secs(30)).await;
        assert_eq!(view["attempts"], 1, "{view}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_whose_reply_was_lost_in_a_client_pause_costs_no_attempt() {
    let redis = stallable_redis();
    let app = app_with_long_leases(&redis).await;
    let ids = submit_sleepers(&app, 20).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    pause_clients(&redis, 3000);
    assert_all_ran_once(&app, &ids).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_whose_reply_was_lost_in_a_debug_sleep_costs_no_attempt() {
    let redis = stallable_redis();
    let app = app_with_long_leases(&redis).await;
    let ids = submit_sleepers(&app, 20).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sleeper = debug_sleep(&redis, 3.0);
    assert_all_ran_once(&app, &ids).await;
    sleeper.join().unwrap();
    app.shutdown().await;
}
