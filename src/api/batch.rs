//! `POST /tasks/batch`: up to 1,000 tasks in one request. Each item is validated on its
//! own (an invalid item gets its own problem, the others are accepted) and the valid
//! items of one queue are stored in one script call.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::Problem;
use super::extract::from_value;
use super::submission::{parse_request, validate};
use super::{ApiError, ApiJson, AppState, openapi};
use crate::queue::{Enqueued, QueueError};
use crate::task::{FieldError, NewTask, QueueName, State as TaskState};

/// Most items in one batch.
pub const MAX_BATCH: usize = 1000;

/// `POST /tasks/batch` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tasks": [
    {"kind": "echo", "payload": {"n": 1}},
    {"kind": "telemetry.aggregate", "payload": {"samples": [1.0, 2.5, 4.0]}, "priority": 9}
]}))]
pub struct BatchRequest {
    /// 1..=1000 tasks, each a `POST /tasks` body (see `TaskRequest`). Items are not
    /// constrained here because each is validated on its own: an item that is not a valid
    /// task request gets its own problem (400 or 422) in `results`, and the others are
    /// still accepted.
    #[schema(min_items = 1, max_items = 1000, value_type = Vec<serde_json::Value>)]
    pub tasks: Vec<Value>,
}

/// The outcome of one item.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemResult {
    /// 202 accepted, 200 idempotent replay, or the item's error status (400, 409, 422, 429).
    #[schema(minimum = 200, maximum = 599)]
    pub status: u16,
    /// The task id (accepted and replayed items).
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
    /// Items that were replays or errors.
    pub rejected: usize,
    /// Per item, in request order.
    pub results: Vec<ItemResult>,
}

impl ItemResult {
    fn error(error: ApiError) -> Self {
        let (status, problem) = error.problem();
        Self { status: status.as_u16(), id: None, state: None, problem: Some(problem) }
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
    request_body(content = BatchRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "One result per item, in request order.", body = BatchResponse),
        (status = 400, response = openapi::BadRequest),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::NotJson),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
    )
)]
pub async fn submit_batch(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<BatchResponse>, ApiError> {
    let batch = parse_batch(body)?;
    if batch.tasks.is_empty() || batch.tasks.len() > MAX_BATCH {
        let message = format!("must hold 1..={MAX_BATCH} tasks, got {}", batch.tasks.len());
        return Err(FieldError::new("tasks", message).into());
    }
    let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(batch.tasks.len());
    let mut by_queue: BTreeMap<QueueName, Vec<(usize, NewTask)>> = BTreeMap::new();
    for (index, item) in batch.tasks.into_iter().enumerate() {
        match parse_item(&state, index, item) {
            Ok(task) => {
                by_queue.entry(task.queue.clone()).or_default().push((index, task));
                results.push(None);
            }
            Err(e) => results.push(Some(ItemResult::error(e))),
        }
    }
    // A queue whose script call fails gets per-item 503s: the other queues' items were
    // stored, and a whole-request error would make clients resubmit them. Only when
    // nothing at all was stored is the Redis failure the answer to the request.
    let mut failure = None;
    for (queue, items) in by_queue {
        if let Err(e) = store(&state, &queue, items, &mut results).await {
            failure = Some(e);
        }
    }
    let stored_any = results.iter().flatten().any(|r| r.status == 202 || r.status == 200);
    match (failure, stored_any) {
        (Some(e), false) => return Err(e.into()),
        (Some(e), true) => ApiError::from(e).log_cause(),
        (None, _) => {}
    }
    let results: Vec<ItemResult> = results.into_iter().flatten().collect();
    let accepted = results.iter().filter(|r| r.status == 202).count();
    let rejected = results.len() - accepted;
    Ok(Json(BatchResponse { accepted, rejected, results }))
}

/// Reads the body (an object: serde would also read the struct from an array).
fn parse_batch(body: Map<String, Value>) -> Result<BatchRequest, ApiError> {
    from_value(Value::Object(body), "")
}

fn parse_item(state: &AppState, index: usize, item: Value) -> Result<NewTask, ApiError> {
    let request = parse_request(item, &format!("tasks[{index}]."))?;
    validate(state, request).map_err(|e| match e {
        ApiError::Invalid(f) => {
            FieldError::new(format!("tasks[{index}].{}", f.field), f.message).into()
        }
        other => other,
    })
}

async fn store(
    state: &AppState,
    queue: &QueueName,
    items: Vec<(usize, NewTask)>,
    results: &mut [Option<ItemResult>],
) -> Result<(), QueueError> {
    let (indexes, tasks): (Vec<usize>, Vec<NewTask>) = items.into_iter().unzip();
    let kinds: Vec<String> = tasks.iter().map(|t| t.kind.as_str().to_owned()).collect();
    let outcomes = match state.queue.enqueue_in_queue(queue, tasks).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            for index in indexes {
                results[index] = Some(ItemResult::error(ApiError::from(e.clone())));
            }
            return Err(e);
        }
    };
    for ((index, kind), outcome) in indexes.into_iter().zip(kinds).zip(outcomes) {
        results[index] = Some(match outcome {
            Ok(Enqueued::Created(record)) => {
                state.metrics.submitted.with_label_values(&[queue.as_str(), &kind]).inc();
                ItemResult {
                    status: 202,
                    id: Some(record.id.to_string()),
                    state: Some(record.state),
                    problem: None,
                }
            }
            Ok(Enqueued::Replayed(id)) => {
                let current = state.queue.get(&id).await.ok().flatten().map(|r| r.state);
                ItemResult { status: 200, id: Some(id.to_string()), state: current, problem: None }
            }
            Err(e) => ItemResult::error(e.into()),
        });
    }
    Ok(())
}
