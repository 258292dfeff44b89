//! Liveness, readiness and the metrics exposition.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::task::QueueName;

/// 200 while the process runs.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when Redis answers and the process is not shutting down; 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if state.shutdown.is_cancelled() {
        return Err(ApiError::Unavailable("shutting down".into()));
    }
    state.queue.probe_writable().await?;
    Ok(Json(json!({"status": "ready"})))
}

/// Prometheus text exposition; queue depths are sampled now.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    sample_queue_depths(&state).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}

async fn sample_queue_depths(state: &AppState) {
    let mut queues: Vec<QueueName> = state.served_queues.clone();
    if let Ok(known) = state.queue.known_queues().await {
        queues.extend(known);
    }
    queues.sort();
    queues.dedup();
    for queue in queues {
        let Ok(stats) = state.queue.stats(&queue).await else {
            return; // Redis is down: keep the last values rather than invent zeros
        };
        let depth = |s: &str, v: u64| {
            state.metrics.queue_depth.with_label_values(&[queue.as_str(), s]).set(v as i64);
        };
        depth("queued", stats.queued);
        depth("scheduled", stats.scheduled);
        depth("running", stats.running);
        depth("failed", stats.failed);
    }
}
