//! Rust types for the schemas in `schemas/*.avsc`, one per topic value.
//!
//! Field names and order match the schemas exactly (serde maps them by name; Avro encodes them by
//! position, so the order is part of the contract). Avro `["null", T]` unions are `Option<T>`,
//! `timestamp-millis` is `i64` milliseconds since the Unix epoch. Each type implements
//! [`Event`](crate::Event) and has a `key()` giving the record key the design table prescribes.

use serde::{Deserialize, Serialize};

use crate::codec::impl_event;
use crate::schemas;

/// One object a cart camera detected (`shopping_cart_objects`; Avro record
/// `com.pattersonconsulting.kafka.avro.shopping_cart_objects`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShoppingCartObject {
    /// Photo capture time, ms since the Unix epoch (event time).
    pub timestamp: i64,
    /// Photo file name.
    pub image_name: String,
    /// Detector class id, -1 when unknown.
    pub class_id: i32,
    /// Item name after label mapping; the record key.
    pub class_name: String,
    /// Detector confidence in [0, 1].
    pub score: f32,
    /// Bounding box left edge, pixels.
    pub box_x: i32,
    /// Bounding box top edge, pixels.
    pub box_y: i32,
    /// Bounding box width, pixels.
    pub box_w: i32,
    /// Bounding box height, pixels.
    pub box_h: i32,
    /// Store the camera is in; `None` from seed producers.
    #[serde(default)]
    pub store_id: Option<String>,
    /// Cart the photo shows.
    #[serde(default)]
    pub cart_id: Option<String>,
    /// Camera that took the photo.
    #[serde(default)]
    pub camera_id: Option<String>,
}
impl_event!(
    ShoppingCartObject,
    "com.pattersonconsulting.kafka.avro.shopping_cart_objects",
    schemas::SHOPPING_CART_OBJECT
);

impl ShoppingCartObject {
    /// The record key: the item name, so carted items meet their inventory row on one partition.
    pub fn key(&self) -> &str {
        &self.class_name
    }
}

/// One item's sales in one store on one day (`sales`; Avro record `m5.forecasting.avro.SalesRecord`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesRecord {
    /// M5 item id, e.g. `FOODS_3_090`.
    pub item_id: String,
    /// M5 department, e.g. `FOODS_3`.
    pub dept_id: String,
    /// M5 category, e.g. `FOODS`.
    pub cat_id: String,
    /// M5 store id, e.g. `CA_1`.
    pub store_id: String,
    /// M5 state, e.g. `CA`.
    pub state_id: String,
    /// The `N` of the M5 `d_N` day column.
    pub day: i32,
    /// Units sold that day.
    pub sold: i32,
    /// Weekly sell price; `None` before the item was on sale.
    pub sell_price: Option<f32>,
}
impl_event!(
    SalesRecord,
    "m5.forecasting.avro.SalesRecord",
    schemas::SALES_RECORD
);

impl SalesRecord {
    /// The record key, the M5 series id `ITEM_STORE` (e.g. `FOODS_3_090_CA_1`).
    pub fn key(&self) -> String {
        series_id(&self.item_id, &self.store_id)
    }
}

/// The M5 series id `ITEM_STORE`, the key of `sales` and `sales_forecasts`.
pub fn series_id(item_id: &str, store_id: &str) -> String {
    format!("{item_id}_{store_id}")
}

/// An inventory row as Kafka Connect's JDBC source emits it (`mysql_tables_jdbc_inventory`,
/// `inventory_rekeyed`; Avro record `inventory`). Nullable columns are `Option`. A row with a
/// `store_id` is that store's stock; a row without one (the seed table has no such column) is
/// chain-wide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// Primary key.
    pub id: i32,
    /// Item name; the `inventory_rekeyed` key.
    #[serde(default)]
    pub name: Option<String>,
    /// Item to promote when this one is popular.
    #[serde(default)]
    pub upsell_item: Option<String>,
    /// Units in stock.
    #[serde(default)]
    pub count: Option<i32>,
    /// Row modification time, ms since the Unix epoch (the connector's timestamp column).
    pub modified: i64,
    /// Store whose stock the row is; `None` (or blank): chain-wide. Schema v2; rows of the seed
    /// table (v1) read as `None`.
    #[serde(default)]
    pub store_id: Option<String>,
}
impl_event!(Inventory, "inventory", schemas::INVENTORY);

impl Inventory {
    /// The `inventory_rekeyed` key ([`inventory_key`]): the item name for a chain-wide row,
    /// `{store_id}/{name}` for a store's row; `None` without a name (such rows cannot be joined).
    pub fn key(&self) -> Option<String> {
        self.name
            .as_deref()
            .map(|name| inventory_key(self.store_id.as_deref(), name))
    }
}

/// Between the store and the item name in the `inventory_rekeyed` key of a store's row.
pub const STORE_KEY_SEPARATOR: char = '/';

/// A row's store as keys use it: trimmed, `None` when absent or blank (a chain-wide row).
pub fn key_store(store_id: Option<&str>) -> Option<&str> {
    store_id.map(str::trim).filter(|s| !s.is_empty())
}

