//! The API contract: the committed OpenAPI files are what the code generates (and what
//! it serves), and the HTTP behaviour around every route: request ids, CORS,
//! compression, `Location`, the idempotency header.

use std::process::Command;

use reqwest::header::{
    ACCEPT_ENCODING, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_METHOD, CONTENT_ENCODING,
    LOCATION, ORIGIN,
};
use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{RedisServer, TestApp, assert_problem, test_config};

use crate::TTP_BIN;

const REFRESH: &str = "refresh the committed spec with:\n    cargo run -- openapi > openapi/openapi.json && cargo run -- openapi --yaml > openapi/openapi.yaml";

fn committed(name: &str) -> String {
    let path = format!("{}/openapi/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}; {REFRESH}"))
}

/// Panics naming the first line where `actual` (the committed file) leaves `expected`.
fn assert_same_document(name: &str, actual: &str, expected: &str) {
    if actual == expected {
        return;
    }
    let line = actual.lines().zip(expected.lines()).position(|(a, e)| a != e);
    let at = line.unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
    panic!(
        "openapi/{name} differs from the generated document (first at line {}):\n  committed: {:?}\n  generated: {:?}\n{REFRESH}",
        at + 1,
        actual.lines().nth(at).unwrap_or("<end of file>"),
        expected.lines().nth(at).unwrap_or("<end of file>"),
    );
}

fn ttp_openapi(args: &[&str]) -> String {
    let output = Command::new(TTP_BIN).arg("openapi").args(args).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn committed_openapi_json_is_what_ttp_openapi_prints() {
    assert_same_document("openapi.json", &committed("openapi.json"), &ttp_openapi(&[]));
}

#[test]
fn committed_openapi_yaml_is_what_ttp_openapi_yaml_prints() {
    assert_same_document("openapi.yaml", &committed("openapi.yaml"), &ttp_openapi(&["--yaml"]));
}

#[test]
fn openapi_document_is_3_1_and_documents_every_route_and_problem() {
    let doc: Value = serde_json::from_str(&committed("openapi.json")).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    for path in [
        "/tasks",
        "/tasks/batch",
        "/tasks/{id}",
        "/tasks/{id}/cancel",
        "/tasks/{id}/retry",
        "/queues",
        "/queues/{name}/dead",
        "/queues/{name}/pause",
        "/queues/{name}/resume",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/ui/events",
    ] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }
    let problem = &doc["components"]["responses"]["Invalid"]["content"]["application/problem+json"];
    assert_eq!(problem["schema"]["$ref"], "#/components/schemas/Problem");
    let metrics = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
    assert!(metrics.as_object().unwrap().keys().all(|k| k.starts_with("text/plain")), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_openapi_json_is_the_committed_document() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_same_document(
        "openapi.json",
        &committed("openapi.json"),
        &response.text().await.unwrap(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id_and_a_sent_one_is_echoed() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let generated = app.http.get(app.url("/nowhere")).send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 26, "a ULID: {id}");
    let sent = app.http.get(app.url("/healthz")).header("x-request-id", "trace-42").send().await;
    assert_eq!(sent.unwrap().headers()["x-request-id"], "trace-42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_by_default() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let response =
        app.http.get(app.url("/healthz")).header(ORIGIN, "https://x.example").send().await.unwrap();
    assert!(response.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{response:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_preflights_from_configured_origins_only() {
    let redis = RedisServer::start();
    let config = ttp::config::Config {
        cors_origins: "https://dash.example, http://localhost:3000".into(),
        ..test_config(&redis.url())
    };
    let app = TestApp::spawn_with(
        config,
        Roles { api: true, workers: false },
        HandlerRegistry::with_builtins(),
    )
    .await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/tasks"))
            .header(ORIGIN, origin)
            .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .send()
    };
    let allowed = preflight("https://dash.example").await.unwrap();
    assert!(allowed.status().is_success(), "{allowed:?}");
    assert_eq!(allowed.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "https://dash.example");
    // A browser may send an API key.
    let headers = allowed.headers()["access-control-allow-headers"].to_str().unwrap().to_owned();
    assert!(headers.contains("authorization") && headers.contains("x-api-key"), "{headers}");
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{other:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_responses_are_gzipped_and_small_ones_are_not() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let get =
        |path: &'static str| app.http.get(app.url(path)).header(ACCEPT_ENCODING, "gzip").send();
    let large = get("/openapi.json").await.unwrap();
    assert_eq!(large.headers().get(CONTENT_ENCODING).map(|v| v.to_str().unwrap()), Some("gzip"));
    let small = get("/healthz").await.unwrap();
    assert!(small.headers().get(CONTENT_ENCODING).is_none(), "{small:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_of_a_cancelled_task_is_a_202_with_location() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.submit_ok(&json!({"kind": "noop", "delay_ms": 60_000})).await;
    let cancelled = app.http.post(app.url(&format!("/tasks/{id}/cancel"))).send().await.unwrap();
    assert_eq!(cancelled.status(), 200);
    let retried = app.http.post(app.url(&format!("/tasks/{id}/retry"))).send().await.unwrap();
    assert_eq!(retried.status(), 202);
    assert_eq!(retried.headers()[LOCATION], format!("/tasks/{id}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_header_and_field_that_differ_are_a_409() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let body = json!({"kind": "noop", "idempotency_key": "a"});
    let response = app
        .http
        .post(app.url("/tasks"))
        .header("Idempotency-Key", "b")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(response, 409, None).await;
    let tab = app
        .http
        .post(app.url("/tasks"))
        .header("Idempotency-Key", "a\tb")
        .json(&json!({"kind": "noop"}));
    assert_problem(tab.send().await.unwrap(), 422, Some("Idempotency-Key")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_fields_take_integral_json_floats() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.submit_ok(&json!({"kind": "noop", "priority": 7.0, "max_attempts": 2.0})).await;
    let view = app.get(&id).await;
    assert_eq!((view["priority"].clone(), view["max_attempts"].clone()), (json!(7), json!(2)));
    let fraction = app.submit(&json!({"kind": "noop", "priority": 7.5})).await;
    assert_problem(fraction, 400, Some("priority")).await;
}
