//! `sleep`: waits `ms` milliseconds, then succeeds.
//!
//! It stands in for I/O-bound work (a slow HTTP call, a database query) in demos, load
//! tests and timeout tests. It awaits a timer instead of blocking a thread, so thousands
//! can wait at once and the worker's timeout can cancel one by dropping its future.

use std::time::Duration;

use serde_json::{Value, json};

use super::samples::{object, opt_integer, required};
use super::{Handler, HandlerFuture, PayloadSchema, TaskContext};
use crate::task::TaskError;

/// The longest sleep a payload may ask for, in milliseconds.
const MAX_MS: i64 = 60_000;

/// Payload `{"ms": n}` with n an integer from 0 to 60,000; returns `{"slept_ms": n}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sleep;

/// The requested duration in milliseconds.
fn parse(payload: &Value) -> Result<u64, TaskError> {
    let ms = required(opt_integer(object(payload)?, "ms", 0..=MAX_MS)?, "ms")?;
    Ok(ms.unsigned_abs())
}

/// Parses the payload, then sleeps without blocking the runtime.
async fn sleep(payload: &Value) -> Result<Value, TaskError> {
    let ms = parse(payload)?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(json!({ "slept_ms": ms }))
}

impl Handler for Sleep {
    fn validate(&self, payload: &Value) -> Result<(), TaskError> {
        parse(payload).map(drop)
    }

    fn payload_schema(&self) -> PayloadSchema {
        PayloadSchema::required(json!({
            "type": "object",
            "description": "Sleeps `ms` milliseconds (simulated I/O).",
            "required": ["ms"],
            "properties": {"ms": {"type": "integer", "minimum": 0, "maximum": MAX_MS}},
            "examples": [{"ms": 250}]
        }))
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(sleep(&ctx.payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(payload: Value) -> String {
        match Sleep.validate(&payload) {
            Err(TaskError::InvalidPayload { field, .. }) => field,
            other => panic!("expected InvalidPayload for {payload}, got {other:?}"),
        }
    }

    #[test]
    fn sleep_rejects_bad_payloads_naming_the_field() {
        assert_eq!(field_of(Value::Null), "payload");
        assert_eq!(field_of(json!([10])), "payload");
        for payload in [
            json!({}),
            json!({"ms": null}),
            json!({"ms": -1}),
            json!({"ms": 60_001}),
            json!({"ms": 1.5}),
            json!({"ms": "10"}),
            json!({"ms": u64::MAX}),
        ] {
            assert_eq!(field_of(payload), "payload.ms");
        }
        assert!(Sleep.validate(&json!({"ms": 0})).is_ok());
        assert!(Sleep.validate(&json!({"ms": 60_000})).is_ok());
    }

    #[tokio::test]
    async fn sleep_waits_and_reports_the_duration() {
        let start = tokio::time::Instant::now();
        let out = sleep(&json!({"ms": 20})).await.unwrap();
        assert_eq!(out, json!({"slept_ms": 20}));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    #[tokio::test]
    async fn sleep_run_revalidates_the_payload() {
        let err = sleep(&json!({"ms": -5})).await.unwrap_err();
        assert!(
            matches!(err, TaskError::InvalidPayload { ref field, .. } if field == "payload.ms")
        );
    }
}
