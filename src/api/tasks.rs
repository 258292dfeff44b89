//! `POST /tasks` and `GET /tasks/{id}`.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::auth::Caller;
use super::openapi::{self, examples};
use super::submission::{accepted, replay, validate};
use super::{ApiError, ApiJson, ApiQuery, AppState, TaskView};
use crate::config::MAX_WAIT_MS;
use crate::queue::Enqueued;
use crate::task::{FieldError, TaskId, TaskRequest};

/// Submit a task
///
/// Validates the request (including the kind's payload rules) and stores the task:
/// 202 with its view and `Location: /tasks/{id}`. A repeated submission with the same
/// idempotency key and the same request within the result TTL answers 200 with the
/// original task's current view and `Idempotent-Replayed: true`; the same key with a
/// different request is a 409.
#[utoipa::path(
    post,
    path = "/tasks",
    operation_id = "submitTask",
    tag = "tasks",
    params(SubmitHeaders),
    request_body(content = TaskRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted: the new task's view.", body = TaskView,
         headers(("Location" = String, description = "`/tasks/{id}` of the new task.")),
         links(
             ("GetTask" = (operation_id = "getTask", parameters(("id" = "$response.body#/id")))),
             ("CancelTask" = (operation_id = "cancelTask", parameters(("id" = "$response.body#/id")))),
             ("DeleteTask" = (operation_id = "deleteTask", parameters(("id" = "$response.body#/id")))),
             ("RetryTask" = (operation_id = "retryTask", parameters(("id" = "$response.body#/id")))),
             ("ClaimTasks" = (operation_id = "claimTasks", parameters(("name" = "$response.body#/queue")))),
         ),
         example = json!(examples::queued_view())),
        (status = 200, description = "Idempotent replay: the original task's current view.", body = TaskView,
         headers(
             ("Location" = String, description = "`/tasks/{id}` of the original task."),
             ("Idempotent-Replayed" = String, description = "Always `true`."),
         ),
         example = json!(examples::task_view())),
        (status = 400, response = openapi::BadRequest),
        (status = 409, response = openapi::Conflict),
        (status = 408, response = openapi::BodyTimeout),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::NotJson),
        (status = 422, response = openapi::Invalid),
        (status = 429, response = openapi::QueueFull),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(request): ApiJson<TaskRequest>,
) -> Result<Response, ApiError> {
    let request = with_header_key(request, SubmitHeaders::read(&headers)?)?;
    let task = validate(&state, request)?;
    caller.require_queue(&task.queue)?;
    let (id, queue, kind) =
        (task.id.clone(), task.queue.to_string(), task.kind.as_str().to_owned());
    let stored = state.submissions.submit(task, state.submission_deadline()).await;
    match stored.map_err(|e| ApiError::from(e).about(&id))? {
        Enqueued::Created(record) => {
            state.metrics.submitted.with_label_values(&[&queue, &kind]).inc();
            Ok(accepted(*record))
        }
        Enqueued::Replayed(id) => replay(&state, &id).await,
    }
}

/// Request headers of `POST /tasks` (documentation: the handler reads the header map).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct SubmitHeaders {
    /// Deduplicates submissions, like the `idempotency_key` field: 1..=255 printable
    /// ASCII characters (HTTP drops surrounding whitespace). When both are given they
    /// must be equal (else 409).
    #[param(
        rename = "Idempotency-Key",
        pattern = r"^[ \t]*[!-~]([ -~]{0,253}[!-~])?[ \t]*$",
        nullable = false
    )]
    pub idempotency_key: Option<String>,
}

/// Query of `GET /tasks/{id}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FetchQuery {
    /// Long-poll: wait up to this many milliseconds for the task to become terminal
    /// (succeeded, failed or cancelled). 0 or absent answers at once.
    #[param(minimum = 0, maximum = 30000)]
    pub wait_ms: Option<u64>,
}

/// Get a task
///
/// The task's view: state, attempts, timestamps, and its result or last error. With
/// `wait_ms` it long-polls: it answers as soon as the task is terminal, or with its
/// current view when the time is up (or the server shuts down). 404 when the id is
/// unknown, the task was deleted, or it expired after its result TTL.
#[utoipa::path(
    get,
    path = "/tasks/{id}",
    operation_id = "getTask",
    tag = "tasks",
    params(("id" = String, Path, description = "Task id, as returned by `POST /tasks`."), FetchQuery),
    responses(
        (status = 200, description = "The task's view.", body = TaskView,
         example = json!(examples::task_view())),
        (status = 400, response = openapi::BadRequest),
        (status = 404, response = openapi::NotFound),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
    )
)]
pub async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
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
    let not_found = || {
        ApiError::NotFound(format!(
            "no task {id:?} (unknown, deleted, or expired after its result TTL)"
        ))
    };
    let task_id = TaskId::parse(&id).ok_or_else(not_found)?;
    caller.require_queue(task_id.queue())?;
    if wait_ms == 0 {
        let record = state.queue.get(&task_id).await?.ok_or_else(not_found)?;
        return Ok(Json(TaskView::from(record)));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
    let waiting = state.waiters.register(&task_id);
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

impl SubmitHeaders {
    fn read(headers: &HeaderMap) -> Result<Self, ApiError> {
        let idempotency_key = headers
            .get("idempotency-key")
            .map(|value| {
                let printable = value.as_bytes().iter().all(|b| (b' '..=b'~').contains(b));
                match value.to_str() {
                    Ok(text) if printable => Ok(text.to_owned()),
                    _ => Err(ApiError::from(FieldError::new(
                        "Idempotency-Key",
                        "must be printable ASCII (no tabs or control characters)",
                    ))),
                }
            })
            .transpose()?;
        Ok(Self { idempotency_key })
    }
}

/// Takes the `Idempotency-Key` header into the request; it must agree with the field.
fn with_header_key(
    mut request: TaskRequest,
    headers: SubmitHeaders,
) -> Result<TaskRequest, ApiError> {
    let Some(key) = headers.idempotency_key else {
        return Ok(request);
    };
    match &request.idempotency_key {
        // Two different keys for one submission: a conflict between idempotency keys,
        // like a key reused with another request.
        Some(field) if *field != key => Err(ApiError::Conflict(format!(
            "the Idempotency-Key header {key:?} and the idempotency_key field {field:?} differ; give one key"
        ))),
        _ => {
            request.idempotency_key = Some(key);
            Ok(request)
        }
    }
}
