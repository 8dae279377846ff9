//! `aisle-serve`: the window people look through. A live dashboard, a JSON API and Prometheus
//! metrics over Aisle's topics, on either runtime.
//!
//! [`run`] tails the Green Light, inventory, sales and forecast topics through the
//! [`aisle_log::Log`] trait (one consumer, manual assignment, from the beginning; no group, so
//! it never disturbs a component's offsets), folds them into in-memory views, samples the log's
//! watermarks for pipeline health, and serves:
//!
//! * `/`: the dashboard (HTML, CSS and JavaScript compiled into the binary, charts drawn as
//!   SVG by hand; nothing is fetched from anywhere at run time), kept live by server-sent
//!   events from `/events`;
//! * `/api/...`: the views as JSON, documented in `openapi.yaml` (also served at
//!   `/openapi.yaml`; `tests/openapi.rs` checks routes and response shapes against it);
//! * `/metrics`: Prometheus text from the process's recorder ([`ServeOptions::metrics`]);
//! * `/healthz`: liveness, the one route a token does not protect.
//!
//! Safety: every route is a GET and nothing writes to the log. [`check_bind`] refuses a
//! non-loopback address without a token; with a token, requests need
//! `Authorization: Bearer TOKEN` or `?token=TOKEN` (the page passes its own on).
//!
//! ```no_run
//! # async fn demo(log: std::sync::Arc<dyn aisle_log::Log>,
//! #     registry: std::sync::Arc<dyn aisle_registry::SchemaRegistry>) -> Result<(), aisle_serve::ServeError> {
//! use aisle_serve::{ServeOptions, run};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! run(log, registry, ServeOptions::default(), listener, shutdown).await?;
//! # Ok(()) }
//! ```
//!
//! Metrics the server records itself (`component="serve"`): `aisle_records_in_total{topic}`,
//! `aisle_errors_total{kind}` (decode, log, health), `aisle_processing_seconds` (per batch),
//! `aisle_consumer_lag{topic, partition}` (its own tail), `aisle_http_requests_total{route,
//! status}`, `aisle_sse_clients`; and, for the whole pipeline, `aisle_topic_records{topic}`,
//! `aisle_topic_end_offset{topic}`, `aisle_dlq_records{topic}` and
//! `aisle_group_lag{group, topic, partition}` for the groups in [`ServeOptions::groups`].
//!
//! # Layout
//! * `api.rs`: the router, handlers, token check, event streams, [`ROUTES`].
//! * `state.rs`: the views behind one lock, with a version per view.
//! * `views.rs`: specials, windows, inventory.
//! * `sales.rs`: sales per store per day, forecasts, the live WRMSSE table.
//! * `health.rs`: topic counts, rates, lag, dead letters, decode errors.
//! * `tail.rs`: the consumer that feeds the views.
//! * `error.rs`: [`ServeError`].
//! * `assets/`: the page; `openapi.yaml`: the API's contract.

pub mod api;
mod error;
pub mod health;
pub mod sales;
pub mod state;
mod tail;
pub mod views;

pub use api::{OPENAPI_YAML, ROUTES, metrics_router};
pub use error::ServeError;

use aisle_events::topics;
use aisle_log::Log;
use aisle_registry::SchemaRegistry;
use metrics_exporter_prometheus::PrometheusHandle;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The topics the server reads (defaults: [`aisle_events::topics`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    /// Green Light Specials.
    pub specials: String,
    /// Windowed item counts.
    pub windows: String,
    /// The rekeyed inventory table.
    pub inventory: String,
    /// M5 sales.
    pub sales: String,
    /// Sales forecasts.
    pub forecasts: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            specials: topics::GREEN_LIGHT_SPECIALS.into(),
            windows: topics::WINDOWED_ITEMS.into(),
            inventory: topics::INVENTORY_REKEYED.into(),
            sales: topics::SALES.into(),
            forecasts: topics::SALES_FORECASTS.into(),
        }
    }
}

