//! The command line: subcommands for each role and a flag for every setting. Flags are
//! the top layer of the configuration (defaults < file < environment < flags).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::config::{LogFormat, RedisMode};

/// ttp — an HTTP/JSON task queue on Redis with embedded workers.
#[derive(Debug, Parser)]
#[command(name = "ttp", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file (same names as the TTP_* variables, lower case, no prefix).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API and the workers.
    Serve {
        /// Serve the API only; run workers elsewhere with `ttp worker`.
        #[arg(long)]
        no_workers: bool,
        /// Settings.
        #[command(flatten)]
        settings: Overrides,
    },
    /// Run workers only, without the HTTP API.
    Worker {
        /// Settings.
        #[command(flatten)]
        settings: Overrides,
    },
    /// Load-test a running ttp (the tool behind `make bench`).
    Bench(crate::bench::BenchArgs),
    /// Print the OpenAPI 3.1 document (JSON; `--yaml` for YAML) and exit.
    Openapi {
        /// Print YAML instead of JSON.
        #[arg(long)]
        yaml: bool,
        /// Print the variant for spec-driven fuzzing (`make api-fuzz`): the task request
        /// as one variant per kind with its exact payload rules, instead of one open schema;
        /// leases bounded by the default TTP_LEASE_MAX_MS; claims without `wait_ms`.
        #[arg(long)]
        fuzz: bool,
    },
    /// Manage API keys.
    Keys {
        /// What to do.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Check the configuration (file, environment and these flags); `--print` shows the
    /// effective settings as TOML, secrets redacted.
    Config {
        /// Print the effective configuration.
        #[arg(long)]
        print: bool,
        /// Settings.
        #[command(flatten)]
        settings: Overrides,
    },
}

/// `ttp keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new key: prints its secret (once; it is stored nowhere) and the
    /// `[[key]]` entry to add to the file named by TTP_API_KEYS_FILE.
    New {
        /// The key's id (logged, and the label of its rate-limit metric).
        #[arg(long)]
        id: String,
        /// Comma-separated scopes: submit, read, work, admin.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Comma-separated queues the key may touch, or * for all.
        #[arg(long, value_delimiter = ',', required = true)]
        queues: Vec<String>,
    },
}

