//! `POST /tasks/{id}/heartbeat`, `/complete`, `/fail`, `/release`: an external worker
//! renews its lease or ends its attempt. Each call carries the claim's lease token and
//! is fenced by it: the settle script applies only while the task is still leased under
//! that token, so a worker that lost its lease (it expired and the task was claimed
//! again, or the attempt already ended) gets a 409 and changes nothing.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::auth::Caller;
use super::super::openapi::{self, examples};
use super::super::view::rfc3339;
use super::super::{ApiError, ApiJson, AppState, TaskView};
use crate::metrics::{AttemptEnd, Outcome};
use crate::queue::{Action, Holder, LeaseToken, Settlement, TaskRead};
use crate::task::{FieldError, Next, TaskId, integral, now_ms};

/// Body of a heartbeat.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(examples::heartbeat_body))]
pub struct HeartbeatBody {
    /// The claim's lease token.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub lease_token: String,
    /// The new lease from now, 1000..=`TTP_LEASE_MAX_MS` (600000 by default; never
    /// past the attempt's timeout); the claim's lease when absent.
    #[schema(minimum = 1000)]
    #[serde(default, deserialize_with = "integral::optional")]
    pub lease_ms: Option<i64>,
}

/// Answer to a heartbeat.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(examples(examples::heartbeat_answer))]
pub struct HeartbeatAnswer {
    /// When the lease now ends.
    #[schema(required, format = DateTime)]
    pub lease_expires_at: Option<String>,
}

/// Body of `complete`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(examples::complete_body))]
pub struct CompleteBody {
    /// The claim's lease token.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub lease_token: String,
    /// The task's result (any JSON; `null` when absent).
    #[serde(default)]
    #[schema(value_type = serde_json::Value)]
    pub result: Value,
}

/// Body of `fail`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(examples::fail_body))]
pub struct FailBody {
    /// The claim's lease token.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub lease_token: String,
    /// What went wrong (kept as the task's `error`).
    #[serde(default)]
    pub error: String,
    /// Whether another attempt may succeed (then it backs off while attempts remain);
    /// `false` sends the task to the dead letters at once. True when absent.
    pub retryable: Option<bool>,
}

/// Body of `release`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(examples::release_body))]
pub struct ReleaseBody {
    /// The claim's lease token.
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub lease_token: String,
}

/// The running attempt of task `id` under `token`: 404 when there is no such task, 409
/// when it is not running under that token.
async fn held(
    state: &AppState,
    caller: &Caller,
    id: &str,
    token: &str,
) -> Result<(TaskRead, LeaseToken), ApiError> {
    let missing = || {
        ApiError::NotFound(format!(
            "no task {id:?} (unknown, deleted, or expired after its result TTL)"
        ))
    };
    let task_id = TaskId::parse(id).ok_or_else(missing)?;
    caller.require_queue(task_id.queue())?;
    let read = state.queue.read_lease(&task_id).await?.ok_or_else(missing)?;
    let token = LeaseToken::parse(token)
        .ok_or_else(|| FieldError::new("lease_token", "not a lease token"))?;
    match &read.claim {
        Some(claim) if claim.token == token => Ok((read, token)),
        _ => Err(stale(&read)),
    }
}

fn stale(read: &TaskRead) -> ApiError {
    let record = &read.record;
    ApiError::Conflict(format!(
        "task {} is {} (attempt {}) and not held under this lease token: the lease expired or the attempt ended",
        record.id, record.state, record.attempts
    ))
}

/// Ends the attempt with `action`, fenced by `token`; the task's view after.
async fn settle(
    state: &AppState,
    read: TaskRead,
    token: LeaseToken,
    action: Action,
) -> Result<Json<TaskView>, ApiError> {
    let record = &read.record;
    let holder = Holder {
        token: Some(token),
        attempt: record.attempts,
        started_at_ms: read.claim.as_ref().map_or_else(now_ms, |c| c.started_at_ms),
        created_at_ms: record.created_at_ms,
        priority: record.priority.get(),
        result_ttl_s: record.result_ttl_s,
        kind: record.kind.clone(),
    };
    let outcome = match &action {
        Action::Succeed(_) => Some(Outcome::Succeeded),
        Action::Fail(_) => Some(Outcome::Failed),
        Action::Retry { .. } => Some(Outcome::Retried),
        _ => None,
    };
    let item = Settlement { id: record.id.clone(), holder, lease_expired: false, action };
    let applied = state.queue.settle(record.id.queue(), std::slice::from_ref(&item)).await?;
    if applied.first() != Some(&true) {
        return Err(stale(&read));
    }
    if let Some(outcome) = outcome {
        state.metrics.attempt_ended(AttemptEnd {
            queue: record.id.queue().as_str(),
            kind: &record.kind,
            outcome,
            timed_out: false,
            created_at_ms: record.created_at_ms,
        });
    }
    let after = state
        .queue
        .get(&record.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("task {} expired", record.id)))?;
    Ok(Json(TaskView::from(after)))
}

