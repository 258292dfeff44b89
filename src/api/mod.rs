//! The HTTP API: router, layers and shared state. One file per resource.

pub mod auth;
mod batch;
pub mod budget;
pub mod coalescer;
mod dead_letters;
mod error;
mod extract;
mod health;
mod kinds;
pub mod kinds_sync;
mod layers;
pub mod lease;
pub mod openapi;
mod queues;
pub mod schedules;
mod submission;
mod task_actions;
mod tasks;
pub mod ui;
mod unique_keys;
mod view;
pub mod waiters;

pub use error::{ApiError, Problem};
pub use extract::{ApiJson, ApiQuery, BodyTimeout};
pub use view::TaskView;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::{Extension, Router, middleware};
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::HttpSettings;
use crate::kinds::Catalog;
use crate::metrics::{self, Metrics};
use crate::queue::Queue;
use crate::task::{QueueName, TaskDefaults};
use layers::REQUEST_ID;

/// What every handler can reach, shared behind an `Arc` (axum clones the state for
/// every request, so a plain struct would copy the handler registry each time).
pub type AppState = Arc<AppContext>;

/// The contents of [`AppState`].
pub struct AppContext {
    /// The task store.
    pub queue: Arc<Queue>,
    /// Single submissions, coalesced into shared script calls.
    pub submissions: coalescer::Coalescer,
    /// Memory all requests may hold at once for their bodies.
    pub body_budget: budget::BodyBudget,
    /// How long a submission may wait for Redis in all (`TTP_REDIS_TIMEOUT_MS` and a
    /// small margin), however many queues and calls it involves.
    pub submission_budget: std::time::Duration,
    /// The queue names submissions may use.
    pub allowed_queues: crate::config::AllowedQueues,
    /// API keys and rate limits.
    pub guard: Arc<auth::Guard>,
    /// Long-poll claims' shared waits on queue wake-ups.
    pub claim_waiters: lease::waiters::ClaimWaiters,
    /// The lease a claim gets when it asks for none (`TTP_LEASE_MS`).
    pub lease: std::time::Duration,
    /// The longest lease a worker may ask for (`TTP_LEASE_MAX_MS`).
    pub lease_max: std::time::Duration,
    /// Retry backoff, for attempts external workers fail.
    pub retry: crate::task::RetryPolicy,
    /// Every kind, embedded and external (for validation at submission, `GET /kinds`).
    pub catalog: Arc<Catalog>,
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
    /// The dashboard's shared snapshots (`GET /ui/events`).
    pub dashboard: crate::dashboard::Dashboard,
}

impl AppContext {
    /// The deadline of a submission that starts now.
    pub fn submission_deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.submission_budget
    }
}

/// Every route, each registered with its `#[utoipa::path]` documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(tasks::submit))
        .routes(routes!(batch::submit_batch))
        .routes(routes!(tasks::fetch, task_actions::remove))
        .routes(routes!(task_actions::cancel))
        .routes(routes!(task_actions::retry))
        .routes(routes!(kinds::list))
        .routes(routes!(kinds::put, kinds::delete))
        .routes(routes!(queues::list))
        .routes(routes!(schedules::list))
        .routes(routes!(schedules::put::put, schedules::get, schedules::delete))
        .routes(routes!(schedules::actions::pause))
        .routes(routes!(schedules::actions::resume))
        .routes(routes!(schedules::actions::run))
        .routes(routes!(lease::claim::claim))
        .routes(routes!(lease::actions::heartbeat))
        .routes(routes!(lease::actions::complete))
        .routes(routes!(lease::actions::fail))
        .routes(routes!(lease::actions::release))
        .routes(routes!(dead_letters::dead))
        .routes(routes!(queues::pause))
        .routes(routes!(queues::resume))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(openapi::serve))
        // The dashboard's stream (its page and files are in `ui::pages`, undocumented).
        .routes(routes!(ui::events::events))
}

/// The router with every route and layer, outermost first: request id (set, then
/// echoed on the response), the request span, CORS when configured, compression, HTTP
/// metrics, the request deadline, API keys when configured, the body limit.
/// `document` is what `GET /openapi.json` serves (built by `App::build`, which fails
/// when the registry's kinds cannot be documented).
pub fn router(state: AppState, config: &HttpSettings, document: axum::body::Bytes) -> Router {
    let metrics = Arc::new(state.metrics.clone());
    let (routes, api) = routes().split_for_parts();
    // The page shows its Schedules tab only when this build serves the schedules API.
    let schedules = api.paths.paths.contains_key("/schedules");
    let routes = routes.merge(ui::pages(state.guard.clone(), schedules));
    let timeout = config.request_timeout;
    let budget = (state.body_budget.clone(), config.max_body_bytes as u64);
    let state_guard = state.guard.clone();
    let mut router = routes
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn_with_state(budget, budget::reserve_body))
        .layer(Extension(openapi::Served(document)))
        .layer(Extension(BodyTimeout(config.body_timeout)))
        .with_state(state);
    router = router.layer(middleware::from_fn_with_state(state_guard, auth::guard));
    let mut router = router
        .layer(middleware::from_fn_with_state(timeout, layers::deadline))
        .layer(middleware::from_fn_with_state(metrics, metrics::track_http))
        .layer(layers::compression());
    if let Some(cors) = layers::cors(&config.cors_origins) {
        router = router.layer(cors);
    }
    router
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(crate::telemetry::request_span)
                // Each 5xx cause is logged once, where the answer is made (`ApiError`).
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, layers::UlidRequestId))
}
