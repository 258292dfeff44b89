//! `echo`: returns its payload unchanged.
//!
//! The simplest handler with a result, used to check that payloads and results make the
//! round trip through Redis intact.

use serde_json::json;

use super::{Handler, HandlerFuture, PayloadSchema, TaskContext};

/// Accepts any payload and succeeds with a copy of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl Handler for Echo {
    fn validates_payloads(&self) -> bool {
        false
    }

    fn payload_schema(&self) -> PayloadSchema {
        PayloadSchema::optional(json!({
            "description": "Any JSON; returned as the result.",
            "examples": [{"hello": "world"}]
        }))
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(async move { Ok(ctx.payload.clone()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn echo_accepts_any_payload() {
        for payload in [Value::Null, json!([1, "two"]), json!({"nested": {"a": null}})] {
            assert!(Echo.validate(&payload).is_ok());
        }
    }
}
