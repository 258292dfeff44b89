//! The app running inside the test process, reached over real HTTP, and the test
//! configuration (port 0, short leases and backoffs, quiet logs).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::RedisServer;
use crate::app::{App, Roles};
use crate::config::Config;
use crate::kinds::HandlerRegistry;
use crate::queue::Queue;

/// A configuration for tests: port 0, short leases and backoffs, quiet logs.
pub fn test_config(redis_url: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        redis_url: redis_url.into(),
        redis_pool_size: 8,
        concurrency: 4,
        lease_ms: 2000,
        backoff_base_ms: 10,
        backoff_max_ms: 100,
        shutdown_grace_ms: 5000,
        log: "warn".into(),
        ..Config::default()
    }
}

/// [`test_config`] for a Redis Cluster: cluster mode, its seed nodes.
pub fn cluster_config(cluster: &super::RedisCluster) -> Config {
    Config { redis_mode: crate::config::RedisMode::Cluster, ..test_config(&cluster.url()) }
}

/// A plain reqwest client for tests. reqwest is built without a default TLS provider,
/// so `reqwest::Client::new()` panics unless one is installed; this installs it first.
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().unwrap()
}

/// A reqwest client builder for tests (see [`http_client`]).
pub fn http_client_builder() -> reqwest::ClientBuilder {
    crate::crypto::install_default_provider();
    reqwest::Client::builder()
}

/// The app running in this test process, reached over real HTTP.
pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub queue: Arc<Queue>,
    shutdown: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    /// API and workers with [`test_config`] and the built-in kinds.
    pub async fn spawn(redis: &RedisServer) -> Self {
        Self::spawn_with(
            test_config(&redis.url()),
            Roles { api: true, workers: true },
            HandlerRegistry::with_builtins(),
        )
        .await
    }

    /// The HTTP API only (no workers), with [`test_config`] and the built-in kinds.
    pub async fn api_only(redis: &RedisServer) -> Self {
        let roles = Roles { api: true, workers: false };
        Self::spawn_with(test_config(&redis.url()), roles, HandlerRegistry::with_builtins()).await
    }

    /// Any configuration, roles and handlers.
    pub async fn spawn_with(config: Config, roles: Roles, registry: HandlerRegistry) -> Self {
        if let Ok(settings) = config.settings() {
            crate::telemetry::init(&settings.logging);
        }
        let app = App::build(config, Roles { api: true, ..roles }, registry).await.unwrap();
        let addr = app.local_addr().unwrap();
        let queue = app.queue();
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Self { addr, http: http_client(), queue, shutdown, handle }
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `POST /tasks` with a JSON body.
    pub async fn submit(&self, body: &Value) -> reqwest::Response {
        self.http.post(self.url("/tasks")).json(body).send().await.unwrap()
    }

    /// Submits and returns the new task's id (asserting 202).
    pub async fn submit_ok(&self, body: &Value) -> String {
        let response = self.submit(body).await;
        assert_eq!(response.status(), 202, "{:?}", response.text().await);
        let view: Value = response.json().await.unwrap();
        view["id"].as_str().unwrap().to_owned()
    }

    /// `GET /tasks/{id}` as JSON.
    pub async fn get(&self, id: &str) -> Value {
        self.http.get(self.url(&format!("/tasks/{id}"))).send().await.unwrap().json().await.unwrap()
    }

    /// Polls the task until `state` or the deadline; returns the last view.
    pub async fn wait_for_state(&self, id: &str, state: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let view = self.get(id).await;
            if view["state"] == state || Instant::now() > deadline {
                assert_eq!(view["state"], state, "task {id} did not reach {state}: {view}");
                return view;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `GET /metrics` text.
    pub async fn metrics_text(&self) -> String {
        self.http.get(self.url("/metrics")).send().await.unwrap().text().await.unwrap()
    }

    /// Triggers shutdown and waits for the app to stop.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.handle.await.unwrap().unwrap();
    }
}
