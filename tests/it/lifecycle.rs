//! A task's life after submission: timeouts and the dead-letter list, delays, result
//! expiry, clean-up of the queue structures, and what happens to a claim whose lease is
//! lost (the reaper takes it back, and the late answer is fenced off).
//!
//! The Redis-inspection helpers at the bottom are shared with `processes` and `outage`.

use std::time::{Duration, Instant};

use chrono::DateTime;
use serde_json::{Value, json};
use ttp::queue::{Action, ClaimRequest, ClaimedTask, Settlement};
use ttp::task::TaskId;
use ttp::testkit::{RedisServer, TestApp, default_queue, wait_stored_state, zcard, zscore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_exceeding_its_timeout_is_retried_then_dead_lettered() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app
        .submit_ok(&json!({
            "kind": "sleep", "payload": {"ms": 2000}, "timeout_ms": 100, "max_attempts": 2
        }))
        .await;

    let view = app.wait_for_state(&id, "failed", Duration::from_secs(10)).await;
    assert_eq!(view["attempts"], 2, "{view}");
    let error = view["error"].as_str().unwrap_or_default();
    assert!(error.contains("timed out"), "error should name the timeout: {view}");
    let dead = app.queue.keys().dead(&default_queue());
    assert!(zscore(&redis, &dead, &id).is_some(), "{id} not in {dead}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_task_is_scheduled_then_runs_no_earlier_than_its_run_at() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response = app.submit(&json!({"kind": "noop", "delay_ms": 300})).await;
    assert_eq!(response.status(), 202);
    let submitted: Value = response.json().await.unwrap();
    assert_eq!(submitted["state"], "scheduled", "{submitted}");
    let run_at = time_of(&submitted, "run_at");

    let id = submitted["id"].as_str().unwrap();
    let done = app.wait_for_state(id, "succeeded", Duration::from_secs(10)).await;
    assert_eq!(time_of(&done, "run_at"), run_at, "{done}");
    assert!(time_of(&done, "started_at") >= run_at, "started early: {done}");
    let delay = run_at - time_of(&done, "created_at");
    assert!(
        delay.num_milliseconds() >= 300,
        "run_at is only {delay} after created_at, not the 300 ms asked for: {done}"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_task_expires_after_its_result_ttl() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.submit_ok(&json!({"kind": "echo", "payload": {"x": 1}, "result_ttl_s": 1})).await;
    app.wait_for_state(&id, "succeeded", Duration::from_secs(10)).await;

    let key = app.queue.keys().task(&TaskId::parse(&id).unwrap());
    let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut redis.connection()).unwrap();
    assert!((1..=1000).contains(&pttl), "{key} has PTTL {pttl}, not ≤ 1 s");

    let url = app.url(&format!("/tasks/{id}"));
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let status = app.http.get(&url).send().await.unwrap().status();
        if status == 404 {
            break;
        }
        assert_eq!(status, 200);
        assert!(Instant::now() < deadline, "{id} still readable after 3 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_200_tasks_leaves_no_pending_scheduled_or_leased_entries() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let mut ids = Vec::new();
    for _ in 0..200 {
        ids.push(app.submit_ok(&json!({"kind": "noop"})).await);
    }
    wait_stored_state(&redis, &ids, "succeeded", Duration::from_secs(20)).await;

    let keys = app.queue.keys();
    let queue = default_queue();
    for key in
        [keys.pending(&queue), keys.scheduled(&queue), keys.leased(&queue), keys.dead(&queue)]
    {
        assert_eq!(zcard(&redis, &key), 0, "{key} is not empty");
    }
    let mut conn = redis.connection();
    for id in &ids {
        let key = keys.task(&TaskId::parse(id).unwrap());
        let ttl: i64 = redis::cmd("TTL").arg(&key).query(&mut conn).unwrap();
        assert!(ttl > 0, "{key} never expires (TTL {ttl})");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reaper_returns_an_abandoned_claim_to_another_worker() {
    let redis = RedisServer::start();
    let api = TestApp::api_only(&redis).await;
    let id = api.submit_ok(&json!({"kind": "noop"})).await;
    claim_without_running(&api, &id).await;
    let view = api.get(&id).await;
    assert_eq!((&view["state"], &view["attempts"]), (&json!("running"), &json!(1)), "{view}");

    let worker = TestApp::spawn(&redis).await;
    let view = worker.wait_for_state(&id, "succeeded", Duration::from_secs(10)).await;
    assert_eq!(view["attempts"], 2, "{view}");
    let metrics = worker.metrics_text().await;
    let reaped = metrics.lines().any(|l| {
        l.starts_with("ttp_tasks_finished_total{")
            && l.contains(r#"outcome="retried""#)
            && l.ends_with(" 1")
    });
    assert!(reaped, "the reaper's retry is counted:\n{metrics}");
    let leased = api.queue.keys().leased(&default_queue());
    assert_eq!(zcard(&redis, &leased), 0);
    worker.shutdown().await;
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_completion_after_the_lease_was_lost_is_fenced_off() {
    let redis = RedisServer::start();
    let api = TestApp::api_only(&redis).await;
    let id = api.submit_ok(&json!({"kind": "echo", "payload": {"x": 1}})).await;
    let claimed = claim_without_running(&api, &id).await;
    let worker = TestApp::spawn(&redis).await;
    let done = worker.wait_for_state(&id, "succeeded", Duration::from_secs(10)).await;
    assert_eq!(done["attempts"], 2, "{done}");
    assert_eq!(done["result"], json!({"x": 1}), "{done}");

    let late = Settlement {
        id: TaskId::parse(&id).unwrap(),
        holder: claimed.holder(),
        lease_expired: false,
        action: Action::Succeed(json!("late")),
    };
    let applied = api.queue.settle(&default_queue(), &[late]).await.unwrap();
    assert_eq!(applied, [false]);
    let after = api.get(&id).await;
    assert_eq!(after["result"], done["result"], "{after}");
    assert_eq!(after["state"], "succeeded", "{after}");
    worker.shutdown().await;
    api.shutdown().await;
}

/// Claims `id` (the only ready task) under a 200 ms lease and never runs it, like a
/// worker that died right after claiming.
async fn claim_without_running(app: &TestApp, id: &str) -> ClaimedTask {
    let mut claimed = app
        .queue
        .claim(&default_queue(), &ClaimRequest::new(1, Duration::from_millis(200)).unwrap())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!((claimed[0].id.as_str(), claimed[0].attempt), (id, 1));
    claimed.remove(0)
}

fn time_of(view: &Value, field: &str) -> DateTime<chrono::FixedOffset> {
    let text = view[field].as_str().unwrap_or_else(|| panic!("no {field}: {view}"));
    DateTime::parse_from_rfc3339(text).unwrap()
}

// ---- helpers shared with `processes` and `outage` ----
