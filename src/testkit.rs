//! Test helpers shared by the integration tests and the benchmark: a real `redis-server`
//! per test on a free port, an in-process app on port 0, and `ttp` child processes.
//!
//! Nothing here is mocked: tests talk HTTP over sockets to the real app, which talks to a
//! real Redis. Every wait is a condition polled against a deadline, never a fixed sleep.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::{App, Roles};
use crate::config::Config;
use crate::kinds::HandlerRegistry;
use crate::queue::Queue;

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A free TCP port on 127.0.0.1 (bound then released; callers retry on collision).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `redis-server` child process with its own data directory; killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts a Redis without persistence.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a Redis with extra `redis-server` arguments (e.g. `["--appendonly", "yes"]`).
    pub fn start_with(extra: &[&str]) -> Self {
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ttp-redis-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            child: None,
            port: 0,
            dir,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        for _ in 0..10 {
            server.port = free_port();
            if server.launch() {
                return server;
            }
        }
        panic!("redis-server did not start; log:\n{}", server.log());
    }

    fn launch(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--dir", self.dir.to_str().unwrap(), "--logfile", "redis.log"])
            .args(["--protected-mode", "no"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed (make test installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let _ = status;
                self.child = None;
                return false;
            }
            if self.ping() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn ping(&self) -> bool {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A synchronous connection for inspecting keys.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url()).unwrap().get_connection().unwrap()
    }

    /// Kills the server (SIGKILL); data not persisted is lost.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same data directory.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.launch() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not restart; log:\n{}", self.log());
    }

    /// The server log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- redis-server log (port {}) ---\n{}", self.port, self.log());
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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
        Self { addr, http: reqwest::Client::new(), queue, shutdown, handle }
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

/// A `ttp` child process (for crash and signal tests); killed on drop.
pub struct TtpProcess {
    pub child: Child,
    pub port: Option<u16>,
}

impl TtpProcess {
    /// Starts `binary` with `args` and `TTP_*` variables; for `serve`, on a free port,
    /// waiting until `/healthz` answers.
    pub fn start(binary: &str, args: &[&str], env: &[(&str, String)]) -> Self {
        let serves = args.first() == Some(&"serve");
        let port = serves.then(free_port);
        let mut command = Command::new(binary);
        command.args(args).env("TTP_LOG", "warn").stdout(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        if let Some(port) = port {
            command.env("TTP_LISTEN", format!("127.0.0.1:{port}"));
        }
        let child = command.spawn().unwrap();
        let process = Self { child, port };
        if let Some(port) = port {
            wait_until(Duration::from_secs(20), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
        }
        process
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port.unwrap(), path)
    }

    /// Sends a signal by name (`TERM`, `KILL`, `INT`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit, up to `within`; `None` if still running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for TtpProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` every 10 ms until true; panics after `within`.
pub fn wait_until(within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "condition not met within {within:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
