//! `POST /tasks/batch`: up to 1,000 tasks in one request. Each item is validated on its
//! own (an invalid item gets its own problem, the others are accepted) and the valid
//! items of one queue are stored in one script call.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::time::Instant;

use super::auth::Caller;
use super::error::Problem;
use super::openapi::{self, examples};
use super::submission::{parse_request, validate};
use super::{ApiError, ApiJson, AppState};
use crate::access::Scope;
use crate::queue::Enqueued;
use crate::task::{FieldError, NewTask, QueueName, State as TaskState, TaskId};

/// Most items in one batch.
pub const MAX_BATCH: usize = 1000;

/// `POST /tasks/batch` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(examples::batch_request))]
pub struct BatchRequest {
    /// 1..=1000 tasks, each a `POST /tasks` body (see `TaskRequest`). Items are not
    /// constrained here because each is validated on its own: an item that is not a valid
    /// task request gets its own problem (400 or 422) in `results`, and the others are
    /// still accepted.
    #[schema(min_items = 1, max_items = 1000, value_type = Vec<serde_json::Value>)]
    pub tasks: Vec<Box<RawValue>>,
}

/// The outcome of one item of a batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = BatchItemResult)]
pub struct ItemResult {
    /// 202 accepted, 200 idempotent replay, or the item's error status (400, 409, 422,
    /// 429; 503 not stored; 504 outcome unknown: read the task by its `id`).
    #[schema(minimum = 200, maximum = 599)]
    pub status: u16,
    /// The task id (accepted and replayed items, and items whose outcome is unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The task state (accepted and replayed items).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<TaskState>,
    /// Problem details (rejected items).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Problem>)]
    pub problem: Option<Value>,
}

/// `POST /tasks/batch` response: one result per item, in order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResponse {
    /// Items stored as new tasks.
    pub accepted: usize,
    /// Items that were idempotent replays of earlier tasks (status 200).
    pub replayed: usize,
    /// Items that were refused or may not have been stored (4xx, 503, 504).
    pub rejected: usize,
    /// Per item, in request order.
    pub results: Vec<ItemResult>,
}

impl ItemResult {
    fn new(status: u16, id: &TaskId, state: Option<TaskState>) -> Self {
        Self { status, id: Some(id.to_string()), state, problem: None }
    }

    fn error(error: ApiError) -> Self {
        let (status, problem) = error.problem();
        let id = error.task().map(ToString::to_string);
        Self { status: status.as_u16(), id, state: None, problem: Some(problem) }
    }
}

