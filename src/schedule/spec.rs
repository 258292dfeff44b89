//! A schedule's spec in its three forms: the request ([`ScheduleRequest`], loosely typed so
//! that a value out of its rule is a 422 naming the field), the canonical stored form
//! ([`ScheduleSpec`]: every default filled in, times normalised, the payload's keys
//! sorted), whose text alone decides whether a `PUT` changes anything, and the checked
//! [`Schedule`] that computes ticks from it.
//!
//! The task template is validated by the caller exactly like `POST /tasks` (the kind's
//! registration and payload rules need the API's catalog); this module only adds what a
//! template may not carry.

use chrono::{DateTime, SecondsFormat};
use serde::{Deserialize, Serialize};

use super::ScheduleExpr;
use crate::task::{FieldError, NewTask, Payload, QueueName, TaskRequest, integral};

/// The largest stored spec (the payload dominates): 64 KiB.
pub const MAX_SPEC_BYTES: usize = 64 * 1024;
/// The default `catchup_window_s`.
const DEFAULT_WINDOW_S: u64 = 3600;
/// The longest `catchup_window_s` and `every_ms`: one year.
const YEAR_S: i64 = 366 * 86_400;

/// What to fire after ticks were missed (every process was down or stalled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Catchup {
    /// Fire once, for the latest missed tick, if it is within `catchup_window_s`.
    Latest,
    /// Fire none of the missed ticks.
    Skip,
    /// Fire every missed tick (at most 100 per schedule per pass).
    All,
}

/// Whether a tick may fire while the schedule's previous task has not finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    /// No new task while the previous one is queued, scheduled or running (the tick counts
    /// as missed).
    Skip,
    /// A task every tick, whatever the previous one does.
    Allow,
}

/// The body of `PUT /schedules/{name}`. Give exactly one of `cron` and `every_ms`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "cron": "0 * * * *",
    "timezone": "Europe/Berlin",
    "task": {"kind": "telemetry.downsample", "queue": "default",
             "payload": {"points": [[0, 1.0], [60000, 2.0]], "bucket_ms": 60000, "agg": "mean"}},
    "catchup": "latest",
    "overlap": "skip"
}))]
pub struct ScheduleRequest {
    /// A cron expression: 5 fields (minute hour day-of-month month day-of-week), 6 with
    /// seconds first, or an alias (`@yearly`, `@monthly`, `@weekly`, `@daily`,
    /// `@midnight`, `@hourly`). Weekdays are POSIX: 0 and 7 are Sunday.
    #[schema(max_length = 256, example = "*/5 * * * *")]
    pub cron: Option<String>,
    /// An interval in milliseconds (at least 100): the ticks are its multiples since the
    /// Unix epoch.
    #[schema(minimum = 100, maximum = 31622400000i64)]
    #[serde(default, deserialize_with = "integral::optional")]
    pub every_ms: Option<i64>,
    /// The IANA time zone a cron expression is read in; `UTC` when absent.
    #[schema(max_length = 64, example = "America/New_York")]
    pub timezone: Option<String>,
    /// The task each tick submits: the body of `POST /tasks`, checked the same way, without
    /// `idempotency_key` or `run_at` (`delay_ms` delays each task from its tick).
    pub task: TaskRequest,
    /// No tick before this RFC 3339 time.
    #[schema(format = DateTime)]
    pub start_at: Option<String>,
    /// No tick after this RFC 3339 time (must be after `start_at`); once passed, the
    /// schedule's state is `ended`.
    #[schema(format = DateTime)]
    pub end_at: Option<String>,
    /// After downtime: `latest` (default), `skip` or `all`.
    #[schema(value_type = Option<Catchup>)]
    pub catchup: Option<String>,
    /// How old the latest missed tick may be for `catchup: latest` to fire it; 3600 when
    /// absent.
    #[schema(minimum = 1, maximum = 31622400)]
    #[serde(default, deserialize_with = "integral::optional")]
    pub catchup_window_s: Option<i64>,
    /// `skip` (default) or `allow`.
    #[schema(value_type = Option<Overlap>)]
    pub overlap: Option<String>,
    /// Create (or change) the schedule paused.
    pub paused: Option<bool>,
}

