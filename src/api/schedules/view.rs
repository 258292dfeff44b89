//! How a schedule appears in responses (SPEC §10): its spec, state, next runs, counters
//! and recent runs, times as RFC 3339 UTC with milliseconds.

use serde::Serialize;

use super::super::ApiError;
use super::super::view::rfc3339;
use crate::queue::schedules::ScheduleRecord;
use crate::schedule::{Schedule, ScheduleSpec};

/// How many upcoming ticks a view lists.
const NEXT_RUNS: usize = 5;

/// One recent run of a schedule.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecentRunView {
    /// The tick it ran for (for a run on request, when it was asked for).
    #[schema(format = DateTime)]
    pub tick_at: Option<String>,
    /// The task it submitted (`GET /tasks/{id}`).
    pub task_id: String,
}

/// A schedule as clients see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    /// Its name.
    pub name: String,
    /// `active`, `paused`, or `ended` (`end_at` passed, or no tick left).
    #[schema(pattern = "^(active|paused|ended)$")]
    pub state: String,
    /// Its spec, every default filled in.
    pub spec: ScheduleSpec,
    /// The next ticks (up to 5) while it is active.
    pub next_runs: Vec<String>,
    /// The tick of its latest run.
    #[schema(required, format = DateTime)]
    pub last_run_at: Option<String>,
    /// Ticks that submitted a task.
    pub fired: u64,
    /// Ticks that did not (catch-up policy, overlap, a full queue).
    pub missed: u64,
    /// The last 20 runs, newest first.
    pub recent_runs: Vec<RecentRunView>,
    /// When it was created.
    #[schema(format = DateTime)]
    pub created_at: Option<String>,
    /// When its spec or state last changed.
    #[schema(format = DateTime)]
    pub updated_at: Option<String>,
}

/// `GET /schedules` body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduleList {
    /// Every schedule the caller may see, by name.
    pub schedules: Vec<ScheduleView>,
}

impl ScheduleView {
    /// The view of a stored schedule.
    pub fn of(record: ScheduleRecord) -> Result<Self, ApiError> {
        let corrupt =
            || ApiError::Internal(format!("schedule {} has an unreadable spec", record.name));
        let spec = ScheduleSpec::from_json(&record.spec).ok_or_else(corrupt)?;
        let schedule = Schedule::new(spec.clone()).map_err(|_| corrupt())?;
        let next_runs = match record.next_ms {
            Some(next) if record.state == "active" => schedule.runs_from(next, NEXT_RUNS),
            _ => Vec::new(),
        };
        let recent_runs = record
            .recent
            .iter()
            .map(|run| RecentRunView {
                tick_at: rfc3339(run.tick_ms),
                task_id: run.task_id.clone(),
            })
            .collect();
        Ok(Self {
            name: record.name,
            state: record.state,
            spec,
            next_runs: next_runs.into_iter().filter_map(rfc3339).collect(),
            last_run_at: record.last_run_ms.and_then(rfc3339),
            fired: record.fired,
            missed: record.missed,
            recent_runs,
            created_at: rfc3339(record.created_ms),
            updated_at: rfc3339(record.updated_ms),
        })
    }
}
