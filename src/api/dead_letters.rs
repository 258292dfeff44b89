//! `GET /queues/{name}/dead`: a queue's dead-letter list, newest first, a page at a time,
//! optionally only one kind.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::openapi::{self, examples};
use super::queues::queue_name;
use super::{ApiError, ApiQuery, AppState, TaskView};
use crate::queue::parse_cursor;
use crate::task::FieldError;

/// Query of the dead-letter list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadQuery {
    /// Page size, 1..=500; 50 when absent.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^-?[0-9]{1,18}:[0-9]{1,9}$")]
    pub cursor: Option<String>,
    /// Only tasks of this kind.
    pub kind: Option<String>,
}

/// Whether `cursor` has the shape of `next_cursor` values (the `cursor` pattern of the
/// spec, `-?[0-9]{1,18}:[0-9]{1,9}`), so a cursor the spec allows always parses.
fn cursor_is_valid(cursor: &str) -> bool {
    let digits =
        |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    cursor.split_once(':').is_some_and(|(score, skip)| {
        digits(score.strip_prefix('-').unwrap_or(score), 18) && digits(skip, 9)
    })
}

/// A page of the dead-letter list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadList {
    /// Failed tasks, newest first.
    pub tasks: Vec<TaskView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// List a queue's dead letters
///
/// The queue's failed tasks (attempts exhausted or a permanent error), newest first,
/// paginated: pass `next_cursor` back as `cursor` for the next page. Replay one with
/// `POST /tasks/{id}/retry`.
#[utoipa::path(
    get,
    path = "/queues/{name}/dead",
    operation_id = "listDeadLetters",
    tag = "queues",
    params(("name" = String, Path, pattern = "^[a-z0-9_-]{1,64}$", description = "Queue name."), DeadQuery),
    responses(
        (status = 200, description = "A page of failed tasks, newest first.", body = DeadList,
         example = json!(examples::dead_list())),
        (status = 400, response = openapi::BadRequest),
        (status = 404, response = openapi::NotFound),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
    )
)]
pub async fn dead(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<DeadQuery>,
) -> Result<Json<DeadList>, ApiError> {
    let name = queue_name(&name)?;
    caller.require_queue(&name)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(FieldError::new("limit", format!("must be 1..=500, got {limit}")).into());
    }
    let cursor = query.cursor.as_deref();
    if cursor.is_some_and(|c| !cursor_is_valid(c) || parse_cursor(Some(c)).is_none()) {
        return Err(FieldError::new("cursor", "not a cursor returned by this endpoint").into());
    }
    let page = state
        .queue
        .dead_letters(&name, limit, query.cursor.as_deref(), query.kind.as_deref())
        .await?;
    Ok(Json(DeadList {
        tasks: page.tasks.into_iter().map(TaskView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
