//! `/schedules`: recurring tasks (SPEC §10). A schedule is created or changed by `PUT`
//! (an unchanged spec changes nothing, not even its next tick), read, listed, removed,
//! paused, resumed and run once on request. Its template is checked exactly like a
//! `POST /tasks` body; errors name the field (`task.payload.ms`, `cron`, `end_at`).
//! The schedulers (`crate::scheduler`) fire it; nothing here fires a tick.

pub mod actions;
pub mod config;
pub mod put;
pub mod schema;
mod view;

pub use view::{ScheduleList, ScheduleView};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::auth::Caller;
use super::{ApiError, AppState, openapi};
use crate::queue::schedules::ScheduleRecord;
use crate::schedule::ScheduleName;
use crate::task::QueueName;

/// Most schedules a deployment holds.
pub const MAX_SCHEDULES: u64 = 10_000;

/// The name and queue of schedule `name`, which the caller may touch; 404 when there
/// is none.
async fn locate(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<(ScheduleName, QueueName), ApiError> {
    let missing = || ApiError::NotFound(format!("no schedule {name:?}"));
    let name = ScheduleName::parse(name).map_err(|_| missing())?;
    let queue = state.queue.schedule_queue(name.as_str()).await?.ok_or_else(missing)?;
    caller.require_queue(&queue)?;
    Ok((name, queue))
}

/// The stored record of a located schedule; 404 when it is gone.
async fn record(
    state: &AppState,
    name: &ScheduleName,
    queue: &QueueName,
) -> Result<ScheduleRecord, ApiError> {
    let record = state.queue.schedule_record(queue, name.as_str()).await?;
    record.ok_or_else(|| ApiError::NotFound(format!("no schedule {:?}", name.as_str())))
}

/// List schedules
///
/// Every schedule of the queues the caller's key may read, by name, with its state and
/// next runs.
#[utoipa::path(
    get,
    path = "/schedules",
    operation_id = "listSchedules",
    tag = "schedules",
    responses(
        (status = 200, description = "Every schedule, by name.", body = ScheduleList,
         example = json!(crate::api::openapi::examples::schedule_list())),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ScheduleList>, ApiError> {
    let (_, mut entries) = state.queue.schedule_index().await?;
    entries.retain(|(_, queue)| caller.principal.may_touch(queue));
    entries.sort();
    let records = state.queue.schedule_records(&entries).await?;
    let schedules =
        records.into_iter().flatten().map(ScheduleView::of).collect::<Result<_, _>>()?;
    Ok(Json(ScheduleList { schedules }))
}

/// Get a schedule
///
/// Its spec, state, next 5 runs, counters and last 20 runs.
#[utoipa::path(
    get,
    path = "/schedules/{name}",
    operation_id = "getSchedule",
    tag = "schedules",
    params(("name" = String, Path, pattern = "^[a-z0-9._-]{1,64}$", description = "The schedule's name.")),
    responses(
        (status = 200, description = "The schedule.", body = ScheduleView,
         example = json!(crate::api::openapi::examples::schedule_view())),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<ScheduleView>, ApiError> {
    let (name, queue) = locate(&state, &caller, &name).await?;
    Ok(Json(ScheduleView::of(record(&state, &name, &queue).await?)?))
}

/// Remove a schedule
///
/// Removes it (204); tasks it already submitted stay.
#[utoipa::path(
    delete,
    path = "/schedules/{name}",
    operation_id = "deleteSchedule",
    tag = "schedules",
    params(("name" = String, Path, pattern = "^[a-z0-9._-]{1,64}$", description = "The schedule's name.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, response = openapi::NotFound),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (name, queue) = locate(&state, &caller, &name).await?;
    let existed = state.queue.delete_schedule(&queue, name.as_str()).await?;
    let released = state.queue.forget_schedule_name(name.as_str(), &queue).await?;
    if existed || released {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no schedule {:?}", name.as_str())))
    }
}
