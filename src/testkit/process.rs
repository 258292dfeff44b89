//! `ttp` child processes for crash and signal tests, and the polling wait.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// A `ttp` child process (for crash and signal tests); killed on drop.
pub struct TtpProcess {
    pub child: Child,
    pub port: Option<u16>,
}

impl TtpProcess {
    /// Starts `binary` with `args` and `TTP_*` variables; for `serve`, on a free port,
    /// waiting until `/healthz` answers.
    pub fn start(binary: &str, args: &[&str], env: &[(&str, String)]) -> Self {
        Self::start_with_prefix(binary, &[], args, env)
    }

    /// Like [`TtpProcess::start`], run through `prefix` (e.g. `prlimit --nofile=128 --`),
    /// which must exec the binary in its own process.
    pub fn start_with_prefix(
        binary: &str,
        prefix: &[&str],
        args: &[&str],
        env: &[(&str, String)],
    ) -> Self {
        let serves = args.first() == Some(&"serve");
        let port = serves.then(free_port);
        let mut command = match prefix.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command.args(args).env("TTP_LOG", "warn").stdout(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        if let Some(port) = port {
            command.env("TTP_LISTEN", format!("127.0.0.1:{port}"));
        }
        let child = command.spawn().unwrap();
        let process = Self { child, port };
        if let Some(port) = port {
            wait_until(Duration::from_secs(20), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
        }
        process
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port.unwrap(), path)
    }

    /// Sends a signal by name (`TERM`, `KILL`, `INT`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit, up to `within`; `None` if still running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for TtpProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` every 10 ms until true; panics after `within`.
pub fn wait_until(within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "condition not met within {within:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
