//! A real `redis-server` per test: its own port and data directory, killed on drop,
//! its log printed when the test fails.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::TestCerts;

/// A free TCP port on 127.0.0.1 (bound then released; callers retry on collision).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A `redis-server` child process with its own data directory; killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    tls: Option<TestCerts>,
}

impl RedisServer {
    /// Starts a Redis without persistence.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a Redis with extra `redis-server` arguments (e.g. `["--appendonly", "yes"]`).
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_server(extra, None)
    }

    /// Starts a Redis that speaks only TLS, with `certs`' server certificate; with
    /// `mutual`, clients must present a certificate signed by `certs`' CA.
    pub fn start_tls(certs: &TestCerts, mutual: bool) -> Self {
        let auth = if mutual { "yes" } else { "no" };
        let files = [certs.path("server.crt"), certs.path("server.key"), certs.path("ca.crt")];
        let args = [
            "--tls-cert-file",
            &files[0],
            "--tls-key-file",
            &files[1],
            "--tls-ca-cert-file",
            &files[2],
            "--tls-auth-clients",
            auth,
        ];
        Self::start_server(&args, Some(certs.clone()))
    }

    fn start_server(extra: &[&str], tls: Option<TestCerts>) -> Self {
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ttp-redis-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            child: None,
            port: 0,
            dir,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            tls,
        };
        for _ in 0..10 {
            server.port = free_port();
            if server.launch() {
                return server;
            }
        }
        panic!("redis-server did not start; log:\n{}", server.log());
    }

    fn launch(&mut self) -> bool {
        let port = self.port.to_string();
        let ports: Vec<&str> = match self.tls {
            Some(_) => vec!["--port", "0", "--tls-port", &port],
            None => vec!["--port", &port],
        };
        let child = Command::new("redis-server")
            .args(ports)
            .args(["--bind", "127.0.0.1", "--save", ""])
            .args(["--dir", self.dir.to_str().unwrap(), "--logfile", "redis.log"])
            .args(["--protected-mode", "no"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is not installed (make test installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let _ = status;
                self.child = None;
                return false;
            }
            if self.ping() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn ping(&self) -> bool {
        self.client()
            .get_connection_with_timeout(Duration::from_millis(500))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }

    /// A client for inspecting keys (over TLS with the test CA and client certificate,
    /// for a TLS server).
    fn client(&self) -> redis::Client {
        match &self.tls {
            None => redis::Client::open(self.url()).unwrap(),
            Some(certs) => redis::Client::build_with_tls(self.url(), certs.client_tls()).unwrap(),
        }
    }

    /// `redis://127.0.0.1:<port>`, or `rediss://` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A synchronous connection for inspecting keys.
    pub fn connection(&self) -> redis::Connection {
        self.client().get_connection().unwrap()
    }

    /// Stops the server's process (SIGSTOP): connections stay open and unanswered.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Lets a frozen server run again (SIGCONT); it then answers what it received.
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("redis-server runs").id().to_string();
        let status = Command::new("kill").args([&format!("-{name}"), &pid]).status().unwrap();
        assert!(status.success(), "kill -{name} {pid}");
    }

    /// Kills the server (SIGKILL); data not persisted is lost.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same data directory.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.launch() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not restart; log:\n{}", self.log());
    }

    /// The server log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.signal("CONT");
        }
        if std::thread::panicking() {
            eprintln!("--- redis-server log (port {}) ---\n{}", self.port, self.log());
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
