//! Redis goes away while ttp runs: requests answer 503 quickly instead of hanging, and
//! once Redis is back (same port, data kept by AOF) the same ttp process is ready again,
//! accepts work, and its workers resume by themselves; nothing accepted is lost.

use std::time::{Duration, Instant};

use serde_json::json;
use ttp::testkit::{RedisServer, TestApp};

/// The longest a request may take while Redis is down.
const QUICK: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_get_503_while_redis_is_down_and_work_resumes_when_it_returns() {
    let mut redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let app = TestApp::spawn(&redis).await;
    // Accepted before the outage: one running through it, one waiting for its delay.
    let running = app.submit_ok(&json!({"kind": "sleep", "payload": {"ms": 1000}})).await;
    let delayed = app.submit_ok(&json!({"kind": "noop", "delay_ms": 1000})).await;
    app.wait_for_state(&running, "running", Duration::from_secs(5)).await;

    redis.kill();
    let (status, retry_after) = timed(app.http.get(app.url("/readyz"))).await;
    assert_eq!(status, 503, "/readyz with Redis down");
    assert!(retry_after, "503 from /readyz without Retry-After");
    // A submission sent on a connection that just broke may or may not have reached
    // Redis (504, naming the task); once ttp knows Redis is gone, nothing is sent (503).
    let mut outcomes = Vec::new();
    for _ in 0..20 {
        let submit = app.http.post(app.url("/tasks")).json(&json!({"kind": "noop"}));
        let (status, retry_after) = timed(submit).await;
        assert!(status == 503 || status == 504, "POST /tasks with Redis down: {status}");
        assert!(status == 504 || retry_after, "503 from POST /tasks without Retry-After");
        outcomes.push(status);
    }
    assert_eq!(outcomes.last(), Some(&503), "{outcomes:?}");
    let (status, _) = timed(app.http.get(app.url(&format!("/tasks/{running}")))).await;
    assert_eq!(status, 503, "GET /tasks/{{id}} with Redis down");

    // The running task's handler ends during the outage; its outcome must wait for Redis.
    wait_until_idle(&app, Duration::from_secs(5)).await;

    redis.restart();
    wait_until_ready(&app, Duration::from_secs(10)).await;
    let after = app.submit_ok(&json!({"kind": "noop"})).await;
    for id in [&after, &running, &delayed] {
        app.wait_for_state(id, "succeeded", Duration::from_secs(20)).await;
    }
    app.shutdown().await;
}

/// Sends `request`, asserting it answers within [`QUICK`]; its status and whether it
/// carries `Retry-After`.
async fn timed(request: reqwest::RequestBuilder) -> (u16, bool) {
    let started = Instant::now();
    let response = tokio::time::timeout(QUICK * 2, request.send())
        .await
        .expect("request hung while Redis was down")
        .unwrap();
    let took = started.elapsed();
    assert!(took < QUICK, "answered after {took:?}");
    let retry_after = response.headers().contains_key("retry-after");
    (response.status().as_u16(), retry_after)
}

/// Polls `/readyz` until 200; panics after `within`.
async fn wait_until_ready(app: &TestApp, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let response = app.http.get(app.url("/readyz")).send().await.unwrap();
        if response.status() == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {} {within:?} after Redis returned",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `/metrics` (which answers without Redis) until no worker is busy.
async fn wait_until_idle(app: &TestApp, within: Duration) {
    let deadline = Instant::now() + within;
    while !app.metrics_text().await.contains("\nttp_workers_busy 0\n") {
        assert!(Instant::now() < deadline, "workers still busy after {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