impl Topics {
    /// The topics the tailer reads.
    pub fn watched(&self) -> [&str; 5] {
        [
            &self.specials,
            &self.windows,
            &self.inventory,
            &self.sales,
            &self.forecasts,
        ]
    }

    /// The component that writes `topic`, for the health table.
    pub fn component_of(&self, topic: &str) -> Option<&'static str> {
        Some(match topic {
            t if t == self.specials || t == self.windows => "greenlight",
            t if t == self.inventory || t == topics::INVENTORY_JDBC => "inventory",
            t if t == self.sales => "replay",
            t if t == self.forecasts => "forecast",
            topics::SHOPPING_CART_OBJECTS => "camera",
            _ => return None,
        })
    }
}

/// How to run the server.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Required bearer token; `None` leaves the server open (loopback addresses only).
    pub token: Option<String>,
    /// Topic names.
    pub topics: Topics,
    /// Consumer groups whose committed-offset lag the health view shows.
    pub groups: Vec<String>,
    /// The process's Prometheus recorder, rendered at `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// How often the log's watermarks are sampled.
    pub health_every: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            token: None,
            topics: Topics::default(),
            groups: Vec::new(),
            metrics: None,
            health_every: Duration::from_secs(2),
        }
    }
}

/// Refuses to serve a non-loopback address without a token, and an empty token.
pub fn check_bind(addr: SocketAddr, token: Option<&str>) -> Result<(), ServeError> {
    match token {
        Some(t) if t.trim().is_empty() => Err(ServeError::EmptyToken),
        None if !addr.ip().is_loopback() => Err(ServeError::Unprotected { addr }),
        _ => Ok(()),
    }
}

/// Serves the dashboard, API and metrics on `listener` until `shutdown` resolves; then closes
/// the event streams, stops tailing and returns.
pub async fn run(
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    options: ServeOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = listener.local_addr()?;
    check_bind(addr, options.token.as_deref())?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let state = Arc::new(state::State::new(log.runtime(), stop_rx.clone()));
    let tail = tokio::spawn(tail::run(
        log.clone(),
        registry,
        state.clone(),
        options.topics.clone(),
        stop_rx.clone(),
    ));
    let mut sampler = health::Sampler::new(log, options.topics.clone(), options.groups.clone());
    let (health_state, mut health_stop) = (state.clone(), stop_rx);
    let every = options.health_every;
    let health = tokio::spawn(async move {
        while !*health_stop.borrow() {
            sampler.sample(&health_state).await;
            tokio::select! {
                _ = tokio::time::sleep(every) => {},
                _ = health_stop.changed() => {},
            }
        }
    });
    let app = api::App {
        state,
        token: options.token.map(Arc::from),
        metrics: options.metrics,
    };
    tracing::info!(%addr, "serve: dashboard listening");
    let served = axum::serve(listener, api::router(app))
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
    let _ = tail.await;
    let _ = health.await;
    served.map_err(ServeError::from)
}

/// Serves `/metrics` alone on `listener` until `shutdown` resolves (`--metrics-listen`).
pub async fn serve_metrics(
    listener: TcpListener,
    handle: PrometheusHandle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    axum::serve(listener, metrics_router(handle))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_needs_a_token() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(check_bind(local, None).is_ok());
        assert!(check_bind(v6, None).is_ok());
        let err = check_bind(any, None).unwrap_err().to_string();
        assert!(
            err.contains("0.0.0.0:8080") && err.contains("token"),
            "{err}"
        );
        assert!(check_bind(any, Some("s3cret")).is_ok());
        assert!(matches!(
            check_bind(local, Some(" ")),
            Err(ServeError::EmptyToken)
        ));
    }

    #[test]
    fn topics_name_their_writers() {
        let t = Topics::default();
        assert_eq!(t.component_of("sales"), Some("replay"));
        assert_eq!(t.component_of("green_light_specials"), Some("greenlight"));
        assert_eq!(t.component_of("sales.dlq"), None);
    }
}
