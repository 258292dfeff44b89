//! The configuration parsed once into typed slices, one per part of the process, each
//! checked by its own rules. Only `app`, `main` and `cli` see the flat [`Config`]; every
//! other module receives its slice (the HTTP server its [`HttpSettings`], the queue its
//! [`RedisSettings`] and [`QueueLimits`], the workers their [`WorkerSettings`]).

use std::time::Duration;

use super::{Config, ConfigError, HttpSettings, LogFormat, PushSettings, RedisSettings};
use crate::task::{QueueName, RetryPolicy, TaskDefaults};

/// Longest long-poll of `GET /tasks/{id}?wait_ms=` (SPEC §2); the request deadline must
/// exceed it.
pub const MAX_WAIT_MS: u64 = 30_000;

/// Shortest lease a worker of the lease API may take (`lease_ms`, SPEC §9); reapers look
/// for expired leases at least this often, so a short lease is taken back on time.
pub const MIN_LEASE_MS: u64 = 1_000;

/// Every slice of a valid configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The HTTP server.
    pub http: HttpSettings,
    /// The Redis connections and key namespace.
    pub redis: RedisSettings,
    /// Limits the queue enforces on every write.
    pub limits: QueueLimits,
    /// The workers.
    pub worker: WorkerSettings,
    /// Defaults for fields a submission leaves out.
    pub tasks: TaskDefaults,
    /// Logging.
    pub logging: LogSettings,
    /// The queue names submissions may use.
    pub allowed_queues: AllowedQueues,
    /// The `http` kind: allowed hosts and signing key.
    pub push: PushSettings,
    /// Fire schedules (in a process that runs workers).
    pub scheduler: bool,
    /// `[[schedules]]` of the TOML file, upserted at start-up.
    pub schedules: Vec<serde_json::Value>,
}

/// Limits the queue enforces on every write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Waiting tasks per queue.
    pub max_queue_length: u64,
    /// Dead letters kept per queue.
    pub dead_max: u64,
    /// Dead-letter retention, s.
    pub dead_ttl_s: u64,
    /// Most queues the deployment holds.
    pub max_queues: u64,
}

/// A served queue and its weight (its share of claims when several have work).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueWeight {
    /// The queue.
    pub name: QueueName,
    /// Relative weight, ≥ 1.
    pub weight: u32,
}

/// What the workers of one process do.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Served queues and weights.
    pub queues: Vec<QueueWeight>,
    /// Tasks run at once.
    pub concurrency: usize,
    /// Lease of a claimed task.
    pub lease: Duration,
    /// Retry backoff.
    pub retry: RetryPolicy,
    /// Time running tasks get at shutdown.
    pub grace: Duration,
    /// Longest lease an external worker may ask for.
    pub lease_max: Duration,
}

impl WorkerSettings {
    /// The names of the served queues.
    pub fn queue_names(&self) -> Vec<QueueName> {
        self.queues.iter().map(|q| q.name.clone()).collect()
    }
}

/// The queue names submissions may use: exact names and prefixes (`reports-*`); empty
/// allows any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedQueues(Vec<String>);

impl AllowedQueues {
    /// Whether `queue` may receive submissions.
    pub fn allows(&self, queue: &QueueName) -> bool {
        self.0.is_empty()
            || self.0.iter().any(|rule| match rule.strip_suffix('*') {
                Some(prefix) => queue.as_str().starts_with(prefix),
                None => rule == queue.as_str(),
            })
    }
}

/// Logging.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// The filter, e.g. `info` or `ttp=debug`.
    pub filter: String,
    /// Text or JSON lines.
    pub format: LogFormat,
}

pub(super) fn invalid<T>(
    setting: &'static str,
    message: impl Into<String>,
) -> Result<T, ConfigError> {
    Err(ConfigError::Invalid { setting, message: message.into() })
}

/// Checks `value` is within `min..=max`.
pub(super) fn in_range(
    setting: &'static str,
    value: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        invalid(setting, format!("must be {min}..={max}, got {value}"))
    }
}

/// A comma-separated list, trimmed, without empty entries.
pub(super) fn list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

