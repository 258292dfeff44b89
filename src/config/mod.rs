//! Configuration: one flat serde tree, layered defaults < TOML file < `TTP_*` environment
//! < command-line flags, then parsed once into typed slices ([`Settings`]) that each
//! module receives (see `settings.rs`).
//!
//! Every field carries its unit in its name (`lease_ms`, `result_ttl_s`). The names are
//! the SPEC §5 contract: `TTP_LEASE_MS` in the environment, `lease_ms` in the TOML file,
//! `--lease-ms` on the command line. Unknown names are rejected so a typo cannot silently
//! leave a default in force.

mod http;
mod push;
mod redis;
mod secret;
mod settings;

pub use secret::Secret;

pub use http::HttpSettings;
pub use push::{AllowedHosts, PushSettings, signing_key};
pub use redis::{RedisSettings, RedisTls};
pub use settings::{
    AllowedQueues, LogSettings, MAX_WAIT_MS, MIN_LEASE_MS, QueueLimits, QueueWeight, Settings,
    WorkerSettings,
};

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A configuration that cannot start: names the setting and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value could not be read or has the wrong type.
    #[error("invalid configuration: {0}")]
    Load(String),
    /// A value breaks a rule.
    #[error("invalid configuration: {setting}: {message}")]
    Invalid {
        /// The environment name of the setting, e.g. `TTP_CONCURRENCY`.
        setting: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What kind of Redis deployment ttp talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RedisMode {
    /// One Redis server (with or without replicas).
    Standalone,
    /// A Redis Cluster: `TTP_REDIS_URL` lists seed nodes, comma-separated.
    Cluster,
}

/// Every setting of a ttp process. See the README's configuration table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP listen address (`TTP_LISTEN`); port 0 picks a free port.
    pub listen: String,
    /// Redis URL (`TTP_REDIS_URL`).
    pub redis_url: String,
    /// One Redis server, or a Redis Cluster whose seed nodes `redis_url` lists
    /// (`TTP_REDIS_MODE`).
    pub redis_mode: RedisMode,
    /// Redis user (AUTH), for every node; overrides the URL's. (`TTP_REDIS_USERNAME`).
    pub redis_username: String,
    /// Redis password (AUTH), for every node; overrides the URL's. (`TTP_REDIS_PASSWORD`).
    pub redis_password: String,
    /// File holding the Redis password (a mounted secret). (`TTP_REDIS_PASSWORD_FILE`).
    pub redis_password_file: String,
    /// PEM file of the CA that signed Redis' certificate (rediss://). (`TTP_REDIS_CA_FILE`).
    pub redis_ca_file: String,
    /// PEM client certificate for mutual TLS with Redis. (`TTP_REDIS_CLIENT_CERT_FILE`).
    pub redis_client_cert_file: String,
    /// PEM private key of the Redis client certificate. (`TTP_REDIS_CLIENT_KEY_FILE`).
    pub redis_client_key_file: String,
    /// Pooled Redis connections (`TTP_REDIS_POOL_SIZE`).
    pub redis_pool_size: usize,
    /// Deadline of every Redis call (`TTP_REDIS_TIMEOUT_MS`).
    pub redis_timeout_ms: u64,
    /// Replicas that must confirm a submission (Redis `WAIT`) before it is acknowledged;
    /// 0: none (`TTP_REDIS_MIN_REPLICAS`).
    pub redis_min_replicas: u64,
    /// Namespace of every Redis key (`TTP_KEY_PREFIX`).
    pub key_prefix: String,
    /// Tasks this process runs at once (`TTP_CONCURRENCY`).
    pub concurrency: usize,
    /// Served queues and weights, `name=weight,...` (`TTP_QUEUES`).
    pub queues: String,
    /// Lease of a claimed task, renewed while it runs (`TTP_LEASE_MS`).
    pub lease_ms: u64,
    /// Longest lease an external worker may ask for (claim, heartbeat). (`TTP_LEASE_MAX_MS`).
    pub lease_max_ms: u64,
    /// Default per-attempt timeout (`TTP_TASK_TIMEOUT_MS`).
    pub task_timeout_ms: u64,
    /// Default attempts before the dead-letter list (`TTP_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// First retry delay ceiling (`TTP_BACKOFF_BASE_MS`).
    pub backoff_base_ms: u64,
    /// Largest retry delay (`TTP_BACKOFF_MAX_MS`).
    pub backoff_max_ms: u64,
    /// Retention of finished tasks and idempotency keys (`TTP_RESULT_TTL_S`).
    pub result_ttl_s: u64,
    /// Per-queue limit of waiting tasks; beyond it submissions get 429 (`TTP_MAX_QUEUE_LENGTH`).
    pub max_queue_length: u64,
    /// Per-queue cap of the dead-letter list (`TTP_DEAD_MAX`).
    pub dead_max: u64,
    /// Retention of failed tasks in the dead-letter list (`TTP_DEAD_TTL_S`).
    pub dead_ttl_s: u64,
    /// Most queues a deployment holds; a submission creating one more is a 422. (`TTP_MAX_QUEUES`).
    pub max_queues: u64,
    /// Queue names submissions may use: names or prefixes ending in *; empty: any. (`TTP_QUEUES_ALLOWED`).
    pub queues_allowed: String,
    /// Request body limit (`TTP_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Memory all requests may hold for their bodies at once (503 beyond it). (`TTP_MAX_INFLIGHT_BODY_BYTES`).
    pub max_inflight_body_bytes: u64,
    /// Deadline of a whole HTTP request, past which it gets a 503; must exceed the 30 s
    /// long-poll maximum plus a Redis deadline (`TTP_REQUEST_TIMEOUT_MS`).
    pub request_timeout_ms: u64,
    /// Longest wait for a request's headers; a slower client is disconnected. (`TTP_HTTP_HEADER_TIMEOUT_MS`).
    pub http_header_timeout_ms: u64,
    /// Longest wait for a request's body once its headers arrived (408 past it). (`TTP_HTTP_BODY_TIMEOUT_MS`).
    pub http_body_timeout_ms: u64,
    /// Idle keep-alive connections are closed after this long. (`TTP_HTTP_IDLE_TIMEOUT_MS`).
    pub http_idle_timeout_ms: u64,
    /// Most HTTP connections open at once; more wait in the listen backlog. (`TTP_HTTP_MAX_CONNECTIONS`).
    pub http_max_connections: usize,
    /// Most dashboard streams (`GET /ui/events`) open at once in this process; more get a
    /// 503. (`TTP_UI_MAX_STREAMS`).
    pub ui_max_streams: usize,
    /// Origins allowed by CORS, comma-separated, `*` for any; empty turns CORS off
    /// (`TTP_CORS_ORIGINS`).
    pub cors_origins: String,
    /// API keys, comma-separated; when set, `/tasks` and `/queues` routes need one as
    /// `Authorization: Bearer <key>` or `X-API-Key: <key>`; empty = no keys (`TTP_API_KEYS`).
    pub api_keys: String,
    /// TOML file of scoped API keys (re-read on SIGHUP). (`TTP_API_KEYS_FILE`).
    pub api_keys_file: String,
    /// Requests of the submit scope one key (or client IP) may make per second; 0 = off. (`TTP_RATE_LIMIT_SUBMIT_PER_S`).
    pub rate_limit_submit_per_s: u32,
    /// Requests of the read scope one key (or client IP) may make per second; 0 = off. (`TTP_RATE_LIMIT_READ_PER_S`).
    pub rate_limit_read_per_s: u32,
    /// Requests of the work scope one key (or client IP) may make per second; 0 = off. (`TTP_RATE_LIMIT_WORK_PER_S`).
    pub rate_limit_work_per_s: u32,
    /// Requests of the admin scope one key (or client IP) may make per second; 0 = off. (`TTP_RATE_LIMIT_ADMIN_PER_S`).
    pub rate_limit_admin_per_s: u32,
    /// PEM certificate chain to serve HTTPS directly (with TTP_TLS_KEY_FILE). (`TTP_TLS_CERT_FILE`).
    pub tls_cert_file: String,
    /// PEM private key of the HTTPS certificate. (`TTP_TLS_KEY_FILE`).
    pub tls_key_file: String,
    /// Hosts the `http` kind may call: names, IPs or `*.suffix`, comma-separated; empty: none. (`TTP_HTTP_ALLOWED_HOSTS`).
    pub http_allowed_hosts: String,
    /// Signing secret of the `http` kind's requests, `whsec_<base64>`. (`TTP_HTTP_SIGNING_SECRET`).
    pub http_signing_secret: String,
    /// File holding the `http` kind's signing secret (a mounted secret). (`TTP_HTTP_SIGNING_SECRET_FILE`).
    pub http_signing_secret_file: String,
    /// Time running tasks get to finish after SIGTERM (`TTP_SHUTDOWN_GRACE_MS`).
    pub shutdown_grace_ms: u64,
    /// `on` or `off`: whether a process that runs workers fires schedules (`TTP_SCHEDULER`).
    pub scheduler: String,
    /// `[[schedules]]` tables of the TOML file: a `name` and the body of
    /// `PUT /schedules/{name}` each, upserted at start-up (TOML only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<serde_json::Value>,
    /// Log filter, e.g. `info` or `ttp=debug` (`TTP_LOG`).
    pub log: String,
    /// `text` or `json` (`TTP_LOG_FORMAT`).
    pub log_format: LogFormat,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_mode: RedisMode::Standalone,
            redis_username: String::new(),
            redis_password: String::new(),
            redis_password_file: String::new(),
            redis_ca_file: String::new(),
            redis_client_cert_file: String::new(),
            redis_client_key_file: String::new(),
            redis_pool_size: 32,
            redis_timeout_ms: 1000,
            redis_min_replicas: 0,
            key_prefix: "ttp".into(),
            concurrency: 4,
            queues: "default=1".into(),
            lease_ms: 30_000,
            lease_max_ms: 600_000,
            task_timeout_ms: 30_000,
            max_attempts: 3,
            backoff_base_ms: 1000,
            backoff_max_ms: 300_000,
            result_ttl_s: 86_400,
            max_queue_length: 1_000_000,
            dead_max: 10_000,
            dead_ttl_s: 604_800,
            max_queues: 1000,
            queues_allowed: String::new(),
            max_body_bytes: 1_048_576,
            max_inflight_body_bytes: 64 * 1024 * 1024,
            request_timeout_ms: 35_000,
            http_header_timeout_ms: 10_000,
            http_body_timeout_ms: 30_000,
            http_idle_timeout_ms: 60_000,
            http_max_connections: 10_000,
            ui_max_streams: 100,
            cors_origins: String::new(),
            api_keys: String::new(),
            api_keys_file: String::new(),
            rate_limit_submit_per_s: 0,
            rate_limit_read_per_s: 0,
            rate_limit_work_per_s: 0,
            rate_limit_admin_per_s: 0,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            http_allowed_hosts: String::new(),
            http_signing_secret: String::new(),
            http_signing_secret_file: String::new(),
            shutdown_grace_ms: 30_000,
            scheduler: "on".into(),
            schedules: Vec::new(),
            log: "info".into(),
            log_format: LogFormat::Text,
        }
    }
}