/// The `inventory_rekeyed` key of an inventory row: `name` for a chain-wide row (no store, or a
/// blank one: the seed table's keys), `{store}/{name}` for a store's row (the store trimmed).
///
/// A store's key never equals a chain-wide one as long as neither store ids nor the names of
/// chain-wide rows contain `/`; the inventory connector sends rows breaking that rule in a table
/// with a `store_id` column to its dead-letter topic instead of keying them.
pub fn inventory_key(store_id: Option<&str>, name: &str) -> String {
    match key_store(store_id) {
        Some(store) => store_key(store, name),
        None => name.to_owned(),
    }
}

/// `{store}/{name}`: the key of `store`'s row for item `name` (`store` as [`key_store`] gives it).
pub fn store_key(store: &str, name: &str) -> String {
    let mut key = String::with_capacity(store.len() + 1 + name.len());
    store_key_into(&mut key, store, name);
    key
}

/// [`store_key`] into a buffer (cleared first), for lookups on a hot path.
pub fn store_key_into(buf: &mut String, store: &str, name: &str) {
    buf.clear();
    buf.push_str(store);
    buf.push(STORE_KEY_SEPARATOR);
    buf.push_str(name);
}

/// One item's count in one store's closed window (`windowed_items`; `aisle.retail.WindowedItem`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowedItem {
    /// Store the carts belong to.
    pub store_id: String,
    /// Window start, inclusive, ms.
    pub window_start: i64,
    /// Window end, exclusive, ms.
    pub window_end: i64,
    /// Item name.
    pub item: String,
    /// Detections of the item in the window.
    pub count: i64,
    /// Whether the item has an inventory row.
    pub matched: bool,
    /// Upsell item from the inventory row.
    #[serde(default)]
    pub upsell_item: Option<String>,
    /// Inventory count when the window closed.
    #[serde(default)]
    pub stock: Option<i32>,
}
impl_event!(
    WindowedItem,
    "aisle.retail.WindowedItem",
    schemas::WINDOWED_ITEM
);

impl WindowedItem {
    /// The record key `item@window_start`.
    pub fn key(&self) -> String {
        format!("{}@{}", self.item, self.window_start)
    }
}

/// The special a store runs for one window (`green_light_specials`; `aisle.retail.GreenLightSpecial`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GreenLightSpecial {
    /// Store the special is for; the record key.
    pub store_id: String,
    /// Window start, inclusive, ms.
    pub window_start: i64,
    /// Window end, exclusive, ms.
    pub window_end: i64,
    /// The winning item.
    pub item: String,
    /// The item put on special.
    pub upsell_item: String,
    /// Detections of the winning item.
    pub count: i64,
    /// Why it won, for people.
    pub reason: String,
    /// All detections in the window.
    pub total_items: i64,
    /// Detections with no inventory row.
    pub unmatched_items: i64,
}
impl_event!(
    GreenLightSpecial,
    "aisle.retail.GreenLightSpecial",
    schemas::GREEN_LIGHT_SPECIAL
);

impl GreenLightSpecial {
    /// The record key: the store id.
    pub fn key(&self) -> &str {
        &self.store_id
    }
}

/// A 28-day forecast for one M5 series (`sales_forecasts`; `aisle.retail.SalesForecast`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesForecast {
    /// Series id `ITEM_STORE`; the record key.
    pub id: String,
    /// M5 item id.
    pub item_id: String,
    /// M5 store id.
    pub store_id: String,
    /// The `d_` number of `forecast[0]`.
    pub first_day: i32,
    /// Expected units per day from `first_day` on.
    pub forecast: Vec<f32>,
    /// Model name and version.
    pub model: String,
    /// When the forecast was made, ms.
    pub generated_at: i64,
    /// Since schema v2: quantiles of the forecast distribution, increasing `q` (the nine M5 ones,
    /// [`SalesForecast::M5_QUANTILES`], from the forecaster); empty in v1 data.
    #[serde(default)]
    pub quantiles: Vec<ForecastQuantile>,
}
impl_event!(
    SalesForecast,
    "aisle.retail.SalesForecast",
    schemas::SALES_FORECAST
);

impl SalesForecast {
    /// The nine quantile levels of the M5 uncertainty competition.
    pub const M5_QUANTILES: [f32; 9] = [0.005, 0.025, 0.165, 0.25, 0.5, 0.75, 0.835, 0.975, 0.995];

    /// The record key: the series id.
    pub fn key(&self) -> &str {
        &self.id
    }

    /// The values of quantile level `q` (within 1e-6), if the record carries it.
    pub fn quantile(&self, q: f32) -> Option<&[f32]> {
        self.quantiles
            .iter()
            .find(|x| (x.q - q).abs() < 1e-6)
            .map(|x| x.values.as_slice())
    }
}

/// One quantile of a [`SalesForecast`] (Avro record `aisle.retail.ForecastQuantile`, schema v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastQuantile {
    /// Quantile level in (0, 1).
    pub q: f32,
    /// Units per day from `first_day` on, aligned with `forecast`.
    pub values: Vec<f32>,
}
