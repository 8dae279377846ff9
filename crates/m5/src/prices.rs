//! `sell_prices.csv`, held compactly: only the stores, items and weeks a replay needs, as a sorted
//! array of packed 32-bit keys and `f32` prices (8 bytes per price; the whole 6.8M-row file would be
//! ~55 MB, a 28-day replay needs ~150k prices, ~1.2 MB).

use crate::error::{Result, SalesError};
use crate::input;
use aisle_events::topics::store_partition;
use std::collections::HashMap;
use std::path::Path;

/// Items are interned to 16-bit indexes (M5 has 3,049) and weeks to 12-bit indexes (M5 has 282);
/// with the 4-bit store index that packs a key into 32 bits.
const MAX_ITEMS: usize = 1 << 16;
const MAX_WEEKS: usize = 1 << 12;

/// Weekly prices by (store, item, week).
#[derive(Clone, Debug, Default)]
pub struct Prices {
    keys: Vec<u32>,
    prices: Vec<f32>,
    weeks: HashMap<u32, u32>,
    /// Rows skipped because they could not be parsed.
    pub bad_rows: u64,
}

/// What to keep from the prices file.
#[derive(Debug)]
pub struct PriceFilter<'a> {
    /// Store indexes wanted (Kaggle order).
    pub stores: &'a [bool; 10],
    /// Item ids wanted, with their index (< 65,536).
    pub items: &'a HashMap<String, u16>,
    /// Walmart weeks wanted.
    pub weeks: &'a [u32],
}

fn pack(store: usize, item: u16, week_idx: u32) -> u32 {
    ((store as u32) << 28) | ((week_idx & 0xfff) << 16) | item as u32
}

impl Prices {
    /// Reads the prices the filter asks for. Unparseable rows are counted in `bad_rows` (a price
    /// file is reference data: one bad row should not stop a replay, but it is reported).
    pub fn read(path: &Path, filter: &PriceFilter<'_>) -> Result<Self> {
        if filter.items.len() > MAX_ITEMS || filter.weeks.len() > MAX_WEEKS {
            return Err(SalesError::Invalid(format!(
                "too many items ({}) or weeks ({}) for the price table",
                filter.items.len(),
                filter.weeks.len()
            )));
        }
        let weeks: HashMap<u32, u32> = filter
            .weeks
            .iter()
            .enumerate()
            .map(|(i, w)| (*w, i as u32))
            .collect();
        let mut rdr = csv::Reader::from_reader(input::open(path)?);
        let bad = |line: u64, reason: String| SalesError::BadFile {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let headers = rdr
            .byte_headers()
            .map_err(|e| bad(1, e.to_string()))?
            .clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name.as_bytes())
                .ok_or_else(|| bad(1, format!("no `{name}` column")))
        };
        let cols = [
            col("store_id")?,
            col("item_id")?,
            col("wm_yr_wk")?,
            col("sell_price")?,
        ];
        let mut out = Prices {
            weeks,
            ..Default::default()
        };
        let mut entries: Vec<(u32, f32)> = Vec::new();
        let mut rec = csv::ByteRecord::new();
        loop {
            match rdr.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {}
                Err(_) => {
                    out.bad_rows += 1;
                    continue;
                }
            }
            let f = |i: usize| std::str::from_utf8(rec.get(cols[i]).unwrap_or(b"")).ok();
            // Cheapest filters first: most rows of a short replay are other weeks.
            let Some(week_idx) = f(2)
                .and_then(|w| w.parse::<u32>().ok())
                .and_then(|w| out.weeks.get(&w).copied())
            else {
                continue;
            };
            let Some(store) = f(0).and_then(store_partition).map(|s| s as usize) else {
                continue;
            };
            if !filter.stores[store] {
                continue;
            }
            let Some(&item) = f(1).and_then(|i| filter.items.get(i)) else {
                continue;
            };
            match f(3).and_then(|p| p.parse::<f32>().ok()) {
                Some(price) if price.is_finite() => {
                    entries.push((pack(store, item, week_idx), price))
                }
                _ => out.bad_rows += 1,
            }
        }
        entries.sort_unstable_by_key(|e| e.0);
        entries.dedup_by_key(|e| e.0);
        out.keys = entries.iter().map(|e| e.0).collect();
        out.prices = entries.iter().map(|e| e.1).collect();
        Ok(out)
    }

    /// The price of `item` (its index) in `store` during `wm_yr_wk`; `None` if it was not on sale.
    pub fn get(&self, store: usize, item: u16, wm_yr_wk: u32) -> Option<f32> {
        let week_idx = *self.weeks.get(&wm_yr_wk)?;
        let i = self.keys.binary_search(&pack(store, item, week_idx)).ok()?;
        Some(self.prices[i])
    }

    /// Number of prices held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no price is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_what_the_filter_asks_for() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sell_prices.csv");
        std::fs::write(
            &p,
            "store_id,item_id,wm_yr_wk,sell_price\n\
             CA_1,A,11101,1.5\nCA_1,A,11102,1.75\nCA_2,A,11101,9.0\nCA_1,B,11101,2.0\n\
             CA_1,C,11101,3.0\nCA_1,B,11102,oops\nXX_1,A,11101,1.0\n",
        )
        .unwrap();
        let mut stores = [false; 10];
        stores[0] = true;
        let items: HashMap<String, u16> = [("A".to_string(), 0), ("B".to_string(), 1)].into();
        let prices = Prices::read(
            &p,
            &PriceFilter {
                stores: &stores,
                items: &items,
                weeks: &[11101, 11102],
            },
        )
        .unwrap();
        assert_eq!(prices.len(), 3);
        assert_eq!(prices.get(0, 0, 11101), Some(1.5));
        assert_eq!(prices.get(0, 0, 11102), Some(1.75));
        assert_eq!(prices.get(0, 1, 11101), Some(2.0));
        assert_eq!(prices.get(0, 1, 11102), None);
        assert_eq!(prices.get(1, 0, 11101), None, "CA_2 was not asked for");
        assert_eq!(prices.get(0, 0, 11103), None);
        assert_eq!(prices.bad_rows, 1);
    }
}
