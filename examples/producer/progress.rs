//! A progress bar on stderr, so that stdout holds only the summary a script can keep.
//!
//! The workers only bump an atomic counter ([`Progress::add`]); a separate Tokio task
//! redraws the bar, in place every 100 ms on a terminal, or as one line a second when
//! stderr is a file or a pipe (a CI log stays readable). No dependency beyond Tokio.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// A progress bar on stderr: redrawn in place on a terminal, one line a second otherwise.
pub struct Progress {
    label: &'static str,
    total: u64,
    done: AtomicU64,
    started: Instant,
    stop: CancellationToken,
}

impl Progress {
    /// Starts drawing a bar named `label` towards `total`.
    pub fn start(label: &'static str, total: u64) -> Arc<Self> {
        let progress = Arc::new(Self {
            label,
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
            stop: CancellationToken::new(),
        });
        let ticker = progress.clone();
        tokio::spawn(async move {
            let tty = std::io::stderr().is_terminal();
            let every = Duration::from_millis(if tty { 100 } else { 1000 });
            loop {
                tokio::select! {
                    _ = ticker.stop.cancelled() => return,
                    _ = tokio::time::sleep(every) => ticker.draw(tty, false),
                }
            }
        });
        progress
    }

    /// Counts `n` more done.
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Stops the redrawing and draws the final line.
    pub fn finish(&self) {
        self.stop.cancel();
        self.draw(std::io::stderr().is_terminal(), true);
    }

    fn draw(&self, tty: bool, last: bool) {
        const WIDTH: u64 = 30;
        let done = self.done.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64();
        let filled = (done * WIDTH).checked_div(self.total).unwrap_or(WIDTH) as usize;
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(WIDTH as usize - filled));
        let line = format!(
            "{:<6} [{bar}] {done:>7}/{} {:>3}% {:>7.0}/s {:>6.1} s",
            self.label,
            self.total,
            (done * 100).checked_div(self.total).unwrap_or(100),
            done as f64 / secs.max(1e-9),
            secs,
        );
        let mut err = std::io::stderr().lock();
        let _ = match (tty, last) {
            (true, false) => write!(err, "\r{line}"),
            (true, true) => writeln!(err, "\r{line}"),
            (false, _) => writeln!(err, "{line}"),
        };
        let _ = err.flush();
    }
}
