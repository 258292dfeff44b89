//! ttp embedded as a library: the HTTP API and the workers of `ttp serve`, plus the custom
//! kinds of `custom_handler.rs` (`text.wordcount`, `http.check`) next to the built-ins.
//!
//! ```text
//! TTP_REDIS_URL=redis://127.0.0.1:6379 TTP_LISTEN=127.0.0.1:8080 cargo run --example consumer
//!
//! curl -s localhost:8080/tasks -H 'content-type: application/json' \
//!   -d '{"kind":"text.wordcount","payload":{"text":"to be or not to be","top":2}}'
//! curl -s 'localhost:8080/tasks/<id>?wait_ms=5000'
//! ```
//!
//! Configuration is the same as `ttp serve`: defaults < `--config FILE` < `TTP_*`
//! environment < flags (`--listen`, `--concurrency`, … every setting has one). Stops on
//! SIGINT/SIGTERM (graceful: running tasks finish or are handed back), or after
//! `--exit-after-ms`.

#[path = "custom_handler.rs"]
#[allow(dead_code)] // its `main` and demo helpers are for `cargo run --example custom_handler`
mod custom_handler;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use ttp::app::{App, Roles};
use ttp::cli::Overrides;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;

/// ttp with the example's custom task kinds.
#[derive(Debug, Parser)]
#[command(name = "consumer")]
struct Args {
    /// TOML configuration file (same names as the TTP_* variables, lower case, no prefix).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Stop by itself (gracefully) after this many milliseconds.
    #[arg(long, env = "CONSUMER_EXIT_AFTER_MS", value_name = "MS")]
    exit_after_ms: Option<u64>,
    /// Serve the API only, no workers.
    #[arg(long)]
    no_workers: bool,
    /// Settings, as for `ttp serve`.
    #[command(flatten)]
    settings: Overrides,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = Config::load(args.config.as_deref(), args.settings)?;
    ttp::telemetry::init(&config.settings()?.logging);

    let registry = custom_handler::register(HandlerRegistry::with_builtins())?;
    tracing::info!(kinds = ?registry.kinds(), "task kinds");

    let roles = Roles { api: true, workers: !args.no_workers };
    let app = App::build(config, roles, registry).await?;
    let stop = ttp::shutdown::on_signals();
    if let Some(ms) = args.exit_after_ms {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            tracing::info!(ms, "--exit-after-ms reached");
            stop.cancel();
        });
    }
    app.run_until_stopped(stop).await
}
