//! Push delivery (the `http` kind) against a real receiver: a Python process that checks
//! every request's Standard Webhooks signature with the reference implementation
//! (`standardwebhooks` from PyPI, installed into `.venv/` by `scripts/push-receiver.sh`)
//! and reports what it saw, one JSON line per request.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{RedisServer, TestApp, TestCerts, assert_problem, free_port, test_config};

/// The signing secret of these tests.
const SECRET: &str = "whsec_dHRwLXRlc3Qtc2lnbmluZy1zZWNyZXQtMzItYnl0ZXM=";
/// How long any task here may take to settle.
const SETTLE: Duration = Duration::from_secs(15);

/// The receiver process and the requests it reported.
struct Receiver {
    child: Child,
    port: u16,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    /// Starts a receiver answering per path as `answers` says (see the script's doc).
    fn start(answers: Value) -> Self {
        Self::spawn(answers, &[])
    }

    /// The same over HTTPS, with the test PKI's server certificate.
    fn start_tls(answers: Value, certs: &TestCerts) -> Self {
        Self::spawn(answers, &[certs.path("server.crt"), certs.path("server.key")])
    }

    fn spawn(answers: Value, tls: &[String]) -> Self {
        let root = env!("CARGO_MANIFEST_DIR");
        let python = Command::new(format!("{root}/scripts/push-receiver.sh"))
            .arg("python")
            .output()
            .unwrap();
        assert!(python.status.success(), "{}", String::from_utf8_lossy(&python.stderr));
        let python = String::from_utf8(python.stdout).unwrap();
        let mut child = Command::new(python.trim())
            .arg(format!("{root}/scripts/push-receiver.py"))
            .args([SECRET, &answers.to_string()])
            .args(tls)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = lines.next().unwrap().unwrap().trim().parse().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(serde_json::from_str(&line).unwrap());
            }
        });
        Self { child, port, seen }
    }

    /// The receiver's URL for `path`.
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The requests seen so far.
    fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test configuration with push delivery to 127.0.0.1 (and `localhost`, to show a
/// redirect to another allowed host is still refused), and backoffs short enough that a
/// retry waits for `Retry-After` rather than the backoff.
fn push_config(redis: &RedisServer) -> Config {
    Config {
        http_allowed_hosts: "127.0.0.1,localhost".into(),
        http_signing_secret: SECRET.into(),
        backoff_base_ms: 10,
        backoff_max_ms: 5000,
        ..test_config(&redis.url())
    }
}

async fn push_app(redis: &RedisServer) -> TestApp {
    let roles = Roles { api: true, workers: true };
    TestApp::spawn_with(push_config(redis), roles, HandlerRegistry::with_builtins()).await
}

/// Submits an `http` task with `payload` and waits until it is `state`.
async fn deliver(app: &TestApp, payload: Value, max_attempts: u32, state: &str) -> Value {
    let body = json!({"kind": "http", "payload": payload, "max_attempts": max_attempts});
    let id = app.submit_ok(&body).await;
    app.wait_for_state(&id, state, SETTLE).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_retries_a_503_no_sooner_than_retry_after_then_succeeds_with_the_answer() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(json!({"/hook": [
        {"status": 503, "headers": {"Retry-After": "1"}, "text": "busy"},
        {"status": 200, "json": {"received": true, "n": 1}}
    ]}));
    let app = push_app(&redis).await;
    let payload = json!({
        "url": receiver.url("/hook?x=1"),
        "headers": {"X-Trace": "abc"},
        "body": {"event": "ping", "text": "héllo"}
    });
    let view = deliver(&app, payload, 3, "succeeded").await;

    assert_eq!(view["attempts"], 2, "{view}");
    let result = &view["result"];
    assert_eq!(result["status"], 200, "{view}");
    assert_eq!(result["body"], json!({"received": true, "n": 1}), "{view}");
    assert_eq!(result["headers"]["content-type"], "application/json", "{view}");
    assert!(result.get("truncated").is_none(), "{view}");
    assert_eq!(view["error"], Value::Null, "{view}");

    let seen = receiver.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for request in &seen {
        assert_eq!(request["verified"], true, "{request}");
        assert_eq!(request["method"], "POST");
        assert_eq!(request["path"], "/hook?x=1");
        assert_eq!(request["headers"]["content-type"], "application/json");
        assert_eq!(request["headers"]["x-trace"], "abc");
        assert_eq!(request["headers"]["webhook-id"], view["id"], "{request}");
        let body: Value = serde_json::from_str(request["body"].as_str().unwrap()).unwrap();
        assert_eq!(body, json!({"event": "ping", "text": "héllo"}));
    }
    let gap = seen[1]["arrived"].as_f64().unwrap() - seen[0]["arrived"].as_f64().unwrap();
    assert!(gap >= 1.0, "second attempt {gap:.3} s after the first, Retry-After said 1 s");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_fails_at_once_on_a_404() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(json!({}));
    let app = push_app(&redis).await;
    let view = deliver(&app, json!({"url": receiver.url("/gone")}), 5, "failed").await;
    assert_eq!(view["attempts"], 1, "{view}");
    let error = view["error"].as_str().unwrap();
    assert!(error.contains("404") && error.contains("no such hook"), "{error}");
    assert_eq!(receiver.seen().len(), 1);
    assert_eq!(receiver.seen()[0]["verified"], true);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_keeps_the_first_64_kib_of_a_long_answer_and_says_so() {
    let redis = RedisServer::start();
    let long = "é".repeat(40_000);
    let receiver = Receiver::start(json!({"/long": [{"status": 200, "text": long}]}));
    let app = push_app(&redis).await;
    let view = deliver(&app, json!({"url": receiver.url("/long")}), 1, "succeeded").await;
    let body = view["result"]["body"].as_str().unwrap();
    assert_eq!(body.len(), 64 * 1024, "cut at 64 KiB, on a character boundary");
    assert!(long.starts_with(body));
    assert_eq!(view["result"]["truncated"], true);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_retries_when_nothing_listens_then_fails() {
    let redis = RedisServer::start();
    let app = push_app(&redis).await;
    let url = format!("http://127.0.0.1:{}/hook", free_port());
    let started = Instant::now();
    let view = deliver(&app, json!({"url": url}), 2, "failed").await;
    assert_eq!(view["attempts"], 2, "{view}");
    let error = view["error"].as_str().unwrap();
    assert!(error.contains("error sending request"), "{error}");
    assert!(started.elapsed() < SETTLE);
    app.shutdown().await;
}

/// HTTPS runs on rustls with ring and checks certificates against the public roots: a
/// receiver whose certificate a private CA signed is refused before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_over_https_refuses_a_certificate_no_public_root_signed() {
    let redis = RedisServer::start();
    let certs = TestCerts::generate();
    let receiver = Receiver::start_tls(json!({"/hook": [{"status": 200}]}), &certs);
    let app = push_app(&redis).await;
    let url = format!("https://127.0.0.1:{}/hook", receiver.port);
    let view = deliver(&app, json!({"url": url}), 1, "failed").await;
    let error = view["error"].as_str().unwrap();
    assert!(error.contains("certificate"), "{error}");
    assert!(receiver.seen().is_empty());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_follows_a_307_within_the_host_and_no_other_redirect() {
    let redis = RedisServer::start();
    let receiver = Receiver::start(json!({
        "/same": [{"status": 307, "headers": {"Location": "/landing"}}],
        "/away": [{"status": 307, "headers": {"Location": "http://localhost:{port}/landing"}}],
        "/see-other": [{"status": 303, "headers": {"Location": "/landing"}}],
        "/landing": [{"status": 200, "text": "landed"}]
    }));
    let app = push_app(&redis).await;

    let payload = json!({"url": receiver.url("/same"), "method": "PUT", "body": "plain text"});
    let view = deliver(&app, payload, 3, "succeeded").await;
    assert_eq!(view["result"]["body"], "landed", "{view}");
    let seen = receiver.seen();
    let paths: Vec<&str> = seen.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/same", "/landing"]);
    for request in &seen {
        assert_eq!(request["verified"], true, "{request}");
        assert_eq!(request["method"], "PUT");
        assert_eq!(request["body"], "plain text");
        assert_eq!(request["headers"]["content-type"], "text/plain; charset=utf-8");
    }

    let view = deliver(&app, json!({"url": receiver.url("/away")}), 3, "failed").await;
    assert_eq!(view["attempts"], 1, "a refused redirect is permanent: {view}");
    let error = view["error"].as_str().unwrap();
    assert!(error.contains("redirect to http://localhost:"), "{error}");
    let paths: Vec<Value> = receiver.seen().iter().map(|r| r["path"].clone()).collect();
    assert_eq!(paths, ["/same", "/landing", "/away"], "the other host was not called");

    // A 303 would turn the POST into a bodiless GET that the signature does not match.
    let view = deliver(&app, json!({"url": receiver.url("/see-other")}), 3, "failed").await;
    assert!(view["error"].as_str().unwrap().contains("303 redirect"), "{view}");
    assert_eq!(receiver.seen().len(), 4, "/landing was not called again");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_refuses_urls_whose_host_is_not_allowed() {
    let redis = RedisServer::start();
    let task = |url: &str| json!({"kind": "http", "payload": {"url": url}});

    // By default no host is allowed, and the answer says which setting allows one.
    let app = TestApp::spawn(&redis).await;
    let response = app.submit(&task("http://127.0.0.1:9/hook")).await;
    let problem = assert_problem(response, 422, Some("payload.url")).await;
    assert!(problem["detail"].as_str().unwrap().contains("TTP_HTTP_ALLOWED_HOSTS"), "{problem}");
    app.shutdown().await;

    let app = push_app(&redis).await;
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1.nip.io/",
        "file:///etc/passwd",
    ] {
        let problem = assert_problem(app.submit(&task(url)).await, 422, Some("payload.url")).await;
        assert!(problem["detail"].as_str().unwrap().contains("payload.url"), "{problem}");
    }
    let bad_header = json!({"kind": "http", "payload": {
        "url": "http://127.0.0.1:9/", "headers": {"webhook-id": "forged"}}});
    assert_problem(app.submit(&bad_header).await, 422, Some("payload.headers.webhook-id")).await;
    app.shutdown().await;
}
