//! `ApiError`: every failure a client can see, rendered as RFC 9457 problem details
//! (`application/problem+json`). 5xx bodies never carry internals; their cause is logged
//! once, here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::queue::QueueError;
use crate::task::{FieldError, TaskId};

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed JSON or a value of the wrong type.
    #[error("{detail}")]
    BadRequest {
        /// What is wrong.
        detail: String,
        /// The offending field, when known.
        field: Option<String>,
    },
    /// 413: body over `TTP_MAX_BODY_BYTES`.
    #[error("request body is larger than the limit (TTP_MAX_BODY_BYTES)")]
    TooLarge,
    /// 415: the body is not declared as JSON.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 422: a value breaks a rule.
    #[error("{0}")]
    Invalid(FieldError),
    /// 401: API keys are configured and the request has no valid one.
    #[error("a valid API key is required: send Authorization: Bearer <key> or X-API-Key: <key>")]
    Unauthorized,
    /// 403: a valid key outside its scopes or queues; names what is missing.
    #[error("{0}")]
    Forbidden(String),
    /// 429: the caller went past its rate limit; retry after the wait.
    #[error("rate limit reached (TTP_RATE_LIMIT_*_PER_S); retry after {} ms", .0.as_millis())]
    RateLimited(std::time::Duration),
    /// 404: unknown route, or unknown or expired task.
    #[error("{0}")]
    NotFound(String),
    /// 409: an idempotency key reused with a different request, or a state conflict.
    #[error("{0}")]
    Conflict(String),
    /// 405: the route exists but not with this method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// 429: the queue is at `TTP_MAX_QUEUE_LENGTH`.
    #[error("{0}")]
    QueueFull(String),
    /// 503, nothing stored: the process is shutting down.
    #[error("the server is shutting down; retry on another instance or later")]
    ShuttingDown,
    /// 503, nothing stored: Redis is at its memory limit.
    #[error("Redis is out of memory and refuses writes (raise maxmemory or free memory)")]
    StoreFull,
    /// 503, nothing stored: the in-flight body budget is spent.
    #[error("too many large request bodies in flight (TTP_MAX_INFLIGHT_BODY_BYTES); retry later")]
    Busy,
    /// 503: this process already serves `TTP_UI_MAX_STREAMS` dashboard streams.
    #[error(
        "this process already serves its most dashboard streams (TTP_UI_MAX_STREAMS = {0}); close another dashboard tab or retry later"
    )]
    TooManyStreams(usize),
    /// 503: the whole request took longer than `TTP_REQUEST_TIMEOUT_MS`.
    #[error("the request took longer than {0} ms (TTP_REQUEST_TIMEOUT_MS); retry later")]
    RequestDeadline(u128),
    /// 503, nothing stored: Redis unreachable or refusing; the cause is logged when the
    /// answer is made.
    #[error("the task store (Redis) is unavailable; nothing was changed; retry later")]
    StoreUnavailable(QueueError),
    /// 504: ttp sent a write but Redis did not confirm it in time: it may or may not
    /// have been applied. With the id of the task it concerns, when there is one.
    #[error(
        "Redis did not confirm the write within the deadline: it may or may not have been applied; read the task, or retry with the same idempotency key"
    )]
    OutcomeUnknown {
        /// The cause, logged once.
        cause: QueueError,
        /// The task the write concerns.
        task: Option<TaskId>,
    },
    /// 408: the client did not send its body in time.
    #[error("the request body did not arrive within TTP_HTTP_BODY_TIMEOUT_MS")]
    BodyTimeout,
    /// 500: a bug or data ttp did not write.
    #[error("internal error")]
    Internal(String),
}

