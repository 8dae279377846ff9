//! Synthetic M5-shaped data for load tests of any size: a [`Chain`] of stores (by default M5's
//! ten), each with M5's seven departments (by default with their M5 item counts: 3,049 items,
//! 30,490 series for the ten stores), weekly prices with launches, and intermittent demand (many
//! zero days, weekend peaks).
//!
//! Every value is a pure function of (store, item, day), so a resumed replay regenerates exactly
//! what an interrupted one would have sent, and a series has the same values in every chain it
//! is part of: item `FOODS_3_001` of `CA_1` sells the same in a chain of 10 stores × 3,049 items
//! as in one of 100 stores × 40 items.
//!
//! **Items per store.** A store of `M` items (`7 ≤ M ≤ 30,000`) gives each department its share
//! of `M` in proportion to its M5 count ([`dept_items`]): `M × count / 3,049`, rounded by largest
//! remainder (the floors, then one more item each to the departments with the largest fractional
//! parts, ties in M5 order), so the counts add up to `M`; a department left with none takes one
//! from the department with the most items (ties: the first in M5 order), so every department
//! keeps at least one. `M = 3,049` gives M5's counts. A department's items are numbered from 1
//! (`FOODS_3_001`, ...), as in M5.

use crate::error::{Result, SalesError};
use aisle_events::SalesRecord;
use aisle_events::topics;
use aisle_m5::wide::Series;
use bytes::Bytes;

/// M5's departments and their item counts.
pub const DEPTS: [(&str, &str, u32); 7] = [
    ("HOBBIES_1", "HOBBIES", 416),
    ("HOBBIES_2", "HOBBIES", 149),
    ("HOUSEHOLD_1", "HOUSEHOLD", 532),
    ("HOUSEHOLD_2", "HOUSEHOLD", 515),
    ("FOODS_1", "FOODS", 216),
    ("FOODS_2", "FOODS", 398),
    ("FOODS_3", "FOODS", 823),
];

/// Items of an M5 store (the sum of [`DEPTS`]).
pub const M5_ITEMS: u32 = 3049;

/// The shape of a synthetic chain: its stores are the first `stores` of
/// [`topics::chain_store`] (M5's ten first, then `CA_5`, `TX_4`, `WI_4`, `CA_6`, ...), each
/// with `items_per_store` items spread over the departments by [`dept_items`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain {
    /// Stores (1..=[`Chain::MAX_STORES`]).
    pub stores: usize,
    /// Items per store ([`Chain::MIN_ITEMS`]..=[`Chain::MAX_ITEMS`]).
    pub items_per_store: u32,
}

impl Default for Chain {
    /// M5's shape: ten stores of 3,049 items.
    fn default() -> Self {
        Chain {
            stores: topics::M5_STORES.len(),
            items_per_store: M5_ITEMS,
        }
    }
}

impl Chain {
    /// The most stores a chain may have.
    pub const MAX_STORES: usize = 10_000;
    /// The fewest items per store: one per department.
    pub const MIN_ITEMS: u32 = DEPTS.len() as u32;
    /// The most items per store (about ten M5 stores' worth; item codes fit 16 bits).
    pub const MAX_ITEMS: u32 = 30_000;

    /// A chain of `stores` stores of `items_per_store` items, checked.
    pub fn new(stores: usize, items_per_store: u32) -> Result<Self> {
        let chain = Chain {
            stores,
            items_per_store,
        };
        chain.check()?;
        Ok(chain)
    }

    /// Fails, saying the limits, when the shape is out of them.
    pub fn check(&self) -> Result<()> {
        if !(1..=Self::MAX_STORES).contains(&self.stores) {
            return Err(SalesError::Invalid(format!(
                "a synthetic chain has 1..={} stores, not {}",
                Self::MAX_STORES,
                self.stores
            )));
        }
        if !(Self::MIN_ITEMS..=Self::MAX_ITEMS).contains(&self.items_per_store) {
            return Err(SalesError::Invalid(format!(
                "a synthetic store has {}..={} items (at least one per department), not {}",
                Self::MIN_ITEMS,
                Self::MAX_ITEMS,
                self.items_per_store
            )));
        }
        Ok(())
    }

    /// The chain's store ids, by store index.
    pub fn store_ids(&self) -> Vec<String> {
        topics::chain_stores(self.stores)
    }

    /// The series of store `store` (its chain index), in Kaggle order (department, then item
    /// number).
    pub fn series(&self, store: usize) -> Vec<Series> {
        chain_series(store, self.items_per_store)
    }
}