impl Config {
    /// Every slice, checked; the error names the first setting that breaks a rule.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let redis = self.redis_settings()?;
        let limits = self.queue_limits()?;
        let worker = self.worker_settings()?;
        let tasks = self.task_defaults()?;
        let http = self.http_settings(redis.timeout)?;
        let logging = self.log_settings()?;
        let allowed_queues = self.allowed_queues()?;
        let push = self.push_settings()?;
        let scheduler = match self.scheduler.as_str() {
            "on" => true,
            "off" => false,
            other => return invalid("TTP_SCHEDULER", format!("must be on or off, got {other:?}")),
        };
        Ok(Settings {
            http,
            redis,
            limits,
            worker,
            tasks,
            logging,
            allowed_queues,
            push,
            scheduler,
            schedules: self.schedules.clone(),
        })
    }

    fn queue_limits(&self) -> Result<QueueLimits, ConfigError> {
        Ok(QueueLimits {
            max_queue_length: in_range("TTP_MAX_QUEUE_LENGTH", self.max_queue_length, 1, 1 << 40)?,
            dead_max: in_range("TTP_DEAD_MAX", self.dead_max, 1, 1 << 32)?,
            dead_ttl_s: in_range("TTP_DEAD_TTL_S", self.dead_ttl_s, 1, 366 * 86_400)?,
            max_queues: in_range("TTP_MAX_QUEUES", self.max_queues, 1, 100_000)?,
        })
    }

    fn allowed_queues(&self) -> Result<AllowedQueues, ConfigError> {
        let rules = list(&self.queues_allowed);
        for rule in &rules {
            let name = rule.strip_suffix('*').unwrap_or(rule);
            let ok = name.is_empty() && rule == "*" || QueueName::parse(name).is_ok();
            if !ok {
                return invalid(
                    "TTP_QUEUES_ALLOWED",
                    format!("{rule:?} is not a queue name or a prefix ending in *"),
                );
            }
        }
        Ok(AllowedQueues(rules))
    }

    fn worker_settings(&self) -> Result<WorkerSettings, ConfigError> {
        const DAY_MS: u64 = 24 * 3_600_000;
        let base_ms = in_range("TTP_BACKOFF_BASE_MS", self.backoff_base_ms, 0, DAY_MS)?;
        let max_ms = in_range("TTP_BACKOFF_MAX_MS", self.backoff_max_ms, 0, 7 * DAY_MS)?;
        if base_ms > max_ms {
            return invalid(
                "TTP_BACKOFF_BASE_MS",
                format!("{base_ms} exceeds TTP_BACKOFF_MAX_MS {max_ms}"),
            );
        }
        Ok(WorkerSettings {
            queues: self.queue_weights()?,
            concurrency: in_range("TTP_CONCURRENCY", self.concurrency as u64, 1, 10_000)? as usize,
            lease: Duration::from_millis(in_range("TTP_LEASE_MS", self.lease_ms, 100, DAY_MS)?),
            retry: RetryPolicy { base_ms, max_ms },
            grace: Duration::from_millis(in_range(
                "TTP_SHUTDOWN_GRACE_MS",
                self.shutdown_grace_ms,
                0,
                3_600_000,
            )?),
            lease_max: Duration::from_millis(in_range(
                "TTP_LEASE_MAX_MS",
                self.lease_max_ms,
                1000,
                DAY_MS,
            )?),
        })
    }

    fn task_defaults(&self) -> Result<TaskDefaults, ConfigError> {
        Ok(TaskDefaults {
            max_attempts: in_range("TTP_MAX_ATTEMPTS", u64::from(self.max_attempts), 1, 100)?
                as u32,
            timeout_ms: in_range("TTP_TASK_TIMEOUT_MS", self.task_timeout_ms, 1, 24 * 3_600_000)?,
            result_ttl_s: in_range("TTP_RESULT_TTL_S", self.result_ttl_s, 1, 366 * 86_400)?,
        })
    }

    fn log_settings(&self) -> Result<LogSettings, ConfigError> {
        if tracing_subscriber::EnvFilter::try_new(&self.log).is_err() {
            return invalid(
                "TTP_LOG",
                format!("{:?} is not a log filter like info or ttp=debug", self.log),
            );
        }
        Ok(LogSettings { filter: self.log.clone(), format: self.log_format })
    }

    /// The served queues with their weights, parsed from `queues`.
    pub fn queue_weights(&self) -> Result<Vec<QueueWeight>, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { setting: "TTP_QUEUES", message };
        let mut weights: Vec<QueueWeight> = Vec::new();
        for item in list(&self.queues) {
            let (name, weight) = item.split_once('=').unwrap_or((&item, "1"));
            let name = QueueName::parse(name.trim()).map_err(|e| invalid(e.message))?;
            let weight = weight.trim().parse::<u32>().ok().filter(|w| (1..=1000).contains(w));
            let weight =
                weight.ok_or_else(|| invalid(format!("weight of {name} must be 1..=1000")))?;
            if weights.iter().any(|w| w.name == name) {
                return Err(invalid(format!("{name} is listed twice")));
            }
            weights.push(QueueWeight { name, weight });
        }
        if weights.is_empty() {
            return Err(invalid("must name at least one queue, e.g. default=1".into()));
        }
        Ok(weights)
    }
}
