//! External kinds and the lease API: kinds declared over HTTP with a JSON Schema, tasks
//! claimed, renewed, completed, failed and released by workers in any language, with the
//! guarantees of embedded workers: fenced by lease tokens, retried with backoff, reaped
//! when the worker stops renewing, timed out when held too long.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{RedisServer, TestApp, assert_problem, test_config};

/// The API only (external workers are these tests), short backoffs.
async fn api(redis: &RedisServer, change: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(&redis.url());
    change(&mut config);
    TestApp::spawn_with(
        config,
        Roles { api: true, workers: false },
        HandlerRegistry::with_builtins(),
    )
    .await
}

const SCHEMA: &str =
    r#"{"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}"#;

async fn declare(app: &TestApp, kind: &str, queue: &str) -> reqwest::Response {
    let spec = json!({"queue": queue, "description": "fetches a URL", "payload_schema": serde_json::from_str::<Value>(SCHEMA).unwrap()});
    app.http.put(app.url(&format!("/kinds/{kind}"))).json(&spec).send().await.unwrap()
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.http.post(app.url(path)).json(&body).send().await.unwrap()
}

async fn claim(app: &TestApp, queue: &str, body: Value) -> Vec<Value> {
    let answer: Value =
        post(app, &format!("/queues/{queue}/claim"), body).await.json().await.unwrap();
    answer["tasks"].as_array().cloned().unwrap_or_else(|| panic!("{answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_kinds_are_declared_listed_validated_and_removed() {
    let redis = RedisServer::start();
    let app = api(&redis, |_| {}).await;
    assert_eq!(declare(&app, "web.fetch", "fetch").await.status(), 201);
    assert_eq!(declare(&app, "web.fetch", "fetch").await.status(), 200);
    let kinds: Value = app.http.get(app.url("/kinds")).send().await.unwrap().json().await.unwrap();
    let fetch = kinds["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "web.fetch")
        .cloned()
        .unwrap();
    assert_eq!(
        (fetch["source"].as_str(), fetch["queue"].as_str()),
        (Some("external"), Some("fetch")),
        "{fetch}"
    );
    assert!(
        kinds["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == "sleep" && k["source"] == "embedded")
    );

    // Submissions: the kind's queue by default, its schema checked, no other queue.
    let view: Value =
        post(&app, "/tasks", json!({"kind": "web.fetch", "payload": {"url": "https://x"}}))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(view["queue"], "fetch", "{view}");
    assert_problem(
        post(&app, "/tasks", json!({"kind": "web.fetch", "payload": {"url": 5}})).await,
        422,
        Some("payload.url"),
    )
    .await;
    assert_problem(
        post(
            &app,
            "/tasks",
            json!({"kind": "web.fetch", "queue": "default", "payload": {"url": "x"}}),
        )
        .await,
        422,
        Some("queue"),
    )
    .await;

    // Bad declarations.
    let bad = json!({"queue": "fetch", "payload_schema": {"type": "nothing"}});
    let response = app.http.put(app.url("/kinds/web.other")).json(&bad).send().await.unwrap();
    assert_problem(response, 422, Some("payload_schema")).await;
    assert_problem(declare(&app, "sleep", "fetch").await, 409, None).await;

    let delete = |kind: &'static str| app.http.delete(app.url(&format!("/kinds/{kind}"))).send();
    assert_eq!(delete("web.fetch").await.unwrap().status(), 204);
    assert_problem(delete("web.fetch").await.unwrap(), 404, None).await;
    assert_problem(
        post(&app, "/tasks", json!({"kind": "web.fetch", "payload": {"url": "x"}})).await,
        422,
        Some("kind"),
    )
    .await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_claims_renews_and_completes_and_a_stale_token_changes_nothing() {
    let redis = RedisServer::start();
    let app = api(&redis, |_| {}).await;
    declare(&app, "web.fetch", "fetch").await;
    let id = app.submit_ok(&json!({"kind": "web.fetch", "payload": {"url": "u"}})).await;
    let tasks =
        claim(&app, "fetch", json!({"max": 5, "worker_id": "worker-7", "lease_ms": 5000})).await;
    assert_eq!(tasks.len(), 1);
    let (task, token) = (&tasks[0], tasks[0]["lease_token"].as_str().unwrap().to_owned());
    assert_eq!(
        (task["id"].as_str(), task["attempt"].as_u64()),
        (Some(id.as_str()), Some(1)),
        "{task}"
    );
    assert_eq!(token.len(), 32, "128-bit token: {token}");
    let running = app.get(&id).await;
    assert_eq!(
        (running["state"].as_str(), running["worker_id"].as_str()),
        (Some("running"), Some("worker-7")),
        "{running}"
    );

    let beat: Value = post(&app, &format!("/tasks/{id}/heartbeat"), json!({"lease_token": token}))
        .await
        .json()
        .await
        .unwrap();
    assert!(beat["lease_expires_at"].is_string(), "{beat}");
    let wrong = "0".repeat(32);
    assert_problem(
        post(&app, &format!("/tasks/{id}/complete"), json!({"lease_token": wrong})).await,
        409,
        None,
    )
    .await;
    let done: Value = post(
        &app,
        &format!("/tasks/{id}/complete"),
        json!({"lease_token": token, "result": {"ok": true}}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (done["state"].as_str(), done["result"].clone()),
        (Some("succeeded"), json!({"ok": true})),
        "{done}"
    );
    assert_problem(
        post(&app, &format!("/tasks/{id}/complete"), json!({"lease_token": token})).await,
        409,
        None,
    )
    .await;
    let unknown = "01JDX3Q9ZK8M4V2T6B7C5N1H0E.fetch";
    assert_problem(
        post(&app, &format!("/tasks/{unknown}/heartbeat"), json!({"lease_token": token})).await,
        404,
        None,
    )
    .await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_backs_off_or_dead_letters_and_release_costs_no_attempt() {
    let redis = RedisServer::start();
    let app = api(&redis, |_| {}).await;
    declare(&app, "web.fetch", "fetch").await;
    let id = app
        .submit_ok(&json!({"kind": "web.fetch", "payload": {"url": "u"}, "max_attempts": 3}))
        .await;
    let take = || claim(&app, "fetch", json!({"wait_ms": 5000}));
    let token = |tasks: &[Value]| tasks[0]["lease_token"].as_str().unwrap().to_owned();

    let tasks = take().await;
    let released: Value =
        post(&app, &format!("/tasks/{id}/release"), json!({"lease_token": token(&tasks)}))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(
        (released["state"].as_str(), released["attempts"].as_u64()),
        (Some("queued"), Some(0)),
        "{released}"
    );

    let tasks = take().await;
    assert_eq!(tasks[0]["attempt"], 1);
    let retried: Value = post(
        &app,
        &format!("/tasks/{id}/fail"),
        json!({"lease_token": token(&tasks), "error": "timeout talking to x"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(retried["state"], "scheduled", "{retried}");
    let tasks = take().await; // after the backoff (test backoffs are short)
    assert_eq!(tasks[0]["attempt"], 2, "{tasks:?}");
    let failed: Value = post(
        &app,
        &format!("/tasks/{id}/fail"),
        json!({"lease_token": token(&tasks), "error": "404", "retryable": false}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (failed["state"].as_str(), failed["error"].as_str()),
        (Some("failed"), Some("404")),
        "{failed}"
    );
    let dead: Value =
        app.http.get(app.url("/queues/fetch/dead")).send().await.unwrap().json().await.unwrap();
    assert_eq!(dead["tasks"][0]["id"], id.as_str());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_claim_answers_when_a_task_arrives_and_a_paused_queue_answers_none() {
    let redis = RedisServer::start();
    let app = api(&redis, |_| {}).await;
    declare(&app, "web.fetch", "fetch").await;
    let started = Instant::now();
    let waiting = claim(&app, "fetch", json!({"wait_ms": 10_000}));
    let submit = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.submit_ok(&json!({"kind": "web.fetch", "payload": {"url": "u"}})).await
    };
    let (tasks, id) = tokio::join!(waiting, submit);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["id"], id.as_str());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken by the submission, not a timer: {:?}",
        started.elapsed()
    );

    post(&app, "/queues/fetch/pause", json!({})).await;
    app.submit_ok(&json!({"kind": "web.fetch", "payload": {"url": "v"}})).await;
    assert!(claim(&app, "fetch", json!({"wait_ms": 300})).await.is_empty());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_with_values_out_of_range_are_422_naming_the_field() {
    let redis = RedisServer::start();
    let app = api(&redis, |_| {}).await;
    for (body, field) in [
        (json!({"max": 0}), "max"),
        (json!({"max": 101}), "max"),
        (json!({"wait_ms": -1}), "wait_ms"),
        (json!({"lease_ms": 999}), "lease_ms"),
        (json!({"claim_id": "has space"}), "claim_id"),
    ] {
        assert_problem(post(&app, "/queues/fetch/claim", body).await, 422, Some(field)).await;
    }
    assert_problem(post(&app, "/queues/Bad%20Name/claim", json!({})).await, 422, Some("queue"))
        .await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_holding_a_task_past_its_timeout_loses_the_attempt_as_timed_out() {
    let redis = RedisServer::start();
    let app = api(&redis, |_| {}).await;
    declare(&app, "web.fetch", "fetch").await;
    let id = app.submit_ok(&json!({"kind": "web.fetch", "payload": {"url": "u"}, "timeout_ms": 1500, "max_attempts": 1})).await;
    let tasks = claim(&app, "fetch", json!({"lease_ms": 1000})).await;
    let token = tasks[0]["lease_token"].as_str().unwrap().to_owned();
    // Heartbeats cannot carry the lease past the timeout.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let _ = post(&app, &format!("/tasks/{id}/heartbeat"), json!({"lease_token": token})).await;
    }
    let view = app.wait_for_state(&id, "failed", Duration::from_secs(10)).await;
    assert!(view["error"].as_str().unwrap().contains("timed out"), "{view}");
    assert_problem(
        post(&app, &format!("/tasks/{id}/complete"), json!({"lease_token": token})).await,
        409,
        None,
    )
    .await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_over_the_body_limit_is_a_413_and_the_lease_stays() {
    let redis = RedisServer::start();
    let app = api(&redis, |c| c.max_body_bytes = 4096).await;
    declare(&app, "web.fetch", "fetch").await;
    let id = app.submit_ok(&json!({"kind": "web.fetch", "payload": {"url": "u"}})).await;
    let tasks = claim(&app, "fetch", json!({})).await;
    let token = tasks[0]["lease_token"].as_str().unwrap().to_owned();
    let big = json!({"lease_token": token, "result": "x".repeat(10_000)});
    assert_problem(post(&app, &format!("/tasks/{id}/complete"), big).await, 413, None).await;
    let done =
        post(&app, &format!("/tasks/{id}/complete"), json!({"lease_token": token, "result": 1}))
            .await;
    assert_eq!(done.status(), 200);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_whose_reply_was_lost_is_answered_again_by_its_claim_id_at_no_attempt() {
    let redis = RedisServer::start_with(&["--enable-debug-command", "local"]);
    let app = api(&redis, |c| c.redis_timeout_ms = 300).await;
    declare(&app, "web.fetch", "fetch").await;
    let id = app.submit_ok(&json!({"kind": "web.fetch", "payload": {"url": "u"}})).await;
    // Warm every pooled connection, so the claim below is sent before Redis stalls.
    for _ in 0..10 {
        app.http.get(app.url("/queues")).send().await.unwrap();
    }
    let body = json!({"claim_id": "retry-me-1", "lease_ms": 30_000});
    let mut conn = redis.connection();
    let stall = std::thread::spawn(move || {
        let _: () = redis::cmd("DEBUG").arg("SLEEP").arg(1.5).query(&mut conn).unwrap();
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lost = post(&app, "/queues/fetch/claim", body.clone()).await;
    assert_eq!(lost.status(), 504, "{:?}", lost.text().await);
    stall.join().unwrap();
    let tasks = claim(&app, "fetch", body).await;
    assert_eq!(tasks.len(), 1, "the same claim answers the task it took");
    assert_eq!(
        (tasks[0]["id"].as_str(), tasks[0]["attempt"].as_u64()),
        (Some(id.as_str()), Some(1))
    );
    let done = post(
        &app,
        &format!("/tasks/{id}/complete"),
        json!({"lease_token": tasks[0]["lease_token"]}),
    )
    .await;
    let view: Value = done.json().await.unwrap();
    assert_eq!(
        (view["state"].as_str(), view["attempts"].as_u64()),
        (Some("succeeded"), Some(1)),
        "{view}"
    );
    app.shutdown().await;
}