impl Config {
    /// Layers defaults < `file` (if given) < `TTP_*` environment < `overrides` (flags),
    /// then validates.
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Load(format!(
                    "--config: no such file {}",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let config: Config = figment
            .merge(Env::prefixed("TTP_").filter(|key| is_setting(key.as_str())))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError::Load(one_line(&e)))?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration as TOML (the file format), with every secret shown as
    /// `[redacted]`: the API keys, the Redis password (and one in the URL), the push
    /// signing secret.
    pub fn redacted_toml(&self) -> Result<String, ConfigError> {
        let mut shown = self.clone();
        let redact = |value: &mut String| {
            if !value.is_empty() {
                *value = "[redacted]".into();
            }
        };
        redact(&mut shown.api_keys);
        redact(&mut shown.redis_password);
        redact(&mut shown.http_signing_secret);
        shown.redis_url = secret::redact_url(&shown.redis_url);
        toml::to_string(&shown).map_err(|e| ConfigError::Load(e.to_string()))
    }

    /// Checks every rule; the error names the first setting that breaks one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.settings().map(drop)
    }
}

/// Whether `name` (lower case, no prefix) is a setting: other `TTP_*` variables (used by
/// scripts and tools around ttp) are ignored, and reported by [`unknown_env_vars`].
fn is_setting(name: &str) -> bool {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(fields)) => fields.contains_key(&name.to_ascii_lowercase()),
        _ => false,
    }
}

