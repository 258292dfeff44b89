//! `ttp bench`: the load generator behind `make bench`.
//!
//! It drives a running ttp over HTTP like any client would: closed loop (`--concurrency`
//! requests in flight) or open loop (`--rate` per second, each request timed from its
//! *intended* send time, so a stalled server cannot hide its queueing — no coordinated
//! omission), single `POST /tasks` or `POST /tasks/batch`. It then waits until every
//! task finished and reads the task records for end-to-end latency.
//!
//! `--suite` runs the standard scenarios of `make bench` and prints one table with the
//! raw Redis figures (redis-benchmark) of the same machine and run beside them.

mod client;
mod load;
mod probe;
mod report;
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
    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Run the standard `make bench` scenarios (needs --redis-url and --ttp-pid).
    #[arg(long)]
    pub suite: bool,
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
    let summary = load::scenario(&args, "custom").await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("{}", report::table(&[summary]));
    }
    Ok(())
}
