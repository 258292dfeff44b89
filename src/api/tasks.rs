//! `POST /tasks` and `GET /tasks/{id}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};

use serde_json::{Map, Value};

use std::time::Duration;

use serde::Deserialize;

use super::{ApiError, ApiJson, ApiQuery, AppState, TaskView};
use crate::queue::Enqueued;
use crate::task::{FieldError, NewTask, TaskError, TaskId, TaskRecord, TaskRequest, now_ms};

/// Submits one task: 202 with its view and `Location: /tasks/{id}`; 200 with
/// `Idempotent-Replayed: true` for a repeated idempotent submission.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let request = parse_request(Value::Object(body), "")?;
    let request = with_header_key(request, &headers)?;
    let task = validate(&state, request)?;
    let (queue, kind) = (task.queue.to_string(), task.kind.as_str().to_owned());
    match state.queue.enqueue(task).await? {
        Enqueued::Created(record) => {
            state.metrics.submitted.with_label_values(&[&queue, &kind]).inc();
            Ok(accepted(record))
        }
        Enqueued::Replayed(id) => replay(&state, &id).await,
    }
}

/// Query of `GET /tasks/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchQuery {
    /// Long-poll: wait up to this many ms (≤ 30,000) for the task to finish.
    pub wait_ms: Option<u64>,
}

/// Longest long-poll.
const MAX_WAIT_MS: u64 = 30_000;

/// The task view; 404 when the id is unknown or the task expired. With `wait_ms`, it
/// answers as soon as the task is terminal, or with its current view when time is up.
pub async fn fetch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<FetchQuery>,
) -> Result<Json<TaskView>, ApiError> {
    let wait_ms = query.wait_ms.unwrap_or(0);
    if wait_ms > MAX_WAIT_MS {
        return Err(FieldError::new(
            "wait_ms",
            format!("must be 0..={MAX_WAIT_MS}, got {wait_ms}"),
        )
        .into());
    }
    let not_found =
        || ApiError::NotFound(format!("no task {id:?} (unknown, or expired after its result TTL)"));
    let task_id = TaskId::parse(&id).ok_or_else(not_found)?;
    if wait_ms == 0 {
        let record = state.queue.get(&task_id).await?.ok_or_else(not_found)?;
        return Ok(Json(TaskView::from(record)));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
    let waiting = state.waiters.register(task_id.as_str());
    loop {
        let notified = waiting.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let record = state.queue.get(&task_id).await?.ok_or_else(not_found)?;
        if record.state.is_terminal() || tokio::time::Instant::now() >= deadline {
            return Ok(Json(TaskView::from(record)));
        }
        tokio::select! {
            () = notified => {}
            () = tokio::time::sleep_until(deadline) => {}
            () = state.shutdown.cancelled() => return Ok(Json(TaskView::from(record))),
        }
    }
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
        (HeaderName::from_static("idempotent-replayed"), "true".to_owned()),
    ];
    Ok((StatusCode::OK, headers, Json(TaskView::from(record))).into_response())
}

/// Reads a task request from a JSON value, naming the offending field (under `prefix`,
/// e.g. `tasks[3].`) on error. Anything but an object is refused, although serde would
/// also read a struct from an array of its fields.
pub fn parse_request(value: Value, prefix: &str) -> Result<TaskRequest, ApiError> {
    if !value.is_object() {
        let field = prefix.trim_end_matches('.');
        let detail =
            format!("{} must be a JSON object", if field.is_empty() { "the body" } else { field });
        return Err(ApiError::BadRequest {
            detail,
            field: (!field.is_empty()).then(|| field.to_owned()),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        let named = inner.split('`').nth(1).filter(|_| inner.contains(" field `"));
        let field = match (path.as_str(), named) {
            (".", Some(name)) => Some(format!("{prefix}{name}")),
            (".", None) => None,
            (path, _) => Some(format!("{prefix}{path}")),
        };
        let detail = match &field {
            Some(field) => format!("{field}: {inner}"),
            None => inner,
        };
        ApiError::BadRequest { detail, field }
    })
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
        Some(field) if *field != key => {
            Err(FieldError::new("idempotency_key", "differs from the Idempotency-Key header")
                .into())
        }
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
