//! A real Prometheus scrapes ttp: Debian's `prometheus` binary on loopback, loaded with
//! the repo's alert rules (deploy/prometheus/alerts.yml), scrapes a running app every
//! second; the p99 end-to-end latency is then read back through Prometheus's HTTP API, the
//! way the Grafana dashboard and the alerts read it. `make test` installs the binary
//! (scripts/ensure-prometheus.sh); this test never installs anything.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::testkit::{RedisServer, TestApp, free_port};

/// The query of the issue: p99 of submitted → finished over the last minute.
const P99_END_TO_END: &str =
    "histogram_quantile(0.99, sum by (le) (rate(ttp_task_end_to_end_seconds_bucket[1m])))";

/// A `prometheus` server on 127.0.0.1 with its own configuration and storage directory;
/// killed on drop (its log is printed if the test failed).
struct Prometheus {
    child: Child,
    base: String,
    dir: PathBuf,
    http: reqwest::Client,
}

/// The configuration: 1 s scrapes of `target` under the Compose job name `ttp-api`, and
/// the repo's alert rules evaluated every second.
fn config(target: &str) -> String {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/alerts.yml");
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {rules}\n\
         scrape_configs:\n  - job_name: ttp-api\n    metrics_path: /metrics\n    \
         static_configs:\n      - targets: ['{target}']\n",
        rules = rules.display()
    )
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`host:port`); retries on a port collision.
    async fn start(target: &str) -> Self {
        let binary = "prometheus";
        let dir = std::env::temp_dir().join(format!(
            "ttp-prometheus-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(dir.join("prometheus.yml"), config(target)).unwrap();
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
            let child = Command::new(binary)
                .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
                .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot run `{binary}` ({e}): install it with scripts/ensure-prometheus.sh (make test does)")
                });
            let mut server = Self {
                child,
                base: format!("http://127.0.0.1:{port}"),
                dir: dir.clone(),
                http: ttp::testkit::http_client(),
            };
            if server.wait_ready(Duration::from_secs(30)).await {
                return server;
            }
        }
        panic!("prometheus did not start; see the log above");
    }

    /// Polls `/-/ready`; false if the process exited (e.g. the port was taken) or the
    /// deadline passed.
    async fn wait_ready(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                eprintln!("prometheus exited:\n{}", self.log());
                return false;
            }
            let ready = self.http.get(format!("{}/-/ready", self.base)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }

    /// `GET /api/v1/<path>?<params>` → the `data` member of a successful answer.
    async fn api(&self, path: &str, params: &[(&str, &str)]) -> Option<Value> {
        let url = reqwest::Url::parse_with_params(&format!("{}/api/v1/{path}", self.base), params)
            .unwrap();
        let body: Value = self.http.get(url).send().await.ok()?.json().await.ok()?;
        (body["status"] == "success").then(|| body["data"].clone())
    }

    /// The value of an instant query whose result is one sample (`None`: no sample yet).
    async fn query(&self, promql: &str) -> Option<f64> {
        let data = self.api("query", &[("query", promql)]).await?;
        let value = data["result"].get(0)?["value"][1].as_str()?;
        value.parse().ok()
    }

    /// Polls `promql` until `accept` takes its value; panics after `within`.
    async fn wait_for(&self, promql: &str, within: Duration, accept: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + within;
        let mut last = None;
        while Instant::now() < deadline {
            last = self.query(promql).await;
            if let Some(value) = last.filter(|v| accept(*v)) {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("{promql}: no acceptable value within {within:?}, last {last:?}");
    }

    /// Every alert rule, once each has been evaluated: (name, health, last error).
    async fn evaluated_rules(&self, within: Duration) -> Vec<(String, String, String)> {
        let deadline = Instant::now() + within;
        loop {
            let rules: Vec<(String, String, String)> = self
                .api("rules", &[])
                .await
                .map(|data| {
                    let groups = data["groups"].as_array().cloned().unwrap_or_default();
                    let rules = groups
                        .iter()
                        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default());
                    rules
                        .map(|r| {
                            let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
                            (text("name"), text("health"), text("lastError"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let evaluated = !rules.is_empty() && rules.iter().all(|r| r.1 != "unknown");
            if evaluated || Instant::now() > deadline {
                assert!(evaluated, "alert rules not evaluated in time: {rules:?}");
                return rules;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- prometheus log ---\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Submits `n` short `sleep` tasks of 1–20 ms and waits until all succeeded.
async fn run_tasks(app: &TestApp, n: u64) {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = json!({"kind": "sleep", "payload": {"ms": 1 + (i * 7) % 20}});
        ids.push(app.submit_ok(&body).await);
    }
    for id in &ids {
        app.wait_for_state(id, "succeeded", Duration::from_secs(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_ttp_and_reports_the_p99_end_to_end_latency() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let prometheus = Prometheus::start(&app.addr.to_string()).await;
    prometheus.wait_for("up{job=\"ttp-api\"}", Duration::from_secs(30), |up| up == 1.0).await;

    // rate() needs two scrapes that differ: let Prometheus see a first wave before the rest.
    run_tasks(&app, 5).await;
    let seen = "sum(ttp_task_end_to_end_seconds_count)";
    prometheus.wait_for(seen, Duration::from_secs(30), |n| n >= 5.0).await;
    run_tasks(&app, 45).await;
    prometheus.wait_for(seen, Duration::from_secs(30), |n| n >= 50.0).await;

    let p99 = prometheus
        .wait_for(P99_END_TO_END, Duration::from_secs(30), |v| v.is_finite() && v > 0.0)
        .await;
    println!("Prometheus {P99_END_TO_END} = {p99} s (50 tasks)");
    assert!(p99.is_finite() && p99 > 0.0, "p99 = {p99}");

    // The repo's alert rules evaluate without errors against real ttp series.
    let rules = prometheus.evaluated_rules(Duration::from_secs(30)).await;
    let broken: Vec<_> = rules.iter().filter(|r| r.1 != "ok").collect();
    assert!(broken.is_empty(), "alert rules failing: {broken:?}");

    drop(prometheus);
    app.shutdown().await;
}
