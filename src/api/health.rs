//! Liveness, readiness and the metrics exposition.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;

use super::openapi::{self, examples};
use super::{ApiError, AppState};
use crate::task::QueueName;

/// Body of `/healthz`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Liveness)]
pub struct Health {
    /// Always `ok`.
    #[schema(pattern = "^ok$")]
    pub status: &'static str,
}

/// Body of `/readyz` when ready.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Readiness)]
pub struct Ready {
    /// Always `ready`.
    #[schema(pattern = "^ready$")]
    pub status: &'static str,
}

/// Liveness
///
/// 200 while the process runs (it does not touch Redis).
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "liveness",
    tag = "health",
    responses((status = 200, description = "The process runs.", body = Health,
               example = json!(examples::liveness())))
)]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness
///
/// 200 when Redis accepts a write within its deadline and the process is not shutting
/// down; 503 otherwise, so a load balancer stops sending traffic.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readiness",
    tag = "health",
    responses(
        (status = 200, description = "Ready to serve.", body = Ready,
         example = json!(examples::readiness())),
        (status = 503, response = openapi::Unavailable),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    if state.shutdown.is_cancelled() {
        return Err(ApiError::ShuttingDown);
    }
    state.queue.probe_writable().await?;
    state.queue.require_layout()?;
    Ok(Json(Ready { status: "ready" }))
}

/// Prometheus metrics
///
/// The Prometheus text exposition (format 0.0.4): task, queue, HTTP and Redis metrics
/// and the process metrics. Queue depths are sampled at each scrape.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text exposition.", body = String,
               content_type = "text/plain; version=0.0.4; charset=utf-8",
               example = json!(examples::metrics_text())))
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    sample_queue_depths(&state).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}

/// Sets `ttp_queue_depth` for every queue that exists now (one pipelined read for all
/// of them), dropping the series of queues forgotten since, so the number of series is
/// bounded by the number of queues (`TTP_MAX_QUEUES`).
async fn sample_queue_depths(state: &AppState) {
    let Ok(queues) = super::queues::all_queues(state).await else {
        return; // Redis is down: keep the last values rather than invent zeros
    };
    let Ok(stats) = state.queue.stats_many(&queues).await else {
        return;
    };
    state.metrics.retain_queues(&queues.iter().map(QueueName::as_str).collect());
    let gauge = &state.metrics.queue_depth;
    for (queue, stats) in queues.iter().zip(stats) {
        let depth = |s: &str, v: u64| gauge.with_label_values(&[queue.as_str(), s]).set(v as i64);
        depth("queued", stats.queued);
        depth("scheduled", stats.scheduled);
        depth("running", stats.running);
        depth("failed", stats.failed);
    }
}
