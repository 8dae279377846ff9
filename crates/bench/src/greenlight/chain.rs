//! The chain a greenlight bench carts for: its stores, the inventory rows they join, and the
//! cart objects.

use aisle_inventory::SEED_ROWS;

/// Items every store of `--stores` has its own row for: cup and fork, which are also the upsell
/// items of bowl and spoon.
pub const STORE_ROW_ITEMS: [&str; 2] = ["cup", "fork"];

/// Where the cart objects come from, and whether each store has its own rows.
#[derive(Clone, Debug)]
pub(super) struct Chain {
    pub(super) stores: Vec<String>,
    pub(super) own_rows: bool,
}

impl Chain {
    pub(super) fn new(stores: Option<usize>) -> Self {
        match stores {
            None => Chain {
                stores: aisle_events::topics::M5_STORES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                own_rows: false,
            },
            Some(n) => Chain {
                stores: aisle_events::topics::chain_stores(n),
                own_rows: true,
            },
        }
    }

    /// The store of object `i`. Without store rows: `i mod 10`, as before `--stores` (10 and the
    /// 7 items share no factor, so every store sees every item). With them: runs of seven
    /// objects (every item once) per store in turn, so every store sees every item whatever N
    /// is (with `i mod N`, a multiple of 7 would give each store a single item).
    pub(super) fn store_of(&self, i: u64) -> &str {
        let n = self.stores.len() as u64;
        let slot = if self.own_rows { i / 7 % n } else { i % n };
        &self.stores[slot as usize]
    }

    /// The table at `modified`: the seed rows (chain-wide), then each store's own rows.
    pub(super) fn inventory(&self, modified: i64) -> Vec<aisle_events::Inventory> {
        let row = |id: usize, store: Option<&str>, (name, upsell, count): (&str, &str, i32)| {
            aisle_events::Inventory {
                id: id as i32,
                name: Some(name.into()),
                upsell_item: Some(upsell.into()),
                count: Some(count),
                modified,
                store_id: store.map(Into::into),
            }
        };
        let mut rows: Vec<_> = SEED_ROWS
            .iter()
            .enumerate()
            .map(|(i, r)| row(i + 1, None, *r))
            .collect();
        if !self.own_rows {
            return rows;
        }
        for (s, store) in self.stores.iter().enumerate() {
            for (k, item) in STORE_ROW_ITEMS.iter().enumerate() {
                let Some((name, upsell, _)) = SEED_ROWS.iter().find(|r| r.0 == *item) else {
                    continue;
                };
                // A count of the store's own (1..=97, never the seed's), so a join that read the
                // chain-wide row instead would show in the outputs.
                let count = 1 + ((s * STORE_ROW_ITEMS.len() + k) % 97) as i32;
                let id = SEED_ROWS.len() + 1 + s * STORE_ROW_ITEMS.len() + k;
                rows.push(row(id, Some(store), (name, upsell, count)));
            }
        }
        rows
    }
}

pub(super) fn bench_cart(i: u64, ts: i64, chain: &Chain) -> aisle_events::ShoppingCartObject {
    let item = SEED_ROWS[(i % 7) as usize].0;
    aisle_events::ShoppingCartObject {
        timestamp: ts,
        image_name: format!("bench_{i}.jpg"),
        class_id: (i % 7) as i32,
        class_name: item.into(),
        score: 0.9,
        box_x: 1,
        box_y: 2,
        box_w: 3,
        box_h: 4,
        store_id: Some(chain.store_of(i).to_owned()),
        cart_id: None,
        camera_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn default_chain_is_todays_bench() {
        let chain = Chain::new(None);
        assert_eq!(chain.stores, aisle_events::topics::M5_STORES);
        let rows = chain.inventory(5);
        let keys: Vec<_> = rows.iter().map(|r| r.key().unwrap()).collect();
        let seed: Vec<_> = SEED_ROWS.iter().map(|r| r.0.to_string()).collect();
        assert_eq!(keys, seed);
        assert!(rows.iter().all(|r| r.store_id.is_none() && r.modified == 5));
        for i in 0..20 {
            let c = bench_cart(i, 0, &chain);
            let want = aisle_events::topics::M5_STORES[(i % 10) as usize];
            assert_eq!(c.store_id.as_deref(), Some(want));
            assert_eq!(c.class_name, SEED_ROWS[(i % 7) as usize].0);
        }
    }

    #[test]
    fn stores_get_their_own_rows_and_the_join_takes_them() {
        let n = 14;
        let chain = Chain::new(Some(n));
        let stores = aisle_events::topics::chain_stores(n);
        assert_eq!(chain.stores, stores);
        let rows = chain.inventory(0);
        assert_eq!(rows.len(), SEED_ROWS.len() + n * STORE_ROW_ITEMS.len());
        let table: HashMap<String, aisle_events::Inventory> =
            rows.iter().map(|r| (r.key().unwrap(), r.clone())).collect();
        assert_eq!(table.len(), rows.len(), "keys are unique");
        let ids: std::collections::BTreeSet<_> = rows.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), rows.len(), "ids are unique");
        // Every store carts every item within the first 7 N objects (14 is a multiple of 7: a
        // plain `i mod N` would give each store one item).
        let seen: std::collections::BTreeSet<_> = (0..n as u64 * 7)
            .map(|i| {
                let c = bench_cart(i, 0, &chain);
                (c.store_id.unwrap(), c.class_name)
            })
            .collect();
        assert_eq!(seen.len(), n * SEED_ROWS.len());
        // What the processor's rule joins for each store and item: the store's own cup and fork
        // (a count unlike the chain's), the chain-wide row for the rest.
        let mut lookup = aisle_greenlight::StoreRows::new();
        let mut counts = std::collections::BTreeSet::new();
        for store in &stores {
            for (name, upsell, chain_count) in SEED_ROWS {
                let r = lookup
                    .find(Some(store), name, |k| table.get(k))
                    .unwrap_or_else(|| panic!("{store} {name}: no row"));
                assert_eq!(r.upsell_item.as_deref(), Some(upsell));
                if STORE_ROW_ITEMS.contains(&name) {
                    assert_eq!(r.store_id.as_deref(), Some(store.as_str()), "{name}");
                    let c = r.count.unwrap();
                    assert!(c > 0 && c != chain_count, "{store} {name}: {c}");
                    counts.insert(c);
                } else {
                    assert_eq!(r.store_id, None, "{store} {name}");
                }
            }
        }
        assert!(counts.len() > 1, "store counts differ between stores");
    }
}
