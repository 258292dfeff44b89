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

/// Counts the tasks stored in the default queue (pending, scheduled or leased hashes).
fn stored_tasks(redis: &RedisServer) -> usize {
    let keys: Vec<String> =
        redis::cmd("KEYS").arg("ttp:{default}:task:*").query(&mut redis.connection()).unwrap();
    keys.len()
}

/// An app whose workers are off, so stored tasks stay where they are.
async fn api_app(redis: &RedisServer) -> TestApp {
    let config = ttp::config::Config { redis_timeout_ms: 500, ..test_config(&redis.url()) };
    let roles = Roles { api: true, workers: false };
    TestApp::spawn_with(config, roles, HandlerRegistry::with_builtins()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_redis_did_not_confirm_is_a_504_naming_a_task_that_then_exists() {
    let redis = stallable_redis();
    let app = api_app(&redis).await;
    // The queue is registered and every pooled connection is open (a connection still
    // being opened sends nothing to a frozen Redis).
    for _ in 0..10 {
        app.submit_ok(&json!({"kind": "noop"})).await;
    }
    redis.freeze();
    let started = std::time::Instant::now();
    let response = app.submit(&json!({"kind": "noop"})).await;
    let took = started.elapsed();
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
    let problem = ttp::testkit::assert_problem(response, 504, None).await;
    assert_eq!(problem["type"], "urn:ttp:problem:outcome-unknown", "{problem}");
    assert!(took < Duration::from_millis(1500), "took {took:?} with a 500 ms Redis deadline");
    let id = problem["task_id"].as_str().unwrap().to_owned();
    assert_eq!(location, Some(format!("/tasks/{id}")));
    redis.thaw();
    // Redis runs the write when it wakes: the task the 504 named exists.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while stored_tasks(&redis) < 11 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let view = app.get(&id).await;
    assert_eq!(view["state"], "queued", "{view}");
    assert_eq!(stored_tasks(&redis), 11);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_forty_new_queues_with_redis_frozen_answers_within_one_deadline() {
    let redis = stallable_redis();
    let app = api_app(&redis).await;
    let tasks: Vec<Value> =
        (0..40).map(|i| json!({"kind": "noop", "queue": format!("q{i}")})).collect();
    redis.freeze();
    let started = std::time::Instant::now();
    let response =
        app.http.post(app.url("/tasks/batch")).json(&json!({"tasks": tasks})).send().await.unwrap();
    let took = started.elapsed();
    redis.thaw();
    assert!(took < Duration::from_millis(1500), "took {took:?} with a 500 ms Redis deadline");
    // No queue could be registered, so nothing was sent: the honest answer is 503.
    ttp::testkit::assert_problem(response, 503, None).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_large_submissions_answer_truthfully_every_202_stored_and_no_503_stored() {
    let redis = RedisServer::start();
    let config = ttp::config::Config { redis_timeout_ms: 300, ..test_config(&redis.url()) };
    let roles = Roles { api: true, workers: false };
    let app = TestApp::spawn_with(config, roles, HandlerRegistry::with_builtins()).await;
    let body = json!({"kind": "echo", "payload": "x".repeat(1_000_000)});
    let sends = (0..32).map(|_| app.submit(&body));
    let mut counts = std::collections::HashMap::<u16, usize>::new();
    let mut unknown = Vec::new();
    for response in futures_util::future::join_all(sends).await {
        let status = response.status().as_u16();
        *counts.entry(status).or_default() += 1;
        let body: Value = response.json().await.unwrap();
        if status == 504 {
            unknown.push(body["task_id"].as_str().unwrap().to_owned());
        }
    }
    let accepted = counts.get(&202).copied().unwrap_or(0);
    let mut found_unknown = 0;
    for id in &unknown {
        if app.http.get(app.url(&format!("/tasks/{id}"))).send().await.unwrap().status() == 200 {
            found_unknown += 1;
        }
    }
    assert!(counts.keys().all(|s| [202, 503, 504].contains(s)), "{counts:?}");
    assert_eq!(stored_tasks(&redis), accepted + found_unknown, "{counts:?}");
    app.shutdown().await;
}
