//! `noop`: does nothing and returns `null`.
//!
//! It exists so benchmarks measure the queue itself (submit, claim, complete) rather than
//! any work, and so a deployment can be smoke-tested without side effects.

use serde_json::{Value, json};

use super::{Handler, HandlerFuture, PayloadSchema, TaskContext};

/// Accepts any payload and succeeds at once with `null`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Noop;

impl Handler for Noop {
    fn validates_payloads(&self) -> bool {
        false
    }

    fn payload_schema(&self) -> PayloadSchema {
        PayloadSchema::optional(json!({"description": "Any JSON; ignored. Returns null."}))
    }

    fn run<'a>(&'a self, _ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(async { Ok(Value::Null) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn noop_accepts_any_payload() {
        for payload in [Value::Null, json!(1), json!({"a": [1, 2]}), json!("x")] {
            assert!(Noop.validate(&payload).is_ok());
        }
    }
}
