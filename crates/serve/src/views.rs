//! The in-memory views of the Green Light topics: specials, windows, inventory.
//!
//! Each view folds records in offset order and renders the JSON the API serves. They are plain
//! data (no I/O, no locks): [`crate::state::State`] holds them behind one lock.

use aisle_events::{GreenLightSpecial, Inventory, WindowedItem};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// Specials kept per store for the history list.
pub const SPECIAL_HISTORY: usize = 20;

/// Windows kept per store: the current (latest closed) one and the one before.
const WINDOWS_KEPT: usize = 2;

/// `green_light_specials`: the latest special per store and a short history.
#[derive(Debug, Default)]
pub struct Specials {
    /// Per store, oldest window first.
    by_store: BTreeMap<String, VecDeque<GreenLightSpecial>>,
}

impl Specials {
    /// Adds one special; a re-sent window replaces the earlier record of that window.
    pub fn apply(&mut self, special: GreenLightSpecial) {
        let list = self.by_store.entry(special.store_id.clone()).or_default();
        match list
            .iter()
            .position(|s| s.window_start >= special.window_start)
        {
            Some(i) if list[i].window_start == special.window_start => list[i] = special,
            Some(i) => list.insert(i, special),
            None => list.push_back(special),
        }
        while list.len() > SPECIAL_HISTORY {
            list.pop_front();
        }
    }

    /// `{"stores": [{"store_id", "current", "history"}]}`, history newest first.
    pub fn to_json(&self) -> serde_json::Value {
        let stores: Vec<_> = self
            .by_store
            .iter()
            .filter_map(|(store, list)| {
                let current = list.back()?;
                Some(serde_json::json!({
                    "store_id": store,
                    "current": current,
                    "history": list.iter().rev().collect::<Vec<_>>(),
                }))
            })
            .collect();
        serde_json::json!({ "stores": stores })
    }
}

/// One closed window of one store.
#[derive(Debug, Default)]
struct Window {
    window_end: i64,
    /// By item name; a re-sent item replaces the earlier count.
    items: BTreeMap<String, WindowedItem>,
}

/// An item's count as the API shows it.
#[derive(Debug, Serialize)]
struct ItemCount<'a> {
    item: &'a str,
    count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    upsell_item: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stock: Option<i32>,
}

impl Window {
    fn to_json(&self, start: i64) -> serde_json::Value {
        let mut matched: Vec<ItemCount> = Vec::new();
        let mut unmatched: Vec<ItemCount> = Vec::new();
        for w in self.items.values() {
            let row = ItemCount {
                item: &w.item,
                count: w.count,
                upsell_item: w.upsell_item.as_deref(),
                stock: w.stock,
            };
            if w.matched {
                matched.push(row);
            } else {
                unmatched.push(row);
            }
        }
        // Most carted first; ties by name (the BTreeMap order, kept by the stable sort).
        matched.sort_by_key(|r| std::cmp::Reverse(r.count));
        unmatched.sort_by_key(|r| std::cmp::Reverse(r.count));
        serde_json::json!({
            "window_start": start,
            "window_end": self.window_end,
            "items": matched,
            "unmatched": unmatched,
        })
    }
}

/// `windowed_items`: per store, the current (latest closed) window and the previous one.
#[derive(Debug, Default)]
pub struct Windows {
    by_store: BTreeMap<String, BTreeMap<i64, Window>>,
}

impl Windows {
    /// Adds one item count. Counts for windows older than the two kept are ignored.
    pub fn apply(&mut self, item: WindowedItem) {
        let windows = self.by_store.entry(item.store_id.clone()).or_default();
        if windows.len() >= WINDOWS_KEPT
            && windows
                .keys()
                .next()
                .is_some_and(|oldest| item.window_start < *oldest)
        {
            return;
        }
        let w = windows.entry(item.window_start).or_default();
        w.window_end = item.window_end;
        w.items.insert(item.item.clone(), item);
        while windows.len() > WINDOWS_KEPT {
            windows.pop_first();
        }
    }

    /// `{"stores": [{"store_id", "current", "previous"?}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let stores: Vec<_> = self
            .by_store
            .iter()
            .filter_map(|(store, windows)| {
                let mut it = windows.iter().rev();
                let (cs, current) = it.next()?;
                let mut out = serde_json::json!({
                    "store_id": store,
                    "current": current.to_json(*cs),
                });
                if let Some((ps, prev)) = it.next() {
                    out["previous"] = prev.to_json(*ps);
                }
                Some(out)
            })
            .collect();
        serde_json::json!({ "stores": stores })
    }
}

