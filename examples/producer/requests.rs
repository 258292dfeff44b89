//! What gets sent: the `POST /tasks` bodies, and the idempotency key that makes re-sending
//! them safe.
//!
//! The bodies come from `--kind`/`--payload` (one template) or from `--requests` (one JSON
//! object per line, cycled through), with `--queue` filled in where a body names none.
//! Task `i` is template `i % len` plus the key `producer-{run}-{i}`: the run id keeps two
//! runs apart, the index keeps the tasks of one run apart, and the same task re-sent after
//! a timeout or a 503 carries the same key, so ttp answers with the task it already has.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The request bodies to cycle through, and this run's idempotency-key prefix.
pub struct Requests {
    templates: Vec<Value>,
    run_id: String,
}

impl Requests {
    /// The templates from `--requests FILE`, or else from `--kind` and `--payload`; each
    /// gets `queue` unless it names one.
    pub fn load(
        file: Option<&Path>,
        kind: &str,
        payload: Option<&str>,
        queue: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut templates = match file {
            Some(path) => from_file(path)?,
            None => vec![single(kind, payload)?],
        };
        if let Some(queue) = queue {
            for t in &mut templates {
                if t.get("queue").is_none() {
                    t["queue"] = json!(queue);
                }
            }
        }
        Ok(Self { templates, run_id: ulid::Ulid::new().to_string().to_lowercase() })
    }

    /// The body of task `i`, with its idempotency key (unless its template has one).
    pub fn task(&self, i: usize) -> Value {
        let mut task = self.templates[i % self.templates.len()].clone();
        if task.get("idempotency_key").is_none() {
            task["idempotency_key"] = json!(format!("producer-{}-{i}", self.run_id));
        }
        task
    }
}

/// One JSON object per non-blank line.
fn from_file(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--requests: cannot read {}", path.display()))?;
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line)
            .with_context(|| format!("--requests: line {} is not JSON", n + 1))?;
        if !value.is_object() {
            bail!("--requests: line {} is not a JSON object", n + 1);
        }
        lines.push(value);
    }
    if lines.is_empty() {
        bail!("--requests: {} holds no request", path.display());
    }
    Ok(lines)
}

/// `{"kind": kind, "payload": payload}`.
fn single(kind: &str, payload: Option<&str>) -> anyhow::Result<Value> {
    let mut task = json!({ "kind": kind });
    if let Some(payload) = payload {
        task["payload"] = serde_json::from_str(payload).context("--payload is not JSON")?;
    }
    Ok(task)
}