/// The task a schedule submits at each tick, with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskTemplate {
    /// The task kind.
    pub kind: String,
    /// The payload (object keys sorted).
    #[schema(value_type = serde_json::Value)]
    pub payload: Payload,
    /// The queue, fixed when the schedule was created.
    pub queue: String,
    /// 0..=9.
    pub priority: u8,
    /// Each task waits this long after its tick.
    pub delay_ms: u64,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Retention after it finishes.
    pub result_ttl_s: u64,
}

/// A schedule's spec as stored and shown: every default filled in, times as RFC 3339
/// UTC with milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// The cron expression, when the schedule has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// The interval, when the schedule has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_ms: Option<i64>,
    /// IANA time zone.
    pub timezone: String,
    /// The task of each tick.
    pub task: TaskTemplate,
    /// No tick before.
    #[schema(required, format = DateTime)]
    pub start_at: Option<String>,
    /// No tick after.
    #[schema(required, format = DateTime)]
    pub end_at: Option<String>,
    /// Catch-up policy.
    pub catchup: Catchup,
    /// Window of `catchup: latest`, seconds.
    pub catchup_window_s: u64,
    /// Overlap policy.
    pub overlap: Overlap,
    /// Created or changed paused.
    pub paused: bool,
}

/// The latest `start_at` / `end_at`: 2200-01-01T00:00:00Z (a cron tick is searched for
/// at most about five years ahead; a bound keeps every accepted time meaningful).
const LATEST_BOUND_MS: i64 = 7_258_118_400_000;

fn time_ms(field: &str, text: Option<&str>) -> Result<Option<i64>, FieldError> {
    let parse = |text: &str| {
        let ms = DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp_millis())
            .map_err(|e| FieldError::new(field, format!("not an RFC 3339 time: {e}")))?;
        if ms >= LATEST_BOUND_MS {
            return Err(FieldError::new(field, "must be before 2200-01-01T00:00:00Z"));
        }
        Ok(ms)
    };
    text.map(parse).transpose()
}

