//! Domain types of a task, free of HTTP and Redis: identifiers, names, states and their
//! legal transitions, the validated submission, the stored record and the retry policy.
//!
//! Keeping these apart from `api` and `queue` means every rule about what a task may be
//! is written once and both sides enforce the same thing.

mod error;
mod id;
pub mod integral;
mod names;
mod new_task;
mod payload;
mod record;
mod retry;
mod state;

pub use error::TaskError;
pub use id::TaskId;
pub use names::{FieldError, Kind, Priority, QueueName};
pub use new_task::{NewTask, TaskDefaults, TaskRequest};
pub use payload::Payload;
pub use record::TaskRecord;
pub use retry::{Next, Retry, RetryPolicy};
pub use state::State;

/// Milliseconds since the Unix epoch, the one clock ttp stores.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
