//! Keeping `--concurrency` requests in flight: first to submit every task, then to wait
//! for each of them.
//!
//! Both phases use the same shape: a fixed set of Tokio tasks, each taking the next piece
//! of work from a shared atomic counter until there is none left, and handing back what it
//! did with the index it belongs at. No channel, no semaphore, no lock on the hot path;
//! the results come back in task order whatever order the requests finished in. A worker
//! that panics loses its share (counted as an error) but not the run.

use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

use crate::client::Client;
use crate::progress::Progress;
use crate::requests::Requests;

/// Everything the submitting and waiting workers share.
pub struct Run {
    pub client: Client,
    pub requests: Requests,
    pub ids_file: Option<IdsFile>,
}

/// `--ids FILE`: each accepted task id on its own line, written as soon as it is accepted
/// (so a run cut short still says which tasks exist).
pub struct IdsFile(Mutex<File>);

impl IdsFile {
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let file = File::create(path)
            .with_context(|| format!("--ids: cannot create {}", path.display()))?;
        Ok(Self(Mutex::new(file)))
    }

    fn write(&self, ids: &[&str]) -> Option<std::io::Error> {
        let mut lines = ids.join("\n");
        lines.push('\n');
        self.0.lock().ok()?.write_all(lines.as_bytes()).err()
    }
}

impl Run {
    /// Submits tasks `range`, one request per task or one batch, and notes the accepted
    /// ids; their ids (None for a refused task).
    async fn submit(&self, range: Range<usize>, batch: bool) -> Vec<Option<String>> {
        let ids = if batch {
            self.client.submit_batch(range.map(|i| self.requests.task(i)).collect()).await
        } else {
            vec![self.client.submit_one(&self.requests.task(range.start)).await]
        };
        let accepted: Vec<&str> = ids.iter().flatten().map(String::as_str).collect();
        if let (Some(file), false) = (&self.ids_file, accepted.is_empty())
            && let Some(e) = file.write(&accepted)
        {
            self.client.errors.add(format!("--ids: {e}"), 1);
        }
        ids
    }
}

/// Submits `count` tasks in chunks of `batch` with `concurrency` requests in flight.
pub async fn submit_all(
    run: &Arc<Run>,
    count: usize,
    batch: usize,
    concurrency: usize,
) -> Vec<Option<String>> {
    let progress = Progress::start("submit", count as u64);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(count.div_ceil(batch)) {
        let (run, next, progress) = (run.clone(), next.clone(), progress.clone());
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let start = next.fetch_add(batch, Ordering::Relaxed);
                if start >= count {
                    return done;
                }
                let range = start..(start + batch).min(count);
                let ids = run.submit(range.clone(), batch > 1).await;
                progress.add(range.len() as u64);
                done.push((range.start, ids));
            }
        });
    }
    let mut ids = vec![None; count];
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(chunks) => {
                for (start, chunk) in chunks {
                    for (offset, id) in chunk.into_iter().enumerate() {
                        ids[start + offset] = id;
                    }
                }
            }
            Err(e) => run.client.errors.add(format!("submitting task panicked: {e}"), 1),
        }
    }
    progress.finish();
    ids
}

/// Waits for every task; their last views, in order (None when unreadable).
pub async fn wait_all(
    run: &Arc<Run>,
    ids: &[String],
    concurrency: usize,
    deadline: Instant,
) -> Vec<Option<Value>> {
    let progress = Progress::start("finish", ids.len() as u64);
    let ids: Arc<Vec<String>> = Arc::new(ids.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(ids.len()) {
        let (run, ids, next, progress) = (run.clone(), ids.clone(), next.clone(), progress.clone());
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ids.get(i) else { return done };
                let view = run.client.wait(id, deadline).await;
                progress.add(1);
                done.push((i, view));
            }
        });
    }
    let mut views = vec![None; ids.len()];
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(done) => {
                for (i, view) in done {
                    views[i] = view;
                }
            }
            Err(e) => run.client.errors.add(format!("waiting task panicked: {e}"), 1),
        }
    }
    progress.finish();
    views
}
