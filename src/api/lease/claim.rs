//! `POST /queues/{name}/claim`.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::auth::Caller;
use super::super::openapi::{self, examples};
use super::super::view::rfc3339;
use super::super::{ApiError, ApiJson, AppState};
use super::bounds::{self, in_range};
use crate::config::MAX_WAIT_MS;
use crate::queue::{ClaimRequest, ClaimedTask, LeaseToken};
use crate::task::{FieldError, QueueName, integral};

/// Most tasks one claim may take.
pub const MAX_CLAIM: usize = 100;

/// Body of `POST /queues/{name}/claim`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(examples::claim_body))]
pub struct ClaimBody {
    /// Most tasks to take, 1..=100; 1 when absent.
    #[schema(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "integral::optional")]
    pub max: Option<i64>,
    /// Long-poll: wait up to this many ms for a task, 0..=30000; 0 answers at once.
    #[schema(minimum = 0, maximum = 30000)]
    #[serde(default, deserialize_with = "integral::optional")]
    pub wait_ms: Option<i64>,
    /// The lease, 1000..=`TTP_LEASE_MAX_MS` (600000 by default); `TTP_LEASE_MS` when
    /// absent. Heartbeat before it ends.
    #[schema(minimum = 1000)]
    #[serde(default, deserialize_with = "integral::optional")]
    pub lease_ms: Option<i64>,
    /// Makes the claim safe to send again: a repeat with the same id (while the lease
    /// lasts) answers the same tasks instead of taking more. Use a fresh random id per
    /// claim, e.g. a UUID; `[A-Za-z0-9._:-]{1,128}`.
    #[schema(pattern = "^[A-Za-z0-9._:-]{1,128}$")]
    pub claim_id: Option<String>,
    /// Your worker's name, kept with the lease and shown in the task view while it runs;
    /// `[A-Za-z0-9._:@/-]{1,128}`.
    #[schema(pattern = "^[A-Za-z0-9._:@/-]{1,128}$")]
    pub worker_id: Option<String>,
}

/// A task a worker now holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LeasedTask {
    /// The task's id.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Its payload (any JSON, as submitted).
    #[schema(value_type = serde_json::Value)]
    pub payload: Value,
    /// This attempt's number (from 1); above 1 the task ran before, so be idempotent.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Per-attempt timeout: past it the attempt fails (retryably) whatever you send.
    pub timeout_ms: u64,
    /// Send it with every call about this task (heartbeat, complete, fail, release).
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub lease_token: String,
    /// When the lease ends unless renewed by a heartbeat.
    #[schema(required, format = DateTime)]
    pub lease_expires_at: Option<String>,
}

/// `POST /queues/{name}/claim` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(examples(examples::claim_answer))]
pub struct ClaimAnswer {
    /// The tasks taken (none when nothing was ready within `wait_ms`, or the queue is paused).
    pub tasks: Vec<LeasedTask>,
}

/// Claim tasks
///
/// Takes up to `max` ready tasks of the queue under a lease, highest priority first,
/// waiting up to `wait_ms` for one. Send the same `claim_id` again after a lost reply to
/// get the same tasks. A paused queue answers no tasks.
#[utoipa::path(
    post,
    path = "/queues/{name}/claim",
    operation_id = "claimTasks",
    tag = "workers",
    params(("name" = String, Path, pattern = "^[a-z0-9_-]{1,64}$", description = "Queue name.")),
    request_body(content = ClaimBody, content_type = "application/json",
                 example = json!(examples::claim_body())),
    responses(
        (status = 200, description = "The tasks taken (possibly none).", body = ClaimAnswer,
         links(
             ("Heartbeat" = (operation_id = "heartbeat", parameters(("id" = "$response.body#/tasks/0/id")),
                             request_body = json!({"lease_token": "$response.body#/tasks/0/lease_token"}))),
             ("CompleteTask" = (operation_id = "completeTask", parameters(("id" = "$response.body#/tasks/0/id")),
                                request_body = json!({"lease_token": "$response.body#/tasks/0/lease_token"}))),
             ("FailTask" = (operation_id = "failTask", parameters(("id" = "$response.body#/tasks/0/id")),
                            request_body = json!({"lease_token": "$response.body#/tasks/0/lease_token"}))),
             ("ReleaseTask" = (operation_id = "releaseTask", parameters(("id" = "$response.body#/tasks/0/id")),
                               request_body = json!({"lease_token": "$response.body#/tasks/0/lease_token"}))),
         ),
         example = json!(examples::claim_answer())),
        (status = 400, response = openapi::BadRequest),
        (status = 408, response = openapi::BodyTimeout),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::NotJson),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ClaimBody>,
) -> Result<Json<ClaimAnswer>, ApiError> {
    let queue = QueueName::parse(&name)?;
    caller.require_queue(&queue)?;
    let (request, wait) = request_of(&state, &caller, body)?;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let ticket = state.claim_waiters.ticket(&queue);
        let tasks = state.queue.claim(&queue, &request).await?;
        let now = tokio::time::Instant::now();
        if !tasks.is_empty() || now >= deadline || state.shutdown.is_cancelled() {
            let lease_ms = request.lease.as_millis() as i64;
            return Ok(Json(ClaimAnswer {
                tasks: tasks.into_iter().map(|t| leased(t, lease_ms)).collect(),
            }));
        }
        tokio::select! {
            () = ticket.wait(deadline) => {}
            () = state.shutdown.cancelled() => {}
        }
    }
}

/// The claim a body asks for, and how long it may wait.
fn request_of(
    state: &AppState,
    caller: &Caller,
    body: ClaimBody,
) -> Result<(ClaimRequest, Duration), ApiError> {
    let max = in_range("max", body.max, 1, MAX_CLAIM as i64, 1)?;
    let wait_ms = in_range("wait_ms", body.wait_ms, 0, MAX_WAIT_MS as i64, 0)?;
    let lease = bounds::lease(state, body.lease_ms)?;
    let worker_id = body.worker_id.map(|w| checked(w, "worker_id", b"._:@/-")).transpose()?;
    let token = LeaseToken::generate()?;
    let claim_id = match body.claim_id {
        // Namespaced by the key, so one key's claim ids cannot reach another's claims.
        Some(id) => format!("x:{}:{}", caller.principal.label(), checked(id, "claim_id", b"._:-")?),
        None => token.to_string(),
    };
    let request = ClaimRequest { claim_id, token, max: max as usize, lease, worker_id };
    Ok((request, Duration::from_millis(wait_ms as u64)))
}

/// `value` if it is 1..=128 ASCII letters, digits and `extra`.
fn checked(value: String, field: &str, extra: &[u8]) -> Result<String, ApiError> {
    let ok = (1..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
    if ok {
        Ok(value)
    } else {
        let allowed = String::from_utf8_lossy(extra);
        Err(FieldError::new(field, format!("must be 1..=128 of letters, digits and {allowed}"))
            .into())
    }
}

fn leased(task: ClaimedTask, lease_ms: i64) -> LeasedTask {
    LeasedTask {
        id: task.id.to_string(),
        kind: task.kind,
        payload: task.payload,
        attempt: task.attempt,
        max_attempts: task.max_attempts,
        timeout_ms: task.timeout_ms,
        lease_token: task.token.to_string(),
        lease_expires_at: rfc3339(task.started_at_ms + lease_ms),
    }
}
