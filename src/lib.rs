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
//! Layers, top down; each imports only from layers below it:
//! - [`app`]: `App::build` (all fallible set-up) and `run_until_stopped`; with `main` and
//!   [`cli`] the only code that sees the flat [`config::Config`].
//! - [`server`]: the HTTP accept loop: connection limit, header, body and idle timeouts,
//!   shutdown that closes idle and half-open connections at once.
//! - [`api`]: HTTP routes, problem+json errors, the submission pipeline and coalescer,
//!   long-poll waiters, the OpenAPI document.
//! - [`dashboard`]: the dashboard's live data: one snapshot per second per process,
//!   shared by every viewer (the page and its stream are in `api::ui`).
//! - [`access`]: API keys with scopes and queues, rate limits.
//! - [`worker`]: fetcher, executor, completer, lease heartbeat, reaper, promoter.
//! - [`queue`]: the only module that talks to Redis: key layout, task-hash schema, Lua
//!   scripts, every transition, blocking waiters.
//! - [`kinds`]: what a task kind is (the `Handler` trait: parse, schema, run), the
//!   registry and the built-in kinds (`http` calls out: push delivery).
//! - [`config`]: layered configuration, parsed once into typed slices per module.
//! - [`metrics`]: Prometheus registry, `attempt_ended`, HTTP middleware.
//! - [`telemetry`]: logging (text or JSON lines).
//! - [`backoff`]: the pause of every loop whose Redis calls fail.
//! - [`crypto`]: rustls with `ring` as the process-wide TLS provider.
//! - [`shutdown`]: SIGINT/SIGTERM to a cancellation token.
//! - [`schedule`]: recurring schedules: the spec, cron and interval ticks with their
//!   daylight-saving rules, the plan of one firing. Imports only [`task`].
//! - [`scheduler`]: the loop that fires due schedules in every process with workers, no
//!   leader (the fire script's compare-and-set decides).
//! - [`task`]: domain types: ids, names, states, validated submissions, records, retry
//!   policy. Imports nothing of ttp.
//! - [`bench`](mod@bench): the load generator behind `ttp bench` and `make bench` (beside the
//!   layers: it talks to ttp over HTTP).
//! - `testkit` (feature `testkit`): real redis-server, app and process helpers for tests.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod api;
pub mod app;
pub mod backoff;
pub mod bench;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod dashboard;
pub mod kinds;
pub mod metrics;
pub mod queue;
pub mod schedule;
pub mod scheduler;
pub mod server;
pub mod shutdown;
pub mod task;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod worker;
