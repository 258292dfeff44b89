//! The submission pipeline shared by `POST /tasks` and `POST /tasks/batch`: a JSON
//! value to a task request, the request to a validated task (kind registered, payload
//! accepted by its handler), and the answers for a stored task or an idempotent replay.

use super::budget::tree_bytes;
use super::extract::parse_json;
use super::{ApiError, AppState, TaskView};
use crate::task::{FieldError, NewTask, TaskError, TaskId, TaskRecord, TaskRequest, now_ms};
use axum::Json;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// 202 with the view and `Location`.
pub fn accepted(record: TaskRecord) -> Response {
    let location = format!("/tasks/{}", record.id);
    let view = Json(TaskView::from(record));
    (StatusCode::ACCEPTED, [(header::LOCATION, location)], view).into_response()
}

/// 200 with the original task's current view and `Idempotent-Replayed: true`.
pub async fn replay(state: &AppState, id: &TaskId) -> Result<Response, ApiError> {
    let record = state.queue.get(id).await?.ok_or_else(|| {
        ApiError::Conflict(format!(
            "the idempotency key belongs to task {id}, which has expired or was deleted; use a new key"
        ))
    })?;
    let headers = [
        (header::LOCATION, format!("/tasks/{id}")),
        (HeaderName::from_static("idempotent-replayed"), "true".to_owned()),
    ];
    Ok((StatusCode::OK, headers, Json(TaskView::from(record))).into_response())
}

/// Reads a task request from JSON text (the body, or one item of a batch), naming the
/// offending field (under `prefix`, e.g. `tasks[3].`) on error.
pub fn parse_request(json: &str, prefix: &str) -> Result<TaskRequest, ApiError> {
    parse_json(json.as_bytes(), prefix)
}

/// Applies every rule of SPEC §2, including the kind's registration and payload check.
/// A kind that validates payloads looks at a tree of the payload, whose memory is
/// reserved in the body budget while it lives.
pub fn validate(state: &AppState, request: TaskRequest) -> Result<NewTask, ApiError> {
    let task = NewTask::from_request(request, state.defaults, now_ms())?;
    if !state.allowed_queues.allows(&task.queue) {
        let message = format!("queue {} is not one TTP_QUEUES_ALLOWED allows", task.queue);
        return Err(FieldError::new("queue", message).into());
    }
    let handler = state.registry.get(task.kind.as_str()).ok_or_else(|| {
        FieldError::new(
            "kind",
            format!(
                "unknown kind {:?}; registered: {}",
                task.kind.as_str(),
                state.registry.kinds().join(", ")
            ),
        )
    })?;
    if handler.validates_payloads() {
        let _tree = state.body_budget.reserve(tree_bytes(task.payload.as_str()))?;
        handler.validate(&task.payload.to_value()).map_err(|e| match e {
            TaskError::InvalidPayload { field, message } => FieldError::new(field, message),
            other => FieldError::new("payload", other.to_string()),
        })?;
    }
    Ok(task)
}
