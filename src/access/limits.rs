//! Per-key rate limits (`TTP_RATE_LIMIT_<SCOPE>_PER_S`): a token bucket per key (or per
//! client IP when the API has no keys) and scope, in this process, refilled at the
//! configured rate with a burst of one second's worth. Each item of a batch costs one
//! token. Buckets of callers not seen for a while are dropped, so the memory they take is
//! bounded by the callers of the last minute.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use super::Scope;

type Limiter = RateLimiter<String, DashMapStateStore<String>, DefaultClock>;

/// The limiters of one process, one per scope that has a limit.
#[derive(Debug)]
pub struct RateLimits {
    limiters: [Option<Limiter>; 4],
    clock: DefaultClock,
}

impl RateLimits {
    /// Limits of `per_second` requests for each scope of [`Scope::ALL`], in that order
    /// (0: no limit).
    pub fn new(per_second: [u32; 4]) -> Self {
        let limiter =
            |rate: u32| NonZeroU32::new(rate).map(|r| RateLimiter::keyed(Quota::per_second(r)));
        Self { limiters: per_second.map(limiter), clock: DefaultClock::default() }
    }

    /// Whether any scope has a limit.
    pub fn any(&self) -> bool {
        self.limiters.iter().any(Option::is_some)
    }

    /// Takes `cost` tokens of `scope` for `caller`; when they are not there, how long to
    /// wait (a cost beyond the burst can never pass: one second is the honest answer).
    pub fn check(&self, scope: Scope, caller: &str, cost: u32) -> Result<(), Duration> {
        let Some(limiter) = &self.limiters[scope as usize] else { return Ok(()) };
        let Some(cost) = NonZeroU32::new(cost) else { return Ok(()) };
        match limiter.check_key_n(&caller.to_owned(), cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(self.clock.now())),
            Err(_) => Err(Duration::from_secs(1)),
        }
    }

    /// Drops the buckets of callers that are full again (not seen recently).
    pub fn forget_idle(&self) {
        for limiter in self.limiters.iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_gets_its_rate_and_others_their_own() {
        let limits = RateLimits::new([5, 0, 0, 0]);
        for _ in 0..5 {
            assert!(limits.check(Scope::Submit, "a", 1).is_ok());
        }
        let wait = limits.check(Scope::Submit, "a", 1).unwrap_err();
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        assert!(limits.check(Scope::Submit, "b", 5).is_ok());
        assert!(limits.check(Scope::Read, "a", 1000).is_ok(), "read has no limit");
        assert!(limits.check(Scope::Submit, "c", 6).is_err(), "more than a burst never passes");
    }
}
