//! The HTTP server's slice of the configuration: listener, limits, timeouts, CORS,
//! API keys, rate limits and HTTPS.

use std::net::SocketAddr;
use std::time::Duration;

use super::secret;
use super::settings::{MAX_WAIT_MS, in_range, invalid, list};
use super::{Config, ConfigError};

/// A certificate chain and its private key, PEM.
pub type PemPair = (Vec<u8>, Vec<u8>);

/// The HTTP server's settings.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Request body limit.
    pub max_body_bytes: usize,
    /// Deadline of a whole request.
    pub request_timeout: Duration,
    /// CORS origins (`*` for any); empty: CORS off.
    pub cors_origins: Vec<String>,
    /// Full-access API keys; empty: the API is open.
    pub api_keys: Vec<String>,
    /// Longest wait for a request's headers.
    pub header_timeout: Duration,
    /// Longest wait for a request's body once its headers arrived.
    pub body_timeout: Duration,
    /// How long a kept-alive connection may sit idle.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most dashboard streams open at once.
    pub ui_max_streams: usize,
    /// Memory all requests may hold for their bodies at once.
    pub max_inflight_body_bytes: u64,
    /// The scoped keys file, if any.
    pub api_keys_file: Option<std::path::PathBuf>,
    /// Requests per second per caller, by scope (submit, read, work, admin); 0 = no limit.
    pub rate_limits: [u32; 4],
    /// Certificate chain and key to serve HTTPS (PEM), if configured.
    pub tls: Option<PemPair>,
}

impl Config {
    pub(super) fn http_settings(
        &self,
        redis_timeout: Duration,
    ) -> Result<HttpSettings, ConfigError> {
        let Ok(listen) = self.listen.parse::<SocketAddr>() else {
            return invalid(
                "TTP_LISTEN",
                format!("{:?} is not an address like 0.0.0.0:8080", self.listen),
            );
        };
        let max_body_bytes =
            in_range("TTP_MAX_BODY_BYTES", self.max_body_bytes as u64, 1024, 1 << 30)? as usize;
        let timeout_ms =
            in_range("TTP_REQUEST_TIMEOUT_MS", self.request_timeout_ms, 1000, 3_600_000)?;
        let longest_request = MAX_WAIT_MS + redis_timeout.as_millis() as u64;
        if timeout_ms <= longest_request {
            return invalid(
                "TTP_REQUEST_TIMEOUT_MS",
                format!(
                    "{timeout_ms} must exceed the {MAX_WAIT_MS} ms long-poll maximum plus TTP_REDIS_TIMEOUT_MS ({longest_request})"
                ),
            );
        }
        let api_keys = list(&self.api_keys);
        let key_ok = |k: &String| k.len() >= 16 && k.bytes().all(|b| b.is_ascii_graphic());
        if !api_keys.iter().all(key_ok) {
            return invalid(
                "TTP_API_KEYS",
                "each key must be at least 16 visible ASCII characters, keys separated by commas",
            );
        }
        let cors_origins = list(&self.cors_origins);
        if let Some(origin) = cors_origins.iter().find(|o| !origin_ok(o)) {
            return invalid(
                "TTP_CORS_ORIGINS",
                format!("{origin:?} is not an origin like https://app.example.com or *"),
            );
        }
        let ms = |setting, value, min, max| {
            in_range(setting, value, min, max).map(Duration::from_millis)
        };
        Ok(HttpSettings {
            listen,
            max_body_bytes,
            request_timeout: Duration::from_millis(timeout_ms),
            cors_origins,
            api_keys,
            header_timeout: ms(
                "TTP_HTTP_HEADER_TIMEOUT_MS",
                self.http_header_timeout_ms,
                100,
                3_600_000,
            )?,
            body_timeout: ms(
                "TTP_HTTP_BODY_TIMEOUT_MS",
                self.http_body_timeout_ms,
                100,
                3_600_000,
            )?,
            idle_timeout: ms(
                "TTP_HTTP_IDLE_TIMEOUT_MS",
                self.http_idle_timeout_ms,
                100,
                3_600_000,
            )?,
            max_connections: in_range(
                "TTP_HTTP_MAX_CONNECTIONS",
                self.http_max_connections as u64,
                1,
                1_000_000,
            )? as usize,
            ui_max_streams: in_range("TTP_UI_MAX_STREAMS", self.ui_max_streams as u64, 1, 100_000)?
                as usize,
            max_inflight_body_bytes: in_range(
                "TTP_MAX_INFLIGHT_BODY_BYTES",
                self.max_inflight_body_bytes,
                self.max_body_bytes as u64,
                1 << 40,
            )?,
            api_keys_file: Some(self.api_keys_file.clone())
                .filter(|f| !f.is_empty())
                .map(Into::into),
            rate_limits: [
                self.rate_limit_submit_per_s,
                self.rate_limit_read_per_s,
                self.rate_limit_work_per_s,
                self.rate_limit_admin_per_s,
            ],
            tls: self.https_files()?,
        })
    }

    fn https_files(&self) -> Result<Option<PemPair>, ConfigError> {
        match (self.tls_cert_file.is_empty(), self.tls_key_file.is_empty()) {
            (true, true) => Ok(None),
            (false, false) => Ok(Some((
                secret::read_pem("TTP_TLS_CERT_FILE", &self.tls_cert_file)?,
                secret::read_pem("TTP_TLS_KEY_FILE", &self.tls_key_file)?,
            ))),
            _ => invalid("TTP_TLS_CERT_FILE", "give the certificate and TTP_TLS_KEY_FILE together"),
        }
    }
}

/// An entry of `TTP_CORS_ORIGINS`: `*`, or `http(s)://host[:port]`.
fn origin_ok(origin: &str) -> bool {
    let host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    origin == "*"
        || host.is_some_and(|h| {
            !h.is_empty() && !h.contains('/') && h.bytes().all(|b| b.is_ascii_graphic())
        })
}
