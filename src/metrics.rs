//! Prometheus metrics for every long-running command.
//!
//! Library crates record through the `metrics` facade (names and labels in ARCHITECTURE.md);
//! this module installs the process's one recorder and, when asked, serves it over HTTP:
//!
//! * [`recorder`]: installs the Prometheus recorder on first call (later calls return the same
//!   handle), with histogram buckets for `aisle_processing_seconds`. `aisle serve` renders it at
//!   its own `/metrics`.
//! * [`listen`]: serves `/metrics` alone on an address, for the whole life of the process. The
//!   global `--metrics-listen ADDR` flag (env `AISLE_METRICS_LISTEN`) calls it before any
//!   command runs, so every command (replay, forecast run, demo, ...) exposes its metrics with
//!   no code of its own.

use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

/// Buckets of `aisle_processing_seconds`: 100 us to 10 s.
const SECONDS_BUCKETS: [f64; 11] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
];

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// The process's Prometheus recorder, installed on first use.
pub fn recorder() -> anyhow::Result<PrometheusHandle> {
    let mut slot = HANDLE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = slot.as_ref() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("aisle_processing_seconds".into()),
            &SECONDS_BUCKETS,
        )
        .context("histogram buckets")?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).context("installing the metrics recorder")?;
    // Histograms and idle series need periodic upkeep; a plain thread needs no runtime.
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        })
        .context("starting the metrics upkeep thread")?;
    *slot = Some(handle.clone());
    Ok(handle)
}

/// Serves `/metrics` on `addr` in the background until the process exits; returns the bound
/// address (port 0 picks a free one).
pub async fn listen(addr: &str) -> anyhow::Result<SocketAddr> {
    let handle = recorder()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--metrics-listen {addr}: cannot listen"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) =
            aisle_serve::serve_metrics(listener, handle, std::future::pending::<()>()).await
        {
            tracing::warn!(error = %e, "metrics endpoint stopped");
        }
    });
    tracing::info!(%bound, "metrics at http://{bound}/metrics");
    Ok(bound)
}
