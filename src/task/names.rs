//! Validated names and numbers of a task: queue name, kind, priority.
//!
//! Each is a newtype whose constructor enforces the SPEC rule, so a value of the type is
//! proof that it was checked. Errors name the request field so the API can report it.

use std::fmt;

/// A rule broken by one field of a request, reported as 422 with the field named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field's name or JSON path, e.g. `priority` or `payload.samples[2]`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

fn check_name(value: &str, extra: &[u8], field: &str, allowed: &str) -> Result<(), FieldError> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(field, format!("must match {allowed}{{1,64}}, got {value:?}")))
    }
}

/// A queue name: `[a-z0-9_-]{1,64}`. It appears in Redis keys and task ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueName(String);

impl QueueName {
    /// Checks `value` against the queue-name rule.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        check_name(value, b"_-", "queue", "[a-z0-9_-]")?;
        Ok(Self(value.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A task kind: `[a-z0-9._-]{1,64}`, naming a registered handler.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kind(String);

impl Kind {
    /// Checks `value` against the kind rule (not whether a handler exists).
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        check_name(value, b"._-", "kind", "[a-z0-9._-]")?;
        Ok(Self(value.to_owned()))
    }

    /// The kind as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Priority 0..=9; higher runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Priority(u8);

impl Priority {
    /// The priority when none is given.
    pub const DEFAULT: Priority = Priority(5);

    /// Checks `value` is within 0..=9.
    pub fn new(value: i64) -> Result<Self, FieldError> {
        u8::try_from(value)
            .ok()
            .filter(|p| *p <= 9)
            .map(Self)
            .ok_or_else(|| FieldError::new("priority", format!("must be 0..=9, got {value}")))
    }

    /// The numeric value.
    pub fn get(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_follow_the_rule() {
        assert!(QueueName::parse("critical_1-a").is_ok());
        for bad in ["", "Upper", "has space", "dot.ted", &"x".repeat(65)] {
            assert_eq!(QueueName::parse(bad).map_err(|e| e.field), Err("queue".into()));
        }
    }

    #[test]
    fn kinds_allow_dots() {
        assert!(Kind::parse("telemetry.aggregate").is_ok());
        assert!(Kind::parse("Bad").is_err());
    }

    #[test]
    fn priority_is_zero_to_nine() {
        assert_eq!(Priority::new(9).map(Priority::get), Ok(9));
        assert!(Priority::new(10).is_err());
        assert!(Priority::new(-1).is_err());
    }
}
