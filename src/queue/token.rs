//! Lease tokens: the fencing token of a claim. Every claim gets a fresh one made of 128
//! random bits from the operating system, so a token cannot be guessed or reused: a
//! worker (embedded, or external over HTTP) that lost its lease cannot act on the task
//! with the old token, and nobody can act on a task without the token of its claim.

use std::fmt;
use std::sync::Arc;

use super::QueueError;

/// Length of a token's text: 128 bits as lowercase hex.
const LEN: usize = 32;

/// A claim's fencing token (cheap to clone: the tasks of one claim share it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseToken(Arc<str>);

impl LeaseToken {
    /// A fresh token from the operating system's random source.
    pub fn generate() -> Result<Self, QueueError> {
        let mut bytes = [0u8; LEN / 2];
        getrandom::fill(&mut bytes)
            .map_err(|e| QueueError::Unavailable(format!("no OS randomness for a token: {e}")))?;
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self(text.into()))
    }

    /// Parses a token a client sent; `None` when it is not 32 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == LEN
            && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Self(text.into()))
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_and_parse_back() {
        let (a, b) = (LeaseToken::generate().unwrap(), LeaseToken::generate().unwrap());
        assert_ne!(a, b);
        assert_eq!(LeaseToken::parse(a.as_str()), Some(a));
        for bad in ["", "xyz", &"A".repeat(32), &"0".repeat(31), &"0".repeat(33)] {
            assert_eq!(LeaseToken::parse(bad), None, "{bad}");
        }
    }
}
