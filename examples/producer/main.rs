//! A producer: submits N tasks to a running ttp over HTTP, with a progress bar on stderr,
//! waits for them to finish (long-polling `GET /tasks/{id}?wait_ms=`), and prints the
//! submit rate, the finish rate and how many succeeded or failed.
//!
//! ```text
//! cargo run --example producer -- --url http://127.0.0.1:8080 --count 10000
//! cargo run --example producer -- --count 10000 --batch            # POST /tasks/batch, 100 per request
//! cargo run --example producer -- --kind sleep --payload '{"ms": 50}' --concurrency 32
//! cargo run --example producer -- --requests mix.jsonl --ids ids.txt --no-wait
//! ```
//!
//! Every task carries an idempotency key (unless its request already has one), so a
//! request refused or lost in transit (connection error, timeout, 429, 503) is simply sent
//! again for up to `--retry-for-ms`: ttp answers a repeat with the task it already
//! accepted, never a duplicate. Exits 1 if any request or task submission failed (with
//! `--strict`, also unless every task succeeded).
//!
//! This file holds the flags and the run from start to end; the rest, one idea a file:
//! - `requests.rs`: the task bodies and their idempotency keys;
//! - `client.rs`: one HTTP exchange with ttp, and which refusals are worth another try;
//! - `workers.rs`: `--concurrency` requests in flight, results back in task order;
//! - `progress.rs`: the progress bar on stderr;
//! - `report.rs`: the summary lines and the tally of failed requests.

mod client;
mod progress;
mod report;
mod requests;
mod workers;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::client::Client;
use crate::requests::Requests;
use crate::workers::{IdsFile, Run};

/// Submit tasks to ttp and wait for them.
#[derive(Debug, Parser)]
#[command(name = "producer")]
struct Args {
    /// Base URL of ttp.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Tasks to submit.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Task kind.
    #[arg(long, default_value = "noop")]
    kind: String,
    /// Task payload (JSON).
    #[arg(long, value_name = "JSON")]
    payload: Option<String>,
    /// Task requests, one JSON object per line (any `POST /tasks` fields); task i is line
    /// i modulo the number of lines. Replaces --kind and --payload.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kind", "payload"])]
    requests: Option<PathBuf>,
    /// Queue (when the request does not name one).
    #[arg(long)]
    queue: Option<String>,
    /// Submit through POST /tasks/batch, SIZE tasks per request (default 100).
    #[arg(long, value_name = "SIZE", num_args = 0..=1, default_missing_value = "100",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    batch: Option<u16>,
    /// Requests in flight at once (submitting, then waiting).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    concurrency: u16,
    /// How long to keep re-sending a refused request (connection error, timeout, 429, 503).
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    retry_for_ms: u64,
    /// Submit only; do not wait for the tasks to finish.
    #[arg(long)]
    no_wait: bool,
    /// Give up waiting after this long.
    #[arg(long, default_value_t = 300, value_name = "S")]
    wait_timeout_s: u64,
    /// Write each accepted task id to FILE, one per line, as soon as it is accepted.
    #[arg(long, value_name = "FILE")]
    ids: Option<PathBuf>,
    /// Also exit 1 unless every task succeeded.
    #[arg(long)]
    strict: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    // rustls' crypto for reqwest's HTTPS (ttp builds reqwest without a default one).
    ttp::crypto::install_default_provider();
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("producer: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(true)` when every request succeeded (and, with `--strict`, every task).
async fn run(args: Args) -> anyhow::Result<bool> {
    let run = Arc::new(Run {
        requests: Requests::load(
            args.requests.as_deref(),
            &args.kind,
            args.payload.as_deref(),
            args.queue.as_deref(),
        )?,
        client: Client::new(&args.url, args.concurrency, Duration::from_millis(args.retry_for_ms))?,
        ids_file: args.ids.as_deref().map(IdsFile::create).transpose()?,
    });
    let concurrency = usize::from(args.concurrency);

    // ---- submit
    let batch = args.batch.map_or(1, usize::from);
    let mode = mode(args.batch);
    eprintln!(
        "producer: {} tasks to {} ({mode}, concurrency {concurrency})",
        args.count,
        run.client.base()
    );
    let started = Instant::now();
    let ids = workers::submit_all(&run, args.count, batch, concurrency).await;
    let submit_time = started.elapsed();
    let accepted: Vec<String> = ids.into_iter().flatten().collect();
    report::submitted(accepted.len(), args.count, submit_time, args.count.div_ceil(batch));
    let refused = args.count - accepted.len();

    // ---- wait
    let mut all_succeeded = refused == 0;
    let mut wait_failed = false;
    if !args.no_wait && !accepted.is_empty() {
        let deadline = Instant::now() + Duration::from_secs(args.wait_timeout_s);
        let views = workers::wait_all(&run, &accepted, concurrency, deadline).await;
        let finished = report::finished(&views, started.elapsed());
        all_succeeded &= finished.succeeded == accepted.len() as u64;
        wait_failed = finished.lost > 0;
    }

    let request_failed = run.client.errors.print();
    if args.strict && !all_succeeded {
        eprintln!("producer: --strict: not every task succeeded");
        return Ok(false);
    }
    Ok(refused == 0 && !wait_failed && !request_failed)
}

/// How the tasks travel, for the first line.
fn mode(batch: Option<u16>) -> String {
    match batch {
        Some(size) => format!("POST /tasks/batch, {size} per request"),
        None => "POST /tasks".to_owned(),
    }
}
