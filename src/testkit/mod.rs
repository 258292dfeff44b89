//! Test helpers shared by the integration tests and the benchmark: a real `redis-server`
//! per test on a free port, an in-process app on port 0, `ttp` child processes, and
//! readers of what ttp stored in Redis.
//!
//! Nothing here is mocked: tests talk HTTP over sockets to the real app, which talks to a
//! real Redis. Every wait is a condition polled against a deadline, never a fixed sleep.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod app;
mod certs;
mod cluster;
mod events;
mod inspect;
mod problem;
mod process;
mod pyworker;
mod server;

pub use app::{TestApp, cluster_config, http_client, http_client_builder, test_config};
pub use certs::TestCerts;
pub use cluster::RedisCluster;
pub use events::{Event, EventStream, queue_row};
pub use inspect::*;
pub use problem::assert_problem;
pub use process::{TtpProcess, wait_until};
pub use pyworker::PyWorker;
pub use server::{RedisServer, free_port};