/// Renew a lease
///
/// Extends the lease of a task this worker holds; never past the attempt's timeout
/// (`timeout_ms` from its start). 409 when the lease was lost.
#[utoipa::path(
    post,
    path = "/tasks/{id}/heartbeat",
    operation_id = "heartbeat",
    tag = "workers",
    params(("id" = String, Path, description = "Task id.")),
    request_body(content = HeartbeatBody, content_type = "application/json",
                 example = json!(examples::heartbeat_body())),
    responses(
        (status = 200, description = "Renewed.", body = HeartbeatAnswer,
         example = json!(examples::heartbeat_answer())),
        (status = 400, response = openapi::BadRequest),
        (status = 404, response = openapi::NotFound),
        (status = 408, response = openapi::BodyTimeout),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::NotJson),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn heartbeat(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<HeartbeatBody>,
) -> Result<Json<HeartbeatAnswer>, ApiError> {
    let (read, token) = held(&state, &caller, &id, &body.lease_token).await?;
    let lease = super::bounds::lease(&state, body.lease_ms)?;
    let started = read.claim.as_ref().map_or_else(now_ms, |c| c.started_at_ms);
    let cap = started + read.record.timeout_ms as i64;
    match state.queue.renew_one(&read.record.id, &token, lease, cap).await? {
        Some(deadline) => Ok(Json(HeartbeatAnswer { lease_expires_at: rfc3339(deadline) })),
        None => Err(stale(&read)),
    }
}

/// Complete a task
///
/// Ends the attempt with a result: the task succeeds. 409 when the lease was lost (the
/// task may be running elsewhere now); 413 for a result over the body limit (the lease
/// is kept).
#[utoipa::path(
    post,
    path = "/tasks/{id}/complete",
    operation_id = "completeTask",
    tag = "workers",
    params(("id" = String, Path, description = "Task id.")),
    request_body(content = CompleteBody, content_type = "application/json",
                 example = json!(examples::complete_body())),
    responses(
        (status = 200, description = "Succeeded: the task's view.", body = TaskView,
         example = json!(examples::completed_view())),
        (status = 400, response = openapi::BadRequest),
        (status = 404, response = openapi::NotFound),
        (status = 408, response = openapi::BodyTimeout),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::NotJson),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CompleteBody>,
) -> Result<Json<TaskView>, ApiError> {
    let (read, token) = held(&state, &caller, &id, &body.lease_token).await?;
    settle(&state, read, token, Action::Succeed(body.result)).await
}

/// Fail an attempt
///
/// Ends the attempt with an error: retried with backoff while attempts remain and
/// `retryable` is true, else the task fails into the dead-letter list.
#[utoipa::path(
    post,
    path = "/tasks/{id}/fail",
    operation_id = "failTask",
    tag = "workers",
    params(("id" = String, Path, description = "Task id.")),
    request_body(content = FailBody, content_type = "application/json",
                 example = json!(examples::fail_body())),
    responses(
        (status = 200, description = "The task's view: scheduled for a retry, or failed.", body = TaskView,
         example = json!(examples::failed_attempt_view())),
        (status = 400, response = openapi::BadRequest),
        (status = 404, response = openapi::NotFound),
        (status = 408, response = openapi::BodyTimeout),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::NotJson),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn fail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<FailBody>,
) -> Result<Json<TaskView>, ApiError> {
    let (read, token) = held(&state, &caller, &id, &body.lease_token).await?;
    let record = &read.record;
    let error = if body.error.is_empty() { "failed (no message)".to_owned() } else { body.error };
    let retryable = body.retryable.unwrap_or(true);
    let action = match state.retry.after(record.attempts, record.max_attempts, retryable, now_ms())
    {
        Next::Retry { due_ms } => Action::Retry { due_ms, error },
        Next::Fail => Action::Fail(error),
    };
    settle(&state, read, token, action).await
}

/// Release a task
///
/// Hands the task back at once, to the front of its priority; the attempt does not
/// count (for a worker that is shutting down).
#[utoipa::path(
    post,
    path = "/tasks/{id}/release",
    operation_id = "releaseTask",
    tag = "workers",
    params(("id" = String, Path, description = "Task id.")),
    request_body(content = ReleaseBody, content_type = "application/json",
                 example = json!(examples::release_body())),
    responses(
        (status = 200, description = "Released: the task's view (queued).", body = TaskView,
         example = json!(examples::released_view())),
        (status = 400, response = openapi::BadRequest),
        (status = 404, response = openapi::NotFound),
        (status = 408, response = openapi::BodyTimeout),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::NotJson),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReleaseBody>,
) -> Result<Json<TaskView>, ApiError> {
    let (read, token) = held(&state, &caller, &id, &body.lease_token).await?;
    settle(&state, read, token, Action::Release).await
}
