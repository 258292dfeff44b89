//! The submission pipeline shared by `POST /tasks` and `POST /tasks/batch`: a JSON
//! value to a task request, the request to a validated task (kind registered, payload
//! accepted by its handler), and the answers for a stored task or an idempotent replay.

use axum::Json;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::extract::from_value;
use super::{ApiError, AppState, TaskView};
use crate::task::{FieldError, NewTask, TaskError, TaskId, TaskRecord, TaskRequest, now_ms};

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
pub fn parse_request(mut value: Value, prefix: &str) -> Result<TaskRequest, ApiError> {
    let Some(object) = value.as_object_mut() else {
        let field = prefix.trim_end_matches('.');
        let detail =
            format!("{} must be a JSON object", if field.is_empty() { "the body" } else { field });
        return Err(ApiError::BadRequest {
            detail,
            field: (!field.is_empty()).then(|| field.to_owned()),
        });
    };
    integral_floats_as_integers(object);
    from_value(value, prefix)
}

/// JSON has one number type: `5.0` is the integer 5 (as JSON Schema says), so the
/// integer fields take it; `5.5` stays a float and is refused by serde.
fn integral_floats_as_integers(object: &mut Map<String, Value>) {
    const INTEGER_FIELDS: [&str; 5] =
        ["priority", "delay_ms", "max_attempts", "timeout_ms", "result_ttl_s"];
    for name in INTEGER_FIELDS {
        if let Some(value) = object.get_mut(name)
            && let Some(float) = value.as_f64().filter(|_| value.is_f64())
            && float.fract() == 0.0
            && float.abs() < 9.2e18
        {
            *value = Value::from(float as i64);
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
