//! A submission that passed every rule of SPEC §2: what the queue stores.
//!
//! `TaskRequest` is the wire shape (all optional, loosely typed so that a value out of
//! range is a 422 naming its field rather than a serde error); `NewTask::from_request`
//! applies the defaults and the rules.

use serde::Deserialize;

use super::{FieldError, Kind, Payload, Priority, QueueName, TaskId, integral};

/// The longest a delay may be: one year.
const MAX_DELAY_MS: i64 = 366 * 24 * 3600 * 1000;
/// The longest per-attempt timeout: one day.
const MAX_TIMEOUT_MS: i64 = 24 * 3600 * 1000;
/// The longest result retention: one year.
const MAX_RESULT_TTL_S: i64 = 366 * 24 * 3600;
/// The longest idempotency key.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// The body of `POST /tasks` (and one item of a batch).
///
/// Every field but `kind` is optional; `null` counts as absent.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    /// A registered handler kind, `[a-z0-9._-]{1,64}`; an unknown kind is a 422.
    #[schema(pattern = "^[a-z0-9._-]{1,64}$")]
    pub kind: String,
    /// Any JSON (absent means `null`); validated by the kind's handler at submission.
    #[serde(default)]
    #[schema(value_type = Option<serde_json::Value>)]
    pub payload: Option<Payload>,
    /// Queue name, `[a-z0-9_-]{1,64}`; `default` when absent.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub queue: Option<String>,
    /// 0..=9, higher runs first; FIFO among equal priorities; 5 when absent.
    #[schema(minimum = 0, maximum = 9)]
    #[serde(default, deserialize_with = "integral::optional")]
    pub priority: Option<i64>,
    /// Run no earlier than this many milliseconds from now (at most one year); not
    /// together with `run_at`.
    #[schema(minimum = 0, maximum = 31622400000i64)]
    #[serde(default, deserialize_with = "integral::optional")]
    pub delay_ms: Option<i64>,
    /// Run no earlier than this RFC 3339 time, at most 366 days ahead (a past time means
    /// now); not together with `delay_ms`.
    #[schema(format = DateTime)]
    pub run_at: Option<String>,
    /// Attempts in total, 1..=100; `TTP_MAX_ATTEMPTS` when absent.
    #[schema(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "integral::optional")]
    pub max_attempts: Option<i64>,
    /// Per-attempt timeout in milliseconds, at most one day; `TTP_TASK_TIMEOUT_MS` when
    /// absent. Exceeding it is a retryable failure.
    #[schema(minimum = 1, maximum = 86400000)]
    #[serde(default, deserialize_with = "integral::optional")]
    pub timeout_ms: Option<i64>,
    /// How long the finished task and its result stay readable, in seconds, at most one
    /// year; `TTP_RESULT_TTL_S` when absent.
    #[schema(minimum = 1, maximum = 31622400)]
    #[serde(default, deserialize_with = "integral::optional")]
    pub result_ttl_s: Option<i64>,
    /// Deduplicates submissions within the result TTL: the same key and request return
    /// the same task (200), the same key with another request is a 409. Also accepted as
    /// the `Idempotency-Key` header.
    #[schema(min_length = 1, max_length = 255)]
    pub idempotency_key: Option<String>,
}

/// Values used when a request leaves a field out (from the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDefaults {
    /// `TTP_MAX_ATTEMPTS`.
    pub max_attempts: u32,
    /// `TTP_TASK_TIMEOUT_MS`.
    pub timeout_ms: u64,
    /// `TTP_RESULT_TTL_S`.
    pub result_ttl_s: u64,
}

/// A validated task, ready to be enqueued.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// Its id, chosen before it is stored: a store whose answer was lost can be sent
    /// again (it is idempotent by this id) or reported with the id.
    pub id: TaskId,
    /// Its queue.
    pub queue: QueueName,
    /// Its kind.
    pub kind: Kind,
    /// Its payload, as sent.
    pub payload: Payload,
    /// Its priority.
    pub priority: Priority,
    /// Not before this time (ms since the epoch); `None` means now.
    pub run_at_ms: Option<i64>,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Retention after it finishes.
    pub result_ttl_s: u64,
    /// The idempotency key, if any.
    pub idempotency_key: Option<String>,
    /// Submission time (ms since the epoch); delays count from it.
    pub created_at_ms: i64,
    /// With an idempotency key: canonical text of everything the request asked for
    /// except the key, which a resubmission with the same key must match (payload keys
    /// are sorted, so key order and spacing do not matter).
    pub fingerprint: Option<String>,
}

fn in_range(
    field: &str,
    value: Option<i64>,
    min: i64,
    max: i64,
    default: i64,
) -> Result<i64, FieldError> {
    let value = value.unwrap_or(default);
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new(field, format!("must be {min}..={max}, got {value}")))
    }
}

fn run_at_ms(request: &TaskRequest, now_ms: i64) -> Result<Option<i64>, FieldError> {
    match (request.delay_ms, &request.run_at) {
        (Some(_), Some(_)) => Err(FieldError::new("run_at", "give delay_ms or run_at, not both")),
        (Some(delay), None) => in_range("delay_ms", Some(delay), 0, MAX_DELAY_MS, 0)
            .map(|delay| (delay > 0).then_some(now_ms + delay)),
        (None, Some(text)) => {
            let at = chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| FieldError::new("run_at", format!("not an RFC 3339 time: {e}")))?
                .timestamp_millis();
            if at - now_ms > MAX_DELAY_MS {
                return Err(FieldError::new("run_at", "must be at most 366 days from now"));
            }
            Ok(Some(at).filter(|ms| *ms > now_ms))
        }
        (None, None) => Ok(None),
    }
}

