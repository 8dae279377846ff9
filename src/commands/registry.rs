//! `aisle registry serve`.

use crate::config::Config;
use crate::exit;
use crate::runtime;
use crate::signal::shutdown_signal;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum RegistryCmd {
    /// Serve the registry's REST API (Confluent-compatible) over the current runtime's `_schemas`.
    Serve(RegistryServeArgs),
}

#[derive(Debug, Args)]
pub struct RegistryServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081", value_name = "ADDR")]
    pub listen: String,
}

pub async fn run(config: &Config, cmd: RegistryCmd) -> anyhow::Result<()> {
    match cmd {
        RegistryCmd::Serve(args) => serve(config, args).await,
    }
}

async fn serve(config: &Config, args: RegistryServeArgs) -> anyhow::Result<()> {
    // Installed first: a SIGTERM while the registry starts still stops it cleanly.
    let shutdown = shutdown_signal();
    if let Some(url) = &config.registry.url {
        return Err(exit::fail(
            exit::CONFIG,
            format!(
                "`registry serve` is the registry; drop --registry {url} (it points elsewhere)"
            ),
        ));
    }
    let opened = runtime::open_log(config).await?;
    let store = runtime::local_store(&opened.log).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| {
            exit::fail(
                exit::FAILURE,
                format!("cannot listen on {}: {e}", args.listen),
            )
        })?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, runtime = opened.log.runtime(), "schema registry listening");
    println!("schema registry listening on http://{addr}");
    aisle_registry::serve(store, listener, shutdown).await?;
    tracing::info!("schema registry stopped");
    Ok(())
}
