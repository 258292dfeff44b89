//! Retry backoff: exponential with full jitter.
//!
//! Full jitter (a uniform draw between zero and the exponential ceiling) spreads the
//! retries of tasks that failed together, so a dependency that comes back is not hit by
//! a synchronised wave.

use std::time::Duration;

/// How long to wait before the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Ceiling of the first retry's delay.
    pub base_ms: u64,
    /// Largest delay ever used.
    pub max_ms: u64,
}

impl RetryPolicy {
    /// The ceiling of the delay after `attempt` (1-based) failed: `base · 2^(attempt-1)`,
    /// capped at `max_ms`.
    pub fn ceiling_ms(&self, attempt: u32) -> u64 {
        let doublings = attempt.saturating_sub(1).min(62);
        self.base_ms.saturating_mul(1u64 << doublings).min(self.max_ms)
    }

    /// A random delay in `0..=ceiling` after `attempt` failed.
    pub fn backoff(&self, attempt: u32) -> Duration {
        Duration::from_millis(fastrand::u64(0..=self.ceiling_ms(attempt)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let policy = RetryPolicy { base_ms: 1000, max_ms: 5000 };
        let ceilings: Vec<u64> = (1..=5).map(|a| policy.ceiling_ms(a)).collect();
        assert_eq!(ceilings, [1000, 2000, 4000, 5000, 5000]);
        assert_eq!(policy.ceiling_ms(500), 5000);
    }

    #[test]
    fn backoff_stays_within_its_ceiling() {
        let policy = RetryPolicy { base_ms: 10, max_ms: 100 };
        for attempt in 1..20 {
            assert!(policy.backoff(attempt).as_millis() <= u128::from(policy.ceiling_ms(attempt)));
        }
    }
}
