//! Redis over TLS (a private CA, mutual TLS, a wrong CA refused without a panic) and under
//! the least-privilege ACL user the README documents (the test reads the line from the
//! README, so it cannot rot).

use std::time::Duration;

use serde_json::json;
use ttp::app::Roles;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{RedisServer, TestApp, TestCerts, test_config};

async fn app_with(config: Config) -> TestApp {
    TestApp::spawn_with(
        config,
        Roles { api: true, workers: true },
        HandlerRegistry::with_builtins(),
    )
    .await
}

/// Submits a task and waits for its result.
async fn round_trip(app: &TestApp) {
    let id = app.submit_ok(&json!({"kind": "echo", "payload": {"over": "tls"}})).await;
    let view = app.wait_for_state(&id, "succeeded", Duration::from_secs(10)).await;
    assert_eq!(view["result"], json!({"over": "tls"}), "{view}");
}

async fn readiness(app: &TestApp) -> u16 {
    app.http.get(app.url("/readyz")).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_run_over_tls_to_redis_with_a_private_ca() {
    let certs = TestCerts::generate();
    let redis = RedisServer::start_tls(&certs, false);
    let config = Config { redis_ca_file: certs.path("ca.crt"), ..test_config(&redis.url()) };
    let app = app_with(config).await;
    assert_eq!(readiness(&app).await, 200);
    round_trip(&app).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_needs_the_client_certificate() {
    let certs = TestCerts::generate();
    let redis = RedisServer::start_tls(&certs, true);
    let with_cert = Config {
        redis_ca_file: certs.path("ca.crt"),
        redis_client_cert_file: certs.path("client.crt"),
        redis_client_key_file: certs.path("client.key"),
        ..test_config(&redis.url())
    };
    let app = app_with(with_cert).await;
    round_trip(&app).await;
    app.shutdown().await;

    let without = Config { redis_ca_file: certs.path("ca.crt"), ..test_config(&redis.url()) };
    let app = app_with(without).await;
    assert_eq!(readiness(&app).await, 503);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_certificate_from_another_ca_is_refused_with_503_not_a_panic() {
    let certs = TestCerts::generate();
    let redis = RedisServer::start_tls(&certs, false);
    let config = Config { redis_ca_file: certs.path("other-ca.crt"), ..test_config(&redis.url()) };
    let app = app_with(config).await;
    let started = std::time::Instant::now();
    assert_eq!(readiness(&app).await, 503);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    let response = app.submit(&json!({"kind": "noop"})).await;
    assert_eq!(response.status(), 503);
    app.shutdown().await;
}

/// The `ACL SETUSER` line of the README, with `password` in place of its placeholder.
fn readme_acl_line(password: &str) -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("redis-cli ACL SETUSER ttp "))
        .expect("the README's ACL line");
    line.trim_start_matches("redis-cli ")
        .split_whitespace()
        .map(|word| {
            word.trim_matches('\'')
                .replace("\\|", "|")
                .replace(">CHANGE-ME", &format!(">{password}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_lifecycle_runs_under_the_documented_least_privilege_user() {
    let redis = RedisServer::start();
    let words = readme_acl_line("lifecycle-password");
    let mut acl = redis::cmd(&words[0]);
    for word in &words[1..] {
        acl.arg(word);
    }
    let _: () = acl.query(&mut redis.connection()).unwrap();
    let config = Config {
        redis_username: "ttp".into(),
        redis_password: "lifecycle-password".into(),
        ..test_config(&redis.url())
    };
    let app = app_with(config).await;
    assert_eq!(readiness(&app).await, 200);
    round_trip(&app).await;
    // Delays, retries, the dead-letter list and its replay, cancel, pause and resume,
    // long-poll, queue lists and metrics: every command they need is in the line.
    let delayed = app.submit_ok(&json!({"kind": "noop", "delay_ms": 100})).await;
    let flaky = app.submit_ok(&json!({"kind": "fail", "payload": {"fail_first": 1}})).await;
    let doomed = app.submit_ok(&json!({"kind": "fail", "max_attempts": 1})).await;
    for id in [&delayed, &flaky] {
        let view: serde_json::Value = app
            .http
            .get(app.url(&format!("/tasks/{id}?wait_ms=10000")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(view["state"], "succeeded", "{view}");
    }
    app.wait_for_state(&doomed, "failed", Duration::from_secs(10)).await;
    let dead = app.http.get(app.url("/queues/default/dead?kind=fail")).send().await.unwrap();
    assert_eq!(dead.status(), 200);
    let retried = app.http.post(app.url(&format!("/tasks/{doomed}/retry"))).send().await.unwrap();
    assert_eq!(retried.status(), 202);
    for action in ["pause", "resume"] {
        let response =
            app.http.post(app.url(&format!("/queues/default/{action}"))).send().await.unwrap();
        assert_eq!(response.status(), 200, "{action}");
    }
    let later = app.submit_ok(&json!({"kind": "noop", "delay_ms": 60_000})).await;
    let cancelled = app.http.delete(app.url(&format!("/tasks/{later}"))).send().await.unwrap();
    assert!(cancelled.status().is_success(), "{cancelled:?}");
    assert_eq!(app.http.get(app.url("/queues")).send().await.unwrap().status(), 200);
    assert!(app.metrics_text().await.contains("ttp_queue_depth"));
    app.shutdown().await;
}

/// `GET path` over HTTPS to `addr`, trusting only `ca_file`; the status line.
async fn https_get(
    addr: std::net::SocketAddr,
    ca_file: &str,
    path: &str,
) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca_file).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.map_err(|e| e.to_string())?;
    Ok(response.lines().next().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_https_with_a_configured_certificate() {
    let certs = TestCerts::generate();
    let redis = RedisServer::start();
    let config = Config {
        tls_cert_file: certs.path("server.crt"),
        tls_key_file: certs.path("server.key"),
        ..test_config(&redis.url())
    };
    let app = app_with(config).await;
    let status = https_get(app.addr, &certs.path("ca.crt"), "/healthz").await.unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    // A client that trusts another CA refuses the server.
    assert!(https_get(app.addr, &certs.path("other-ca.crt"), "/healthz").await.is_err());
    // Plain HTTP on the HTTPS port gets nothing served.
    assert!(app.http.get(app.url("/healthz")).send().await.is_err());
    app.shutdown().await;
}
