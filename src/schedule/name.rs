//! A schedule's name: `[a-z0-9._-]{1,64}`, unique in the deployment. It appears in Redis
//! keys (no `{`, `}` or `:`), in URLs and in the task ids of its ticks.

use std::fmt;

use crate::task::FieldError;

/// A checked schedule name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScheduleName(String);

impl ScheduleName {
    /// Checks `value` against the rule; the error names the field `name`.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let ok = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new("name", format!("must match [a-z0-9._-]{{1,64}}, got {value:?}")))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScheduleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        for good in ["hourly-rollup", "a", "x.y_z-1"] {
            assert!(ScheduleName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "Upper", "a:b", "a{b}", "sp ace", &"x".repeat(65)] {
            assert_eq!(ScheduleName::parse(bad).unwrap_err().field, "name", "{bad}");
        }
    }
}
