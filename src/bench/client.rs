//! The HTTP side of the load generator: request bodies built once, submissions, queue
//! control, draining and reading task records.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use serde_json::{Value, json};

use super::BenchArgs;

/// A client bound to one ttp and one queue (or several, for a batch to spread its tasks
/// over), with its request bodies prepared.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// The first queue: the one paused, and external kinds are declared on.
    queue: String,
    queues: Vec<String>,
    body: Bytes,
    batch: usize,
}

impl Client {
    /// Prepares the body every request of this run sends.
    pub fn new(args: &BenchArgs) -> anyhow::Result<Self> {
        let payload: Value = match (&args.payload, args.payload_bytes) {
            (Some(text), _) => serde_json::from_str(text).context("--payload is not JSON")?,
            (None, Some(n)) => Value::String("x".repeat(n)),
            (None, None) => Value::Null,
        };
        let queues: Vec<String> = args.queue.split(',').map(|q| q.trim().to_owned()).collect();
        let task = |i: usize| json!({"kind": args.kind, "queue": queues[i % queues.len()], "payload": payload});
        let body = match args.batch {
            0 | 1 => task(0),
            n => json!({"tasks": (0..n).map(task).collect::<Vec<_>>()}),
        };
        crate::crypto::install_default_provider();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency.max(64))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            http,
            base: args.url.trim_end_matches('/').to_owned(),
            queue: queues[0].clone(),
            queues,
            body: Bytes::from(serde_json::to_vec(&body)?),
            batch: args.batch.max(1),
        })
    }

    /// Tasks per request.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Sends one request (one task or one batch); the ids of the accepted tasks.
    pub async fn submit(&self) -> anyhow::Result<Vec<String>> {
        let path = if self.batch > 1 { "/tasks/batch" } else { "/tasks" };
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(self.body.clone())
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if self.batch > 1 {
            let ids = body["results"].as_array().map(|items| {
                items.iter().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect::<Vec<_>>()
            });
            return ids.context("batch response without results");
        }
        match body["id"].as_str() {
            Some(id) if status.as_u16() == 202 => Ok(vec![id.to_owned()]),
            _ => bail!("submission failed with {status}: {body}"),
        }
    }

    /// Declares `kind` as an external kind of this client's queue (any payload).
    pub async fn declare_kind(&self, kind: &str) -> anyhow::Result<()> {
        let spec = json!({"queue": self.queue, "payload_schema": {"type": "object"}});
        let url = format!("{}/kinds/{kind}", self.base);
        let status = self.http.put(url).json(&spec).send().await?.status();
        if !status.is_success() {
            bail!("PUT /kinds/{kind} failed with {status}");
        }
        Ok(())
    }

    /// Pauses or resumes claiming from the queue.
    pub async fn set_paused(&self, paused: bool) -> anyhow::Result<()> {
        let action = if paused { "pause" } else { "resume" };
        let url = format!("{}/queues/{}/{action}", self.base, self.queue);
        let status = self.http.post(url).send().await?.status();
        if !status.is_success() {
            bail!("{action} failed with {status}");
        }
        Ok(())
    }

    /// Tasks of the queues not yet finished (queued + scheduled + running).
    pub async fn unfinished(&self) -> anyhow::Result<u64> {
        let body: Value =
            self.http.get(format!("{}/queues", self.base)).send().await?.json().await?;
        let queues = body["queues"].as_array().context("GET /queues without queues")?;
        Ok(queues
            .iter()
            .filter(|q| self.queues.iter().any(|name| q["name"] == name.as_str()))
            .map(|q| {
                ["queued", "scheduled", "running"].iter().filter_map(|s| q[s].as_u64()).sum::<u64>()
            })
            .sum())
    }

    /// Waits until the queue has nothing unfinished; the moment it saw that.
    pub async fn drain(&self, timeout: Duration) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.unfinished().await? == 0 {
                return Ok(Instant::now());
            }
            if Instant::now() > deadline {
                bail!("tasks still unfinished after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The record of one task.
    pub async fn task(&self, id: &str) -> anyhow::Result<Value> {
        let url = format!("{}/tasks/{id}", self.base);
        Ok(self.http.get(url).send().await?.json().await?)
    }
}
