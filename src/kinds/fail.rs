//! `fail`: fails on purpose, to demonstrate retries, backoff and the dead-letter list.
//!
//! `fail_first: n` makes attempts 1 to n fail and later ones succeed, which shows a task
//! recovering after retries; without it every attempt fails, which shows a task running
//! out of attempts (or, with `retryable: false`, failing at once) and being dead-lettered.

use serde_json::{Map, Value, json};

use super::samples::{object, opt_bool, opt_integer, opt_str};
use super::{Handler, HandlerFuture, PayloadSchema, TaskContext};
use crate::task::TaskError;

/// The error message when the payload gives none.
const DEFAULT_MESSAGE: &str = "requested failure";
/// The most attempts `fail_first` may fail (attempts are capped at 100 anyway).
const MAX_FAIL_FIRST: i64 = 100;

/// Payload `null` or `{"message": s, "retryable": b, "fail_first": n}` (all optional;
/// defaults "requested failure", `true`, fail every attempt). Fails with a retryable or
/// permanent error; once past `fail_first` attempts, succeeds with `{"attempts": n}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fail;

/// What the payload asks for.
#[derive(Debug, PartialEq)]
struct Plan {
    /// The error message of a failing attempt.
    message: String,
    /// Whether a failing attempt may be retried.
    retryable: bool,
    /// Attempts up to this number fail; `None` fails them all.
    fail_first: Option<i64>,
}

/// The plan in `payload`, with defaults filled in.
fn parse(payload: &Value) -> Result<Plan, TaskError> {
    let empty = Map::new();
    let obj = if payload.is_null() { &empty } else { object(payload)? };
    Ok(Plan {
        message: opt_str(obj, "message")?.unwrap_or(DEFAULT_MESSAGE).to_owned(),
        retryable: opt_bool(obj, "retryable")?.unwrap_or(true),
        fail_first: opt_integer(obj, "fail_first", 0..=MAX_FAIL_FIRST)?,
    })
}

/// The outcome of attempt number `attempt` (from 1) of a task with `payload`.
fn attempt(payload: &Value, attempt: u32) -> Result<Value, TaskError> {
    let plan = parse(payload)?;
    match plan.fail_first {
        Some(n) if i64::from(attempt) > n => Ok(json!({ "attempts": attempt })),
        _ if plan.retryable => Err(TaskError::Retryable(plan.message)),
        _ => Err(TaskError::Permanent(plan.message)),
    }
}

impl Handler for Fail {
    fn validate(&self, payload: &Value) -> Result<(), TaskError> {
        parse(payload).map(drop)
    }

    fn payload_schema(&self) -> PayloadSchema {
        PayloadSchema::optional(json!({
            "type": ["object", "null"],
            "description": "Fails the first `fail_first` attempts (or every attempt when absent) with `message`; a failure that is not `retryable` goes straight to the dead-letter list.",
            "properties": {
                "message": {"type": ["string", "null"]},
                "retryable": {"type": ["boolean", "null"]},
                "fail_first": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_FAIL_FIRST}
            },
            "examples": [{"message": "boom", "retryable": true, "fail_first": 2}]
        }))
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(async move { attempt(&ctx.payload, ctx.attempt) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(payload: Value) -> String {
        match Fail.validate(&payload) {
            Err(TaskError::InvalidPayload { field, .. }) => field,
            other => panic!("expected InvalidPayload for {payload}, got {other:?}"),
        }
    }

    #[test]
    fn fail_defaults_to_a_retryable_failure_on_every_attempt() {
        for payload in [Value::Null, json!({})] {
            for n in [1, 2, 50] {
                let err = attempt(&payload, n).unwrap_err();
                assert_eq!(err, TaskError::retryable("requested failure"));
            }
        }
    }

    #[test]
    fn fail_uses_the_message_and_retryable_flag() {
        let payload = json!({"message": "boom", "retryable": false});
        assert_eq!(attempt(&payload, 1).unwrap_err(), TaskError::permanent("boom"));
    }

    #[test]
    fn fail_first_fails_the_first_attempts_then_succeeds() {
        let payload = json!({"fail_first": 2, "message": "flaky"});
        assert_eq!(attempt(&payload, 1).unwrap_err(), TaskError::retryable("flaky"));
        assert_eq!(attempt(&payload, 2).unwrap_err(), TaskError::retryable("flaky"));
        assert_eq!(attempt(&payload, 3).unwrap(), json!({"attempts": 3}));
        assert_eq!(attempt(&json!({"fail_first": 0}), 1).unwrap(), json!({"attempts": 1}));
    }

    #[test]
    fn fail_rejects_bad_payloads_naming_the_field() {
        assert_eq!(field_of(json!("boom")), "payload");
        assert_eq!(field_of(json!({"message": 3})), "payload.message");
        assert_eq!(field_of(json!({"retryable": "yes"})), "payload.retryable");
        assert_eq!(field_of(json!({"fail_first": 101})), "payload.fail_first");
        assert_eq!(field_of(json!({"fail_first": -1})), "payload.fail_first");
        assert_eq!(field_of(json!({"fail_first": 1.5})), "payload.fail_first");
        let err = attempt(&json!({"fail_first": "2"}), 1).unwrap_err();
        assert!(matches!(err, TaskError::InvalidPayload { .. }));
    }
}
