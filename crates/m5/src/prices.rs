//! `sell_prices.csv` (`store_id,item_id,wm_yr_wk,sell_price`, ~6.8 M rows), two ways:
//!
//! * [`Prices`]: every price, by series id and week — what forecasting models and WRMSSE weights
//!   look up;
//! * [`PriceTable`]: only the stores, items and weeks a replay needs ([`PriceFilter`]), as a sorted
//!   array of packed 32-bit keys and `f32` prices (8 bytes per price; the whole file would be
//!   ~55 MB, a 28-day replay needs ~150k prices, ~1.2 MB).
//!
//! Both read the file through one row reader ([`for_each_row`]), which finds the columns by name.

use crate::calendar::Calendar;
use crate::error::{M5Error, Result};
use crate::files;
use aisle_events::topics::store_partition;
use std::collections::HashMap;
use std::path::Path;

/// One row of `sell_prices.csv`, its fields parsed only when asked for.
#[derive(Debug)]
pub struct PriceRow<'a> {
    rec: &'a csv::ByteRecord,
    cols: &'a [usize; 4],
    /// 1-based line in the file.
    pub line: u64,
}

impl<'a> PriceRow<'a> {
    fn text(&self, i: usize) -> Option<&'a str> {
        std::str::from_utf8(self.rec.get(self.cols[i]).unwrap_or(b"")).ok()
    }

    /// `store_id`.
    pub fn store(&self) -> Option<&'a str> {
        self.text(0)
    }

    /// `item_id`.
    pub fn item(&self) -> Option<&'a str> {
        self.text(1)
    }

    /// `wm_yr_wk`, if it is a number.
    pub fn week(&self) -> Option<u32> {
        self.text(2)?.parse().ok()
    }

    /// `sell_price`, if it is a finite number.
    pub fn price(&self) -> Option<f32> {
        self.text(3)?.parse().ok().filter(|p: &f32| p.is_finite())
    }
}

/// Calls `f` with every data row of a prices file, or with `Err(line)` for a row the CSV reader
/// cannot split; a header without the four columns is an error naming them.
pub fn for_each_row(
    path: &Path,
    mut f: impl FnMut(std::result::Result<&PriceRow<'_>, u64>) -> Result<()>,
) -> Result<()> {
    let mut rdr = csv::Reader::from_reader(files::open(path)?);
    let bad = |line: u64, reason: String| M5Error::bad(path, line, reason);
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
    let mut rec = csv::ByteRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => return Ok(()),
            Ok(true) => f(Ok(&PriceRow {
                rec: &rec,
                cols: &cols,
                line: rec.position().map_or(line, |p| p.line()),
            }))?,
            Err(_) => f(Err(line))?,
        }
    }
}

/// Every price of `sell_prices.csv`, by series id (`ITEM_STORE`) and Walmart week.
#[derive(Debug, Clone, Default)]
pub struct Prices {
    by_series: HashMap<String, HashMap<u32, f32>>,
}

impl Prices {
    /// Reads `sell_prices.csv` (or `.zst`); a row that cannot be read fails naming its line.
    pub fn read(path: &Path) -> Result<Self> {
        let mut by_series: HashMap<String, HashMap<u32, f32>> = HashMap::new();
        let mut key = String::new();
        for_each_row(path, |row| {
            let bad = |line| M5Error::bad(path, line, "bad row");
            let row = row.map_err(bad)?;
            let (Some(store), Some(item), Some(wk), Some(price)) =
                (row.store(), row.item(), row.week(), row.price())
            else {
                return Err(bad(row.line));
            };
            key.clear();
            key.push_str(item);
            key.push('_');
            key.push_str(store);
            match by_series.get_mut(key.as_str()) {
                Some(m) => {
                    m.insert(wk, price);
                }
                None => {
                    by_series.insert(key.clone(), HashMap::from([(wk, price)]));
                }
            }
            Ok(())
        })?;
        Ok(Self { by_series })
    }

    /// Sets one price (tests, synthetic data).
    pub fn insert(&mut self, series_id: &str, wm_yr_wk: u32, price: f32) {
        self.by_series
            .entry(series_id.to_string())
            .or_default()
            .insert(wm_yr_wk, price);
    }

