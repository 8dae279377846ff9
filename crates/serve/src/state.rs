//! The server's shared state: every view behind one lock, with a version per view so the
//! server-sent event streams send only what changed.

use crate::health::Health;
use crate::sales::Sales;
use crate::views::{InventoryTable, Specials, Windows};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

/// The views, one per kind of data the dashboard shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `green_light_specials`.
    Specials,
    /// `windowed_items`.
    Windows,
    /// `inventory_rekeyed`.
    Inventory,
    /// `sales`.
    Sales,
    /// `sales_forecasts` (and the scores computed with `sales`).
    Forecasts,
    /// Topic rates, lag, dead letters.
    Health,
}

impl Kind {
    /// Every kind, in the order the page lays them out.
    pub const ALL: [Kind; 6] = [
        Kind::Specials,
        Kind::Windows,
        Kind::Inventory,
        Kind::Sales,
        Kind::Forecasts,
        Kind::Health,
    ];

    /// The SSE event name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Specials => "specials",
            Kind::Windows => "windows",
            Kind::Inventory => "inventory",
            Kind::Sales => "sales",
            Kind::Forecasts => "forecasts",
            Kind::Health => "health",
        }
    }
}

/// All views.
#[derive(Debug, Default)]
pub struct Views {
    /// Latest special per store.
    pub specials: Specials,
    /// Current and previous window per store.
    pub windows: Windows,
    /// The inventory table.
    pub inventory: InventoryTable,
    /// Sales, forecasts, scores.
    pub sales: Sales,
    /// Pipeline health.
    pub health: Health,
}

/// Shared by the tailer, the health sampler and the HTTP handlers.
#[derive(Debug)]
pub struct State {
    /// The views.
    pub views: RwLock<Views>,
    versions: [AtomicU64; 6],
    /// Flips to `true` when the server shuts down (ends event streams).
    pub stopping: watch::Receiver<bool>,
    /// The runtime's name, for the status page.
    pub runtime: &'static str,
}

impl State {
    /// Empty views.
    pub fn new(runtime: &'static str, stopping: watch::Receiver<bool>) -> Self {
        State {
            views: RwLock::new(Views::default()),
            versions: Default::default(),
            stopping,
            runtime,
        }
    }

    /// Marks a view changed.
    pub fn bump(&self, kind: Kind) {
        self.versions[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The version of a view (how many times it changed).
    pub fn version(&self, kind: Kind) -> u64 {
        self.versions[kind as usize].load(Ordering::Relaxed)
    }

    /// The JSON of one view, as its API endpoint and its SSE event carry it.
    pub fn render(&self, kind: Kind) -> serde_json::Value {
        let v = self.views.read();
        match kind {
            Kind::Specials => v.specials.to_json(),
            Kind::Windows => v.windows.to_json(),
            Kind::Inventory => v.inventory.to_json(),
            Kind::Sales => v.sales.sales_json(crate::api::DEFAULT_SALES_DAYS),
            Kind::Forecasts => serde_json::json!({
                "count": v.sales.forecast_count(),
                "scores": v.sales.scores_json(),
            }),
            Kind::Health => v.health.to_json(self.runtime),
        }
    }
}