fn check_idempotency_key(key: Option<&str>) -> Result<(), FieldError> {
    match key {
        Some(key) if key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY_LEN => {
            Err(FieldError::new("idempotency_key", "must be 1..=255 characters"))
        }
        _ => Ok(()),
    }
}

/// Canonical text of everything `request` asked for except its idempotency key, from
/// the checked `names` (kind, queue, priority) and `limits` (attempts, timeout, ttl).
fn fingerprint(request: &TaskRequest, names: [&str; 3], limits: [i64; 3]) -> String {
    let payload = request.payload.as_ref().map_or_else(|| "null".to_owned(), Payload::canonical);
    let start = match (&request.delay_ms, &request.run_at) {
        (Some(delay), _) => format!("delay:{delay}"),
        (None, Some(at)) => format!("at:{at}"),
        (None, None) => String::new(),
    };
    let [kind, queue, priority] = names;
    let [attempts, timeout, ttl] = limits;
    format!("{kind}\n{queue}\n{priority}\n{start}\n{attempts}\n{timeout}\n{ttl}\n{payload}")
}

impl NewTask {
    /// Applies defaults and checks every field rule except the kind's registration and
    /// payload, which need the handler registry.
    pub fn from_request(
        request: TaskRequest,
        defaults: TaskDefaults,
        now_ms: i64,
    ) -> Result<Self, FieldError> {
        let kind = Kind::parse(&request.kind)?;
        let queue = QueueName::parse(request.queue.as_deref().unwrap_or("default"))?;
        let priority =
            Priority::new(request.priority.unwrap_or(i64::from(Priority::DEFAULT.get())))?;
        let run_at_ms = run_at_ms(&request, now_ms)?;
        let max_attempts = in_range(
            "max_attempts",
            request.max_attempts,
            1,
            100,
            i64::from(defaults.max_attempts),
        )?;
        let timeout_ms = in_range(
            "timeout_ms",
            request.timeout_ms,
            1,
            MAX_TIMEOUT_MS,
            defaults.timeout_ms as i64,
        )?;
        let result_ttl_s = in_range(
            "result_ttl_s",
            request.result_ttl_s,
            1,
            MAX_RESULT_TTL_S,
            defaults.result_ttl_s as i64,
        )?;
        check_idempotency_key(request.idempotency_key.as_deref())?;
        let fingerprint = request.idempotency_key.is_some().then(|| {
            fingerprint(
                &request,
                [kind.as_str(), queue.as_str(), &priority.get().to_string()],
                [max_attempts, timeout_ms, result_ttl_s],
            )
        });
        Ok(Self {
            id: TaskId::generate(&queue),
            queue,
            kind,
            payload: request.payload.unwrap_or_else(Payload::null),
            priority,
            run_at_ms,
            max_attempts: max_attempts as u32,
            timeout_ms: timeout_ms as u64,
            result_ttl_s: result_ttl_s as u64,
            idempotency_key: request.idempotency_key,
            created_at_ms: now_ms,
            fingerprint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: TaskDefaults =
        TaskDefaults { max_attempts: 3, timeout_ms: 30_000, result_ttl_s: 86_400 };

    fn request(kind: &str) -> TaskRequest {
        TaskRequest { kind: kind.into(), ..TaskRequest::default() }
    }

    #[test]
    fn defaults_fill_missing_fields() {
        let task = NewTask::from_request(request("noop"), DEFAULTS, 0).unwrap();
        assert_eq!(task.queue.as_str(), "default");
        assert_eq!(task.priority, Priority::DEFAULT);
        assert_eq!((task.max_attempts, task.timeout_ms, task.result_ttl_s), (3, 30_000, 86_400));
        assert_eq!(task.run_at_ms, None);
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases: [(TaskRequest, &str); 6] = [
            (TaskRequest { priority: Some(10), ..request("noop") }, "priority"),
            (TaskRequest { queue: Some("Bad Queue".into()), ..request("noop") }, "queue"),
            (TaskRequest { max_attempts: Some(0), ..request("noop") }, "max_attempts"),
            (
                TaskRequest {
                    delay_ms: Some(1),
                    run_at: Some("2030-01-01T00:00:00Z".into()),
                    ..request("noop")
                },
                "run_at",
            ),
            (TaskRequest { run_at: Some("tomorrow".into()), ..request("noop") }, "run_at"),
            (request("NOPE"), "kind"),
        ];
        for (req, field) in cases {
            assert_eq!(NewTask::from_request(req, DEFAULTS, 0).unwrap_err().field, field);
        }
    }

    #[test]
    fn delay_and_run_at_set_the_start_time() {
        let delayed = NewTask::from_request(
            TaskRequest { delay_ms: Some(500), ..request("noop") },
            DEFAULTS,
            1000,
        )
        .unwrap();
        assert_eq!(delayed.run_at_ms, Some(1500));
        let at = NewTask::from_request(
            TaskRequest { run_at: Some("1970-01-01T00:00:02Z".into()), ..request("noop") },
            DEFAULTS,
            1000,
        )
        .unwrap();
        assert_eq!(at.run_at_ms, Some(2000));
    }
}
