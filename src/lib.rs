//! ttp (TelemetryTaskProcessor): an HTTP/JSON task queue on Redis with embedded workers.
//!
//! ```text
//! HTTP client ──POST /tasks──▶ api (parse → validate → NewTask)
//!                                 │
//!                                 ▼
//!                             queue (the only module that talks to Redis; one Lua script per transition)
//!                                 │            ▲
//!               Redis: per-queue pending / scheduled / leased / dead sets + task hashes
//!                                 │            │
//!                                 ▼            │
//!                             worker (claim under lease → run handler with timeout →
//!                                     succeed / retry / fail; renew leases; reap; promote)
//!                                 │
//!                                 ▼
//!                             metrics (own registry) ──GET /metrics──▶ Prometheus
//! ```
//!
//! - [`app`]: `App::build` (all fallible set-up) and `run_until_stopped`.
//! - [`cli`]: the command line.
//! - [`config`]: layered configuration, validated.
//! - [`telemetry`]: logging (text or JSON lines).
//! - [`shutdown`]: SIGINT/SIGTERM to a cancellation token.
//! - [`task`]: domain types: ids, names, states, validated submissions, records, retry policy.
//! - [`api`]: HTTP routes, problem+json errors, the task view.
//! - [`queue`]: Redis key layout, Lua scripts, every transition.
//! - [`worker`]: fetcher, executor, completer, leases, reaper, promoter, handlers.
//! - [`metrics`]: Prometheus registry and HTTP middleware.
//! - [`bench`]: the load generator behind `ttp bench` and `make bench`.
//! - `testkit` (feature `testkit`): real redis-server and app helpers for tests.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod backoff;
pub mod bench;
pub mod cli;
pub mod config;
pub mod kinds;
pub mod metrics;
pub mod queue;
pub mod shutdown;
pub mod task;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod worker;
