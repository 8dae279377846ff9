//! `aisle registry serve`.

use crate::cli::{RegistryCmd, RegistryServeArgs};
use crate::config::Config;
use crate::exit;
use crate::runtime;

pub async fn run(config: &Config, cmd: RegistryCmd) -> anyhow::Result<()> {
    match cmd {
        RegistryCmd::Serve(args) => serve(config, args).await,
    }
}

async fn serve(config: &Config, args: RegistryServeArgs) -> anyhow::Result<()> {
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
    aisle_registry::serve(store, listener, shutdown_signal()).await?;
    tracing::info!("schema registry stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
