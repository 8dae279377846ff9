//! The per-store window state kept in the task's [`aisle_streams::ChangelogStore`], and what a
//! joined cart object carries from the join to the windows.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A cart object after the join, as carried on the repartition topic (header
/// [`JOIN_HEADER`], JSON); the record's value stays the original bytes, for the late topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Joined {
    /// Store (the record key too).
    pub store: String,
    /// Item name.
    pub item: String,
    /// Event time, ms.
    pub ts: i64,
    /// Whether the item had an inventory row at `ts`.
    pub matched: bool,
    /// The row's upsell item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upsell: Option<String>,
    /// The row's stock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<i32>,
    /// Where the cart object was read: `topic/partition@offset`.
    pub source: String,
}

/// Header of repartition records holding the [`Joined`] JSON.
pub const JOIN_HEADER: &str = "aisle.greenlight.join";

/// One item in one window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemAgg {
    /// Detections.
    pub count: i64,
    /// Detections that joined an inventory row.
    pub matched: i64,
    /// Upsell item of the row joined by the latest (in event time) matched detection.
    pub upsell: Option<String>,
    /// Stock of that row.
    pub stock: Option<i32>,
    /// Event time of that detection.
    pub row_ts: i64,
}

/// One store's open window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowAgg {
    /// Start, ms.
    pub start: i64,
    /// End, ms.
    pub end: i64,
    /// Items by name.
    pub items: BTreeMap<String, ItemAgg>,
    /// All detections.
    pub total: i64,
    /// Detections with no inventory row.
    pub unmatched: i64,
}

impl WindowAgg {
    /// An empty window.
    pub fn new(start: i64, end: i64) -> Self {
        WindowAgg {
            start,
            end,
            items: BTreeMap::new(),
            total: 0,
            unmatched: 0,
        }
    }

    /// Counts one detection.
    pub fn add(&mut self, j: &Joined) {
        self.total += 1;
        if !self.items.contains_key(&j.item) {
            self.items.insert(j.item.clone(), ItemAgg::default());
        }
        let Some(ia) = self.items.get_mut(&j.item) else {
            return;
        };
        ia.count += 1;
        if j.matched {
            ia.matched += 1;
            // The row in force at the latest detection wins; equal times: the later record.
            if ia.matched == 1 || j.ts >= ia.row_ts {
                ia.upsell = j.upsell.clone();
                ia.stock = j.stock;
                ia.row_ts = j.ts;
            }
        } else {
            self.unmatched += 1;
        }
    }
}

/// Per-store progress, also in the store.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoreMeta {
    /// The store's stream time: the largest event time seen.
    pub stream_time: i64,
    /// Windows ending at or before this were closed early (idle store).
    pub closed_through: i64,
}

impl Default for StoreMeta {
    fn default() -> Self {
        StoreMeta {
            stream_time: i64::MIN,
            closed_through: i64::MIN,
        }
    }
}

/// A state-store value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// An open window.
    Window(WindowAgg),
    /// A store's progress.
    Store(StoreMeta),
}

const SEP: char = '\u{1f}';

/// State key of a store's window.
pub fn window_key(store: &str, start: i64) -> String {
    format!("w{SEP}{store}{SEP}{start}")
}

/// Prefix of all window keys of a store.
pub fn window_prefix(store: &str) -> String {
    format!("w{SEP}{store}{SEP}")
}

/// State key of a store's progress.
pub fn store_key(store: &str) -> String {
    format!("s{SEP}{store}")
}

/// The store of a progress key.
pub fn store_of_key(key: &str) -> Option<&str> {
    key.strip_prefix('s')?.strip_prefix(SEP)
}
