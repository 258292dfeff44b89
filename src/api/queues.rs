//! Queues: `GET /queues` (paginated), pause and resume.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::openapi::{self, examples};
use super::{ApiError, ApiQuery, AppState};
use crate::queue::QueueStats;
use crate::task::{FieldError, QueueName};

/// One queue's counts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueList {
    /// A page of the queues served here or that have received tasks, by name.
    pub queues: Vec<QueueView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Query of `GET /queues`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1..=1000; 100 when absent.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page (the last name it showed).
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    pub cursor: Option<String>,
}

/// List queues
///
/// The queues served by this process or that have received a task, by name, a page at
/// a time, with the counts of their queued, scheduled, running and failed (dead-letter)
/// tasks and their paused flag. Their number is bounded by `TTP_MAX_QUEUES`.
#[utoipa::path(
    get,
    path = "/queues",
    operation_id = "listQueues",
    tag = "queues",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of queues, by name.", body = QueueList,
         example = json!(examples::queue_list())),
        (status = 400, response = openapi::BadRequest),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<QueueList>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(FieldError::new("limit", format!("must be 1..=1000, got {limit}")).into());
    }
    let after = query.cursor.as_deref().map(QueueName::parse).transpose().map_err(|_| {
        ApiError::from(FieldError::new("cursor", "not a cursor returned by this endpoint"))
    })?;
    let mut names = all_queues(&state).await?;
    names.retain(|name| caller.principal.may_touch(name));
    let page: Vec<QueueName> = names
        .into_iter()
        .filter(|n| after.as_ref().is_none_or(|a| n > a))
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    let page = &page[..page.len().min(limit)];
    let stats = state.queue.stats_many(page).await?;
    let queues: Vec<QueueView> =
        page.iter().zip(stats).map(|(n, s)| QueueView::new(n, s)).collect();
    let next_cursor = more.then(|| queues.last().map(|q| q.name.clone())).flatten();
    Ok(Json(QueueList { queues, next_cursor }))
}

/// The queues served here, those of external kinds and those registered, sorted (also
/// what `/metrics` reports). The first two are listed even while Redis lost its set
/// (a restart without persistence), until a submission registers them again.
pub async fn all_queues(state: &AppState) -> Result<Vec<QueueName>, ApiError> {
    let mut names = state.served_queues.clone();
    names.extend(state.catalog.external_queues());
    names.extend(state.queue.known_queues().await?);
    names.sort();
    names.dedup();
    Ok(names)
}

pub fn queue_name(name: &str) -> Result<QueueName, ApiError> {
    QueueName::parse(name)
        .map_err(|e| ApiError::NotFound(format!("no queue {name:?}: {}", e.message)))
}

/// Pause a queue
///
/// Stops claiming from the queue in every process sharing the Redis; submissions are
/// still accepted, and running tasks finish. 404 when the name breaks the queue-name rule.
#[utoipa::path(
    post,
    path = "/queues/{name}/pause",
    operation_id = "pauseQueue",
    tag = "queues",
    params(("name" = String, Path, pattern = "^[a-z0-9_-]{1,64}$", description = "Queue name.")),
    responses(
        (status = 200, description = "Paused: the queue's counts.", body = QueueView,
         example = json!(examples::paused_queue_view())),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<QueueView>, ApiError> {
    let name = queue_name(&name)?;
    caller.require_queue(&name)?;
    state.queue.pause(&name).await?;
    Ok(Json(QueueView::new(&name, state.queue.stats(&name).await?)))
}

/// Resume a queue
///
/// Restarts claiming from a paused queue (a no-op on a running one).
#[utoipa::path(
    post,
    path = "/queues/{name}/resume",
    operation_id = "resumeQueue",
    tag = "queues",
    params(("name" = String, Path, pattern = "^[a-z0-9_-]{1,64}$", description = "Queue name.")),
    responses(
        (status = 200, description = "Resumed: the queue's counts.", body = QueueView,
         example = json!(examples::queue_view())),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<QueueView>, ApiError> {
    let name = queue_name(&name)?;
    caller.require_queue(&name)?;
    state.queue.resume(&name).await?;
    Ok(Json(QueueView::new(&name, state.queue.stats(&name).await?)))
}
