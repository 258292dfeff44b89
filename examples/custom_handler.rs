//! Your own task kinds: implement [`Handler`] and register it on a [`HandlerRegistry`].
//!
//! Two kinds, one of each flavour:
//! - `text.wordcount` (CPU work, synchronous): `{"text": "...", "top": 3}` → word, line
//!   and character counts and the `top` most frequent words;
//! - `http.check` (I/O, asynchronous): `{"url": "http://..."}` → the HTTP status, size and
//!   time of a GET, retried when the server is down or answers 5xx/429.
//!
//! How a handler reports a failure decides what happens to the task:
//! - `Err(TaskError::retryable(..))`: a transient problem (a dependency down, a timeout).
//!   The task goes back to `scheduled` with exponential backoff and runs again while it
//!   has attempts left (`max_attempts`), then lands in the dead-letter list.
//! - `Err(TaskError::permanent(..))`: another attempt cannot help (a 404, a bad input the
//!   validation could not catch). The task fails at once, into the dead-letter list.
//! - `Err(TaskError::invalid(field, ..))` from `validate`: the submission is refused with
//!   `422` naming `payload.<field>`, so a bad payload never reaches a worker.
//!
//! A task exceeding its `timeout_ms` is a retryable failure: the worker drops the future,
//! so handlers should `.await` rather than block, and put CPU-heavy work on
//! `tokio::task::spawn_blocking`. Delivery is at-least-once: `ctx.attempt > 1` means the
//! task ran before, so side effects should be idempotent.
//!
//! Run it (Redis at `TTP_REDIS_URL`, default `redis://127.0.0.1:6379`):
//!
//! ```text
//! cargo run --example custom_handler
//! ```
//!
//! It starts ttp in-process on a free port with both kinds registered, submits one task of
//! each kind over HTTP, waits for the results, prints them and stops. The `consumer`
//! example serves the same kinds until Ctrl+C.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use ttp::kinds::{Handler, HandlerFuture, HandlerRegistry, TaskContext};
use ttp::task::TaskError;

/// Adds this example's kinds to `registry` (e.g. `HandlerRegistry::with_builtins()`).
pub fn register(registry: HandlerRegistry) -> anyhow::Result<HandlerRegistry> {
    // rustls' crypto for reqwest's HTTPS (ttp builds reqwest without a default one).
    ttp::crypto::install_default_provider();
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
        .context("cannot build the HTTP client of http.check")?;
    Ok(registry.with("text.wordcount", WordCount).with("http.check", HttpCheck { http }))
}

/// Reads a payload into `T`; a mismatch is a 422 naming the offending field.
fn parse<T: DeserializeOwned>(payload: &Value) -> Result<T, TaskError> {
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        TaskError::invalid(field, e.inner().to_string())
    })
}

// ---- text.wordcount: synchronous, CPU-bound ---------------------------------------------

/// `text.wordcount` payload.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WordCountPayload {
    text: String,
    #[serde(default)]
    top: usize,
}

/// Counts the words of `payload.text`.
struct WordCount;

impl WordCount {
    fn parse(payload: &Value) -> Result<WordCountPayload, TaskError> {
        let p: WordCountPayload = parse(payload)?;
        if p.top > 100 {
            return Err(TaskError::invalid("top", format!("must be 0..=100, got {}", p.top)));
        }
        Ok(p)
    }
}

impl Handler for WordCount {
    /// Runs at submission: a wrong payload is a 422 for the client.
    fn validate(&self, payload: &Value) -> Result<(), TaskError> {
        Self::parse(payload).map(|_| ())
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(async move {
            // Validated at submission; parsing again cannot fail for a task that went
            // through the API, and would be a permanent failure if it did.
            let p = Self::parse(&ctx.payload)?;
            // Off the async runtime: a long text must not stall the other tasks.
            tokio::task::spawn_blocking(move || count_words(&p.text, p.top))
                .await
                .map_err(|e| TaskError::permanent(format!("word count panicked: {e}")))
        })
    }
}

fn count_words(text: &str, top: usize) -> Value {
    let mut counts = std::collections::HashMap::<String, u64>::new();
    for word in text.split_whitespace() {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
        if !word.is_empty() {
            *counts.entry(word).or_default() += 1;
        }
    }
    let mut frequent: Vec<(String, u64)> = counts.into_iter().collect();
    frequent.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    frequent.truncate(top);
    json!({
        "words": text.split_whitespace().count(),
        "lines": text.lines().count(),
        "chars": text.chars().count(),
        "top": frequent,
    })
}

// ---- http.check: asynchronous I/O, retryable vs permanent errors ------------------------

