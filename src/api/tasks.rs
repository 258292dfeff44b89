//! `POST /tasks` and `GET /tasks/{id}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiJson, AppState, TaskView};
use crate::queue::Enqueued;
use crate::task::{FieldError, NewTask, TaskError, TaskId, TaskRecord, TaskRequest, now_ms};

/// Submits one task: 202 with its view and `Location: /tasks/{id}`; 200 with
/// `Idempotent-Replayed: true` for a repeated idempotent submission.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<TaskRequest>,
) -> Result<Response, ApiError> {
    let request = with_header_key(request, &headers)?;
    let task = validate(&state, request)?;
    let (queue, kind) = (task.queue.to_string(), task.kind.as_str().to_owned());
    match state.queue.enqueue(task).await? {
        Enqueued::Created(record) => {
            state
                .metrics
                .submitted
                .with_label_values(&[&queue, &kind])
                .inc();
            Ok(accepted(record))
        }
        Enqueued::Replayed(id) => replay(&state, &id).await,
    }
}

/// The task view; 404 when the id is unknown or the task expired.
pub async fn fetch(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let not_found = || {
        ApiError::NotFound(format!(
            "no task {id:?} (unknown, or expired after its result TTL)"
        ))
    };
    let task_id = TaskId::parse(&id).ok_or_else(not_found)?;
    let record = state.queue.get(&task_id).await?.ok_or_else(not_found)?;
    Ok(Json(TaskView::from(record)))
}

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
            "the idempotency key belongs to task {id}, which has expired; use a new key"
        ))
    })?;
    let headers = [
        (header::LOCATION, format!("/tasks/{id}")),
        (
            HeaderName::from_static("idempotent-replayed"),
            "true".to_owned(),
        ),
    ];
    Ok((StatusCode::OK, headers, Json(TaskView::from(record))).into_response())
}

/// Takes the `Idempotency-Key` header into the request; it must agree with the field.
fn with_header_key(mut request: TaskRequest, headers: &HeaderMap) -> Result<TaskRequest, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(request);
    };
    let key = value
        .to_str()
        .map_err(|_| FieldError::new("Idempotency-Key", "must be visible ASCII"))?
        .to_owned();
    match &request.idempotency_key {
        Some(field) if *field != key => Err(FieldError::new(
            "idempotency_key",
            "differs from the Idempotency-Key header",
        )
        .into()),
        _ => {
            request.idempotency_key = Some(key);
            Ok(request)
        }
    }
}

/// Applies every rule of SPEC §2, including the kind's registration and payload check.
pub fn validate(state: &AppState, request: TaskRequest) -> Result<NewTask, ApiError> {
    let task = NewTask::from_request(request, state.defaults, now_ms())?;
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
    handler.validate(&task.payload).map_err(|e| match e {
        TaskError::InvalidPayload { field, message } => FieldError::new(field, message),
        other => FieldError::new("payload", other.to_string()),
    })?;
    Ok(task)
}
