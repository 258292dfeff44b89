//! `PUT /schedules/{name}`: create (201) or change (200) a schedule. The same spec twice
//! changes nothing, not even the next tick; a changed spec's next tick is computed again
//! from now (Redis' clock). The queue is fixed when the schedule is created.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::super::auth::Caller;
use super::super::submission::validate;
use super::super::{ApiError, ApiJson, AppState, openapi};
use super::{MAX_SCHEDULES, ScheduleView, record};
use crate::queue::schedules::{NameClaim, PutOutcome, SchedulePut, task_template};
use crate::schedule::{Schedule, ScheduleName, ScheduleRequest, ScheduleSpec};
use crate::task::{FieldError, NewTask};

/// Create or change a schedule
///
/// Creates (201) or changes (200) the schedule: `cron` (5 fields, 6 with seconds first,
/// or an alias such as `@hourly`) or `every_ms`, in `timezone`, submitting `task` (a
/// `POST /tasks` body) at every tick. Sending the same spec again changes nothing. Every
/// invalid value is a 422 naming its field.
#[utoipa::path(
    put,
    path = "/schedules/{name}",
    operation_id = "putSchedule",
    tag = "schedules",
    params(("name" = String, Path, pattern = "^[a-z0-9._-]{1,64}$", description = "The schedule's name.")),
    request_body(content = ScheduleRequest, content_type = "application/json",
                 example = json!(crate::api::openapi::examples::schedule_request())),
    responses(
        (status = 200, description = "Changed, or unchanged (the same spec).", body = ScheduleView,
         example = json!(crate::api::openapi::examples::schedule_view())),
        (status = 201, description = "Created.", body = ScheduleView,
         example = json!(crate::api::openapi::examples::schedule_view())),
        (status = 400, response = openapi::BadRequest),
        (status = 409, response = openapi::Conflict),
        (status = 408, response = openapi::BodyTimeout),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::NotJson),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<ScheduleRequest>,
) -> Result<Response, ApiError> {
    let (status, view) = upsert(&state, Some(&caller), &name, &request).await?;
    Ok((status, Json(view)).into_response())
}

/// Creates (201) or changes (200) schedule `name` as `caller` (`None`: the configuration
/// file, which may touch every queue); the PUT route and the start-up upsert of
/// `[[schedules]]` share it.
pub async fn upsert(
    state: &AppState,
    caller: Option<&Caller>,
    name: &str,
    request: &ScheduleRequest,
) -> Result<(StatusCode, ScheduleView), ApiError> {
    let name = ScheduleName::parse(name)?;
    let task = validate(state, request.task.clone()).map_err(in_task)?;
    if let Some(caller) = caller {
        caller.require_queue(&task.queue)?;
    }
    let schedule = Schedule::new(ScheduleSpec::from_request(request, &task)?)?;
    let now = state.queue.redis_time_ms().await?;
    schedule.check_fires(now)?;
    claim(state, &name, &schedule).await?;
    let put = SchedulePut {
        name: name.as_str().to_owned(),
        queue: task.queue.clone(),
        spec: schedule.spec().to_json(),
        next_ms: schedule.first_tick_after(now),
        paused: schedule.spec().paused,
        template: template(&task, schedule.spec()),
    };
    let (outcome, _) = state.queue.put_schedule(&put).await?;
    let view = ScheduleView::of(record(state, &name, &task.queue).await?)?;
    let status = if outcome == PutOutcome::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, view))
}

/// The stored template: tasks like `task` with the spec's payload (keys sorted, as the
/// view shows it), delayed as the spec says.
fn template(task: &NewTask, spec: &ScheduleSpec) -> [String; 3] {
    let task = NewTask { payload: spec.task.payload.clone(), ..task.clone() };
    task_template(&task, spec.task.delay_ms)
}

/// A template error, named under `task.` as in the request.
fn in_task(error: ApiError) -> ApiError {
    match error {
        ApiError::Invalid(f) => {
            ApiError::Invalid(FieldError::new(format!("task.{}", f.field), f.message))
        }
        other => other,
    }
}

/// Holds the name for the schedule's queue (and registers the queue); 422 when the name
/// belongs to a schedule of another queue or the deployment is full.
async fn claim(state: &AppState, name: &ScheduleName, schedule: &Schedule) -> Result<(), ApiError> {
    let queue = schedule.queue();
    state.queue.register_queue(queue).await?;
    match state.queue.claim_schedule_name(name.as_str(), queue, MAX_SCHEDULES).await? {
        NameClaim::New | NameClaim::Held => Ok(()),
        NameClaim::Elsewhere(held) => Err(ApiError::Conflict(format!(
            "schedule {name} submits to queue {held}; a schedule's queue is fixed when it is created (delete it first)"
        ))),
        NameClaim::Full => Err(FieldError::new(
            "name",
            format!("the deployment holds {MAX_SCHEDULES} schedules already"),
        )
        .into()),
    }
}
