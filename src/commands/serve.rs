//! `aisle serve`: the live dashboard, JSON API and `/metrics` (library: `aisle-serve`).
//!
//! [`serve_until`] is the whole server as one future, for other commands to run beside their
//! own work (`aisle demo`):
//! `tokio::spawn(serve_until(config.serve.clone(), log.clone(), registry.clone(), shutdown))`.

use crate::config::{Config, ServeSection};
use crate::signal::shutdown_signal;
use crate::{exit, runtime};
use aisle_log::Log;
use aisle_registry::SchemaRegistry;
use aisle_serve::{ServeError, ServeOptions};
use clap::Args;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: `[serve] listen`, 127.0.0.1:8080]. An address other
    /// machines can reach needs a token.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Require this bearer token on every route but /healthz (`Authorization: Bearer TOKEN`, or
    /// open the page as http://ADDR/?token=TOKEN). Prefer `AISLE_SERVE__TOKEN` or the config
    /// file: a command line is visible to other users of the machine.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Show the committed-offset lag of this consumer group (repeat for more; adds to
    /// `[serve] groups`).
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
}

pub async fn run(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    let mut section = config.serve.clone();
    if let Some(listen) = args.listen {
        section.listen = listen;
    }
    if args.token.is_some() {
        section.token = args.token;
    }
    section.groups.extend(args.groups);
    // Refuse a bad address or missing token before opening anything.
    resolve(&section).await?;
    // It only reads: an embedded log is opened read-only, beside whatever process writes it.
    let opened = runtime::open_log_for_reading(config, runtime::Reading::Follow).await?;
    let registry = runtime::registry_for_reading(config, &opened).await?;
    serve_until(section, opened.log, registry, shutdown_signal()).await
}

/// Runs the server on `section.listen` until `shutdown` resolves. Prints the URL on stdout
/// (`aisle serve: dashboard at http://ADDR/`). Errors: exit code CONFIG for an unprotected
/// non-loopback address or an unresolvable one, FAILURE if the port cannot be bound.
pub async fn serve_until(
    section: ServeSection,
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = resolve(&section).await?;
    let handle = crate::metrics::recorder()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| exit::fail(exit::FAILURE, format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr()?;
    let note = if section.token.is_some() {
        " (token required: add ?token=TOKEN)"
    } else {
        ""
    };
    println!("aisle serve: dashboard at http://{bound}/{note}");
    let options = ServeOptions {
        token: section.token,
        groups: section.groups,
        metrics: Some(handle),
        ..Default::default()
    };
    aisle_serve::run(log, registry, options, listener, shutdown)
        .await
        .map_err(|e| match e {
            ServeError::Unprotected { .. } | ServeError::EmptyToken => {
                exit::fail(exit::CONFIG, e.to_string())
            }
            other => anyhow::Error::from(other),
        })
}

/// The socket address of `section.listen`, checked against the token rule.
async fn resolve(section: &ServeSection) -> anyhow::Result<SocketAddr> {
    let listen = &section.listen;
    let addr = tokio::net::lookup_host(listen)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            exit::fail(
                exit::CONFIG,
                format!("serve listen address `{listen}`: expected HOST:PORT, e.g. 127.0.0.1:8080"),
            )
        })?;
    aisle_serve::check_bind(addr, section.token.as_deref())
        .map_err(|e| exit::fail(exit::CONFIG, format!("`{listen}`: {e}")))?;
    Ok(addr)
}
