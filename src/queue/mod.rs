//! The queue: the only module that talks to Redis. Each state transition that touches
//! more than one key is one Lua script (see `lua/`), so a crash between two commands can
//! never leave a task half-moved.
//!
//! # Key layout
//! `P` is `TTP_KEY_PREFIX`, `q` the queue name; `{q}` is the Redis Cluster hash tag, so all
//! keys of a queue live in one slot and every script runs on a cluster. Scripts get every
//! key in `KEYS`, with one exception: `claim.lua` learns the ids of the tasks it takes by
//! popping them, so it forms their hashes from the queue's task prefix (`KEYS[7]`, made by
//! `Keys::task_prefix`) — inside the queue's hash tag, hence in the same slot.
//!
//! | key | type | contents | written by | read by | TTL |
//! |---|---|---|---|---|---|
//! | `P:{q}:task:<id>` | hash | `b` body: priority, max attempts, timeout, result TTL, created, kind, payload (`body.rs`; written once); `s` state, `a` attempts ended, `r` run_at, `t` started, `f` finished, `o` result, `e` error, `sched` schedule (`fields.rs`) | enqueue, settle, promote, cancel, revive; deleted by remove | GET /tasks, workers | none while live; `ttl` (result TTL) once succeeded, `TTP_DEAD_TTL_S` once failed |
//! | `P:{q}:pending` | zset | ready task ids, score `(9 - prio)·2^42 + seq` | enqueue, promote, settle (requeue/release) | claim | none (bounded by `TTP_MAX_QUEUE_LENGTH`) |
//! | `P:{q}:scheduled` | zset | ids waiting for a delay or retry backoff, score = due ms | enqueue, settle (retry) | promote | none (bounded likewise) |
//! | `P:{q}:leased` | zset | running ids, score = lease deadline ms | claim, renew (fenced by claim token), settle | reaper, GET /tasks | none (≤ running tasks) |
//! | `P:{q}:started` | hash | running id → `<claim token> <start ms>` | claim, settle | GET /tasks, reaper, settle (fence) | none (≤ running tasks) |
//! | `P:{q}:dead` | zset | failed ids, score = failure ms | settle (fail); revive, remove take ids out | dead-letter list | trimmed to `TTP_DEAD_MAX` and `TTP_DEAD_TTL_S` on every write |
//! | `P:{q}:dead:<kind>` | zset | the same entries, one set per kind (a filtered listing reads only what it returns) | settle (fail); revive, remove take ids out | dead-letter list by kind | trimmed likewise |
//! | `P:{q}:seq` | string | FIFO sequence and claim-token counter | enqueue, promote, claim, revive | sweeper (idle check) | none |
//! | `P:{q}:flow` | hash | `in` (tasks stored: submitted, replayed), `out` (tasks finished: succeeded, failed, cancelled); one HINCRBY per script call | enqueue, revive (`in`), settle, cancel (`out`) | dashboard (rates = deltas) | none |
//! | `P:{q}:wake` | list | ≤ 1 token: ready work exists | enqueue, claim, promote, settle | idle workers (BLPOP) | none (≤ 1 element) |
//! | `P:{q}:timer` | list | ≤ 1 token: something was scheduled | enqueue, settle (retry) | promoters (BLPOP) | none (≤ 1 element) |
//! | `P:{q}:idem:<key>` | string | `<task id>` newline `<sha1 of the request>` | enqueue | enqueue | the task's result TTL |
//! | `P:{q}:paused` | string | present while paused | pause/resume | claim | none |
//! | `P:{q}:finished` | sharded pub/sub channel | ids of the queue's tasks that just finished or were removed (`SPUBLISH`) | settle, cancel, remove | long-poll waiters (`SSUBSCRIBE`, while some wait on the queue) | — |
//! | `P:{q}:claim:<claim id>` | string | `<token> <start ms> <worker id or ->`: the stamp of one claim (its tasks are those whose started entry carries its token) | claim | claim (a repeat answers the same) | the lease |
//!
//! Keys of the whole deployment share the hash tag `{:global}` (one fixed slot; no queue
//! name contains `:`), `G` below:
//!
//! | key | type | contents | written by | read by | TTL |
//! |---|---|---|---|---|---|
//! | `P:G:probe` | string | readiness write probe | /readyz | — | 10 s |
//! | `P:G:queues` | set | every queue in use, at most `TTP_MAX_QUEUES` | register (once a minute per process and queue) | lists, stats, metrics, sweeper (forgets idle ones) | none |
//! | `P:G:kinds` | hash | external kind → `{"queue", "description", "payload_schema"}` | PUT/DELETE /kinds | every process (cached, refreshed when the version moves) | none |
//! | `P:G:layout` | string | the layout the deployment's data is stored in (absent: 1; this version writes 2 and upgrades 1 at start-up: `upgrade.rs`) | start-up | start-up | none |
//! | `P:G:kinds:version` | string | counter moved by every change of `kinds` | PUT/DELETE /kinds | every process, each second | none |
//!
//! Schedules keep their records in their queue's slot and an index of names under `G`:
//! see the table in [`schedules`].

