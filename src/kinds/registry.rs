//! The map from a task kind to its handler.

use std::collections::HashMap;
use std::sync::Arc;

use super::http::{Http, PushError};
use super::{Handler, aggregate, anomalies, downsample, echo, fail, noop, sleep};
use crate::config::PushSettings;

/// The name of the built-in push-delivery kind.
const HTTP: &str = "http";

/// Every kind a process accepts and runs. The API uses it to reject unknown kinds and
/// invalid payloads; workers use it to run tasks.
#[derive(Clone, Default)]
pub struct HandlerRegistry {
    handlers: HashMap<String, Arc<dyn Handler>>,
    /// Whether `http` is the built-in kind (which [`HandlerRegistry::configure_push`]
    /// configures) rather than a handler of the library user's.
    builtin_http: bool,
}

impl HandlerRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with every built-in kind: `noop`, `echo`, `sleep`, `fail`,
    /// `telemetry.aggregate`, `telemetry.anomalies`, `telemetry.downsample`, and `http`
    /// with no host allowed until [`HandlerRegistry::configure_push`] (which `App::build`
    /// calls with the configured settings).
    pub fn with_builtins() -> Self {
        let mut registry = Self::new()
            .with("noop", noop::Noop)
            .with("echo", echo::Echo)
            .with("sleep", sleep::Sleep)
            .with("fail", fail::Fail)
            .with("telemetry.aggregate", aggregate::Aggregate)
            .with("telemetry.anomalies", anomalies::Anomalies)
            .with("telemetry.downsample", downsample::Downsample)
            .with(HTTP, Http::disabled());
        registry.builtin_http = true;
        registry
    }

    /// Adds (or replaces) the handler of `kind`.
    pub fn with(mut self, kind: &str, handler: impl Handler) -> Self {
        self.register(kind, handler);
        self
    }

    /// Adds (or replaces) the handler of `kind`.
    pub fn register(&mut self, kind: &str, handler: impl Handler) {
        self.builtin_http &= kind != HTTP;
        self.handlers.insert(kind.to_owned(), Arc::new(handler));
    }

    /// Configures the built-in `http` kind with `settings` (allowed hosts, signing key).
    /// A registry without it, or whose `http` is the library user's own, is left alone.
    pub fn configure_push(&mut self, settings: &PushSettings) -> Result<(), PushError> {
        if self.builtin_http {
            self.handlers.insert(HTTP.to_owned(), Arc::new(Http::new(settings)?));
        }
        Ok(())
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
    use crate::config::{AllowedHosts, signing_key};

    const URL: &str = "https://hooks.example.com/x";

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
            ("http", json!({"url": "https://hooks.example.com/x"}), true),
            (
                "http",
                json!({"url": "HTTP://A.Hooks.Example.com:8080/x?y#z", "method": "PUT"}),
                true,
            ),
            ("http", json!({"url": URL, "method": null, "headers": null, "body": null}), true),
            ("http", json!({"url": URL, "headers": {"X-Trace": "a\tb ~"}, "body": [1]}), true),
            ("http", json!({"url": URL, "body": "plain text"}), true),
            ("http", json!({"url": "https://other.example.com/"}), false),
            ("http", json!({"url": "https://hooks.example.com.evil.net/"}), false),
            ("http", json!({"url": "ftp://hooks.example.com/"}), false),
            ("http", json!({"url": "hooks.example.com/x"}), false),
            ("http", json!({"url": null}), false),
            ("http", json!({"method": "POST"}), false),
            ("http", Value::Null, false),
            ("http", json!({"url": URL, "method": "get"}), false),
            ("http", json!({"url": URL, "method": "OPTIONS"}), false),
            ("http", json!({"url": URL, "headers": {"Webhook-Signature": "v1,x"}}), false),
            ("http", json!({"url": URL, "headers": {"HOST": "x"}}), false),
            ("http", json!({"url": URL, "headers": {"X-A": 1}}), false),
            ("http", json!({"url": URL, "headers": {"X A": "1"}}), false),
            ("http", json!({"url": URL, "headers": {"X-A": "line\nbreak"}}), false),
            ("http", json!({"url": URL, "headers": {"X-A": "caf\u{e9}"}}), false),
            ("http", json!({"url": URL, "headers": ["X-A"]}), false),
            ("http.off", json!({"url": URL}), false),
        ];
        let mut registry = HandlerRegistry::with_builtins();
        let settings = PushSettings {
            allowed_hosts: AllowedHosts::parse("hooks.example.com, *.hooks.example.com").unwrap(),
            signing_key: Some(signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()),
        };
        registry.configure_push(&settings).unwrap();
        let registry = registry.with("http.off", Http::disabled());
        for (kind, payload, valid) in rows {
            let accepted = registry.get(kind).unwrap().validate(&payload).is_ok();
            assert_eq!(accepted, valid, "{kind} handler on {payload}");
            let handler = registry.get(kind).unwrap();
            assert_eq!(handler.payload_schema().optional, handler.validate(&Value::Null).is_ok());
        }
    }

    /// The built-in `http` is configured; a library user's own `http` is left alone.
    #[test]
    fn configure_push_replaces_only_the_builtin_http_kind() {
        let settings = PushSettings {
            allowed_hosts: AllowedHosts::parse("hooks.example.com").unwrap(),
            signing_key: Some(signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()),
        };
        let payload = json!({"url": URL});
        let mut builtin = HandlerRegistry::with_builtins();
        assert!(builtin.get("http").unwrap().validate(&payload).is_err());
        builtin.configure_push(&settings).unwrap();
        assert!(builtin.get("http").unwrap().validate(&payload).is_ok());

        let mut own = HandlerRegistry::with_builtins().with("http", echo::Echo);
        own.configure_push(&settings).unwrap();
        assert!(!own.get("http").unwrap().validates_payloads());
        let mut none = HandlerRegistry::new();
        none.configure_push(&settings).unwrap();
        assert!(none.get("http").is_none());
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
