//! Limits and misbehaving handlers: a claim larger than one script call can carry, and a
//! handler that panics.

use std::time::Duration;

use serde_json::json;
use ttp::app::Roles;
use ttp::kinds::{Handler, HandlerFuture, HandlerRegistry, TaskContext};
use ttp::queue::ClaimRequest;
use ttp::queue::MAX_CLAIM;
use ttp::task::TaskError;
use ttp::testkit::{RedisServer, TestApp, default_queue, test_config, zcard};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_asking_for_more_than_the_cap_takes_the_cap_and_loses_nothing() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let tasks: Vec<_> = (0..1000).map(|_| json!({"kind": "noop"})).collect();
    for _ in 0..5 {
        let response = app
            .http
            .post(app.url("/tasks/batch"))
            .json(&json!({"tasks": tasks}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // Without the cap, popping 5,000 tasks overflows the script and loses them all.
    let claimed = app
        .queue
        .claim(&default_queue(), &ClaimRequest::new(5000, Duration::from_secs(30)).unwrap())
        .await
        .unwrap();
    assert_eq!(claimed.len(), MAX_CLAIM);
    let keys = app.queue.keys();
    assert_eq!(zcard(&redis, &keys.leased(&default_queue())), MAX_CLAIM as u64);
    assert_eq!(zcard(&redis, &keys.pending(&default_queue())), 5000 - MAX_CLAIM as u64);
    app.shutdown().await;
}

/// A handler with a bug: it panics on every attempt.
struct Panics;

impl Handler for Panics {
    fn run<'a>(&'a self, _ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(async move {
            let broken: Result<serde_json::Value, TaskError> = Err(TaskError::permanent("x"));
            if broken.is_err() {
                panic!("index out of bounds");
            }
            broken
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_ends_its_attempts_instead_of_holding_its_lease() {
    let redis = RedisServer::start();
    let registry = HandlerRegistry::with_builtins().with("panics", Panics);
    let config = test_config(&redis.url());
    let app = TestApp::spawn_with(config, Roles { api: true, workers: true }, registry).await;
    let id = app.submit_ok(&json!({"kind": "panics", "max_attempts": 2})).await;
    let view = app.wait_for_state(&id, "failed", Duration::from_secs(10)).await;
    assert_eq!(view["attempts"], 2, "{view}");
    let error = view["error"].as_str().unwrap();
    assert!(error.contains("handler panicked: index out of bounds"), "{view}");
    // The process keeps working.
    let next = app.submit_ok(&json!({"kind": "noop"})).await;
    app.wait_for_state(&next, "succeeded", Duration::from_secs(10)).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_running_five_times_longer_than_its_lease_keeps_it_by_renewal() {
    let redis = RedisServer::start();
    let config = ttp::config::Config { lease_ms: 300, ..test_config(&redis.url()) };
    let registry = HandlerRegistry::with_builtins();
    let app = TestApp::spawn_with(config, Roles { api: true, workers: true }, registry).await;
    let id = app.submit_ok(&json!({"kind": "sleep", "payload": {"ms": 1500}})).await;
    let view = app.wait_for_state(&id, "succeeded", Duration::from_secs(10)).await;
    assert_eq!(view["attempts"], 1, "the lease was renewed, never taken back: {view}");
    app.shutdown().await;
}
