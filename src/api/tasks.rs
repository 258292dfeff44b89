//! `POST /tasks` and `GET /tasks/{id}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};

use serde_json::{Map, Value};

use std::time::Duration;

use serde::Deserialize;

use super::{ApiError, ApiJson, ApiQuery, AppState, TaskView, openapi};
use crate::queue::Enqueued;
use crate::task::{FieldError, NewTask, TaskError, TaskId, TaskRecord, TaskRequest, now_ms};

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
             ("RetryTask" = (operation_id = "retryTask", parameters(("id" = "$response.body#/id")))),
         )),
        (status = 200, description = "Idempotent replay: the original task's current view.", body = TaskView,
         headers(
             ("Location" = String, description = "`/tasks/{id}` of the original task."),
             ("Idempotent-Replayed" = String, description = "Always `true`."),
         )),
        (status = 400, response = openapi::BadRequest),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::NotJson),
        (status = 422, response = openapi::Invalid),
        (status = 429, response = openapi::QueueFull),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let request = parse_request(Value::Object(body), "")?;
    let request = with_header_key(request, SubmitHeaders::read(&headers)?)?;
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

/// Longest long-poll, in milliseconds (SPEC §2).
pub const MAX_WAIT_MS: u64 = 30_000;

/// Get a task
///
/// The task's view: state, attempts, timestamps, and its result or last error. With
/// `wait_ms` it long-polls: it answers as soon as the task is terminal, or with its
/// current view when the time is up (or the server shuts down). 404 when the id is
/// unknown or the task expired after its result TTL.
#[utoipa::path(
    get,
    path = "/tasks/{id}",
    operation_id = "getTask",
    tag = "tasks",
    params(("id" = String, Path, description = "Task id, as returned by `POST /tasks`."), FetchQuery),
    responses(
        (status = 200, description = "The task's view.", body = TaskView),
        (status = 400, response = openapi::BadRequest),
        (status = 404, response = openapi::NotFound),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
    )
)]
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
