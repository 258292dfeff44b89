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
