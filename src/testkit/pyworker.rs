//! `examples/worker.py` as a child process: the external worker of the process tests
//! and of the benchmark, reached only through the lease API like any real one.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::process::wait_until;

static STARTED: AtomicUsize = AtomicUsize::new(0);

/// A running `examples/worker.py`; SIGKILLed on drop.
pub struct PyWorker {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl PyWorker {
    /// Starts the worker against `url` with extra `args` (`--queue`, `--batch`, …).
    pub fn start(url: &str, args: &[&str]) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/worker.py");
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let base = std::env::temp_dir().join(format!("ttp-pyworker-{}-{n}", std::process::id()));
        let (stdout, stderr) = (base.with_extension("out"), base.with_extension("err"));
        let child = Command::new("python3")
            .arg(script)
            .args(["--url", url])
            .args(args)
            .stdout(Stdio::from(std::fs::File::create(&stdout).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .spawn()
            .expect("python3 (make test installs it)");
        Self { child, stdout, stderr }
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits up to `within` for the exit; the exit code.
    pub fn terminate(&mut self, within: Duration) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let mut code = None;
        wait_until(within, || match self.child.try_wait() {
            Ok(Some(status)) => {
                code = status.code();
                true
            }
            _ => false,
        });
        code
    }

    /// Task ids this worker reported completed (`completed <id> <attempt>` lines).
    pub fn completed(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        text.lines()
            .filter_map(|line| line.strip_prefix("completed "))
            .filter_map(|rest| rest.split(' ').next())
            .map(str::to_owned)
            .collect()
    }

    /// Waits up to `within` until the worker reported `count` completions; the ids reported.
    pub fn wait_completed(&self, count: usize, within: Duration) -> Vec<String> {
        wait_until(within, || self.completed().len() >= count);
        self.completed()
    }

    /// What the worker wrote to stderr (its log), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for PyWorker {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.stdout);
        let _ = std::fs::remove_file(&self.stderr);
    }
}