/// `TTP_*` environment variables that name no setting (likely typos); `main` warns.
pub fn unknown_env_vars() -> Vec<String> {
    std::env::vars()
        .filter_map(|(name, _)| {
            let setting = name.strip_prefix("TTP_")?;
            (!is_setting(setting)).then_some(name)
        })
        .collect()
}

fn one_line(error: &figment::Error) -> String {
    error
        .clone()
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = e.metadata.as_ref().map(|m| {
                let name = m.name.to_string();
                match &m.source {
                    Some(src) => format!(" (from {name} {src})"),
                    None => format!(" (from {name})"),
                }
            });
            let key = if key.is_empty() { String::new() } else { format!("{}: ", env_name(&key)) };
            format!("{key}{}{}", e.kind, source.unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn env_name(key: &str) -> String {
    format!("TTP_{}", key.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn example_file_lists_the_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ttp.example.toml");
        let from_file: Config = Figment::from(Toml::file_exact(path)).extract().unwrap();
        assert_eq!(from_file, Config::default());
    }

    #[test]
    fn schedules_come_from_toml_tables() {
        let toml =
            "[[schedules]]\nname = \"rollup\"\ncron = \"@hourly\"\ntask = { kind = \"noop\" }\n";
        let config: Config = Figment::from(Toml::string(toml)).extract().unwrap();
        let expected =
            serde_json::json!({"name": "rollup", "cron": "@hourly", "task": {"kind": "noop"}});
        assert_eq!(config.schedules, [expected]);
        config.validate().unwrap();
    }

    #[test]
    fn printed_configuration_redacts_every_secret() {
        let config = Config {
            api_keys: "key-aaaaaaaaaaaaaaaa".into(),
            redis_password: "redis-pw".into(),
            redis_url: "redis://u:url-pw@h:6379".into(),
            http_signing_secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            ..Config::default()
        };
        let printed = config.redacted_toml().unwrap();
        for secret in ["key-aaaa", "redis-pw", "url-pw", "whsec_"] {
            assert!(!printed.contains(secret), "{secret} shown in {printed}");
        }
        assert!(printed.contains("http_signing_secret = \"[redacted]\""), "{printed}");
    }

    #[test]
    fn queue_weights_parse() {
        let config = Config { queues: "critical=6, default=3,low".into(), ..Config::default() };
        let weights: Vec<(String, u32)> = config
            .queue_weights()
            .unwrap()
            .into_iter()
            .map(|w| (w.name.to_string(), w.weight))
            .collect();
        assert_eq!(weights, [("critical".into(), 6), ("default".into(), 3), ("low".into(), 1)]);
    }

    #[test]
    fn invalid_values_name_their_setting() {
        let cases = [
            Config { concurrency: 0, ..Config::default() },
            Config { queues: "Bad".into(), ..Config::default() },
            Config { backoff_base_ms: 10, backoff_max_ms: 5, ..Config::default() },
            Config { listen: "nowhere".into(), ..Config::default() },
            Config { request_timeout_ms: 30_000, ..Config::default() },
            Config { cors_origins: "https://ok.example, example.com".into(), ..Config::default() },
        ];
        let settings: Vec<String> = cases
            .iter()
            .map(|c| match c.validate() {
                Err(ConfigError::Invalid { setting, .. }) => setting.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            settings,
            [
                "TTP_CONCURRENCY",
                "TTP_QUEUES",
                "TTP_BACKOFF_BASE_MS",
                "TTP_LISTEN",
                "TTP_REQUEST_TIMEOUT_MS",
                "TTP_CORS_ORIGINS"
            ]
        );
    }
}
