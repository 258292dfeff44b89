//! A private PKI for TLS tests, made by `scripts/tls-certs.sh` (openssl) in a temporary
//! directory: a CA, a server certificate for 127.0.0.1/localhost, a client certificate,
//! and an unrelated CA for the "wrong CA" cases.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The generated files; the directory is removed when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct TestCerts {
    dir: Arc<Dir>,
}

#[derive(Debug)]
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestCerts {
    /// Generates a fresh set (openssl must be installed; `make test` installs it).
    pub fn generate() -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ttp-certs-{}-{n}", std::process::id()));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/tls-certs.sh");
        let output = Command::new("bash").arg(script).arg(&dir).output().expect("bash runs");
        assert!(output.status.success(), "tls-certs.sh failed: {output:?}");
        Self { dir: Arc::new(Dir(dir)) }
    }

    /// The path of one generated file (`ca.crt`, `server.key`, `client.crt`, `other-ca.crt`…).
    pub fn path(&self, name: &str) -> String {
        self.dir.0.join(name).to_string_lossy().into_owned()
    }

    /// Trust the test CA and present the client certificate (redis-rs).
    pub fn client_tls(&self) -> redis::TlsCertificates {
        let read = |name: &str| std::fs::read(self.path(name)).unwrap();
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: read("client.crt"),
                client_key: read("client.key"),
            }),
            root_cert: Some(read("ca.crt")),
        }
    }
}
