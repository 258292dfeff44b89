//! Redis' slice of the configuration: the URL, credentials (a password from a file, if
//! wanted) and TLS certificates, all checked and read at start-up.

use std::time::Duration;

use super::secret::{self, Secret};
use super::settings::{in_range, invalid};
use super::{Config, ConfigError};

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// The URL.
    pub url: String,
    /// The user for `AUTH`, overriding the URL's.
    pub username: Option<String>,
    /// The password for `AUTH`, overriding the URL's.
    pub password: Option<Secret>,
    /// Certificates for `rediss://`.
    pub tls: RedisTls,
    /// Shared multiplexed connections.
    pub pool_size: usize,
    /// Deadline of every call.
    pub timeout: Duration,
    /// Namespace of every key.
    pub key_prefix: String,
}

/// Certificates for TLS to Redis (PEM bytes, read at start-up).
#[derive(Debug, Clone, Default)]
pub struct RedisTls {
    /// The CA that signed Redis' certificate; `None` trusts the public web roots.
    pub ca: Option<Vec<u8>>,
    /// A client certificate and its key, for mutual TLS.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl Config {
    pub(super) fn redis_settings(&self) -> Result<RedisSettings, ConfigError> {
        let scheme_ok = ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .any(|s| self.redis_url.starts_with(s));
        if !scheme_ok {
            return invalid("TTP_REDIS_URL", "must be a redis://, rediss:// or redis+unix:// URL");
        }
        if let Err(e) = redis::Client::open(self.redis_url.as_str()) {
            return invalid("TTP_REDIS_URL", format!("not a usable Redis URL: {e}"));
        }
        let tls = self.redis_tls()?;
        let prefix_ok = !self.key_prefix.is_empty()
            && self.key_prefix.len() <= 64
            && !self.key_prefix.contains(['{', '}', ' ', ':']);
        if !prefix_ok {
            return invalid(
                "TTP_KEY_PREFIX",
                "must be 1..=64 characters without '{', '}', ':' or spaces",
            );
        }
        let password =
            secret::resolve("TTP_REDIS_PASSWORD", &self.redis_password, &self.redis_password_file)?;
        Ok(RedisSettings {
            url: self.redis_url.clone(),
            username: Some(self.redis_username.clone()).filter(|u| !u.is_empty()),
            password: Some(password).filter(|p| !p.is_empty()),
            tls,
            pool_size: in_range("TTP_REDIS_POOL_SIZE", self.redis_pool_size as u64, 1, 1024)?
                as usize,
            timeout: Duration::from_millis(in_range(
                "TTP_REDIS_TIMEOUT_MS",
                self.redis_timeout_ms,
                10,
                60_000,
            )?),
            key_prefix: self.key_prefix.clone(),
        })
    }

    fn redis_tls(&self) -> Result<RedisTls, ConfigError> {
        let pem = |setting, path: &str| {
            (!path.is_empty()).then(|| secret::read_pem(setting, path)).transpose()
        };
        let ca = pem("TTP_REDIS_CA_FILE", &self.redis_ca_file)?;
        let cert = pem("TTP_REDIS_CLIENT_CERT_FILE", &self.redis_client_cert_file)?;
        let key = pem("TTP_REDIS_CLIENT_KEY_FILE", &self.redis_client_key_file)?;
        let client = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return invalid(
                    "TTP_REDIS_CLIENT_CERT_FILE",
                    "give the client certificate and TTP_REDIS_CLIENT_KEY_FILE together",
                );
            }
        };
        let tls = RedisTls { ca, client };
        if (tls.ca.is_some() || tls.client.is_some()) && !self.redis_url.starts_with("rediss://") {
            return invalid(
                "TTP_REDIS_CA_FILE",
                "certificates are set but TTP_REDIS_URL is not rediss://",
            );
        }
        Ok(tls)
    }
}