mod admin;
mod body;
mod claim;
mod clients;
mod conn;
mod connection;
mod enqueue;
mod fields;
mod grouped;
mod keys;
mod kinds;
mod maintenance;
mod mode;
mod read;
mod registry;
mod replicated;
mod replies;
pub mod schedules;
mod scripts;
mod settle;
mod token;
mod topology;
mod upgrade;
mod wakeup;
mod watch;

pub use admin::{DeadPage, Removal, parse_cursor};
pub use body::Body;
pub use claim::{ClaimRequest, ClaimedTask, MAX_CLAIM};
pub use enqueue::Enqueued;
pub use fields::name as field;
pub use fields::{ClaimEntry, LeaseFields};
pub use keys::Keys;
pub use maintenance::{ExpiredLease, ExpiredLeases, Promoted};
pub use mode::Checked;
pub use read::{Flow, QueueStats, TaskRead};
pub use replies::Transition;
pub use settle::{Action, Holder, Settlement};
pub use token::LeaseToken;
pub use upgrade::Upgraded;
pub use wakeup::{WaitFor, Waiter};
pub use watch::{Finished, FinishedTasks};

use std::collections::HashMap;
use std::sync::Mutex;

use crate::config::{QueueLimits, RedisSettings};
use crate::task::{QueueName, TaskId};

use connection::Redis;
use scripts::Scripts;

/// Why a queue operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueueError {
    /// Redis could not be reached, or refused the call: it was not carried out.
    #[error("Redis is unavailable: {0}")]
    Unavailable(String),
    /// Redis did not answer within the deadline: the call may still run (or have run).
    #[error("Redis did not answer within {0} ms")]
    Timeout(u64),
    /// The connection broke after the call was sent: it may or may not have run.
    #[error("the connection to Redis broke with a call in flight: {0}")]
    Lost(String),
    /// Redis is at `maxmemory` and refuses writes.
    #[error("Redis is out of memory and refuses writes (raise maxmemory or free memory)")]
    OutOfMemory,
    /// The queue holds `TTP_MAX_QUEUE_LENGTH` waiting tasks.
    #[error("queue {queue} is full: {limit} tasks are waiting")]
    Full {
        /// The queue.
        queue: QueueName,
        /// Its configured limit.
        limit: u64,
    },
    /// The deployment holds `TTP_MAX_QUEUES` queues; a new one is refused.
    #[error("the deployment holds {limit} queues (TTP_MAX_QUEUES); submit to an existing queue")]
    TooManyQueues {
        /// The limit.
        limit: u64,
    },
    /// The idempotency key was used with a different request.
    #[error("idempotency key already used by task {existing} with a different request")]
    IdempotencyConflict {
        /// The task the key belongs to.
        existing: TaskId,
    },
    /// The master stored the write but fewer replicas than `TTP_REDIS_MIN_REPLICAS`
    /// confirmed it in time: it may be lost if the master fails now.
    #[error(
        "the write reached {acked} of the {wanted} replicas TTP_REDIS_MIN_REPLICAS requires in time"
    )]
    NotReplicated {
        /// Replicas that confirmed it.
        acked: u64,
        /// Replicas required.
        wanted: u64,
    },
    /// Redis is not the kind of deployment the settings say (`TTP_REDIS_MODE`).
    #[error("{0}")]
    Misconfigured(String),
    /// Redis holds data ttp did not write (or another version wrote).
    #[error("unexpected data in Redis: {0}")]
    Corrupt(String),
}

