//! The HTTP surface: dashboard assets, the JSON API, server-sent events, `/metrics`,
//! `/healthz` and `/openapi.yaml`. Every route is a GET; nothing here changes data.

use crate::state::{Kind, State};
use axum::Router;
use axum::extract::{MatchedPath, Path, Query, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use futures::{Stream, StreamExt, stream};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Days of sales the page's chart (and `/api/sales` without `last`) shows.
pub const DEFAULT_SALES_DAYS: usize = 120;
/// Most days `/api/sales?last=` returns.
const MAX_SALES_DAYS: usize = 5000;
/// How often an event stream checks the views for changes.
const EVENT_TICK: Duration = Duration::from_millis(400);

/// Every route the router serves, as written in `openapi.yaml` (a test checks both ways).
pub const ROUTES: [&str; 15] = [
    "/",
    "/assets/app.js",
    "/assets/style.css",
    "/events",
    "/healthz",
    "/metrics",
    "/openapi.yaml",
    "/api/specials",
    "/api/windows",
    "/api/inventory",
    "/api/sales",
    "/api/forecasts",
    "/api/forecasts/{series}",
    "/api/scores",
    "/api/status",
];

/// The OpenAPI document, served at `/openapi.yaml`.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");

/// What the handlers share.
#[derive(Clone)]
pub struct App {
    /// The views.
    pub state: Arc<State>,
    /// Required bearer token, if any.
    pub token: Option<Arc<str>>,
    /// Renders `/metrics`.
    pub metrics: Option<PrometheusHandle>,
}

/// The whole router: `/healthz` open, everything else behind the token when one is set.
pub fn router(app: App) -> Router {
    let protected = Router::new()
        .route("/", get(index))
        .route("/assets/app.js", get(app_js))
        .route("/assets/style.css", get(style_css))
        .route("/events", get(events))
        .route("/metrics", get(metrics_text))
        .route("/openapi.yaml", get(openapi))
        .route("/api/specials", get(|s| view(s, Kind::Specials)))
        .route("/api/windows", get(|s| view(s, Kind::Windows)))
        .route("/api/inventory", get(|s| view(s, Kind::Inventory)))
        .route("/api/sales", get(sales))
        .route("/api/forecasts", get(forecasts))
        .route("/api/forecasts/{series}", get(series))
        .route("/api/scores", get(scores))
        .route("/api/status", get(|s| view(s, Kind::Health)))
        .route_layer(middleware::from_fn_with_state(app.clone(), auth));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(protected)
        .layer(middleware::from_fn(count_requests))
        .with_state(app)
}

/// A router with `/metrics` only, for components that expose their metrics without the
/// dashboard (`--metrics-listen`).
pub fn metrics_router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { render_metrics(Some(&handle)) }
        }),
    )
}

/// Rejects requests without the token (header `Authorization: Bearer T` or `?token=T`).
async fn auth(AxState(app): AxState<App>, req: Request, next: Next) -> Response {
    let Some(token) = &app.token else {
        return next.run(req).await;
    };
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let query = Query::<HashMap<String, String>>::try_from_uri(req.uri())
        .ok()
        .and_then(|q| q.0.get("token").cloned());
    let ok = [bearer, query]
        .into_iter()
        .flatten()
        .any(|given| same(given.as_bytes(), token.as_bytes()));
    if ok {
        return next.run(req).await;
    }
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({
            "error": "a token is required: header `Authorization: Bearer TOKEN` or `?token=TOKEN`"
        })),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

/// Compares in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Counts requests by route and status (`aisle_http_requests_total`).
async fn count_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let resp = next.run(req).await;
    metrics::counter!("aisle_http_requests_total", "component" => "serve", "route" => route,
        "status" => resp.status().as_u16().to_string())
    .increment(1);
    resp
}

