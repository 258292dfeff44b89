//! The actions on one task: `POST /tasks/{id}/cancel` (cancel and keep the record),
//! `DELETE /tasks/{id}` (remove it; 404 afterwards, as HTTP clients and spec-driven
//! tools expect of a DELETE) and `POST /tasks/{id}/retry` (dead-letter replay).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::Caller;
use super::openapi::{self, examples};
use super::{ApiError, AppState, TaskView};
use crate::metrics::{AttemptEnd, Metrics, Outcome};
use crate::queue::{Removal, Transition};
use crate::task::{TaskId, TaskRecord};

fn parse(id: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(id).ok_or_else(|| missing(id))
}

fn missing(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no task {id:?} (unknown, deleted, or expired after its result TTL)"
    ))
}

async fn current(state: &AppState, id: &TaskId) -> Result<TaskRecord, ApiError> {
    state.queue.get(id).await?.ok_or_else(|| missing(id.as_str()))
}

/// The task's record after a transition that applied; 409 naming its state and `rule`
/// when it did not; 404 when there is no such task.
async fn after(
    state: &AppState,
    id: &TaskId,
    transition: Transition,
    rule: &str,
) -> Result<TaskRecord, ApiError> {
    match transition {
        Transition::Done => current(state, id).await,
        Transition::WrongState => {
            let record = current(state, id).await?;
            let (now, attempts) = (record.state, record.attempts);
            Err(ApiError::Conflict(format!("task {id} is {now} (attempt {attempts}); {rule}")))
        }
        Transition::Missing => Err(missing(id.as_str())),
        Transition::Full => Err(ApiError::QueueFull(format!(
            "queue {} holds its maximum of waiting tasks (TTP_MAX_QUEUE_LENGTH); retry later",
            id.queue()
        ))),
    }
}

/// Counts a task cancelled before it started.
fn count_cancelled(metrics: &Metrics, id: &TaskId, kind: &str, created_at_ms: i64) {
    metrics.attempt_ended(AttemptEnd {
        queue: id.queue().as_str(),
        kind,
        outcome: Outcome::Cancelled,
        timed_out: false,
        created_at_ms,
    });
}

/// Cancel a task
///
/// Cancels a task that has not started (`queued` or `scheduled`): 200 with the
/// cancelled view. 409 when it is running or already finished. The cancelled task is
/// kept: `GET /tasks/{id}` shows it (state `cancelled`) until its result TTL, and
/// `POST /tasks/{id}/retry` can replay it. To remove a task, `DELETE /tasks/{id}`.
#[utoipa::path(
    post,
    path = "/tasks/{id}/cancel",
    operation_id = "cancelTask",
    tag = "tasks",
    params(("id" = String, Path, description = "Task id, as returned by `POST /tasks`.")),
    responses(
        (status = 200, description = "Cancelled: the task's view.", body = TaskView,
         links(
             ("RetryTask" = (operation_id = "retryTask", parameters(("id" = "$response.body#/id")))),
             ("DeleteTask" = (operation_id = "deleteTask", parameters(("id" = "$response.body#/id")))),
         ),
         example = json!(examples::cancelled_view())),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let id = parse(&id)?;
    caller.require_queue(id.queue())?;
    let cancelled = state.queue.cancel(&id).await.map_err(|e| ApiError::from(e).about(&id))?;
    let rule = "only queued or scheduled tasks can be cancelled";
    let record = after(&state, &id, cancelled, rule).await?;
    count_cancelled(&state.metrics, &id, &record.kind, record.created_at_ms);
    Ok(Json(TaskView::from(record)))
}

/// Delete a task
///
/// Removes a task that is not running: one that has not started (`queued` or
/// `scheduled`) is cancelled and removed, a finished one (`succeeded`, `failed` or
/// `cancelled`) is removed, from the dead-letter list too. 204; afterwards
/// `GET /tasks/{id}` answers 404, and so does a second `DELETE`. 409 while the task
/// runs. To cancel and keep the record, `POST /tasks/{id}/cancel`.
#[utoipa::path(
    delete,
    path = "/tasks/{id}",
    operation_id = "deleteTask",
    tag = "tasks",
    params(("id" = String, Path, description = "Task id, as returned by `POST /tasks`.")),
    responses(
        (status = 204, description = "Removed (cancelled first if it had not started)."),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse(&id)?;
    caller.require_queue(id.queue())?;
    match state.queue.remove(&id).await.map_err(|e| ApiError::from(e).about(&id))? {
        Removal::Cancelled { kind, created_at_ms } => {
            count_cancelled(&state.metrics, &id, &kind, created_at_ms);
            Ok(StatusCode::NO_CONTENT)
        }
        Removal::Finished => Ok(StatusCode::NO_CONTENT),
        Removal::Running => Err(ApiError::Conflict(format!(
            "task {id} is running; a running task cannot be deleted (wait for it to finish)"
        ))),
        Removal::Missing => Err(missing(id.as_str())),
    }
}

/// Retry a failed or cancelled task
///
/// Dead-letter replay: re-enqueues a `failed` or `cancelled` task with fresh attempts,
/// 202 with its view and `Location`. 409 in any other state.
#[utoipa::path(
    post,
    path = "/tasks/{id}/retry",
    operation_id = "retryTask",
    tag = "tasks",
    params(("id" = String, Path, description = "Task id, as returned by `POST /tasks`.")),
    responses(
        (status = 202, description = "Re-enqueued: the task's view.", body = TaskView,
         headers(("Location" = String, description = "`/tasks/{id}` of the task.")),
         links(
             ("GetTask" = (operation_id = "getTask", parameters(("id" = "$response.body#/id")))),
             ("CancelTask" = (operation_id = "cancelTask", parameters(("id" = "$response.body#/id")))),
         ),
         example = json!(examples::retried_view())),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 429, response = openapi::QueueFull),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse(&id)?;
    caller.require_queue(id.queue())?;
    let revived = state.queue.revive(&id).await.map_err(|e| ApiError::from(e).about(&id))?;
    let rule = "only failed or cancelled tasks can be retried";
    let record = after(&state, &id, revived, rule).await?;
    let location = [(header::LOCATION, format!("/tasks/{id}"))];
    Ok((StatusCode::ACCEPTED, location, Json(TaskView::from(record))).into_response())
}