/// RFC 9457 problem details: the body of every error response
/// (`application/problem+json`), and of each rejected item of a batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "type": "urn:ttp:problem:invalid-field",
    "title": "Unprocessable Entity",
    "status": 422,
    "detail": "priority: must be 0..=9, got 12",
    "field": "priority"
})))]
pub struct Problem {
    /// Names the kind of problem: `urn:ttp:problem:<slug>`, e.g.
    /// `urn:ttp:problem:invalid-field`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status code's reason phrase, e.g. `Unprocessable Entity`.
    pub title: String,
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong, for humans.
    pub detail: String,
    /// The offending field or JSON path (e.g. `priority`, `tasks[3].payload.ms`), for
    /// validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The task an `outcome-unknown` (504) answer concerns: read it to learn whether the
    /// write was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

impl ApiError {
    fn status_and_slug(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "malformed-request"),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large"),
            Self::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not-json"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-field"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::QueueFull(_) => (StatusCode::TOO_MANY_REQUESTS, "queue-full"),
            Self::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting-down"),
            Self::StoreFull => (StatusCode::SERVICE_UNAVAILABLE, "store-out-of-memory"),
            Self::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            Self::TooManyStreams(_) => (StatusCode::SERVICE_UNAVAILABLE, "too-many-streams"),
            Self::RequestDeadline(_) => (StatusCode::SERVICE_UNAVAILABLE, "request-deadline"),
            Self::StoreUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "store-unavailable"),
            Self::OutcomeUnknown { .. } => (StatusCode::GATEWAY_TIMEOUT, "outcome-unknown"),
            Self::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "body-timeout"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
        }
    }

    /// The task an outcome-unknown answer concerns.
    pub fn task(&self) -> Option<&TaskId> {
        match self {
            Self::OutcomeUnknown { task, .. } => task.as_ref(),
            _ => None,
        }
    }

    /// This error as the answer to item `index` of a batch: a field it names is the
    /// item's (`tasks[3].queue`).
    pub fn at_item(self, index: usize) -> Self {
        match self {
            Self::Invalid(f) => {
                Self::Invalid(FieldError::new(format!("tasks[{index}].{}", f.field), f.message))
            }
            other => other,
        }
    }

    /// This error, about the task `id` (an outcome-unknown answer then names it).
    pub fn about(self, id: &TaskId) -> Self {
        match self {
            Self::OutcomeUnknown { cause, .. } => {
                Self::OutcomeUnknown { cause, task: Some(id.clone()) }
            }
            other => other,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::BadRequest { field, .. } => field.as_deref(),
            Self::Invalid(e) => Some(&e.field),
            _ => None,
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::Invalid(error)
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::Full { .. } => Self::QueueFull(error.to_string()),
            QueueError::IdempotencyConflict { .. } => Self::Conflict(error.to_string()),
            QueueError::TooManyQueues { .. } => {
                Self::Invalid(FieldError::new("queue", error.to_string()))
            }
            QueueError::OutOfMemory => Self::StoreFull,
            QueueError::Timeout(_) | QueueError::Lost(_) | QueueError::NotReplicated { .. } => {
                Self::OutcomeUnknown { cause: error, task: None }
            }
            QueueError::Unavailable(_) => Self::StoreUnavailable(error),
            QueueError::Corrupt(_) | QueueError::Misconfigured(_) => {
                Self::Internal(error.to_string())
            }
        }
    }
}

impl ApiError {
    /// The status and problem details body (also used per item in batch responses).
    pub fn problem(&self) -> (StatusCode, serde_json::Value) {
        let (status, slug) = self.status_and_slug();
        let detail = match self {
            Self::Internal(_) => "internal error; see the server log".to_owned(),
            other => other.to_string(),
        };
        let problem = Problem {
            kind: format!("urn:ttp:problem:{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            field: self.field().map(str::to_owned),
            task_id: self.task().map(ToString::to_string),
        };
        (status, serde_json::to_value(problem).unwrap_or_default())
    }
}

impl ApiError {
    /// Logs the cause of a 5xx (whose body never carries it); called once per answer.
    pub fn log_cause(&self) {
        match self {
            Self::Internal(cause) => tracing::error!(cause = %cause, "internal error"),
            Self::StoreUnavailable(cause) => tracing::warn!(error = %cause, "Redis call failed"),
            Self::OutcomeUnknown { cause, task } => {
                tracing::warn!(error = %cause, task = ?task.as_ref().map(TaskId::as_str), "Redis did not confirm a write");
            }
            _ => {}
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log_cause();
        let (status, problem) = self.problem();
        let task = self.task().cloned();
        let retry_after_s = match &self {
            Self::RateLimited(wait) => wait.as_millis().div_ceil(1000).max(1) as u64,
            // A stream slot frees when a viewer leaves, which is seldom within a second.
            Self::TooManyStreams(_) => 5,
            _ => 1,
        };
        let mut response = (status, problem.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if matches!(status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(location) =
            task.and_then(|id| HeaderValue::from_str(&format!("/tasks/{id}")).ok())
        {
            headers.insert(header::LOCATION, location);
        }
        response
    }
}