/// Items per department (in [`DEPTS`] order) of a store of `items` items: proportional to M5's
/// counts by largest remainder, at least one each (see the [module docs](self)). `items` must be
/// at least 7.
pub fn dept_items(items: u32) -> [u32; 7] {
    let (m, total) = (items as u64, M5_ITEMS as u64);
    let mut counts = [0u32; 7];
    let mut rems = [0u64; 7];
    for (d, (_, _, n)) in DEPTS.iter().enumerate() {
        counts[d] = (m * *n as u64 / total) as u32;
        rems[d] = m * *n as u64 % total;
    }
    let mut order: [usize; 7] = [0, 1, 2, 3, 4, 5, 6];
    order.sort_by(|a, b| rems[*b].cmp(&rems[*a]).then(a.cmp(b)));
    let left = items.saturating_sub(counts.iter().sum());
    for d in order.iter().take(left as usize) {
        counts[*d] += 1;
    }
    for d in 0..counts.len() {
        if counts[d] == 0 {
            let mut donor = 0;
            for (e, c) in counts.iter().enumerate() {
                if *c > counts[donor] {
                    donor = e;
                }
            }
            if counts[donor] > 1 {
                counts[donor] -= 1;
                counts[d] = 1;
            }
        }
    }
    counts
}

/// The item code of item `number` (from 1) of department `dept` (its [`DEPTS`] index), which the
/// values hash: its index in an M5 store (0..3,049) when M5 has it, else `3,049 + (number −
/// M5's count − 1) × 7 + dept`. It depends only on the item, never on the store's item count.
fn item_code(dept: usize, number: u32) -> u16 {
    let offset: u32 = DEPTS[..dept].iter().map(|d| d.2).sum();
    let m5 = DEPTS[dept].2;
    let code = if number <= m5 {
        offset + number - 1
    } else {
        M5_ITEMS + (number - m5 - 1) * DEPTS.len() as u32 + dept as u32
    };
    // Below 65,536 for every store of up to `Chain::MAX_ITEMS` items (tested).
    code as u16
}

/// The series of M5 store `store` (0..10, Kaggle order) with M5's 3,049 items.
pub fn store_series(store: usize) -> Vec<Series> {
    chain_series(store, M5_ITEMS)
}

/// The series of chain store `store` ([`topics::chain_store`]) with `items` items
/// ([`dept_items`]), in Kaggle order (department, then item number).
pub fn chain_series(store: usize, items: u32) -> Vec<Series> {
    let store_id = topics::chain_store(store);
    let state = store_id.split('_').next().unwrap_or_default().to_string();
    let mut out = Vec::with_capacity(items as usize);
    for (d, ((dept, cat, _), n)) in DEPTS.iter().zip(dept_items(items)).enumerate() {
        for i in 1..=n {
            let item_id = format!("{dept}_{i:03}");
            let key = aisle_events::series_id(&item_id, &store_id);
            out.push(Series {
                record: SalesRecord {
                    item_id,
                    dept_id: (*dept).into(),
                    cat_id: (*cat).into(),
                    store_id: store_id.clone(),
                    state_id: state.clone(),
                    day: 0,
                    sold: 0,
                    sell_price: None,
                },
                key: Bytes::from(key),
                item: item_code(d, i),
            });
        }
    }
    out
}

/// splitmix64: a fast, well-mixed hash of one word.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn series_hash(store: usize, item: u16, salt: u64) -> u64 {
    mix(((store as u64) << 32) ^ ((item as u64) << 8) ^ salt)
}

/// The day the item launched in the store: most items from d_1, a fifth later.
fn launch_day(store: usize, item: u16) -> u32 {
    let h = unit(series_hash(store, item, 1));
    if h < 0.8 {
        1
    } else {
        1 + ((h - 0.8) / 0.2 * 1500.0) as u32
    }
}

/// Price of an item in a store on `day` (weekly, Saturday to Friday like `wm_yr_wk`), `None`
/// before launch.
pub fn price(store: usize, item: u16, cat: &str, day: u32) -> Option<f32> {
    if day < launch_day(store, item) {
        return None;
    }
    let (lo, hi) = match cat {
        "HOBBIES" => (0.5, 30.0),
        "HOUSEHOLD" => (1.0, 20.0),
        _ => (0.5, 10.0),
    };
    // The base price is per item (the same in every store); stores and weeks move it a little.
    let base = lo + unit(mix(item as u64 ^ 0xfeed)) * (hi - lo);
    let week = (day as u64 - 1) / 7;
    let wobble = 1.0 + (unit(mix(series_hash(store, item, 2) ^ (week / 13))) - 0.5) * 0.1;
    Some(((base * wobble * 100.0).round() / 100.0) as f32)
}

