//! The `ttp` binary: parse the command line, load the configuration, start logging,
//! build the app, run it until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use ttp::app::{App, Roles};
use ttp::cli::{Cli, Command, KeysCommand};
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;

#[tokio::main]
async fn main() -> ExitCode {
    ttp::crypto::install_default_provider();
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
        Command::Openapi { yaml, fuzz } => return print_openapi(yaml, fuzz),
        Command::Keys { command: KeysCommand::New { id, scopes, queues } } => {
            return print_new_key(&id, &scopes, &queues);
        }
        Command::Config { print, settings } => {
            let config = Config::load(cli.config.as_deref(), settings)?;
            if print {
                print!("{}", config.redacted_toml()?);
            } else {
                println!("configuration is valid");
            }
            return Ok(());
        }
    };
    let config = Config::load(cli.config.as_deref(), overrides)?;
    ttp::telemetry::init(&config.settings()?.logging);
    for name in ttp::config::unknown_env_vars() {
        tracing::warn!(variable = %name, "ignoring an environment variable that names no setting");
    }
    let app = App::build(config, roles, HandlerRegistry::with_builtins()).await?;
    app.run_until_stopped(ttp::shutdown::on_signals()).await
}

/// `ttp keys new`: the secret (shown once) and the entry for the keys file.
fn print_new_key(id: &str, scopes: &[String], queues: &[String]) -> anyhow::Result<()> {
    let (secret, entry) = ttp::access::new_key(id, scopes, queues).map_err(anyhow::Error::msg)?;
    eprintln!("The key's secret (shown this once; give it to the client, store it nowhere else):");
    println!("{secret}");
    eprintln!("\nAdd this entry to the file TTP_API_KEYS_FILE names, then send ttp SIGHUP:\n");
    print!("{entry}");
    Ok(())
}

/// `ttp openapi [--yaml] [--fuzz]`: the document of a ttp with the built-in kinds, as
/// served at `/openapi.json` and committed under `openapi/`, or its variant for fuzzing.
fn print_openapi(yaml: bool, fuzz: bool) -> anyhow::Result<()> {
    let registry = HandlerRegistry::with_builtins();
    let document = if fuzz {
        ttp::api::openapi::fuzzing_document(&registry)?
    } else {
        ttp::api::openapi::document(&registry)?
    };
    let text = if yaml {
        ttp::api::openapi::to_yaml(&document)?
    } else {
        ttp::api::openapi::to_json(&document)
    };
    print!("{text}");
    Ok(())
}

/// jemalloc instead of the system allocator: the hot path allocates many small,
/// short-lived buffers (JSON, Redis replies), where glibc malloc took a quarter of the CPU
/// in profiles; and, configured in `.cargo/config.toml`, its background thread returns
/// memory to the system a second after a burst of large requests, which mimalloc only
/// does when the threads that freed it allocate again.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
