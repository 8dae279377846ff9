//! `aisle-m5`: the M5 (Walmart) data files, read once for the whole of Aisle — the sales replay
//! (`aisle-sales`) and forecasting (`aisle-forecast`) both use these readers.
//!
//! * [`files`]: finding the files in a data directory (`NAME.csv` or `NAME.csv.zst`, the wide
//!   sales file by prefix) and opening them with transparent zstd;
//! * [`calendar`]: [`Calendar`] by day `d_N`: date, Walmart week, weekday, events, SNAP per state;
//! * [`prices`]: `sell_prices.csv` as [`Prices`] by series and week (every row), or as a compact
//!   [`prices::PriceTable`] of only the stores, items and weeks a replay needs;
//! * [`wide`]: Kaggle's wide sales tables (one row per item × store, one column per day): the whole
//!   table as a [`SalesPanel`], or in windows of days with bounded memory and rejected rows;
//! * [`series`]: series ids (`ITEM_STORE[_evaluation]` ↔ item and store) and [`SeriesMeta`];
//! * [`hierarchy`]: item → department → category, store → state: the twelve M5 levels.
//!
//! Every reader joins on keys (series id, `d_N` column names, `wm_yr_wk`), never on row order, so
//! Kaggle's full files, the 28-day extract in `../shared/data/m5` and small test files all load the
//! same way. Errors ([`M5Error`]) name the file and the line.
//!
//! ```
//! use aisle_m5::{Hierarchy, SeriesMeta, series_key};
//!
//! let m = SeriesMeta::from_ids("FOODS_3_090", "CA_1").unwrap();
//! assert_eq!((m.dept_id.as_str(), m.cat_id.as_str(), m.state_id.as_str()), ("FOODS_3", "FOODS", "CA"));
//! assert_eq!(series_key("FOODS_3_090_CA_1_evaluation"), m.id);
//! assert_eq!(Hierarchy::m5(&[m]).series_count(), 12);
//! ```

pub mod calendar;
mod error;
pub mod files;
pub mod hierarchy;
pub mod prices;
pub mod series;
pub mod wide;

pub use calendar::{Calendar, CalendarDay};
pub use error::{M5Error, Result};
pub use hierarchy::Hierarchy;
pub use prices::Prices;
pub use series::{SeriesMeta, series_key};
pub use wide::SalesPanel;

/// Writes `content` to a file `name` in a fresh temporary directory (kept while the guard lives).
#[cfg(test)]
pub(crate) fn test_file(name: &str, content: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    (dir, path)
}
