//! Task kinds: what a kind is (the [`Handler`] trait), the registry that maps a kind's
//! name to its handler, and one file per built-in kind.
//!
//! A kind is one thing in one place: its payload rules (checked at submission, so a bad
//! payload is a 422 for the client rather than a dead letter an hour later), its JSON
//! Schema (served in the OpenAPI document, so the spec's rules are the handler's rules)
//! and its run. This module depends only on `task` (and on `config` for the settings of
//! the `http` kind, which calls out and so needs an allow-list); the API asks it to validate
//! submissions and describe kinds, the workers ask it to run tasks. Library users
//! register their own kinds on the same registry.

mod aggregate;
mod anomalies;
mod catalog;
mod downsample;
mod echo;
mod external;
mod fail;
mod http;
mod noop;
mod registry;
mod samples;
mod schema;
mod sleep;

pub use catalog::{Catalog, KindRef};
pub use external::{ExternalKind, KindSpec, json_schema};
pub use http::{Http, PushError};
pub use registry::HandlerRegistry;
pub use schema::PayloadSchema;

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::task::{TaskError, TaskId};

/// The future a handler returns for one attempt.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, TaskError>> + Send + 'a>>;

/// What a handler sees of the task it runs.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// The task id.
    pub id: TaskId,
    /// The kind the task was submitted with.
    pub kind: String,
    /// The submitted payload (`null` when none was given).
    pub payload: Value,
    /// This attempt's number, starting at 1. Above 1 the task ran before (a retry, or a
    /// crash or lost lease), so side effects should be idempotent.
    pub attempt: u32,
    /// Attempts allowed in total.
    pub max_attempts: u32,
}

/// One task kind. Implement it to add your own kinds (see `examples/custom_handler.rs`).
pub trait Handler: Send + Sync + 'static {
    /// Checks a payload at submission; an error becomes a 422 naming the field.
    /// The default accepts anything.
    fn validate(&self, payload: &Value) -> Result<(), TaskError> {
        let _ = payload;
        Ok(())
    }

    /// Whether [`Handler::validate`] looks at payloads; a kind that takes any payload
    /// says `false`, which spares building a tree of each payload at submission.
    fn validates_payloads(&self) -> bool {
        true
    }

    /// The JSON Schema of the payloads [`Handler::validate`] accepts, for the OpenAPI
    /// document and `GET /kinds`. The default says "any JSON".
    fn payload_schema(&self) -> PayloadSchema {
        PayloadSchema::any()
    }

    /// Runs one attempt. The worker enforces the task's timeout by dropping the future,
    /// so long-running handlers should await rather than block; CPU-heavy work belongs
    /// in `tokio::task::spawn_blocking` so it does not stall the runtime.
    fn run<'a>(&'a self, ctx: &'a TaskContext) -> HandlerFuture<'a>;
}

/// Runs a CPU-bound closure on the blocking pool and maps a panic to a permanent error.
pub(crate) async fn run_blocking<F>(work: F) -> Result<Value, TaskError>
where
    F: FnOnce() -> Result<Value, TaskError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|join| Err(TaskError::permanent(format!("handler panicked: {join}"))))
}
