//! The HTTP API: router, layers and shared state. One file per resource.

mod batch;
mod error;
mod extract;
mod health;
mod queues;
mod task_actions;
mod tasks;
mod view;
pub mod waiters;

pub use error::ApiError;
pub use extract::{ApiJson, ApiQuery};
pub use view::TaskView;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::routing::{get, post};
use axum::{Router, middleware};
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::metrics::{self, Metrics};
use crate::queue::Queue;
use crate::task::{QueueName, TaskDefaults};
use crate::worker::HandlerRegistry;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The task store.
    pub queue: Arc<Queue>,
    /// Registered kinds (for validation at submission).
    pub registry: HandlerRegistry,
    /// Metrics handles.
    pub metrics: Metrics,
    /// Defaults for fields a submission leaves out.
    pub defaults: TaskDefaults,
    /// Queues whose depth `/metrics` always reports.
    pub served_queues: Vec<QueueName>,
    /// Cancelled when the process starts shutting down (`/readyz` turns 503).
    pub shutdown: CancellationToken,
    /// Long-poll waiters of this process.
    pub waiters: waiters::Waiters,
}

impl axum::extract::FromRef<AppState> for Metrics {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids are ULIDs: unique and time-ordered, like task ids.
#[derive(Clone, Copy, Default)]
struct UlidRequestId;

impl MakeRequestId for UlidRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        ulid::Ulid::new().to_string().parse().ok().map(RequestId::new)
    }
}

/// The router with every route and layer.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let metrics = state.metrics.clone();
    Router::new()
        .route("/tasks", post(tasks::submit))
        .route("/tasks/batch", post(batch::submit_batch))
        .route("/tasks/{id}", get(tasks::fetch).delete(task_actions::cancel))
        .route("/tasks/{id}/retry", post(task_actions::retry))
        .route("/queues", get(queues::list))
        .route("/queues/{name}/dead", get(queues::dead))
        .route("/queues/{name}/pause", post(queues::pause))
        .route("/queues/{name}/resume", post(queues::resume))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
        .layer(middleware::from_fn_with_state(metrics, metrics::track_http))
        .layer(TraceLayer::new_for_http().make_span_with(crate::telemetry::request_span))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, UlidRequestId))
}
