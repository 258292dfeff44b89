//! Talking to ttp over HTTP: submit one task (`POST /tasks`) or many (`POST /tasks/batch`),
//! and long-poll a task (`GET /tasks/{id}?wait_ms=`) until it is terminal.
//!
//! What a client has to handle is which refusals are worth another try. A connection
//! error, a timeout, `429` (queue full, honouring `Retry-After`), `502`/`503`/`504` (ttp
//! or Redis restarting), or a batch with an item refused so, is passing: the same body
//! is sent again with a growing pause for up to `--retry-for-ms`. Anything else (`422` and
//! friends) is the answer. Re-sending is safe only because every task carries an
//! idempotency key (see `requests.rs`). Failures are not returned as errors but tallied in
//! [`Errors`], so one bad request does not stop the other thousands.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::report::{Errors, one_line, problem, without_index};

/// A ttp base URL, the HTTP client to reach it, and the tally of what went wrong.
pub struct Client {
    http: reqwest::Client,
    base: String,
    retry_for: Duration,
    pub errors: Errors,
}

impl Client {
    /// Keeps up to `concurrency` connections open; a request gets 40 s (a long poll
    /// asks for at most 10).
    pub fn new(url: &str, concurrency: u16, retry_for: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(40))
            .pool_max_idle_per_host(usize::from(concurrency))
            .tcp_nodelay(true)
            .build()?;
        let base = url.trim_end_matches('/').to_owned();
        Ok(Self { http, base, retry_for, errors: Errors::default() })
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// POSTs `body`, re-sending it while it is refused for a passing reason (no
    /// connection, timeout, 429, 503, or a batch with an item refused so) and `retry_for`
    /// has not elapsed. Safe because every task carries an idempotency key.
    async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        let give_up = Instant::now() + self.retry_for;
        let mut pause = Duration::from_millis(50);
        loop {
            let sent = self.http.post(format!("{}{path}", self.base)).json(body).send().await;
            let retry = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let body: Value = response.json().await.map_err(|e| {
                        format!("POST {path}: {status} with an unreadable body: {e}")
                    })?;
                    let items_refused = body["results"].as_array().is_some_and(|items| {
                        items.iter().any(|r| matches!(r["status"].as_u64(), Some(429 | 503)))
                    });
                    if !(matches!(status, 429 | 502 | 503 | 504) || items_refused) {
                        return Ok((status, body));
                    }
                    if let Some(s) = retry_after {
                        pause = pause.max(Duration::from_secs(s.min(5)));
                    }
                    format!("POST {path}: {status} {}", problem(&body))
                }
                Err(e) => format!("POST {path}: {}", one_line(&e)),
            };
            if Instant::now() + pause > give_up {
                return Err(retry);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// Submits one task through `POST /tasks`; its id, or None when refused.
    pub async fn submit_one(&self, task: &Value) -> Option<String> {
        match self.post("/tasks", task).await {
            Ok((202 | 200, view)) => view["id"].as_str().map(str::to_owned),
            Ok((status, body)) => {
                self.errors.add(format!("POST /tasks: {status} {}", problem(&body)), 1);
                None
            }
            Err(message) => {
                self.errors.add(message, 1);
                None
            }
        }
    }

    /// Submits `tasks` through `POST /tasks/batch`; their ids in order (None for each one
    /// refused, alone or with the whole request).
    pub async fn submit_batch(&self, tasks: Vec<Value>) -> Vec<Option<String>> {
        let n = tasks.len();
        match self.post("/tasks/batch", &json!({ "tasks": tasks })).await {
            Ok((200, body)) => {
                let items = body["results"].as_array().cloned().unwrap_or_default();
                if items.len() != n {
                    self.errors.add(
                        format!("POST /tasks/batch: {} results for {n} tasks", items.len()),
                        1,
                    );
                }
                let mut ids: Vec<Option<String>> = items.iter().map(|r| self.item_id(r)).collect();
                ids.resize(n, None);
                ids
            }
            Ok((status, body)) => {
                self.errors
                    .add(format!("POST /tasks/batch: {status} {}", problem(&body)), n as u64);
                vec![None; n]
            }
            Err(message) => {
                self.errors.add(message, n as u64);
                vec![None; n]
            }
        }
    }

    /// The id of one `results` item of a batch answer, or None (and the reason tallied).
    fn item_id(&self, item: &Value) -> Option<String> {
        match (item["status"].as_u64(), item["id"].as_str()) {
            (Some(202 | 200), Some(id)) => Some(id.to_owned()),
            (status, _) => {
                let status = status.unwrap_or(0);
                let message = without_index(&problem(&item["problem"]));
                self.errors.add(format!("POST /tasks/batch item: {status} {message}"), 1);
                None
            }
        }
    }

    /// Long-polls one task until it is terminal or `deadline`; its last view.
    pub async fn wait(&self, id: &str, deadline: Instant) -> Option<Value> {
        let mut last = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let wait_ms = left.as_millis().min(10_000);
            let url = format!("{}/tasks/{id}?wait_ms={wait_ms}", self.base);
            match self.http.get(url).send().await {
                Ok(response) if response.status().is_success() => {
                    match response.json::<Value>().await {
                        Ok(view) => {
                            let terminal = is_terminal(&view);
                            last = Some(view);
                            if terminal {
                                return last;
                            }
                        }
                        Err(e) => {
                            self.errors.add(format!("GET /tasks/{{id}}: {}", one_line(&e)), 1)
                        }
                    }
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    if !matches!(status, 429 | 502 | 503 | 504) {
                        self.errors
                            .add(format!("GET /tasks/{{id}}: {status} {}", problem(&body)), 1);
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                // ttp restarting: try again until the deadline.
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
            if Instant::now() >= deadline {
                if last.is_none() {
                    let message =
                        format!("GET /tasks/{{id}}: no answer before the deadline ({id})");
                    self.errors.add(message, 1);
                }
                return last;
            }
        }
    }
}

/// Whether a task view is in a state it never leaves.
fn is_terminal(view: &Value) -> bool {
    matches!(view["state"].as_str(), Some("succeeded" | "failed" | "cancelled"))
}
