//! The outcome of a failed attempt, as a handler reports it.
//!
//! A queue has to decide between "try again later" and "give up now"; only the handler
//! knows which applies, so the error type carries that intent instead of a bare message
//! (and, when a dependency said when to come back, the least delay).

use std::time::Duration;

use super::retry::Retry;

/// Why one attempt of a task did not succeed, and whether another attempt could help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// A transient failure (I/O, a dependency down, a timeout): retried with backoff
    /// while attempts remain.
    #[error("{0}")]
    Retryable(String),
    /// A transient failure whose source named the earliest time worth another attempt
    /// (an HTTP `Retry-After`): retried like [`TaskError::Retryable`], but not sooner.
    #[error("{message}")]
    RetryLater {
        /// What went wrong.
        message: String,
        /// The least delay before the next attempt, ms.
        min_delay_ms: u64,
    },
    /// A failure that another attempt cannot fix: the task fails at once.
    #[error("{0}")]
    Permanent(String),
    /// The payload does not fit the kind. Reported as 422 at submission and, if it ever
    /// reaches a worker, treated as permanent.
    #[error("{field}: {message}")]
    InvalidPayload {
        /// JSON path of the offending value, e.g. `payload.samples[3]`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

impl TaskError {
    /// A retryable error with the given message.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Retryable(message.into())
    }

    /// A retryable error whose next attempt must wait at least `min_delay`.
    pub fn retry_later(message: impl Into<String>, min_delay: Duration) -> Self {
        let min_delay_ms = u64::try_from(min_delay.as_millis()).unwrap_or(u64::MAX);
        Self::RetryLater { message: message.into(), min_delay_ms }
    }

    /// A permanent error with the given message.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent(message.into())
    }

    /// An invalid-payload error naming the field below `payload`.
    pub fn invalid(field: impl AsRef<str>, message: impl Into<String>) -> Self {
        let field = field.as_ref();
        let field = if field.is_empty() {
            "payload".to_owned()
        } else if field.starts_with('[') {
            format!("payload{field}")
        } else {
            format!("payload.{field}")
        };
        Self::InvalidPayload { field, message: message.into() }
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_) | Self::RetryLater { .. })
    }

    /// What this error says about another attempt, for [`RetryPolicy::after`](super::RetryPolicy::after).
    pub fn retry(&self) -> Retry {
        match self {
            Self::Retryable(_) => Retry::After { min_delay_ms: 0 },
            Self::RetryLater { min_delay_ms, .. } => Retry::After { min_delay_ms: *min_delay_ms },
            Self::Permanent(_) | Self::InvalidPayload { .. } => Retry::Never,
        }
    }
}