impl QueueError {
    /// Whether the call may have run although no answer came back: a write with this
    /// error must be reported as "outcome unknown", never as "not stored".
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::Lost(_) | Self::NotReplicated { .. })
    }
}

impl From<redis::RedisError> for QueueError {
    fn from(error: redis::RedisError) -> Self {
        // Inside a pipeline the server error arrives wrapped, with the code quoted.
        if error.code() == Some("OOM") || error.to_string().contains("\"OOM\"") {
            Self::OutOfMemory
        } else if error.is_io_error() && !error.is_connection_refusal() {
            // Reset, broken pipe, end of stream: the bytes may have reached Redis.
            Self::Lost(error.to_string())
        } else {
            Self::Unavailable(error.to_string())
        }
    }
}

/// Handle to the task store, shared behind an `Arc`.
#[derive(Debug)]
pub struct Queue {
    redis: Redis,
    keys: Keys,
    scripts: Scripts,
    limits: QueueLimits,
    min_replicas: u64,
    registered: Mutex<HashMap<QueueName, tokio::time::Instant>>,
    /// Whether the stored data is known to be in this version's layout (`upgrade.rs`).
    upgraded: std::sync::atomic::AtomicBool,
}

impl Queue {
    /// Builds the handle (no connection is made until first use, so ttp starts while
    /// Redis is still down and reports not-ready until it answers).
    pub fn new(
        redis: &RedisSettings,
        limits: QueueLimits,
        redis_errors: prometheus::IntCounter,
    ) -> Result<Self, QueueError> {
        Ok(Self {
            redis: Redis::new(redis, redis_errors)?,
            keys: Keys::new(&redis.key_prefix),
            scripts: Scripts::new(),
            limits,
            min_replicas: redis.min_replicas,
            registered: Mutex::new(HashMap::new()),
            upgraded: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The key formatter (tests use it to inspect Redis directly).
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Answers when Redis accepts a write within the deadline and is not at its memory
    /// limit: a `PING` would pass on a Redis at `maxmemory` that refuses every submission,
    /// so readiness writes a short-lived probe key and checks `INFO memory` too — of
    /// every master, on a cluster.
    pub async fn probe_writable(&self) -> Result<(), QueueError> {
        let key = self.keys.probe();
        self.redis
            .read(|mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("PX")
                    .arg(10_000)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await?;
        let memory = self.redis.info_of_masters("memory").await?;
        if memory.iter().any(|info| nearly_full(info)) {
            Err(QueueError::OutOfMemory)
        } else {
            Ok(())
        }
    }

    /// Redis' `maxmemory-policy` (the first master's other than `noeviction`, on a
    /// cluster), when `CONFIG GET` is allowed (managed services may refuse it).
    pub async fn eviction_policy(&self) -> Option<String> {
        let mut get = redis::cmd("CONFIG");
        get.arg("GET").arg("maxmemory-policy");
        let replies = self.redis.on_masters(&get).await.ok()?;
        let policies = replies
            .into_iter()
            .map(|reply| redis::from_redis_value::<Vec<String>>(reply).ok()?.into_iter().nth(1))
            .collect::<Option<Vec<String>>>()?;
        policies.iter().find(|p| *p != "noeviction").or(policies.first()).cloned()
    }
}

/// Whether `INFO memory` shows Redis at 98 % or more of its `maxmemory`: a tiny probe
/// write can still pass there while real submissions (and their buffers) are refused.
fn nearly_full(info: &str) -> bool {
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':')?.trim().parse::<f64>().ok())
    };
    match (field("used_memory"), field("maxmemory")) {
        (Some(used), Some(max)) if max > 0.0 => used >= 0.98 * max,
        _ => false,
    }
}
