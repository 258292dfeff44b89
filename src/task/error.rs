//! The outcome of a failed attempt, as a handler reports it.
//!
//! A queue has to decide between "try again later" and "give up now"; only the handler
//! knows which applies, so the error type carries that intent instead of a bare message.

/// Why one attempt of a task did not succeed, and whether another attempt could help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// A transient failure (I/O, a dependency down, a timeout): retried with backoff
    /// while attempts remain.
    #[error("{0}")]
    Retryable(String),
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
        matches!(self, Self::Retryable(_))
    }
}