/// `http.check` payload.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpCheckPayload {
    url: String,
}

/// GETs `payload.url` and reports its status.
struct HttpCheck {
    http: reqwest::Client,
}

impl Handler for HttpCheck {
    fn validate(&self, payload: &Value) -> Result<(), TaskError> {
        let p: HttpCheckPayload = parse(payload)?;
        match reqwest::Url::parse(&p.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
            _ => Err(TaskError::invalid("url", "must be an http:// or https:// URL")),
        }
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(async move {
            let p: HttpCheckPayload = parse(&ctx.payload)?;
            let started = Instant::now();
            // Cannot connect, or no answer in time: the server may be back later.
            let response = self.http.get(&p.url).send().await.map_err(|e| {
                TaskError::retryable(format!("attempt {}: GET {}: {e}", ctx.attempt, p.url))
            })?;
            let status = response.status();
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(TaskError::retryable(format!("GET {}: {status}", p.url)));
            }
            if status.is_client_error() {
                // 404, 401, …: asking again will not change the answer.
                return Err(TaskError::permanent(format!("GET {}: {status}", p.url)));
            }
            let bytes = response.bytes().await.map_err(|e| TaskError::retryable(e.to_string()))?;
            Ok(json!({
                "status": status.as_u16(),
                "bytes": bytes.len(),
                "ms": started.elapsed().as_millis() as u64,
                "attempt": ctx.attempt,
            }))
        })
    }
}

// ---- main: ttp in-process, one task of each kind end to end ----------------------------

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use ttp::app::{App, Roles};
    use ttp::cli::Overrides;
    use ttp::config::Config;

    // Defaults < TTP_* environment < these overrides: a free loopback port for the API.
    let overrides = Overrides { listen: Some("127.0.0.1:0".into()), ..Overrides::default() };
    let config = Config::load(None, overrides)?;
    ttp::telemetry::init(&config.settings()?.logging);
    let registry = register(HandlerRegistry::with_builtins())?;
    let app = App::build(config, Roles { api: true, workers: true }, registry).await?;
    let base = format!("http://{}", app.local_addr().context("the API is not listening")?);
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone()));

    let outcome = demo(&base).await;
    stop.cancel();
    running.await.context("ttp panicked")??;
    outcome
}

/// Submits one task of each kind and checks what comes back.
async fn demo(base: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let text = "the quick brown fox jumps over the lazy dog\nthe end";
    let counted = run_task(&http, base, json!({"text": text, "top": 2}), "text.wordcount").await?;
    println!("text.wordcount: {} {}", counted["state"], counted["result"]);
    ensure!(counted["state"] == "succeeded" && counted["result"]["words"] == 11, "unexpected");

    let bad = http
        .post(format!("{base}/tasks"))
        .json(&json!({"kind": "text.wordcount", "payload": {"text": 42}}))
        .send()
        .await?;
    let status = bad.status();
    let problem: Value = bad.json().await?;
    println!("text.wordcount with a number: {status} {}", problem["detail"]);
    ensure!(status == 422, "an invalid payload must be refused with 422");

    let healthz = json!({"url": format!("{base}/healthz")});
    let checked = run_task(&http, base, healthz, "http.check").await?;
    println!("http.check /healthz: {} {}", checked["state"], checked["result"]);
    ensure!(checked["result"]["status"] == 200, "http.check of /healthz did not succeed");

    let missing = json!({"url": format!("{base}/no-such-page")});
    let failed = run_task(&http, base, missing, "http.check").await?;
    println!("http.check /no-such-page: {} {}", failed["state"], failed["error"]);
    ensure!(
        failed["state"] == "failed" && failed["attempts"] == 1,
        "a 404 is permanent: the task must fail at its first attempt"
    );
    Ok(())
}

/// Submits a task and long-polls its view until it is terminal.
async fn run_task(
    http: &reqwest::Client,
    base: &str,
    payload: Value,
    kind: &str,
) -> anyhow::Result<Value> {
    let response =
        http.post(format!("{base}/tasks")).json(&json!({"kind": kind, "payload": payload})).send();
    let response = response.await?;
    let status = response.status();
    let view: Value = response.json().await?;
    let Some(id) = view["id"].as_str() else { bail!("submission refused: {status} {view}") };
    for _ in 0..10 {
        let view: Value =
            http.get(format!("{base}/tasks/{id}?wait_ms=5000")).send().await?.json().await?;
        if matches!(view["state"].as_str(), Some("succeeded" | "failed" | "cancelled")) {
            return Ok(view);
        }
    }
    bail!("task {id} did not finish within 50 s")
}
