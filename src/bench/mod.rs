//! `ttp bench`: the load generator behind `make bench`.
//!
//! It drives a running ttp over HTTP like any client would: closed loop (`--concurrency`
//! requests in flight) or open loop (`--rate` per second, each request timed from its
//! *intended* send time, so a stalled server cannot hide its queueing — no coordinated
//! omission), single `POST /tasks` or `POST /tasks/batch`. It then waits until every
//! task finished and reads the task records for end-to-end latency.
//!
//! `--suite` runs the standard scenarios of `make bench` and prints one table with the
//! raw Redis figures (redis-benchmark) and the floor reference ([`floor`]) of the same
//! machine, Redis and run beside them. `--floor` measures only the floor;
//! `--peer-results` runs the ttp side of `make bench-peers` ([`peers`]).

mod client;
pub mod floor;
mod load;
mod peers;
mod probe;
mod report;
mod scenarios;
mod suite;

use std::time::Duration;

use clap::Args;

pub use report::Summary;

/// `ttp bench` options.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Base URL of the ttp API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Tasks to submit (closed loop).
    #[arg(long, default_value_t = 10_000)]
    pub tasks: usize,
    /// Requests in flight (closed loop).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Open loop: tasks per second (overrides --tasks with rate × duration).
    #[arg(long)]
    pub rate: Option<u64>,
    /// Open loop duration in seconds.
    #[arg(long, default_value_t = 20)]
    pub duration_s: u64,
    /// Tasks per request: 1 uses `POST /tasks`, more uses `POST /tasks/batch`.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Task kind.
    #[arg(long, default_value = "noop")]
    pub kind: String,
    /// Payload: a JSON value (default null) …
    #[arg(long)]
    pub payload: Option<String>,
    /// … or a string payload of this many bytes.
    #[arg(long)]
    pub payload_bytes: Option<usize>,
    /// Queue to submit to (the server must serve it); several, comma-separated, spread
    /// each batch's tasks over them in turn.
    #[arg(long, default_value = "default")]
    pub queue: String,
    /// Pause the queue while submitting, then resume and time the drain (backlog).
    #[arg(long)]
    pub backlog: bool,
    /// Give up waiting for tasks to finish after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub wait_timeout_s: u64,
    /// Redis URL, to report Redis CPU per task and memory per kept task.
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Process id of the ttp server, to report its peak RSS.
    #[arg(long)]
    pub ttp_pid: Option<u32>,
    /// Process id of an external worker (e.g. `examples/worker.py`), to report its CPU
    /// per task.
    #[arg(long)]
    pub worker_pid: Option<u32>,
    /// A queue an external worker serves with kind `py.sha256` (`examples/worker.py
    /// --declare`): `--suite` then adds the lease-API scenarios.
    #[arg(long)]
    pub external_queue: Option<String>,
    /// Do not read the task records back after the drain: no end-to-end latency and no
    /// check that every task succeeded (errors then counts failed requests only). For
    /// profiling the server on the load alone (`scripts/bench-profile.sh`).
    #[arg(long)]
    pub no_readback: bool,
    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Run the standard `make bench` scenarios (needs --redis-url and --ttp-pid).
    #[arg(long)]
    pub suite: bool,
    /// `--suite`: run only the scenarios whose name contains one of these words
    /// (repeatable; e.g. `--only bulk`).
    #[arg(long, value_name = "WORD")]
    pub only: Vec<String>,
    /// `--suite`: multiply every scenario's tasks and open-loop duration by this (e.g.
    /// 0.2 for a short run while iterating; the figures per task stay comparable).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Only measure the floor reference (a port of floor.py and floor_keyless.py) on
    /// --redis-url, which it FLUSHES, and print it.
    #[arg(long, requires = "redis_url")]
    pub floor: bool,
    /// Tasks of each floor reference run (whole thousands).
    #[arg(long, default_value_t = floor::DEFAULT_TASKS)]
    pub floor_tasks: usize,
    /// A peer's figures (the JSON printed by scripts/peers/bullmq.js): run ttp's side of
    /// the same workloads and print both side by side (needs --redis-url and --ttp-pid).
    #[arg(long, value_name = "FILE", requires = "redis_url")]
    pub peer_results: Option<std::path::PathBuf>,
}

impl BenchArgs {
    fn wait_timeout(&self) -> Duration {
        Duration::from_secs(self.wait_timeout_s)
    }
}

/// Runs the benchmark the options describe and prints the result.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.suite {
        return suite::run(&args).await;
    }
    if let Some(file) = &args.peer_results {
        return peers::run(&args, file).await;
    }
    if args.floor {
        return print_floor(&args).await;
    }
    let summary = load::scenario(&args, "custom").await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("{}", report::table(&[summary]));
    }
    Ok(())
}

/// `--floor`: the floor reference runs alone.
async fn print_floor(args: &BenchArgs) -> anyhow::Result<()> {
    let runs = measure_floor(args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
    } else {
        println!("{}", report::floor_table(&runs));
    }
    Ok(())
}

/// The floor reference runs on --redis-url, off the async runtime (they block).
async fn measure_floor(args: &BenchArgs) -> anyhow::Result<Vec<floor::FloorRun>> {
    let url =
        args.redis_url.clone().ok_or_else(|| anyhow::anyhow!("the floor needs --redis-url"))?;
    let tasks = args.floor_tasks;
    tokio::task::spawn_blocking(move || floor::measure(&url, tasks)).await?
}
