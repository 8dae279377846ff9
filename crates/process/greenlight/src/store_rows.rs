//! [`StoreRows`]: which inventory row a store sees — its own, else the chain's.
//!
//! `inventory_rekeyed` holds two kinds of rows ([`aisle_events::types::inventory_key`]): chain-wide
//! rows keyed by the item name (`cup`; every row of the seed table) and a store's own rows keyed
//! `{store}/{name}` (`CA_1/cup`). A lookup for store S and item `cup` at event time `t` returns
//! the row `S/cup` in force at `t` if there is one, otherwise the chain-wide `cup` in force at
//! `t`. "In force" is the versioned table's answer ([`aisle_streams::VersionedTable::get_at`]):
//! a store row deleted (tombstoned) before `t`, or first written after it, is not in force, so
//! the store falls back to the chain-wide row — a store that stops keeping its own stock of an
//! item shares the chain's again. A lookup without a store (a cart object with no `store_id`)
//! reads the chain-wide row only.
//!
//! With no store rows in the table every lookup ends at the chain-wide row, as before stores had
//! rows: the outputs are the seed's, byte for byte. The cost is one more hash lookup per
//! record that has a store; the store key is built in a buffer kept by the caller
//! ([`aisle_events::types::store_key_into`]), so the hot path allocates nothing.

use aisle_events::Inventory;
use aisle_events::types::store_key_into;
use aisle_streams::TableJoin;
use std::sync::Arc;

/// A reusable buffer for store keys, and the lookup rule of this module.
#[derive(Debug, Default)]
pub struct StoreRows {
    key: String,
}

impl StoreRows {
    /// An empty buffer.
    pub fn new() -> Self {
        StoreRows::default()
    }

    /// The row `store` sees for `item` at event time `ts`: the store's own row in force at
    /// `ts`, else the chain-wide one (`store` `None`: the chain-wide one only). `store` is a
    /// store id as [`aisle_events::types::key_store`] gives it (trimmed, not blank).
    pub fn get_at<'t>(
        &mut self,
        table: &'t TableJoin<Inventory>,
        store: Option<&str>,
        item: &str,
        ts: i64,
    ) -> Option<&'t Arc<Inventory>> {
        self.find(store, item, |key| table.get_at(key, ts))
    }

    /// The rule over any table: `get(key)` is the row of `key` (`None`: no row, or a deleted one).
    pub fn find<'t, V>(
        &mut self,
        store: Option<&str>,
        item: &str,
        get: impl Fn(&str) -> Option<&'t V>,
    ) -> Option<&'t V> {
        if let Some(store) = store {
            store_key_into(&mut self.key, store, item);
            if let Some(row) = get(&self.key) {
                return Some(row);
            }
        }
        get(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_streams::VersionedTable;

    fn get(
        rows: &mut StoreRows,
        t: &VersionedTable<i32>,
        store: Option<&str>,
        item: &str,
        ts: i64,
    ) -> Option<i32> {
        rows.find(store, item, |k| t.get_at(k, ts)).map(|v| **v)
    }

    #[test]
    fn store_row_first_then_chain_wide_at_event_time() {
        let mut t = VersionedTable::new(600_000);
        t.apply("cup", 0, Some(100));
        t.apply("CA_1/cup", 1_000, Some(7));
        t.apply("CA_1/cup", 5_000, None);
        t.apply("CA_1/fork", 0, Some(3));
        let mut rows = StoreRows::new();
        // Before CA_1's row existed, while it is in force, after its tombstone.
        assert_eq!(get(&mut rows, &t, Some("CA_1"), "cup", 500), Some(100));
        assert_eq!(get(&mut rows, &t, Some("CA_1"), "cup", 2_000), Some(7));
        assert_eq!(get(&mut rows, &t, Some("CA_1"), "cup", 6_000), Some(100));
        // Another store, and no store: chain-wide only.
        assert_eq!(get(&mut rows, &t, Some("TX_1"), "cup", 2_000), Some(100));
        assert_eq!(get(&mut rows, &t, None, "cup", 2_000), Some(100));
        // A store-only item: that store alone sees it.
        assert_eq!(get(&mut rows, &t, Some("CA_1"), "fork", 2_000), Some(3));
        assert_eq!(get(&mut rows, &t, Some("TX_1"), "fork", 2_000), None);
        assert_eq!(get(&mut rows, &t, None, "fork", 2_000), None);
        // The buffer is cleared between lookups (a longer key before a shorter one).
        assert_eq!(
            get(&mut rows, &t, Some("CA_10000"), "cup", 2_000),
            Some(100)
        );
        assert_eq!(get(&mut rows, &t, Some("CA_1"), "cup", 2_000), Some(7));
    }
}
