//! What follows a failed attempt — another attempt after a backoff, or failure — and
//! the backoff itself: exponential with full jitter. The executor (a handler's error or
//! timeout) and the reaper (an expired lease) both ask [`RetryPolicy::after`], so the rule
//! "retryable and attempts left → retry, else fail" is written once.
//!
//! A failure may carry the least delay its source asked for (an HTTP `Retry-After`): the
//! next attempt then waits the longer of that and the backoff, the hint cut to `max_ms`
//! so that one answer cannot park a task for days and `max_ms` stays the longest delay.
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

/// What happens to a task after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Another attempt, not before `due_ms`.
    Retry {
        /// When the next attempt may start (ms since the epoch).
        due_ms: i64,
    },
    /// No more attempts: the task fails (the dead-letter list).
    Fail,
}

/// Whether a failed attempt may be retried, and how soon at the earliest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Another attempt cannot help.
    Never,
    /// Another attempt may help, not sooner than `min_delay_ms` after the failure.
    After {
        /// The least delay the failure's source asked for (0: none), ms.
        min_delay_ms: u64,
    },
}

impl From<bool> for Retry {
    /// `true`: retryable with no least delay; `false`: never.
    fn from(retryable: bool) -> Self {
        if retryable { Self::After { min_delay_ms: 0 } } else { Self::Never }
    }
}

impl RetryPolicy {
    /// What follows the failure of attempt `attempt` (1-based) of `max_attempts` at
    /// `now_ms`: when the failure may be retried (`retry`: a [`Retry`], or `true`) and
    /// attempts remain, a retry after the longer of a backoff and the failure's least
    /// delay (cut to `max_ms`); else failure.
    pub fn after(
        &self,
        attempt: u32,
        max_attempts: u32,
        retry: impl Into<Retry>,
        now_ms: i64,
    ) -> Next {
        match retry.into() {
            Retry::After { min_delay_ms } if attempt < max_attempts => {
                let backoff = self.backoff(attempt).as_millis() as u64;
                let delay = backoff.max(min_delay_ms.min(self.max_ms));
                Next::Retry { due_ms: now_ms.saturating_add(delay as i64) }
            }
            _ => Next::Fail,
        }
    }

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
    fn retryable_failures_retry_while_attempts_remain() {
        let policy = RetryPolicy { base_ms: 1000, max_ms: 5000 };
        for attempt in 1..3 {
            match policy.after(attempt, 3, true, 10_000) {
                Next::Retry { due_ms } => {
                    let ceiling = policy.ceiling_ms(attempt) as i64;
                    assert!((10_000..=10_000 + ceiling).contains(&due_ms), "{due_ms}");
                }
                Next::Fail => panic!("attempt {attempt} of 3 should retry"),
            }
        }
        assert_eq!(policy.after(3, 3, true, 0), Next::Fail);
        assert_eq!(policy.after(7, 3, true, 0), Next::Fail);
    }

    #[test]
    fn a_least_delay_is_honoured_up_to_the_largest_backoff() {
        let policy = RetryPolicy { base_ms: 100, max_ms: 5000 };
        for _ in 0..100 {
            let due = |min_delay_ms| match policy.after(1, 3, Retry::After { min_delay_ms }, 0) {
                Next::Retry { due_ms } => due_ms,
                Next::Fail => panic!("should retry"),
            };
            assert_eq!(due(2000), 2000);
            assert!((0..=100).contains(&due(0)));
            assert!((50..=100).contains(&due(50)));
            assert_eq!(due(86_400_000), 5000);
            assert_eq!(due(u64::MAX), 5000);
        }
        assert_eq!(policy.after(3, 3, Retry::After { min_delay_ms: 10 }, 0), Next::Fail);
        assert_eq!(policy.after(1, 3, Retry::Never, 0), Next::Fail);
    }

    #[test]
    fn permanent_failures_fail_at_once() {
        let policy = RetryPolicy { base_ms: 1000, max_ms: 5000 };
        assert_eq!(policy.after(1, 100, false, 0), Next::Fail);
    }

    #[test]
    fn backoff_stays_within_its_ceiling() {
        let policy = RetryPolicy { base_ms: 10, max_ms: 100 };
        for attempt in 1..20 {
            assert!(policy.backoff(attempt).as_millis() <= u128::from(policy.ceiling_ms(attempt)));
        }
    }
}
