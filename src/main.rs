//! The `ttp` binary: parse the command line, load the configuration, start logging,
//! build the app, run it until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use ttp::app::{App, Roles};
use ttp::cli::{Cli, Command};
use ttp::config::Config;
use ttp::worker::HandlerRegistry;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ttp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let (roles, overrides) = match cli.command {
        Command::Serve { no_workers, settings } => {
            (Roles { api: true, workers: !no_workers }, settings)
        }
        Command::Worker { settings } => (Roles { api: false, workers: true }, settings),
        Command::Bench(args) => return ttp::bench::run(args).await,
    };
    let config = Config::load(cli.config.as_deref(), overrides)?;
    ttp::telemetry::init(&config);
    let app = App::build(config, roles, HandlerRegistry::with_builtins()).await?;
    app.run_until_stopped(ttp::shutdown::on_signals()).await
}
