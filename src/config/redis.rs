//! Redis' slice of the configuration: the mode (one server or a cluster), the URL (a
//! cluster's seed nodes), credentials (a password from a file, if wanted), TLS
//! certificates and replication safety, all checked and read at start-up.

use std::time::Duration;

use super::secret::{self, Secret};
use super::settings::{in_range, invalid};
use super::{Config, ConfigError, RedisMode};

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// One server or a cluster.
    pub mode: RedisMode,
    /// The URL; in cluster mode the seed nodes' URLs, comma-separated.
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
    /// Replicas that must confirm a submission (`WAIT`) before it is acknowledged.
    pub min_replicas: u64,
}

impl RedisSettings {
    /// The URLs of the seed nodes (in standalone mode, the one URL).
    pub fn urls(&self) -> Vec<&str> {
        self.url.split(',').map(str::trim).filter(|u| !u.is_empty()).collect()
    }
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
        self.check_redis_urls()?;
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
            min_replicas: in_range("TTP_REDIS_MIN_REPLICAS", self.redis_min_replicas, 0, 16)?,
            mode: self.redis_mode,
        })
    }

    /// One usable URL in standalone mode; in cluster mode one or more TCP URLs (no unix
    /// sockets: cluster nodes announce TCP addresses), all with the same scheme.
    fn check_redis_urls(&self) -> Result<(), ConfigError> {
        let urls: Vec<&str> = self.redis_url.split(',').map(str::trim).collect();
        let schemes: &[&str] = match self.redis_mode {
            RedisMode::Standalone => &["redis://", "rediss://", "redis+unix://", "unix://"],
            RedisMode::Cluster => &["redis://", "rediss://"],
        };
        if self.redis_mode == RedisMode::Standalone && urls.len() > 1 {
            return invalid(
                "TTP_REDIS_URL",
                "lists several URLs; that is for TTP_REDIS_MODE=cluster (one URL per seed node)",
            );
        }
        for url in &urls {
            if !schemes.iter().any(|s| url.starts_with(s)) {
                let (url, allowed) = (secret::redact_url(url), schemes.join(", "));
                return invalid(
                    "TTP_REDIS_URL",
                    format!("{url:?} must start with one of {allowed}"),
                );
            }
            if let Err(e) = redis::Client::open(*url) {
                return invalid("TTP_REDIS_URL", format!("not a usable Redis URL: {e}"));
            }
        }
        let tls = |url: &&str| url.starts_with("rediss://");
        if urls.iter().any(tls) && !urls.iter().all(tls) {
            return invalid("TTP_REDIS_URL", "mixes redis:// and rediss:// seed nodes");
        }
        Ok(())
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
