//! `DELETE /tasks/{id}` (cancel) and `POST /tasks/{id}/retry` (dead-letter replay).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState, TaskView};
use crate::metrics::outcome;
use crate::queue::Transition;
use crate::task::{TaskId, TaskRecord};

fn parse(id: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(id).ok_or_else(|| missing(id))
}

fn missing(id: &str) -> ApiError {
    ApiError::NotFound(format!("no task {id:?} (unknown, or expired after its result TTL)"))
}

async fn current(state: &AppState, id: &TaskId) -> Result<TaskRecord, ApiError> {
    state.queue.get(id).await?.ok_or_else(|| missing(id.as_str()))
}

/// Cancels a `queued` or `scheduled` task: 200 with the cancelled view; 409 when it is
/// running or finished.
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let id = parse(&id)?;
    match state.queue.cancel(&id).await? {
        Transition::Done => {
            let record = current(&state, &id).await?;
            let labels = [id.queue().as_str(), record.kind.as_str(), outcome::CANCELLED];
            state.metrics.finished.with_label_values(&labels).inc();
            Ok(Json(TaskView::from(record)))
        }
        Transition::WrongState => {
            let record = current(&state, &id).await?;
            Err(ApiError::Conflict(format!(
                "task {id} is {} (attempt {}); only queued or scheduled tasks can be cancelled",
                record.state, record.attempts
            )))
        }
        Transition::Missing => Err(missing(id.as_str())),
    }
}

/// Re-enqueues a `failed` or `cancelled` task with fresh attempts: 202 with its view;
/// 409 in any other state.
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse(&id)?;
    match state.queue.revive(&id).await? {
        Transition::Done => {
            let record = current(&state, &id).await?;
            Ok((StatusCode::ACCEPTED, Json(TaskView::from(record))).into_response())
        }
        Transition::WrongState => {
            let record = current(&state, &id).await?;
            Err(ApiError::Conflict(format!(
                "task {id} is {}; only failed or cancelled tasks can be retried",
                record.state
            )))
        }
        Transition::Missing => Err(missing(id.as_str())),
    }
}