/// Submit up to 1,000 tasks
///
/// Each item is validated and submitted on its own, like a `POST /tasks` body; the
/// response lists one result per item, in request order: 202 with the new task's id,
/// 200 for an idempotent replay, or the item's own problem (400, 409, 422, 429). The
/// valid items of one queue are stored atomically together.
#[utoipa::path(
    post,
    path = "/tasks/batch",
    operation_id = "submitBatch",
    tag = "tasks",
    request_body(content = BatchRequest, content_type = "application/json",
                 example = json!(examples::batch_request())),
    responses(
        (status = 200, description = "One result per item, in request order.", body = BatchResponse,
         example = json!(examples::batch_response())),
        (status = 400, response = openapi::BadRequest),
        (status = 408, response = openapi::BodyTimeout),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::NotJson),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
    )
)]
pub async fn submit_batch(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(batch): ApiJson<BatchRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    if batch.tasks.is_empty() || batch.tasks.len() > MAX_BATCH {
        let message = format!("must hold 1..={MAX_BATCH} tasks, got {}", batch.tasks.len());
        return Err(FieldError::new("tasks", message).into());
    }
    // Each item counts against the rate limit (the request itself counted one).
    state.guard.charge(&caller, Scope::Submit, batch.tasks.len() as u32 - 1)?;
    let deadline = state.submission_deadline();
    let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(batch.tasks.len());
    let mut by_queue: BTreeMap<QueueName, Vec<(usize, NewTask)>> = BTreeMap::new();
    for (index, item) in batch.tasks.into_iter().enumerate() {
        match parse_item(&state, &caller, index, &item) {
            Ok(task) => {
                by_queue.entry(task.queue.clone()).or_default().push((index, task));
                results.push(None);
            }
            Err(e) => results.push(Some(ItemResult::error(e))),
        }
    }
    // Every queue's items go out at once, each queue in one call, all under one deadline.
    // A queue whose call fails gets per-item answers (503 not stored, 504 unknown): the
    // other queues' items were stored, and a whole-request error would make clients
    // resubmit them. Only when no item may have been stored is the failure the answer.
    let stores = by_queue.into_iter().map(|(queue, items)| store(&state, queue, items, deadline));
    let mut failure = None;
    for (stored, error) in futures_util::future::join_all(stores).await {
        for (index, result) in stored {
            results[index] = Some(result);
        }
        failure = failure.or(error);
    }
    let results: Vec<ItemResult> = results.into_iter().flatten().collect();
    let maybe_stored = results.iter().any(|r| matches!(r.status, 200 | 202 | 504));
    match (failure, maybe_stored) {
        (Some(e), false) => return Err(e),
        (Some(e), true) => e.log_cause(),
        (None, _) => {}
    }
    let count = |status: u16| results.iter().filter(|r| r.status == status).count();
    let (accepted, replayed) = (count(202), count(200));
    let rejected = results.len() - accepted - replayed;
    Ok(Json(BatchResponse { accepted, replayed, rejected, results }))
}

fn parse_item(
    state: &AppState,
    caller: &Caller,
    index: usize,
    item: &RawValue,
) -> Result<NewTask, ApiError> {
    let request = parse_request(item.get(), &format!("tasks[{index}]."))?;
    let task = validate(state, request).map_err(|e| e.at_item(index))?;
    caller.require_queue(&task.queue)?;
    Ok(task)
}

/// Stores one queue's items: each item's result, and the call's error when it failed.
async fn store(
    state: &AppState,
    queue: QueueName,
    items: Vec<(usize, NewTask)>,
    deadline: Instant,
) -> (Vec<(usize, ItemResult)>, Option<ApiError>) {
    let indexes: Vec<usize> = items.iter().map(|(i, _)| *i).collect();
    let ids: Vec<TaskId> = items.iter().map(|(_, t)| t.id.clone()).collect();
    let kinds: Vec<String> = items.iter().map(|(_, t)| t.kind.as_str().to_owned()).collect();
    let tasks = items.into_iter().map(|(_, t)| t).collect();
    let outcomes = match state.queue.enqueue_in_queue(&queue, tasks, deadline).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            let failed = indexes
                .into_iter()
                .zip(&ids)
                .map(|(index, id)| {
                    let error = ApiError::from(e.clone()).about(id).at_item(index);
                    (index, ItemResult::error(error))
                })
                .collect();
            return (failed, Some(ApiError::from(e)));
        }
    };
    let mut stored = Vec::with_capacity(outcomes.len());
    for (((index, kind), id), outcome) in indexes.into_iter().zip(kinds).zip(&ids).zip(outcomes) {
        let result = match outcome {
            Ok(Enqueued::Created(record)) => {
                state.metrics.submitted.with_label_values(&[queue.as_str(), &kind]).inc();
                ItemResult::new(202, &record.id, Some(record.state))
            }
            Ok(Enqueued::Replayed(id)) => {
                let current = state.queue.get(&id).await.ok().flatten().map(|r| r.state);
                ItemResult::new(200, &id, current)
            }
            // A task stored on the master but not confirmed by its replicas (504) is named.
            Err(e) => ItemResult::error(ApiError::from(e).about(id).at_item(index)),
        };
        stored.push((index, result));
    }
    (stored, None)
}
