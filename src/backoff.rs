//! The pause between retries of a loop whose Redis calls fail: 50 ms doubling to 2 s,
//! so an outage is not a busy loop, and the loop resumes by itself when Redis answers
//! again. Every background loop (claiming, promoting, reaping, writing outcomes, the
//! long-poll subscription) backs off with it, and logs an outage once, not per attempt.

use std::fmt::Display;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

const FIRST: Duration = Duration::from_millis(50);
const LONGEST: Duration = Duration::from_secs(2);

/// The backoff state of one loop.
#[derive(Debug)]
pub struct Backoff {
    what: &'static str,
    delay: Duration,
    failing: bool,
}

impl Backoff {
    /// A backoff for the loop that does `what` (named in its log lines).
    pub fn new(what: &'static str) -> Self {
        Self { what, delay: FIRST, failing: false }
    }

    /// Logs (once per outage) and sleeps; false if `stop` fired meanwhile.
    pub async fn wait(&mut self, stop: &CancellationToken, error: &impl Display) -> bool {
        if !self.failing {
            tracing::warn!(error = %error, loop_ = self.what, "Redis call failed; backing off until it answers");
            self.failing = true;
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(LONGEST);
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = stop.cancelled() => false,
        }
    }

    /// Call after a success.
    pub fn reset(&mut self) {
        if self.failing {
            tracing::info!(loop_ = self.what, "Redis answers again; resuming");
        }
        self.delay = FIRST;
        self.failing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_delay_doubles_to_its_cap_and_resets() {
        let mut backoff = Backoff::new("test");
        let stop = CancellationToken::new();
        let mut slept = Vec::new();
        for _ in 0..7 {
            let before = tokio::time::Instant::now();
            assert!(backoff.wait(&stop, &"down").await);
            slept.push(before.elapsed().as_millis());
        }
        assert_eq!(slept, [50, 100, 200, 400, 800, 1600, 2000]);
        backoff.reset();
        let before = tokio::time::Instant::now();
        assert!(backoff.wait(&stop, &"down").await);
        assert_eq!(before.elapsed().as_millis(), 50);
    }

    #[tokio::test]
    async fn a_stop_ends_the_wait() {
        let mut backoff = Backoff::new("test");
        let stop = CancellationToken::new();
        stop.cancel();
        assert!(!backoff.wait(&stop, &"down").await);
    }
}
