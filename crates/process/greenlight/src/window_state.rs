//! What a joined cart object carries from the join to the windows, and the per-store window
//! aggregate ([`WindowAgg`]) kept in the task's [`aisle_streams::WindowedAggregate`].

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
    /// The input partition it was read from (`topic/partition`): its watermark source.
    #[serde(default)]
    pub partition: String,
    /// That partition's time (largest event time read from it) after this record.
    #[serde(default = "min_time")]
    pub partition_time: i64,
}

fn min_time() -> i64 {
    i64::MIN
}

/// Header of the progress reports ([`aisle_streams::Progress`]) the join stage writes to every
/// repartition partition.
pub const PROGRESS_HEADER: &str = "aisle.greenlight.progress";

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