/// One optional flag per setting; only the flags given override lower layers.
#[derive(Debug, Default, Args, Serialize)]
pub struct Overrides {
    /// HTTP listen address [env: TTP_LISTEN] [default: 0.0.0.0:8080].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Redis URL [env: TTP_REDIS_URL] [default: redis://127.0.0.1:6379].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// Redis deployment: `standalone` (one server) or `cluster` (a Redis Cluster; TTP_REDIS_URL lists seed nodes, comma-separated) [env: TTP_REDIS_MODE] [default: standalone].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_mode: Option<RedisMode>,
    /// Redis user (AUTH), for every node; overrides the URL's [env: TTP_REDIS_USERNAME] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_username: Option<String>,
    /// Redis password (AUTH), for every node; overrides the URL's [env: TTP_REDIS_PASSWORD] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_password: Option<String>,
    /// File holding the Redis password (a mounted secret) [env: TTP_REDIS_PASSWORD_FILE] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_password_file: Option<String>,
    /// PEM file of the CA that signed Redis' certificate (rediss://) [env: TTP_REDIS_CA_FILE] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_ca_file: Option<String>,
    /// PEM client certificate for mutual TLS with Redis [env: TTP_REDIS_CLIENT_CERT_FILE] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_client_cert_file: Option<String>,
    /// PEM private key of the Redis client certificate [env: TTP_REDIS_CLIENT_KEY_FILE] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_client_key_file: Option<String>,
    /// Pooled Redis connections [env: TTP_REDIS_POOL_SIZE] [default: 32].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_pool_size: Option<usize>,
    /// Deadline of every Redis call [env: TTP_REDIS_TIMEOUT_MS] [default: 1000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_timeout_ms: Option<u64>,
    /// Replicas that must confirm a submission (Redis WAIT) before it is acknowledged; 0: none [env: TTP_REDIS_MIN_REPLICAS] [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_min_replicas: Option<u64>,
    /// Namespace of every Redis key [env: TTP_KEY_PREFIX] [default: ttp].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    /// Tasks this process runs at once [env: TTP_CONCURRENCY] [default: 4].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Served queues and weights, e.g. critical=6,default=3 [env: TTP_QUEUES] [default: default=1].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queues: Option<String>,
    /// Lease of a claimed task [env: TTP_LEASE_MS] [default: 30000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_ms: Option<u64>,
    /// Longest lease an external worker may ask for (claim, heartbeat) [env: TTP_LEASE_MAX_MS] [default: 600000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_max_ms: Option<u64>,
    /// Default per-attempt timeout [env: TTP_TASK_TIMEOUT_MS] [default: 30000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_timeout_ms: Option<u64>,
    /// Default attempts [env: TTP_MAX_ATTEMPTS] [default: 3].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// First retry delay ceiling [env: TTP_BACKOFF_BASE_MS] [default: 1000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_base_ms: Option<u64>,
    /// Largest retry delay [env: TTP_BACKOFF_MAX_MS] [default: 300000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_max_ms: Option<u64>,
    /// Retention of finished tasks [env: TTP_RESULT_TTL_S] [default: 86400].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_ttl_s: Option<u64>,
    /// Per-queue limit of waiting tasks [env: TTP_MAX_QUEUE_LENGTH] [default: 1000000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_queue_length: Option<u64>,
    /// Per-queue dead-letter cap [env: TTP_DEAD_MAX] [default: 10000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_max: Option<u64>,
    /// Dead-letter retention [env: TTP_DEAD_TTL_S] [default: 604800].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_ttl_s: Option<u64>,
    /// Most queues a deployment holds; a submission creating one more is a 422 [env: TTP_MAX_QUEUES] [default: 1000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_queues: Option<u64>,
    /// Queue names submissions may use: names or prefixes ending in *; empty: any [env: TTP_QUEUES_ALLOWED] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queues_allowed: Option<String>,
    /// Request body limit [env: TTP_MAX_BODY_BYTES] [default: 1048576].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// Memory all requests may hold for their bodies at once (503 beyond it) [env: TTP_MAX_INFLIGHT_BODY_BYTES] [default: 67108864].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_inflight_body_bytes: Option<u64>,
    /// Deadline of an HTTP request [env: TTP_REQUEST_TIMEOUT_MS] [default: 35000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// Longest wait for a request's headers; a slower client is disconnected [env: TTP_HTTP_HEADER_TIMEOUT_MS] [default: 10000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_header_timeout_ms: Option<u64>,
    /// Longest wait for a request's body once its headers arrived (408 past it) [env: TTP_HTTP_BODY_TIMEOUT_MS] [default: 30000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_body_timeout_ms: Option<u64>,
    /// Idle keep-alive connections are closed after this long [env: TTP_HTTP_IDLE_TIMEOUT_MS] [default: 60000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_idle_timeout_ms: Option<u64>,
    /// Most HTTP connections open at once; more wait in the listen backlog [env: TTP_HTTP_MAX_CONNECTIONS] [default: 10000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_max_connections: Option<usize>,
    /// Most dashboard streams (GET /ui/events) open at once; more get a 503 [env: TTP_UI_MAX_STREAMS] [default: 100].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ui_max_streams: Option<usize>,
    /// CORS origins, comma-separated, * for any; empty = off [env: TTP_CORS_ORIGINS] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors_origins: Option<String>,
    /// API keys, comma-separated; empty = open API [env: TTP_API_KEYS] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_keys: Option<String>,
    /// TOML file of scoped API keys (re-read on SIGHUP) [env: TTP_API_KEYS_FILE] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_keys_file: Option<String>,
    /// Requests of the submit scope one key (or client IP) may make per second; 0 = off [env: TTP_RATE_LIMIT_SUBMIT_PER_S] [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_submit_per_s: Option<u32>,
    /// Requests of the read scope one key (or client IP) may make per second; 0 = off [env: TTP_RATE_LIMIT_READ_PER_S] [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_read_per_s: Option<u32>,
    /// Requests of the work scope one key (or client IP) may make per second; 0 = off [env: TTP_RATE_LIMIT_WORK_PER_S] [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_work_per_s: Option<u32>,
    /// Requests of the admin scope one key (or client IP) may make per second; 0 = off [env: TTP_RATE_LIMIT_ADMIN_PER_S] [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_admin_per_s: Option<u32>,
    /// PEM certificate chain to serve HTTPS directly (with TTP_TLS_KEY_FILE) [env: TTP_TLS_CERT_FILE] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_file: Option<String>,
    /// PEM private key of the HTTPS certificate [env: TTP_TLS_KEY_FILE] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key_file: Option<String>,
    /// Hosts the `http` kind may call: names, IPs or *.suffix, comma-separated; empty = none [env: TTP_HTTP_ALLOWED_HOSTS] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_allowed_hosts: Option<String>,
    /// Signing secret of the `http` kind's requests, whsec_<base64> [env: TTP_HTTP_SIGNING_SECRET] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_signing_secret: Option<String>,
    /// File holding the `http` kind's signing secret (a mounted secret) [env: TTP_HTTP_SIGNING_SECRET_FILE] [default: ""].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_signing_secret_file: Option<String>,
    /// Shutdown grace [env: TTP_SHUTDOWN_GRACE_MS] [default: 30000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_grace_ms: Option<u64>,
    /// Whether a process that runs workers fires schedules: on or off [env: TTP_SCHEDULER] [default: on].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    /// Log filter [env: TTP_LOG] [default: info].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Log format [env: TTP_LOG_FORMAT] [default: text].
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use serde_json::Value;

    use super::*;
    use crate::config::Config;

    /// Every setting has a flag whose help names its variable and its real default, and
    /// every settings flag is a setting: the CLI cannot drift from `Config`.
    #[test]
    fn flags_match_the_settings_and_their_defaults() {
        let Value::Object(defaults) = serde_json::to_value(Config::default()).unwrap() else {
            panic!("Config is a struct")
        };
        let command = Cli::command();
        let serve = command.find_subcommand("serve").unwrap();
        for (name, value) in &defaults {
            let flag = name.replace('_', "-");
            let arg = serve.get_arguments().find(|a| a.get_long() == Some(flag.as_str()));
            let help = arg.and_then(|a| a.get_help()).map(ToString::to_string);
            let help = help.unwrap_or_else(|| panic!("no --{flag} flag with help"));
            let env = format!("[env: TTP_{}]", name.to_ascii_uppercase());
            assert!(help.contains(&env), "--{flag}: {help:?} does not name {env}");
            let default = match value {
                Value::String(s) if s.is_empty() => "\"\"".to_owned(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let shown = format!("[default: {default}]");
            assert!(help.contains(&shown), "--{flag}: {help:?} does not show {shown}");
        }
        for arg in serve.get_arguments().filter_map(|a| a.get_long()) {
            let known = defaults.contains_key(&arg.replace('-', "_"));
            assert!(known || ["no-workers", "config"].contains(&arg), "--{arg} is no setting");
        }
    }
}
