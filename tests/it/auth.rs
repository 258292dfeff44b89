//! API keys: with `TTP_API_KEYS` set, `/tasks` and `/queues` need a key; probes,
//! metrics and the OpenAPI document do not.

use serde_json::json;
use ttp::app::Roles;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{RedisServer, TestApp, assert_problem, test_config};

const KEY: &str = "k3y-for-tests-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_api_keys_guard_tasks_and_queues_but_not_probes() {
    let redis = RedisServer::start();
    let config = ttp::config::Config {
        api_keys: format!("another-key-0123456789, {KEY}"),
        ..test_config(&redis.url())
    };
    let roles = Roles { api: true, workers: false };
    let app = TestApp::spawn_with(config, roles, HandlerRegistry::with_builtins()).await;
    let task = json!({"kind": "noop"});

    let missing = app.http.post(app.url("/tasks")).json(&task).send().await.unwrap();
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert_problem(missing, 401, None).await;
    let wrong = app
        .http
        .get(app.url("/queues"))
        .bearer_auth("k3y-for-tests-012345678X")
        .send()
        .await
        .unwrap();
    assert_problem(wrong, 401, None).await;

    let bearer =
        app.http.post(app.url("/tasks")).bearer_auth(KEY).json(&task).send().await.unwrap();
    assert_eq!(bearer.status(), 202);
    let header = app.http.get(app.url("/queues")).header("x-api-key", KEY).send().await.unwrap();
    assert_eq!(header.status(), 200);
    // The scheme is case-insensitive (RFC 9110).
    let lower = app.http.get(app.url("/queues")).header("authorization", format!("bearer {KEY}"));
    assert_eq!(lower.send().await.unwrap().status(), 200);

    for open in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let response = app.http.get(app.url(open)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{open} must not need a key");
    }
    app.shutdown().await;
}
