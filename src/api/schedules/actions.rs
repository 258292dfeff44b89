//! `POST /schedules/{name}/pause`, `/resume` and `/run`. Pause and resume are
//! idempotent; resume restarts from the first tick after now (ticks that passed while it
//! was paused are not caught up); run submits one task now without moving the next tick.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;

use super::super::auth::Caller;
use super::super::submission::accepted;
use super::super::{ApiError, AppState, openapi};
use super::{ScheduleView, locate, record};
use crate::queue::schedules::{ResumeOutcome, RunOutcome};
use crate::schedule::{Schedule, ScheduleSpec};
use crate::task::TaskId;

/// How often resume computes the next tick again when the spec changed meanwhile.
const RESUME_TRIES: usize = 3;

/// Pause a schedule
///
/// Stops it firing until resumed; pausing a paused schedule changes nothing.
#[utoipa::path(
    post,
    path = "/schedules/{name}/pause",
    operation_id = "pauseSchedule",
    tag = "schedules",
    params(("name" = String, Path, pattern = "^[a-z0-9._-]{1,64}$", description = "The schedule's name.")),
    responses(
        (status = 200, description = "The schedule, paused.", body = ScheduleView,
         example = json!(crate::api::openapi::examples::paused_schedule_view())),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    let (name, queue) = locate(&state, &caller, &name).await?;
    state.queue.pause_schedule(&queue, name.as_str()).await?;
    Ok(Json(ScheduleView::of(record(&state, &name, &queue).await?)?))
}

/// Resume a schedule
///
/// Fires it again from the first tick after now; resuming an active schedule changes
/// nothing.
#[utoipa::path(
    post,
    path = "/schedules/{name}/resume",
    operation_id = "resumeSchedule",
    tag = "schedules",
    params(("name" = String, Path, pattern = "^[a-z0-9._-]{1,64}$", description = "The schedule's name.")),
    responses(
        (status = 200, description = "The schedule, active (or ended, with no tick left).", body = ScheduleView,
         example = json!(crate::api::openapi::examples::schedule_view())),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    let (name, queue) = locate(&state, &caller, &name).await?;
    let missing = || ApiError::NotFound(format!("no schedule {:?}", name.as_str()));
    for _ in 0..RESUME_TRIES {
        let stored = state.queue.schedule_specs(&queue, &[name.as_str()]).await?.pop().flatten();
        let (sha, text) = stored.ok_or_else(missing)?;
        let corrupt = || ApiError::Internal(format!("schedule {name} has an unreadable spec"));
        let spec = ScheduleSpec::from_json(&text).ok_or_else(corrupt)?;
        let schedule = Schedule::new(spec).map_err(|_| corrupt())?;
        let next = schedule.first_tick_after(state.queue.redis_time_ms().await?);
        match state.queue.resume_schedule(&queue, name.as_str(), &sha, next).await? {
            ResumeOutcome::Missing => return Err(missing()),
            ResumeOutcome::Moved => continue,
            ResumeOutcome::State(_) => {
                return Ok(Json(ScheduleView::of(record(&state, &name, &queue).await?)?));
            }
        }
    }
    Err(ApiError::Conflict(format!("schedule {name} kept changing while it was resumed; retry")))
}

/// Run a schedule now
///
/// Submits one task of the schedule now (202, the task's view) without moving its next
/// tick.
#[utoipa::path(
    post,
    path = "/schedules/{name}/run",
    operation_id = "runSchedule",
    tag = "schedules",
    params(("name" = String, Path, pattern = "^[a-z0-9._-]{1,64}$", description = "The schedule's name.")),
    responses(
        (status = 202, description = "The task submitted.", body = super::super::TaskView,
         example = json!(crate::api::openapi::examples::schedule_run_view())),
        (status = 404, response = openapi::NotFound),
        (status = 429, response = openapi::QueueFull),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let (name, queue) = locate(&state, &caller, &name).await?;
    let id = TaskId::generate(&queue);
    let deadline = state.submission_deadline();
    let outcome = state.queue.run_schedule(name.as_str(), &id, deadline).await;
    match outcome.map_err(|e| ApiError::from(e).about(&id))? {
        RunOutcome::Missing => Err(ApiError::NotFound(format!("no schedule {:?}", name.as_str()))),
        RunOutcome::Full => Err(ApiError::QueueFull(format!(
            "queue {queue} holds TTP_MAX_QUEUE_LENGTH waiting tasks; retry later"
        ))),
        RunOutcome::Stored => {
            let stored = state.queue.get(&id).await?;
            let record = stored.ok_or_else(|| ApiError::Internal(format!("task {id} vanished")))?;
            Ok(accepted(record))
        }
    }
}