fn rfc3339(ms: i64) -> Option<String> {
    DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn policy<T: for<'de> Deserialize<'de>>(
    field: &str,
    text: Option<&str>,
    default: T,
    allowed: &str,
) -> Result<T, FieldError> {
    match text {
        None => Ok(default),
        Some(text) => serde_json::from_value(serde_json::Value::String(text.to_owned()))
            .map_err(|_| FieldError::new(field, format!("must be one of {allowed}, got {text:?}"))),
    }
}

/// What a template may not carry, beyond the rules of `POST /tasks`.
fn check_template(task: &TaskRequest) -> Result<(), FieldError> {
    if task.idempotency_key.is_some() {
        let message =
            "a schedule's tasks may not carry an idempotency key: each tick's task has its own id";
        return Err(FieldError::new("task.idempotency_key", message));
    }
    if task.run_at.is_some() {
        let message = "a schedule's tasks run at their ticks; use delay_ms to run them later";
        return Err(FieldError::new("task.run_at", message));
    }
    Ok(())
}

impl ScheduleSpec {
    /// The canonical spec of `request`, whose task was validated like a submission into
    /// `task`. Errors name the field.
    pub fn from_request(request: &ScheduleRequest, task: &NewTask) -> Result<Self, FieldError> {
        check_template(&request.task)?;
        let window = request.catchup_window_s.unwrap_or(DEFAULT_WINDOW_S as i64);
        if !(1..=YEAR_S).contains(&window) {
            let message = format!("must be 1..={YEAR_S}, got {window}");
            return Err(FieldError::new("catchup_window_s", message));
        }
        if request.every_ms.is_some_and(|ms| ms > YEAR_S * 1000) {
            return Err(FieldError::new("every_ms", format!("must be at most {}", YEAR_S * 1000)));
        }
        let start = time_ms("start_at", request.start_at.as_deref())?;
        let end = time_ms("end_at", request.end_at.as_deref())?;
        if let (Some(start), Some(end)) = (start, end)
            && end < start
        {
            return Err(FieldError::new("end_at", "must not be before start_at"));
        }
        let spec = Self {
            cron: request.cron.as_ref().map(|c| c.trim().to_owned()),
            every_ms: request.every_ms,
            timezone: request.timezone.clone().unwrap_or_else(|| "UTC".into()),
            task: TaskTemplate {
                kind: task.kind.as_str().to_owned(),
                payload: Payload::from_stored(task.payload.canonical())
                    .unwrap_or_else(Payload::null),
                queue: task.queue.to_string(),
                priority: task.priority.get(),
                delay_ms: request.task.delay_ms.unwrap_or(0).max(0) as u64,
                max_attempts: task.max_attempts,
                timeout_ms: task.timeout_ms,
                result_ttl_s: task.result_ttl_s,
            },
            start_at: start.and_then(rfc3339),
            end_at: end.and_then(rfc3339),
            catchup: policy(
                "catchup",
                request.catchup.as_deref(),
                Catchup::Latest,
                "latest, skip, all",
            )?,
            catchup_window_s: window as u64,
            overlap: policy("overlap", request.overlap.as_deref(), Overlap::Skip, "skip, allow")?,
            paused: request.paused.unwrap_or(false),
        };
        if spec.to_json().len() > MAX_SPEC_BYTES {
            let message = format!("the schedule's spec must stay within {MAX_SPEC_BYTES} bytes");
            return Err(FieldError::new("task.payload", message));
        }
        Ok(spec)
    }

    /// The canonical text: equal for equal specs (fields in a fixed order).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored spec read back; `None` when it is not one.
    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// A checked schedule: its spec and the recurrence, bounds and queue taken from it.
#[derive(Debug, Clone)]
pub struct Schedule {
    spec: ScheduleSpec,
    pub(super) expr: ScheduleExpr,
    pub(super) start_ms: Option<i64>,
    pub(super) end_ms: Option<i64>,
    queue: QueueName,
}

impl Schedule {
    /// Checks the recurrence of `spec`; errors name the field (`cron`, `every_ms`,
    /// `timezone`).
    pub fn new(spec: ScheduleSpec) -> Result<Self, FieldError> {
        let expr = ScheduleExpr::parse(spec.cron.as_deref(), spec.every_ms, Some(&spec.timezone))
            .map_err(|e| FieldError::new(e.field, e.message))?;
        let queue = QueueName::parse(&spec.task.queue)
            .map_err(|e| FieldError::new("task.queue", e.message))?;
        let start_ms = time_ms("start_at", spec.start_at.as_deref())?;
        let end_ms = time_ms("end_at", spec.end_at.as_deref())?;
        Ok(Self { spec, expr, start_ms, end_ms, queue })
    }

    /// The spec.
    pub fn spec(&self) -> &ScheduleSpec {
        &self.spec
    }

    /// The queue its tasks go to.
    pub fn queue(&self) -> &QueueName {
        &self.queue
    }

    /// The first tick strictly after `now_ms` within `start_at..=end_at`; `None` when
    /// there is none (ended, or none within about five years).
    pub fn first_tick_after(&self, now_ms: i64) -> Option<i64> {
        let from = self.start_ms.map_or(now_ms, |start| now_ms.max(start - 1));
        self.expr.next_after(from).filter(|t| self.end_ms.is_none_or(|end| *t <= end))
    }

    /// 422 naming the recurrence when it has no tick at all from `now_ms` on although
    /// `end_at` has not passed (`0 0 30 2 *`): such a schedule could never fire.
    pub fn check_fires(&self, now_ms: i64) -> Result<(), FieldError> {
        let ended = self.end_ms.is_some_and(|end| end <= now_ms);
        if ended || self.first_tick_after(now_ms).is_some() {
            return Ok(());
        }
        let field = if self.spec.cron.is_some() { "cron" } else { "start_at" };
        Err(FieldError::new(field, "has no tick in the next five years"))
    }

    /// Up to `count` ticks from `first` on (which must be a tick), within `end_at`.
    pub fn runs_from(&self, first: i64, count: usize) -> Vec<i64> {
        let within = |t: &i64| self.end_ms.is_none_or(|end| *t <= end);
        let mut runs: Vec<i64> = Some(first).filter(within).into_iter().collect();
        while runs.len() < count {
            let Some(next) = runs.last().and_then(|t| self.expr.next_after(*t)).filter(within)
            else {
                break;
            };
            runs.push(next);
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskDefaults;

    const DEFAULTS: TaskDefaults =
        TaskDefaults { max_attempts: 3, timeout_ms: 30_000, result_ttl_s: 86_400 };

    fn request(json: serde_json::Value) -> ScheduleRequest {
        serde_json::from_value(json).unwrap()
    }

    fn spec(json: serde_json::Value) -> Result<ScheduleSpec, FieldError> {
        let request = request(json);
        let task = NewTask::from_request(request.task.clone(), DEFAULTS, 0).unwrap();
        ScheduleSpec::from_request(&request, &task)
    }

    #[test]
    fn equal_requests_have_one_canonical_text() {
        let a = spec(
            serde_json::json!({"every_ms": 1000, "task": {"kind": "echo", "payload": {"b": 1, "a": [1, 2]}}}),
        );
        let b = spec(
            serde_json::json!({"task": {"payload": {"a": [1, 2], "b": 1}, "kind": "echo", "queue": "default", "priority": 5},
            "every_ms": 1000, "timezone": "UTC", "catchup": "latest", "overlap": "skip", "catchup_window_s": 3600, "paused": false}),
        );
        assert_eq!(a.unwrap().to_json(), b.unwrap().to_json());
        let text = spec(serde_json::json!({"cron": "@hourly", "task": {"kind": "noop"}, "start_at": "2026-01-01T01:00:00+01:00"}))
            .unwrap()
            .to_json();
        assert!(text.contains("\"start_at\":\"2026-01-01T00:00:00.000Z\""), "{text}");
        assert_eq!(ScheduleSpec::from_json(&text).unwrap().to_json(), text);
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (
                serde_json::json!({"every_ms": 1000, "task": {"kind": "noop", "idempotency_key": "k"}}),
                "task.idempotency_key",
            ),
            (
                serde_json::json!({"every_ms": 1000, "task": {"kind": "noop", "run_at": "1970-01-02T00:00:00Z"}}),
                "task.run_at",
            ),
            (
                serde_json::json!({"every_ms": 1000, "task": {"kind": "noop"}, "catchup": "some"}),
                "catchup",
            ),
            (
                serde_json::json!({"every_ms": 1000, "task": {"kind": "noop"}, "overlap": "never"}),
                "overlap",
            ),
            (
                serde_json::json!({"every_ms": 1000, "task": {"kind": "noop"}, "catchup_window_s": 0}),
                "catchup_window_s",
            ),
            (
                serde_json::json!({"every_ms": 1000, "task": {"kind": "noop"}, "start_at": "2030-01-02T00:00:00Z", "end_at": "2030-01-01T00:00:00Z"}),
                "end_at",
            ),
            (
                serde_json::json!({"every_ms": 1000, "task": {"kind": "noop"}, "end_at": "soon"}),
                "end_at",
            ),
            (
                serde_json::json!({"every_ms": 1000, "task": {"kind": "noop"}, "start_at": "2200-01-01T00:00:00Z"}),
                "start_at",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(spec(json.clone()).unwrap_err().field, field, "{json}");
        }
        let no_expr = spec(serde_json::json!({"task": {"kind": "noop"}})).unwrap();
        assert_eq!(Schedule::new(no_expr).unwrap_err().field, "cron");
        let zone = spec(serde_json::json!({"cron": "@daily", "timezone": "Mars/Base", "task": {"kind": "noop"}})).unwrap();
        assert_eq!(Schedule::new(zone).unwrap_err().field, "timezone");
        let never =
            spec(serde_json::json!({"cron": "0 0 30 2 *", "task": {"kind": "noop"}})).unwrap();
        assert_eq!(Schedule::new(never).unwrap().check_fires(0).unwrap_err().field, "cron");
    }

    #[test]
    fn ticks_respect_start_and_end() {
        let spec = spec(serde_json::json!({"every_ms": 1000, "task": {"kind": "noop"},
            "start_at": "1970-01-01T00:00:05Z", "end_at": "1970-01-01T00:00:08Z"}))
        .unwrap();
        let schedule = Schedule::new(spec).unwrap();
        assert_eq!(schedule.first_tick_after(0), Some(5000));
        assert_eq!(schedule.first_tick_after(6500), Some(7000));
        assert_eq!(schedule.first_tick_after(8000), None);
        assert_eq!(schedule.runs_from(5000, 5), [5000, 6000, 7000, 8000]);
    }
}
