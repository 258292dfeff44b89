//! The map from a task kind to its handler.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Handler, aggregate, anomalies, downsample, echo, fail, noop, sleep};

/// Every kind a process accepts and runs. The API uses it to reject unknown kinds and
/// invalid payloads; workers use it to run tasks.
#[derive(Clone, Default)]
pub struct HandlerRegistry {
    handlers: HashMap<String, Arc<dyn Handler>>,
}

impl HandlerRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with every built-in kind: `noop`, `echo`, `sleep`, `fail`,
    /// `telemetry.aggregate`, `telemetry.anomalies`, `telemetry.downsample`.
    pub fn with_builtins() -> Self {
        Self::new()
            .with("noop", noop::Noop)
            .with("echo", echo::Echo)
            .with("sleep", sleep::Sleep)
            .with("fail", fail::Fail)
            .with("telemetry.aggregate", aggregate::Aggregate)
            .with("telemetry.anomalies", anomalies::Anomalies)
            .with("telemetry.downsample", downsample::Downsample)
    }

    /// Adds (or replaces) the handler of `kind`.
    pub fn with(mut self, kind: &str, handler: impl Handler) -> Self {
        self.register(kind, handler);
        self
    }

    /// Adds (or replaces) the handler of `kind`.
    pub fn register(&mut self, kind: &str, handler: impl Handler) {
        self.handlers.insert(kind.to_owned(), Arc::new(handler));
    }

    /// The handler of `kind`, if registered.
    pub fn get(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        self.handlers.get(kind).cloned()
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        kinds.sort_unstable();
        kinds
    }
}

impl std::fmt::Debug for HandlerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerRegistry").field("kinds", &self.kinds()).finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// Payloads the spec accepts must pass the handler's validation, and the other way
    /// round; each row is (kind, payload, valid).
    #[test]
    fn schemas_agree_with_the_handlers_on_boundary_payloads() {
        let rows = [
            ("sleep", json!({"ms": 0}), true),
            ("sleep", json!({"ms": 60_000, "extra": 1}), true),
            ("sleep", json!({"ms": 60_001}), false),
            ("sleep", json!({"ms": 5.0}), true),
            (
                "telemetry.downsample",
                json!({"points": [[9_007_199_254_740_993_i64, 1]], "bucket_ms": 1}),
                false,
            ),
            ("sleep", json!({"ms": null}), false),
            ("sleep", Value::Null, false),
            ("fail", Value::Null, true),
            ("fail", json!({"message": null, "retryable": false, "fail_first": 100}), true),
            ("fail", json!({"fail_first": 101}), false),
            ("fail", json!({"retryable": "yes"}), false),
            ("telemetry.aggregate", json!({"samples": [1, 2.5]}), true),
            ("telemetry.aggregate", json!({"samples": []}), false),
            ("telemetry.aggregate", json!({"samples": ["1"]}), false),
            ("telemetry.anomalies", json!({"samples": [1], "z": null}), true),
            ("telemetry.anomalies", json!({"samples": [1], "z": 0}), false),
            (
                "telemetry.downsample",
                json!({"points": [[-9_007_199_254_740_992_i64, 1]], "bucket_ms": 3}),
                true,
            ),
            (
                "telemetry.downsample",
                json!({"points": [[0, 1]], "bucket_ms": i64::MAX, "agg": "sum"}),
                true,
            ),
            (
                "telemetry.downsample",
                json!({"points": [[0, 1]], "bucket_ms": 1, "agg": "median"}),
                false,
            ),
            ("telemetry.downsample", json!({"points": [[0]], "bucket_ms": 1}), false),
            ("telemetry.downsample", json!({"points": [[0, 1]], "bucket_ms": 0}), false),
        ];
        let registry = HandlerRegistry::with_builtins();
        for (kind, payload, valid) in rows {
            let accepted = registry.get(kind).unwrap().validate(&payload).is_ok();
            assert_eq!(accepted, valid, "{kind} handler on {payload}");
            let handler = registry.get(kind).unwrap();
            assert_eq!(handler.payload_schema().optional, handler.validate(&Value::Null).is_ok());
        }
    }

    #[test]
    fn every_example_in_a_builtin_schema_is_a_payload_its_handler_accepts() {
        let registry = HandlerRegistry::with_builtins();
        for kind in registry.kinds() {
            let handler = registry.get(kind).unwrap();
            let examples = handler.payload_schema().schema["examples"].clone();
            for example in examples.as_array().into_iter().flatten() {
                assert!(handler.validate(example).is_ok(), "{kind}: {example}");
            }
        }
    }

    #[test]
    fn every_builtin_kind_describes_its_payload() {
        let registry = HandlerRegistry::with_builtins();
        for kind in registry.kinds() {
            let schema = registry.get(kind).unwrap().payload_schema().schema;
            assert!(schema.get("description").is_some(), "{kind}: {schema}");
        }
    }
}
