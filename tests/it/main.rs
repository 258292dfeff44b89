//! Integration tests: one binary (one link step) with a module per area. Every test
//! starts its own real `redis-server` and talks to ttp over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod bench;
mod chaos;
mod chaos_cluster;
mod chaos_stalls;
mod cluster;
mod connections;
mod dashboard;
mod dashboard_limits;
mod dashboard_load;
mod dead_letters;
mod delivery;
mod errors;
mod external;
mod external_workers;
mod kinds;
mod lifecycle;
mod longpoll;
mod memory;
mod metrics;
mod openapi;
mod outage;
mod priority;
mod processes;
mod prometheus;
mod push;
mod queues;
mod races;
mod redis_faults;
mod redis_security;
mod removal;
mod replication;
mod robustness;
mod schedules;
mod scopes;
mod stalls;
mod upgrade;

/// Path of the `ttp` binary built for these tests.
pub const TTP_BIN: &str = env!("CARGO_BIN_EXE_ttp");
