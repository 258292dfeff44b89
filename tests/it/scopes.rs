//! Scoped API keys from `TTP_API_KEYS_FILE`: each route needs its scope (403 naming it),
//! each key reaches only its queues (403 naming the queue, lists filtered, per batch
//! item), scopes are independent, rate limits answer 429, and the file is re-read on
//! SIGHUP so keys rotate without a restart.

use std::time::Duration;

use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{RedisServer, TestApp, TtpProcess, assert_problem, test_config};

use crate::TTP_BIN;

/// A keys-file entry admitting `secret`.
pub fn entry(id: &str, secret: &str, scopes: &[&str], queues: &[&str]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let list =
        |items: &[&str]| items.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join(", ");
    format!(
        "[[key]]\nid = {id:?}\nsecret_sha256 = \"{hex}\"\nscopes = [{}]\nqueues = [{}]\n",
        list(scopes),
        list(queues)
    )
}

const PRODUCER: &str = "producer-secret-0001";
const OPERATOR: &str = "operator-secret-0002";

pub fn keys_file(dir: &std::path::Path, text: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("keys.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

async fn app_with_keys(redis: &RedisServer, change: impl FnOnce(&mut Config)) -> TestApp {
    let dir =
        std::env::temp_dir().join(format!("ttp-keys-{}-{}", std::process::id(), redis.port()));
    let text = entry("producer", PRODUCER, &["submit", "read"], &["default"])
        + &entry("operator", OPERATOR, &["admin"], &["*"]);
    let mut config = Config {
        api_keys_file: keys_file(&dir, &text),
        queues: "default".into(),
        ..test_config(&redis.url())
    };
    change(&mut config);
    TestApp::spawn_with(
        config,
        Roles { api: true, workers: false },
        HandlerRegistry::with_builtins(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_needs_its_scope_and_each_key_only_its_queues() {
    let redis = RedisServer::start();
    let app = app_with_keys(&redis, |_| {}).await;
    let post = |path: &str, key: &str, body: Value| {
        app.http.post(app.url(path)).bearer_auth(key).json(&body).send()
    };

    assert_problem(app.submit(&json!({"kind": "noop"})).await, 401, None).await;
    let id = post("/tasks", PRODUCER, json!({"kind": "noop"})).await.unwrap();
    assert_eq!(id.status(), 202);
    let id = id.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let elsewhere =
        post("/tasks", PRODUCER, json!({"kind": "noop", "queue": "reports"})).await.unwrap();
    let problem = assert_problem(elsewhere, 403, None).await;
    assert_eq!(problem["type"], "urn:ttp:problem:forbidden");
    assert!(problem["detail"].as_str().unwrap().contains("reports"), "{problem}");
    let read =
        app.http.get(app.url(&format!("/tasks/{id}"))).bearer_auth(PRODUCER).send().await.unwrap();
    assert_eq!(read.status(), 200);
    let pause = post("/queues/default/pause", PRODUCER, json!({})).await.unwrap();
    let problem = assert_problem(pause, 403, None).await;
    assert!(problem["detail"].as_str().unwrap().contains("`admin`"), "{problem}");

    // Admin does not imply read.
    assert_eq!(post("/queues/reports/pause", OPERATOR, json!({})).await.unwrap().status(), 200);
    let read =
        app.http.get(app.url(&format!("/tasks/{id}"))).bearer_auth(OPERATOR).send().await.unwrap();
    assert_problem(read, 403, None).await;

    // Lists show only the key's queues; a batch answers 403 per item.
    post("/tasks", OPERATOR, json!({"kind": "noop"})).await.unwrap();
    let body = json!({"tasks": [{"kind": "noop"}, {"kind": "noop", "queue": "reports"}]});
    let batch: Value = post("/tasks/batch", PRODUCER, body).await.unwrap().json().await.unwrap();
    assert_eq!(batch["results"][0]["status"], 202, "{batch}");
    assert_eq!(batch["results"][1]["status"], 403, "{batch}");
    let queues: Value = app
        .http
        .get(app.url("/queues"))
        .bearer_auth(PRODUCER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> =
        queues["queues"].as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default"], "{queues}");
    for open in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(app.http.get(app.url(open)).send().await.unwrap().status(), 200, "{open}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_past_its_rate_gets_429_with_retry_after_and_batch_items_count() {
    let redis = RedisServer::start();
    let app = app_with_keys(&redis, |c| c.rate_limit_submit_per_s = 5).await;
    let submit = || {
        app.http.post(app.url("/tasks")).bearer_auth(PRODUCER).json(&json!({"kind": "noop"})).send()
    };
    for _ in 0..5 {
        assert_eq!(submit().await.unwrap().status(), 202);
    }
    let limited = submit().await.unwrap();
    assert!(limited.headers().contains_key("retry-after"), "{limited:?}");
    let problem = assert_problem(limited, 429, None).await;
    assert_eq!(problem["type"], "urn:ttp:problem:rate-limited");
    // Reads have their own limit (none here).
    let read = app.http.get(app.url("/queues")).bearer_auth(PRODUCER).send().await.unwrap();
    assert_eq!(read.status(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ten: Vec<Value> = (0..10).map(|_| json!({"kind": "noop"})).collect();
    let batch = app
        .http
        .post(app.url("/tasks/batch"))
        .bearer_auth(PRODUCER)
        .json(&json!({"tasks": ten}))
        .send()
        .await
        .unwrap();
    assert_problem(batch, 429, None).await;
    let metrics = app.metrics_text().await;
    assert!(metrics.contains(r#"ttp_http_rate_limited_total{key_id="producer"} 2"#), "{metrics}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_added_to_the_file_is_accepted_after_sighup() {
    let redis = RedisServer::start();
    let dir =
        std::env::temp_dir().join(format!("ttp-reload-{}-{}", std::process::id(), redis.port()));
    let path = keys_file(&dir, &entry("old", PRODUCER, &["read"], &["*"]));
    let serve = TtpProcess::start(
        TTP_BIN,
        &["serve", "--no-workers"],
        &[("TTP_REDIS_URL", redis.url()), ("TTP_API_KEYS_FILE", path.clone())],
    );
    let http = ttp::testkit::http_client();
    let status = |key: &'static str| {
        let request = http.get(serve.url("/queues")).bearer_auth(key);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(PRODUCER).await, 200);
    assert_eq!(status(OPERATOR).await, 401);
    std::fs::write(&path, entry("new", OPERATOR, &["read"], &["*"])).unwrap();
    serve.signal("HUP");
    let mut statuses = (0, 0);
    for _ in 0..100 {
        statuses = (status(OPERATOR).await, status(PRODUCER).await);
        if statuses == (200, 401) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(statuses, (200, 401), "after SIGHUP: the new key in, the old one out");
    let _ = std::fs::remove_dir_all(dir);
}
