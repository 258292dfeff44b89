//! Long-poll: `GET /tasks/{id}?wait_ms=N` answers when the task finishes or time is up;
//! many waiters share one subscription instead of polling Redis; shutdown ends waits.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{RedisServer, TestApp, assert_problem, test_config};

async fn poll(app: &TestApp, id: &str, wait_ms: u64) -> (Value, Duration) {
    let started = Instant::now();
    let url = app.url(&format!("/tasks/{id}?wait_ms={wait_ms}"));
    let view = app.http.get(url).send().await.unwrap().json().await.unwrap();
    (view, started.elapsed())
}

fn zscore_calls(redis: &RedisServer) -> u64 {
    let info: String =
        redis::cmd("INFO").arg("commandstats").query(&mut redis.connection()).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_zscore:calls="))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_answers_when_the_task_finishes_or_when_time_is_up() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let quick = app.submit_ok(&json!({"kind": "sleep", "payload": {"ms": 200}})).await;
    let (view, took) = poll(&app, &quick, 20_000).await;
    assert_eq!(view["state"], "succeeded", "{view}");
    assert!(took < Duration::from_secs(15), "answered at the finish, not the deadline: {took:?}");

    let later = app.submit_ok(&json!({"kind": "noop", "delay_ms": 60_000})).await;
    let (view, took) = poll(&app, &later, 300).await;
    assert_eq!(view["state"], "scheduled", "{view}");
    assert!(took >= Duration::from_millis(300), "{took:?}");

    let too_long = app.http.get(app.url(&format!("/tasks/{later}?wait_ms=30001"))).send().await;
    assert_problem(too_long.unwrap(), 422, Some("wait_ms")).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_waiters_cost_a_few_reads_each_not_a_poll_loop() {
    const WAITERS: usize = 300;
    let redis = RedisServer::start();
    let config = Config { concurrency: 100, ..test_config(&redis.url()) };
    let app = TestApp::spawn_with(
        config,
        Roles { api: true, workers: true },
        HandlerRegistry::with_builtins(),
    )
    .await;
    let tasks: Vec<Value> =
        (0..WAITERS).map(|_| json!({"kind": "sleep", "payload": {"ms": 500}})).collect();
    let batch = app.http.post(app.url("/tasks/batch")).json(&json!({"tasks": tasks})).send();
    let batch: Value = batch.await.unwrap().json().await.unwrap();
    let ids: Vec<String> = batch["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let before = zscore_calls(&redis);
    let waits = ids.iter().map(|id| poll(&app, id, 20_000));
    let views = futures_util::future::join_all(waits).await;
    assert!(views.iter().all(|(view, _)| view["state"] == "succeeded"));
    // Each read of a task view is one ZSCORE: a waiter reads when it starts and when it
    // is woken (a few times at most), however long it waits.
    let reads = zscore_calls(&redis) - before;
    assert!(reads <= 3 * WAITERS as u64, "{reads} reads for {WAITERS} waiters");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_a_long_poll_with_the_current_view() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.submit_ok(&json!({"kind": "noop", "delay_ms": 60_000})).await;
    let url = app.url(&format!("/tasks/{id}?wait_ms=30000"));
    let waiting = tokio::spawn(app.http.get(url).send());
    tokio::time::sleep(Duration::from_millis(300)).await; // let the request park
    let started = Instant::now();
    app.shutdown().await;
    let response = waiting.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["state"], "scheduled", "{view}");
    assert!(started.elapsed() < Duration::from_secs(10), "the wait ended with the process");
}