/// One row of the inventory table as the API shows it.
#[derive(Debug, Clone, Serialize)]
struct Row {
    key: String,
    id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upsell_item: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<i32>,
    modified: i64,
    /// Offset of the record that last changed the row, so the page can flash changed rows.
    offset: i64,
}

/// `inventory_rekeyed` as a table: the latest row per key; tombstones delete.
#[derive(Debug, Default)]
pub struct InventoryTable {
    rows: BTreeMap<String, Row>,
}

impl InventoryTable {
    /// Upserts `key`'s row.
    pub fn upsert(&mut self, key: String, row: Inventory, offset: i64) {
        let row = Row {
            key: key.clone(),
            id: row.id,
            name: row.name,
            upsell_item: row.upsell_item,
            count: row.count,
            modified: row.modified,
            offset,
        };
        self.rows.insert(key, row);
    }

    /// Removes `key` (a tombstone).
    pub fn delete(&mut self, key: &str) {
        self.rows.remove(key);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// `{"rows": [...]}` ordered by key.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "rows": self.rows.values().collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn special(store: &str, start: i64, item: &str) -> GreenLightSpecial {
        GreenLightSpecial {
            store_id: store.into(),
            window_start: start,
            window_end: start + 60_000,
            item: item.into(),
            upsell_item: "plate".into(),
            count: 3,
            reason: "most carted".into(),
            total_items: 5,
            unmatched_items: 1,
        }
    }

    fn windowed(store: &str, start: i64, item: &str, count: i64, matched: bool) -> WindowedItem {
        WindowedItem {
            store_id: store.into(),
            window_start: start,
            window_end: start + 60_000,
            item: item.into(),
            count,
            matched,
            upsell_item: matched.then(|| "plate".to_string()),
            stock: matched.then_some(10),
        }
    }

    #[test]
    fn latest_special_wins_whatever_the_arrival_order() {
        let mut s = Specials::default();
        s.apply(special("CA_1", 120_000, "cup"));
        s.apply(special("CA_1", 60_000, "bowl"));
        s.apply(special("TX_1", 0, "fork"));
        let j = s.to_json();
        assert_eq!(j["stores"][0]["current"]["item"], "cup");
        assert_eq!(j["stores"][0]["history"][1]["item"], "bowl");
        assert_eq!(j["stores"][1]["store_id"], "TX_1");
        // A re-sent window replaces its record instead of duplicating it.
        s.apply(special("CA_1", 120_000, "spoon"));
        let j = s.to_json();
        assert_eq!(j["stores"][0]["current"]["item"], "spoon");
        assert_eq!(j["stores"][0]["history"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn windows_keep_current_and_previous_with_unmatched_apart() {
        let mut w = Windows::default();
        w.apply(windowed("CA_1", 0, "cup", 2, true));
        w.apply(windowed("CA_1", 60_000, "cup", 5, true));
        w.apply(windowed("CA_1", 60_000, "fork", 7, true));
        w.apply(windowed("CA_1", 60_000, "sportsball", 4, false));
        w.apply(windowed("CA_1", 120_000, "bowl", 1, true));
        // Late count for a window no longer kept: ignored.
        w.apply(windowed("CA_1", 0, "cup", 9, true));
        let j = w.to_json();
        let store = &j["stores"][0];
        assert_eq!(store["current"]["window_start"], 120_000);
        assert_eq!(store["previous"]["window_start"], 60_000);
        assert_eq!(store["previous"]["items"][0]["item"], "fork");
        assert_eq!(store["previous"]["items"][1]["item"], "cup");
        assert_eq!(store["previous"]["unmatched"][0]["item"], "sportsball");
        assert!(store["previous"]["unmatched"][0].get("stock").is_none());
    }

    #[test]
    fn inventory_tombstones_delete_rows() {
        let mut t = InventoryTable::default();
        let row = |id: i32, name: &str, count: i32| Inventory {
            id,
            name: Some(name.into()),
            upsell_item: Some("plate".into()),
            count: Some(count),
            modified: 1,
            store_id: None,
        };
        t.upsert("cup".into(), row(1, "cup", 100), 0);
        t.upsert("bowl".into(), row(2, "bowl", 10), 1);
        t.upsert("cup".into(), row(1, "cup", 99), 2);
        assert_eq!(t.len(), 2);
        assert_eq!(t.to_json()["rows"][1]["count"], 99);
        t.delete("cup");
        assert_eq!(t.len(), 1);
        assert_eq!(t.to_json()["rows"][0]["key"], "bowl");
    }
}
