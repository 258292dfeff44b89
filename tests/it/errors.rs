//! Every error status of SPEC §2, each checked for its RFC 9457 problem details body:
//! `application/problem+json` with `type`, `title`, `status`, `detail`, and the offending
//! `field` for validation errors.

use std::time::{Duration, Instant};

use reqwest::Response;
use serde_json::json;
use ttp::app::Roles;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{RedisServer, TestApp, assert_problem, test_config};

/// Asserts a `Retry-After` header holding a number of seconds.
fn assert_retry_after(response: &Response) {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .unwrap_or_else(|| panic!("no Retry-After on {response:?}"));
    let seconds: u64 = value.to_str().unwrap().parse().unwrap();
    assert!(seconds <= 60, "Retry-After {seconds}");
}

/// `POST /tasks` with a raw body and content type.
async fn post_raw(app: &TestApp, content_type: &str, body: impl Into<reqwest::Body>) -> Response {
    app.http
        .post(app.url("/tasks"))
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_a_400_problem() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response = post_raw(&app, "application/json", r#"{"kind": "noop",,}"#).await;
    assert_problem(response, 400, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_of_the_wrong_type_is_a_400_naming_priority() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response = app.submit(&json!({"kind": "noop", "priority": "high"})).await;
    assert_problem(response, 400, Some("priority")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_field_is_a_400_naming_it() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response = app.submit(&json!({"kind": "noop", "colour": "red"})).await;
    assert_problem(response, 400, Some("colour")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_kind_is_a_400_naming_kind() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response = app.submit(&json!({"payload": {"a": 1}})).await;
    assert_problem(response, 400, Some("kind")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_request_given_as_a_json_array_is_a_400() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    // serde's derived Deserialize also reads a struct from a sequence of its fields.
    let fields = json!(["echo", {"a": 1}, null, 9, null, null, null, null, null, null]);
    assert_problem(app.submit(&fields).await, 400, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_not_declared_as_json_is_a_415_problem() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response = post_raw(&app, "text/plain", r#"{"kind": "noop"}"#).await;
    assert_problem(response, 415, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_the_configured_limit_is_a_413_problem() {
    let redis = RedisServer::start();
    let config = ttp::config::Config { max_body_bytes: 2048, ..test_config(&redis.url()) };
    let roles = Roles { api: true, workers: true };
    let app = TestApp::spawn_with(config, roles, HandlerRegistry::with_builtins()).await;
    let small = json!({"kind": "echo", "payload": "x".repeat(1500)});
    assert_eq!(app.submit(&small).await.status(), 202);
    let large = json!({"kind": "echo", "payload": "x".repeat(4096)});
    assert_problem(app.submit(&large).await, 413, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kind_is_a_422_naming_kind() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response = app.submit(&json!({"kind": "no.such-kind"})).await;
    assert_problem(response, 422, Some("kind")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_ten_is_a_422_naming_priority() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response = app.submit(&json!({"kind": "noop", "priority": 10})).await;
    assert_problem(response, 422, Some("priority")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queue_name_is_a_422_naming_queue() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response = app.submit(&json!({"kind": "noop", "queue": "Bad Queue!"})).await;
    assert_problem(response, 422, Some("queue")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_invalid_for_its_kind_is_a_422_naming_the_element() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let body = json!({"kind": "telemetry.aggregate", "payload": {"samples": ["x"]}});
    assert_problem(app.submit(&body).await, 422, Some("payload.samples[0]")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_ms_and_run_at_together_are_a_422() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let body = json!({"kind": "noop", "delay_ms": 1000, "run_at": "2030-01-01T00:00:00Z"});
    let problem = assert_problem(app.submit(&body).await, 422, None).await;
    let field = problem["field"].as_str().unwrap_or_default();
    assert!(["run_at", "delay_ms"].contains(&field), "{problem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_task_returns_404_for_unknown_and_malformed_ids() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let unknown = "01JDX3Q9ZK8M4V2T6B7C5N1H0E.default";
    for id in [unknown, "not-an-id", "01JDX3Q9ZK8M4V2T6B7C5N1H0E"] {
        let response = app.http.get(app.url(&format!("/tasks/{id}"))).send().await;
        assert_problem(response.unwrap(), 404, None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_route_is_a_404_problem() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response = app.http.get(app.url("/no/such/route")).send().await;
    assert_problem(response.unwrap(), 404, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_on_a_known_route_is_a_405_problem() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response = app.http.put(app.url("/tasks")).json(&json!({})).send().await;
    assert_problem(response.unwrap(), 405, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_to_a_full_queue_is_a_429_with_retry_after() {
    let redis = RedisServer::start();
    let config = ttp::config::Config { max_queue_length: 2, ..test_config(&redis.url()) };
    let roles = Roles { api: true, workers: false };
    let app = TestApp::spawn_with(config, roles, HandlerRegistry::with_builtins()).await;
    let task = json!({"kind": "noop"});
    app.submit_ok(&task).await;
    app.submit_ok(&task).await;
    let response = app.submit(&task).await;
    assert_retry_after(&response);
    assert_problem(response, 429, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_answer_503_with_retry_after_quickly_when_redis_is_unreachable() {
    let mut redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.submit_ok(&json!({"kind": "noop"})).await;
    redis.kill();

    let started = Instant::now();
    let response = app.submit(&json!({"kind": "noop"})).await;
    let elapsed = started.elapsed();
    assert_retry_after(&response);
    assert_problem(response, 503, None).await;
    assert!(elapsed < Duration::from_secs(2), "POST took {elapsed:?}");

    let started = Instant::now();
    let response = app.http.get(app.url(&format!("/tasks/{id}"))).send().await;
    let elapsed = started.elapsed();
    let response = response.unwrap();
    assert_retry_after(&response);
    assert_problem(response, 503, None).await;
    assert!(elapsed < Duration::from_secs(2), "GET took {elapsed:?}");
}