/// The page with its style sheet and script inlined, so a browser holding `?token=` in the
/// page's address needs no further authorised requests to render it (the script passes the
/// token on to its own API and event requests).
static PAGE: LazyLock<String> = LazyLock::new(|| {
    include_str!("../assets/index.html")
        .replace(
            r#"<link rel="stylesheet" href="assets/style.css">"#,
            &format!("<style>\n{}</style>", include_str!("../assets/style.css")),
        )
        .replace(
            r#"<script src="assets/app.js"></script>"#,
            &format!("<script>\n{}</script>", include_str!("../assets/app.js")),
        )
});

async fn index() -> Html<&'static str> {
    Html(PAGE.as_str())
}

async fn app_js() -> impl IntoResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    )
}

async fn style_css() -> impl IntoResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/style.css"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    (h, body)
}

async fn openapi() -> impl IntoResponse {
    asset("application/yaml; charset=utf-8", OPENAPI_YAML)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn metrics_text(AxState(app): AxState<App>) -> Response {
    render_metrics(app.metrics.as_ref())
}

fn render_metrics(handle: Option<&PrometheusHandle>) -> Response {
    match handle {
        Some(h) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            h.render(),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no metrics recorder is installed in this process\n",
        )
            .into_response(),
    }
}

async fn view(AxState(app): AxState<App>, kind: Kind) -> Json<serde_json::Value> {
    Json(app.state.render(kind))
}

#[derive(Deserialize)]
struct SalesQuery {
    last: Option<usize>,
}

async fn sales(AxState(app): AxState<App>, Query(q): Query<SalesQuery>) -> Response {
    let last = q.last.unwrap_or(DEFAULT_SALES_DAYS);
    if !(1..=MAX_SALES_DAYS).contains(&last) {
        return bad_request(format!("last={last}: give 1 to {MAX_SALES_DAYS} days"));
    }
    Json(app.state.views.read().sales.sales_json(last)).into_response()
}

#[derive(Deserialize)]
struct ForecastQuery {
    q: Option<String>,
    limit: Option<usize>,
}

async fn forecasts(AxState(app): AxState<App>, Query(q): Query<ForecastQuery>) -> Response {
    let limit = q.limit.unwrap_or(50).min(1000);
    let prefix = q.q.unwrap_or_default();
    Json(
        app.state
            .views
            .read()
            .sales
            .forecast_list_json(&prefix, limit),
    )
    .into_response()
}

async fn series(AxState(app): AxState<App>, Path(id): Path<String>) -> Response {
    match app.state.views.read().sales.series_json(&id) {
        Some(j) => Json(j).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": format!("no sales or forecast read for series `{id}`")})),
        )
            .into_response(),
    }
}

async fn scores(AxState(app): AxState<App>) -> Json<serde_json::Value> {
    Json(app.state.views.read().sales.scores_json())
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({"error": message})),
    )
        .into_response()
}

/// Server-sent events: one event per view (named as [`Kind::name`], data = the view's JSON)
/// when the stream opens, then again each time that view changes. Ends when the server stops.
async fn events(AxState(app): AxState<App>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = stream::unfold(
        (
            app.state.clone(),
            app.state.stopping.clone(),
            [u64::MAX; 6],
            true,
            ClientGuard::new(),
        ),
        |(state, mut stopping, mut seen, first, guard)| async move {
            if !first {
                tokio::select! {
                    _ = tokio::time::sleep(EVENT_TICK) => {},
                    _ = stopping.changed() => {},
                }
            }
            if *stopping.borrow() {
                return None;
            }
            let mut out = Vec::new();
            for kind in Kind::ALL {
                let version = state.version(kind);
                if seen[kind as usize] != version {
                    seen[kind as usize] = version;
                    let event = Event::default()
                        .event(kind.name())
                        .json_data(state.render(kind))
                        .unwrap_or_default();
                    out.push(Ok(event));
                }
            }
            Some((stream::iter(out), (state, stopping, seen, false, guard)))
        },
    )
    .flatten();
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Keeps `aisle_sse_clients` equal to the open event streams.
struct ClientGuard;

impl ClientGuard {
    fn new() -> Self {
        metrics::gauge!("aisle_sse_clients", "component" => "serve").increment(1.0);
        ClientGuard
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        metrics::gauge!("aisle_sse_clients", "component" => "serve").decrement(1.0);
    }
}
