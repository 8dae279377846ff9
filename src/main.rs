//! `aisle`: the command-line entry point. It parses flags and configuration, picks a runtime
//! (embedded or Kafka), and wires the library crates together; the work itself lives in the
//! crates under `crates/` (see ARCHITECTURE.md).
//!
//! # Layout
//! * `cli.rs`: the clap definitions and their help text.
//! * `config.rs`: TOML + environment + flags into one validated configuration.
//! * `runtime.rs`: opens the chosen log and schema registry.
//! * `exit.rs`: exit codes; `signal.rs`: Ctrl-C and SIGTERM, the shutdown of every command.
//! * `commands/`: one file per subcommand group.

mod cli;
mod commands;
mod config;
mod exit;
mod metrics;
mod runtime;
mod signal;

use clap::Parser;
use cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = Cli::parse();
    init_tracing(cli.global.log.as_deref());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(exit::FAILURE);
        }
    };
    let result = rt.block_on(run(cli));
    // Let background tasks (producers' delivery callbacks, servers) wind down briefly.
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(exit::code_for(&err));
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = config::Config::load(&cli.global)
        .map_err(|e| exit::fail(exit::CONFIG, format!("{e:#}")))?;
    if let Some(addr) = &cli.global.metrics_listen {
        metrics::listen(addr)
            .await
            .map_err(|e| exit::fail(exit::CONFIG, format!("{e:#}")))?;
    }
    match cli.command {
        Command::Config => {
            print!("{}", config.to_toml()?);
            Ok(())
        }
        Command::Topic(cmd) => commands::topic::run(&config, cmd).await,
        Command::Log(cmd) => commands::log::run(&config, cmd).await,
        Command::Registry(cmd) => commands::registry::run(&config, cmd).await,
        Command::Bench(cmd) => commands::bench::run(&config, cmd).await,
        Command::Replay(cmd) => commands::replay::run(&config, cmd).await,
        Command::Forecast(cmd) => commands::forecast::run(&config, cmd).await,
        Command::Connect(cmd) => commands::inventory::connect(&config, cmd).await,
        Command::Inventory(cmd) => commands::inventory::init(&config, cmd).await,
        Command::Greenlight(args) => commands::greenlight::run(&config, args).await,
        Command::Camera(cmd) => commands::camera::run(&config, cmd).await,
        Command::Demo(args) => commands::demo::run(&config, args).await,
        Command::Serve(args) => commands::serve::run(&config, args).await,
    }
}

/// Logs go to stderr (stdout is for data, e.g. `topic dump`), filtered by `--log` or `RUST_LOG`.
fn init_tracing(filter: Option<&str>) {
    let filter = filter
        .map(EnvFilter::new)
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// mimalloc instead of glibc's allocator, measured (BENCHMARKS.md): per-record allocations
/// made on one thread and freed on another (rdkafka's delivery state, the camera's per-image
/// buffers) cost glibc a lock and page faults; the Kafka replay ran 2.6x faster with it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