    /// Price of `series_id` in week `wm_yr_wk`; `None` before the item launched there.
    pub fn get(&self, series_id: &str, wm_yr_wk: u32) -> Option<f32> {
        self.by_series.get(series_id)?.get(&wm_yr_wk).copied()
    }

    /// Price of `series_id` on day `d`.
    pub fn on_day(&self, cal: &Calendar, series_id: &str, d: i32) -> Option<f32> {
        self.get(series_id, cal.day(d)?.wm_yr_wk)
    }
}

/// Items are interned to 16-bit indexes (M5 has 3,049) and weeks to 12-bit indexes (M5 has 282);
/// with the 4-bit store index that packs a key into 32 bits.
const MAX_ITEMS: usize = 1 << 16;
const MAX_WEEKS: usize = 1 << 12;

/// Weekly prices by (store index, item index, week), for the stores, items and weeks asked for.
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
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

impl PriceTable {
    /// Reads the prices the filter asks for. Unparseable rows are counted in `bad_rows` (a price
    /// file is reference data: one bad row should not stop a replay, but it is reported).
    pub fn read(path: &Path, filter: &PriceFilter<'_>) -> Result<Self> {
        if filter.items.len() > MAX_ITEMS || filter.weeks.len() > MAX_WEEKS {
            return Err(M5Error::Invalid(format!(
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
        let mut out = PriceTable {
            weeks,
            ..Default::default()
        };
        let mut entries: Vec<(u32, f32)> = Vec::new();
        for_each_row(path, |row| {
            let Ok(row) = row else {
                out.bad_rows += 1;
                return Ok(());
            };
            // Cheapest filters first: most rows of a short replay are other weeks.
            let Some(week_idx) = row.week().and_then(|w| out.weeks.get(&w).copied()) else {
                return Ok(());
            };
            let Some(store) = row.store().and_then(store_partition).map(|s| s as usize) else {
                return Ok(());
            };
            if !filter.stores[store] {
                return Ok(());
            }
            let Some(&item) = row.item().and_then(|i| filter.items.get(i)) else {
                return Ok(());
            };
            match row.price() {
                Some(price) => entries.push((pack(store, item, week_idx), price)),
                None => out.bad_rows += 1,
            }
            Ok(())
        })?;
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
        let (_dir, p) = crate::test_file(
            "sell_prices.csv",
            "store_id,item_id,wm_yr_wk,sell_price\n\
             CA_1,A,11101,1.5\nCA_1,A,11102,1.75\nCA_2,A,11101,9.0\nCA_1,B,11101,2.0\n\
             CA_1,C,11101,3.0\nCA_1,B,11102,oops\nXX_1,A,11101,1.0\n",
        );
        let mut stores = [false; 10];
        stores[0] = true;
        let items: HashMap<String, u16> = [("A".to_string(), 0), ("B".to_string(), 1)].into();
        let prices = PriceTable::read(
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

    #[test]
    fn every_price_by_series_and_week() {
        let (_dir, p) = crate::test_file(
            "sell_prices.csv",
            "store_id,item_id,wm_yr_wk,sell_price\nCA_1,A_1_001,11101,1.5\nCA_1,A_1_001,11102,2.0\n",
        );
        let prices = Prices::read(&p).unwrap();
        assert_eq!(prices.get("A_1_001_CA_1", 11102), Some(2.0));
        assert_eq!(prices.get("A_1_001_CA_1", 11103), None);
        let cal = Calendar::from_days(vec![crate::CalendarDay {
            wm_yr_wk: 11101,
            ..Default::default()
        }]);
        assert_eq!(prices.on_day(&cal, "A_1_001_CA_1", 1), Some(1.5));

        std::fs::write(
            &p,
            "store_id,item_id,wm_yr_wk,sell_price\nCA_1,A_1_001,11101,1.5\nCA_1,A_1_001,x,2.0\n",
        )
        .unwrap();
        let err = Prices::read(&p).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("bad row"), "{err}");
    }
}