/// Units sold: zero-inflated Poisson with a per-series rate, weekend lift, nothing before launch.
pub fn sold(store: usize, item: u16, cat: &str, day: u32) -> u16 {
    if day < launch_day(store, item) {
        return 0;
    }
    let scale = match cat {
        "FOODS" => 3.0,
        "HOUSEHOLD" => 1.2,
        _ => 0.8,
    };
    let rate = scale * (-(1.0 - unit(series_hash(store, item, 3))).ln()) * 1.5;
    let zero_prob = 0.2 + 0.5 * unit(series_hash(store, item, 4));
    // d_1 is a Saturday: days 1 and 2 of each week are the weekend.
    let lambda = if (day - 1) % 7 < 2 { rate * 1.3 } else { rate };
    let h = mix(series_hash(store, item, 5) ^ ((day as u64) << 20));
    if unit(h) < zero_prob {
        return 0;
    }
    // Poisson by inversion; lambda is small (tens at most), so the loop is short.
    let u = unit(mix(h));
    let (mut k, mut p) = (0u32, (-lambda).exp());
    let mut cdf = p;
    while u > cdf && k < 1000 {
        k += 1;
        p *= lambda / k as f64;
        cdf += p;
    }
    k as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m5_shaped_and_deterministic() {
        let s = store_series(5);
        assert_eq!(s.len(), 3049);
        assert_eq!(&s[0].key[..], b"HOBBIES_1_001_TX_2");
        assert_eq!(s[3048].record.item_id, "FOODS_3_823");
        let days = 1..=400u32;
        let total: Vec<u16> = days.clone().map(|d| sold(5, 3000, "FOODS", d)).collect();
        let again: Vec<u16> = days.map(|d| sold(5, 3000, "FOODS", d)).collect();
        assert_eq!(total, again);
        // Intermittent: across a store, a good share of zero days and some positive ones.
        let mut zeros = 0;
        let mut n = 0;
        for item in 0..3049u16 {
            for d in 1..=28 {
                n += 1;
                zeros += (sold(0, item, "FOODS", d) == 0) as u32;
            }
        }
        let share = zeros as f64 / n as f64;
        assert!((0.3..0.9).contains(&share), "zero share {share}");
        let launched = (0..3049u16)
            .filter(|i| price(0, *i, "FOODS", 1).is_some())
            .count();
        assert!((2000..3049).contains(&launched), "{launched}");
    }

    #[test]
    fn departments_scale_in_proportion_and_keep_one_item_each() {
        let m5: Vec<u32> = DEPTS.iter().map(|d| d.2).collect();
        assert_eq!(dept_items(M5_ITEMS).to_vec(), m5);
        assert_eq!(dept_items(7), [1; 7]);
        // 40 items: quotas 5.46, 1.95, 6.98, 6.76, 2.83, 5.22, 10.80.
        assert_eq!(dept_items(40), [5, 2, 7, 7, 3, 5, 11]);
        // 10 items: Hamilton gives HOBBIES_2 none; it takes one from FOODS_3.
        assert_eq!(dept_items(10), [1, 1, 2, 2, 1, 1, 2]);
        assert_eq!(
            dept_items(2 * M5_ITEMS).to_vec(),
            m5.iter().map(|n| 2 * n).collect::<Vec<_>>()
        );
        for m in (Chain::MIN_ITEMS..=4000).chain([Chain::MAX_ITEMS]) {
            let counts = dept_items(m);
            assert_eq!(counts.iter().sum::<u32>(), m, "{m}");
            for (c, n) in counts.iter().zip(&m5) {
                let quota = m as f64 * *n as f64 / M5_ITEMS as f64;
                assert!(
                    *c >= 1 && (*c as f64 - quota).abs() < 2.0,
                    "{m}: {counts:?}"
                );
            }
        }
    }

    #[test]
    fn a_series_is_the_same_in_every_chain_and_item_codes_are_unique() {
        // The default shape is M5's, identical to the ten stores' series.
        let default = Chain::default();
        assert_eq!(default.store_ids(), topics::M5_STORES);
        let big = store_series(2);
        let small = Chain::new(100, 40).unwrap().series(2);
        assert_eq!(small.len(), 40);
        for s in &small {
            let same = big.iter().find(|b| b.key == s.key).unwrap();
            assert_eq!((same.item, &same.record), (s.item, &s.record));
        }
        // A store beyond M5's: a chain store id, its state, keys with its id.
        let far = Chain::new(100, 40).unwrap().series(57);
        let id = topics::chain_store(57);
        assert_eq!(far[0].record.store_id, id);
        assert_eq!(far[0].record.state_id, &id[..2]);
        assert_eq!(&far[39].key[..], format!("FOODS_3_011_{id}").as_bytes());
        for m in [Chain::MIN_ITEMS, 40, M5_ITEMS, 10_000, Chain::MAX_ITEMS] {
            let series = chain_series(0, m);
            let codes: std::collections::HashSet<u32> =
                series.iter().map(|s| s.item as u32).collect();
            assert_eq!(
                codes.len(),
                m as usize,
                "{m}: item codes collide (u16 overflow?)"
            );
        }
        assert!(Chain::new(0, 40).is_err());
        let e = Chain::new(10, 6).unwrap_err();
        assert!(e.to_string().contains("at least one per department"), "{e}");
        assert!(Chain::new(10, Chain::MAX_ITEMS + 1).is_err());
    }
}
