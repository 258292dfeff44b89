//! Queue administration: `GET /queues`, the dead-letter list, pause and resume.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiQuery, AppState, TaskView};
use crate::queue::{QueueStats, parse_cursor};
use crate::task::{FieldError, QueueName};

/// One queue's counts.
#[derive(Debug, Serialize)]
pub struct QueueView {
    /// Queue name.
    pub name: String,
    /// Ready, waiting for a worker.
    pub queued: u64,
    /// Waiting for a delay or retry backoff.
    pub scheduled: u64,
    /// Claimed under a lease.
    pub running: u64,
    /// In the dead-letter list.
    pub failed: u64,
    /// Claiming stopped.
    pub paused: bool,
}

impl QueueView {
    fn new(name: &QueueName, stats: QueueStats) -> Self {
        Self {
            name: name.to_string(),
            queued: stats.queued,
            scheduled: stats.scheduled,
            running: stats.running,
            failed: stats.failed,
            paused: stats.paused,
        }
    }
}

/// `GET /queues` body.
#[derive(Debug, Serialize)]
pub struct QueueList {
    /// Every queue served here or that has received tasks.
    pub queues: Vec<QueueView>,
}

/// Every queue: served by this process or that has received a task.
pub async fn list(State(state): State<AppState>) -> Result<Json<QueueList>, ApiError> {
    let mut names = state.served_queues.clone();
    names.extend(state.queue.known_queues().await?);
    names.sort();
    names.dedup();
    let mut queues = Vec::with_capacity(names.len());
    for name in &names {
        queues.push(QueueView::new(name, state.queue.stats(name).await?));
    }
    Ok(Json(QueueList { queues }))
}

fn queue_name(name: &str) -> Result<QueueName, ApiError> {
    QueueName::parse(name)
        .map_err(|e| ApiError::NotFound(format!("no queue {name:?}: {}", e.message)))
}

/// Stops claiming from a queue in every process (submissions are still accepted).
pub async fn pause(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<QueueView>, ApiError> {
    let name = queue_name(&name)?;
    state.queue.pause(&name).await?;
    Ok(Json(QueueView::new(&name, state.queue.stats(&name).await?)))
}

/// Restarts claiming from a queue.
pub async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<QueueView>, ApiError> {
    let name = queue_name(&name)?;
    state.queue.resume(&name).await?;
    Ok(Json(QueueView::new(&name, state.queue.stats(&name).await?)))
}

/// Query of the dead-letter list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadQuery {
    /// Page size, 1..=500 (default 50).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only tasks of this kind.
    pub kind: Option<String>,
}

/// A page of the dead-letter list.
#[derive(Debug, Serialize)]
pub struct DeadList {
    /// Failed tasks, newest first.
    pub tasks: Vec<TaskView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A queue's failed tasks, newest first, paginated by cursor.
pub async fn dead(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<DeadQuery>,
) -> Result<Json<DeadList>, ApiError> {
    let name = queue_name(&name)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(FieldError::new("limit", format!("must be 1..=500, got {limit}")).into());
    }
    if query.cursor.is_some() && parse_cursor(query.cursor.as_deref()).is_none() {
        return Err(FieldError::new("cursor", "not a cursor returned by this endpoint").into());
    }
    let page = state
        .queue
        .dead_letters(&name, limit, query.cursor.as_deref(), query.kind.as_deref())
        .await?;
    Ok(Json(DeadList {
        tasks: page.tasks.into_iter().map(TaskView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
