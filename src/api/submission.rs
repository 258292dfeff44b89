//! The submission pipeline shared by `POST /tasks` and `POST /tasks/batch`: a JSON
//! value to a task request, the request to a validated task (kind registered, payload
//! accepted by its handler), and the answers for a stored task or an idempotent replay.

use super::budget::tree_bytes;
use super::extract::parse_json;
use super::{ApiError, AppState, TaskView};
use crate::kinds::KindRef;
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
/// reserved in the body budget while it lives. An external kind's tasks go to its queue.
pub fn validate(state: &AppState, mut request: TaskRequest) -> Result<NewTask, ApiError> {
    let kind = state.catalog.lookup(&request.kind);
    if let Some(KindRef::External(external)) = &kind {
        match &request.queue {
            None => request.queue = Some(external.queue.to_string()),
            Some(queue) if *queue != external.queue.as_str() => {
                let message = format!(
                    "kind {} runs in queue {}, not {queue}",
                    external.name.as_str(),
                    external.queue
                );
                return Err(FieldError::new("queue", message).into());
            }
            Some(_) => {}
        }
    }
    let task = NewTask::from_request(request, state.defaults, now_ms())?;
    if !state.allowed_queues.allows(&task.queue) {
        let message = format!("queue {} is not one TTP_QUEUES_ALLOWED allows", task.queue);
        return Err(FieldError::new("queue", message).into());
    }
    let kind = kind.ok_or_else(|| {
        let known = state.catalog.names().join(", ");
        FieldError::new("kind", format!("unknown kind {:?}; known: {known}", task.kind.as_str()))
    })?;
    check_payload(state, &kind, &task)?;
    Ok(task)
}

/// The kind's payload rules, with the tree's memory reserved while it lives.
fn check_payload(state: &AppState, kind: &KindRef, task: &NewTask) -> Result<(), ApiError> {
    let checks = match kind {
        KindRef::Embedded(handler) => handler.validates_payloads(),
        KindRef::External(_) => true,
    };
    if !checks {
        return Ok(());
    }
    let _tree = state.body_budget.reserve(tree_bytes(task.payload.as_str()))?;
    let payload = task.payload.to_value();
    match kind {
        KindRef::Embedded(handler) => handler.validate(&payload).map_err(|e| match e {
            TaskError::InvalidPayload { field, message } => FieldError::new(field, message).into(),
            other => FieldError::new("payload", other.to_string()).into(),
        }),
        KindRef::External(external) => external.validate(&payload).map_err(ApiError::from),
    }
}
