//! Reading the M5 files: wide sales tables, the calendar and sell prices, `.csv` or `.csv.zst`.
//!
//! Every reader joins on keys (series id, `d_N` column names, `wm_yr_wk`), never on row order,
//! so Kaggle's full files, this project's 28-day extract and synthetic test files all load the
//! same way.

use crate::error::{ForecastError, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Opens `path` for reading, decompressing it on the fly when the name ends in `.zst`.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>> {
    let io = |source| ForecastError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    if path.extension().is_some_and(|e| e == "zst") {
        Ok(Box::new(zstd::Decoder::new(file).map_err(io)?))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 20, file)))
    }
}

/// `dir/name` if it exists, else `dir/name.zst` if that exists.
pub fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    let plain = dir.join(name);
    if plain.exists() {
        return Some(plain);
    }
    let zst = dir.join(format!("{name}.zst"));
    zst.exists().then_some(zst)
}

/// Like [`find`], but an error naming both candidates when neither exists.
pub fn require(dir: &Path, name: &str) -> Result<PathBuf> {
    find(dir, name).ok_or_else(|| ForecastError::Io {
        path: dir.join(name),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "not found (nor .zst)"),
    })
}

pub(crate) fn csv_reader(path: &Path) -> Result<csv::Reader<Box<dyn Read + Send>>> {
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(open(path)?))
}

pub(crate) fn csv_err(path: &Path) -> impl Fn(csv::Error) -> ForecastError + '_ {
    move |source| ForecastError::Csv {
        path: path.to_path_buf(),
        source,
    }
}

/// Strips Kaggle's `_evaluation` / `_validation` suffix: `FOODS_3_090_CA_1_evaluation` →
/// `FOODS_3_090_CA_1`, the series id Aisle uses as the record key.
pub fn series_key(id: &str) -> &str {
    id.strip_suffix("_evaluation")
        .or_else(|| id.strip_suffix("_validation"))
        .unwrap_or(id)
}

/// The hierarchy attributes of one bottom-level (item × store) series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesMeta {
    /// `ITEM_STORE`, e.g. `FOODS_3_090_CA_1`.
    pub id: String,
    /// e.g. `FOODS_3_090`.
    pub item_id: String,
    /// e.g. `FOODS_3`.
    pub dept_id: String,
    /// e.g. `FOODS`.
    pub cat_id: String,
    /// e.g. `CA_1`.
    pub store_id: String,
    /// e.g. `CA`.
    pub state_id: String,
}

impl SeriesMeta {
    /// Derives the attributes from an item id and a store id (`FOODS_3_090`, `CA_1`), the way
    /// M5 names them: department = item without its number, category = its first part,
    /// state = the store without its number.
    pub fn from_ids(item_id: &str, store_id: &str) -> Option<Self> {
        let dept_id = item_id.rsplit_once('_')?.0;
        let cat_id = dept_id.split_once('_').map_or(dept_id, |(c, _)| c);
        let state_id = store_id.split_once('_')?.0;
        Some(Self {
            id: format!("{item_id}_{store_id}"),
            item_id: item_id.to_string(),
            dept_id: dept_id.to_string(),
            cat_id: cat_id.to_string(),
            store_id: store_id.to_string(),
            state_id: state_id.to_string(),
        })
    }
}

/// Daily unit sales of many series over consecutive days: `values[s][t]` is series `s` on day
/// `first_day + t` (M5 `d_N` numbering).
#[derive(Debug, Clone, Default)]
pub struct SalesPanel {
    /// The series, in file order.
    pub series: Vec<SeriesMeta>,
    /// The `N` of the first column.
    pub first_day: i32,
    /// One row per series, one value per day.
    pub values: Vec<Vec<f32>>,
}

impl SalesPanel {
    /// Number of days.
    pub fn days(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    /// The `N` of the last day (`first_day - 1` when empty).
    pub fn last_day(&self) -> i32 {
        self.first_day + self.days() as i32 - 1
    }

    /// Reads a Kaggle wide file (`id,item_id,dept_id,cat_id,store_id,state_id,d_A..d_B`).
    /// The `d_` columns must be consecutive.
    pub fn read_wide(path: &Path) -> Result<Self> {
        let mut rdr = csv_reader(path)?;
        let err = csv_err(path);
        let headers = rdr.headers().map_err(&err)?.clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| ForecastError::bad(path, format!("no `{name}` column")))
        };
        let (c_item, c_store) = (col("item_id")?, col("store_id")?);
        let day_cols: Vec<(usize, i32)> = headers
            .iter()
            .enumerate()
            .filter_map(|(i, h)| Some((i, h.strip_prefix("d_")?.parse().ok()?)))
            .collect();
        let first_day = day_cols
            .first()
            .ok_or_else(|| ForecastError::bad(path, "no d_N columns"))?
            .1;
        for (k, &(_, d)) in day_cols.iter().enumerate() {
            if d != first_day + k as i32 {
                return Err(ForecastError::bad(
                    path,
                    format!("day columns are not consecutive at d_{d}"),
                ));
            }
        }
        let mut panel = Self {
            first_day,
            ..Self::default()
        };
        let mut rec = csv::StringRecord::new();
        while rdr.read_record(&mut rec).map_err(&err)? {
            let line = rec.position().map_or(0, |p| p.line());
            let (item, store) = (&rec[c_item], &rec[c_store]);
            let meta = SeriesMeta::from_ids(item, store).ok_or_else(|| {
                ForecastError::bad(
                    path,
                    format!("line {line}: bad item/store `{item}`/`{store}`"),
                )
            })?;
            let mut row = Vec::with_capacity(day_cols.len());
            for &(i, d) in &day_cols {
                let v: f32 = rec.get(i).unwrap_or("").trim().parse().map_err(|_| {
                    ForecastError::bad(path, format!("line {line}: d_{d} is not a number"))
                })?;
                row.push(v);
            }
            panel.series.push(meta);
            panel.values.push(row);
        }
        Ok(panel)
    }

    /// The days `from..=to` of every series (clamped to what exists).
    pub fn slice(&self, from: i32, to: i32) -> Self {
        let a = (from - self.first_day).clamp(0, self.days() as i32) as usize;
        let b = (to - self.first_day + 1).clamp(a as i32, self.days() as i32) as usize;
        Self {
            series: self.series.clone(),
            first_day: self.first_day + a as i32,
            values: self.values.iter().map(|r| r[a..b].to_vec()).collect(),
        }
    }

    /// Series id → row index.
    pub fn index(&self) -> HashMap<&str, usize> {
        self.series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect()
    }
}

/// One row of `calendar.csv`, the fields the models and weights use.
#[derive(Debug, Clone, Default)]
pub struct CalendarDay {
    /// Walmart week (Saturday..Friday), joins to sell prices.
    pub wm_yr_wk: u32,
    /// 1 = Saturday .. 7 = Friday.
    pub wday: u8,
    /// Any event that day (`event_name_1` or `_2` set).
    pub event: bool,
    /// Name of the first event, empty when none.
    pub event_name: String,
    /// SNAP day in CA, TX, WI.
    pub snap: [bool; 3],
    /// Calendar month `YYYY-MM` (joins to the monthly totals).
    pub month: String,
}

/// `calendar.csv`, indexed by `d_N`.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    days: Vec<CalendarDay>,
}

impl Calendar {
    /// Reads `calendar.csv` (or `.zst`).
    pub fn read(path: &Path) -> Result<Self> {
        let mut rdr = csv_reader(path)?;
        let err = csv_err(path);
        let h = rdr.headers().map_err(&err)?.clone();
        let col = |name: &str| {
            h.iter()
                .position(|x| x == name)
                .ok_or_else(|| ForecastError::bad(path, format!("no `{name}` column")))
        };
        let cols = [
            col("d")?,
            col("wm_yr_wk")?,
            col("wday")?,
            col("event_name_1")?,
            col("event_name_2")?,
            col("snap_CA")?,
            col("snap_TX")?,
            col("snap_WI")?,
            col("date")?,
        ];
        let mut days = vec![CalendarDay::default()];
        for rec in rdr.records() {
            let rec = rec.map_err(&err)?;
            let f = |i: usize| rec.get(cols[i]).unwrap_or("");
            let bad = |what: &str| ForecastError::bad(path, format!("{}: bad {what}", f(0)));
            let d: usize = f(0)
                .strip_prefix("d_")
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| bad("d"))?;
            if d != days.len() {
                return Err(bad("day order (expected d_1, d_2, ...)"));
            }
            days.push(CalendarDay {
                wm_yr_wk: f(1).parse().map_err(|_| bad("wm_yr_wk"))?,
                wday: f(2).parse().map_err(|_| bad("wday"))?,
                event: !f(3).is_empty() || !f(4).is_empty(),
                event_name: f(3).to_string(),
                snap: [f(5) == "1", f(6) == "1", f(7) == "1"],
                month: f(8).get(..7).unwrap_or("").to_string(),
            });
        }
        Ok(Self { days })
    }

    /// Builds a calendar from rows for d_1, d_2, ... (tests, synthetic data).
    pub fn from_days(days: Vec<CalendarDay>) -> Self {
        let mut all = vec![CalendarDay::default()];
        all.extend(days);
        Self { days: all }
    }

    /// The row of `d_N`, if the calendar covers it.
    pub fn day(&self, d: i32) -> Option<&CalendarDay> {
        usize::try_from(d).ok().filter(|&d| d > 0)?;
        self.days.get(d as usize)
    }

    /// The last `N` covered.
    pub fn last_day(&self) -> i32 {
        self.days.len() as i32 - 1
    }

    /// Whether `d` is a SNAP day in the state of `state_id` (`CA`, `TX`, `WI`).
    pub fn snap(&self, d: i32, state_id: &str) -> bool {
        let i = match state_id {
            "CA" => 0,
            "TX" => 1,
            "WI" => 2,
            _ => return false,
        };
        self.day(d).is_some_and(|c| c.snap[i])
    }
}

/// `sell_prices.csv`: price per (series, Walmart week).
#[derive(Debug, Clone, Default)]
pub struct Prices {
    by_series: HashMap<String, HashMap<u32, f32>>,
}

impl Prices {
    /// Reads `sell_prices.csv` (or `.zst`); ~6.8 M rows.
    pub fn read(path: &Path) -> Result<Self> {
        let mut rdr = csv_reader(path)?;
        let err = csv_err(path);
        let mut by_series: HashMap<String, HashMap<u32, f32>> = HashMap::new();
        let mut rec = csv::ByteRecord::new();
        let mut key = String::new();
        while rdr.read_byte_record(&mut rec).map_err(&err)? {
            let bad = || {
                let line = rec.position().map_or(0, |p| p.line());
                ForecastError::bad(path, format!("line {line}: bad row"))
            };
            let text = |i: usize| std::str::from_utf8(rec.get(i).unwrap_or(b"")).ok();
            let (store, item) = (text(0).ok_or_else(bad)?, text(1).ok_or_else(bad)?);
            let wk: u32 = text(2).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let price: f32 = text(3).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
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
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_from_ids() {
        let m = SeriesMeta::from_ids("HOUSEHOLD_2_516", "WI_3").unwrap();
        assert_eq!(m.id, "HOUSEHOLD_2_516_WI_3");
        assert_eq!(m.dept_id, "HOUSEHOLD_2");
        assert_eq!(m.cat_id, "HOUSEHOLD");
        assert_eq!(m.state_id, "WI");
        assert!(SeriesMeta::from_ids("X", "CA_1").is_none());
    }

    #[test]
    fn wide_file_round_trip_and_slice() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(
            &p,
            "id,item_id,dept_id,cat_id,store_id,state_id,d_5,d_6,d_7\n\
             A_1_001_CA_1_evaluation,A_1_001,A_1,A,CA_1,CA,1,2,3\n",
        )
        .unwrap();
        let panel = SalesPanel::read_wide(&p).unwrap();
        assert_eq!((panel.first_day, panel.last_day()), (5, 7));
        let s = panel.slice(6, 9);
        assert_eq!((s.first_day, s.values[0].clone()), (6, vec![2.0, 3.0]));
        std::fs::write(
            &p,
            "id,item_id,dept_id,cat_id,store_id,state_id,d_5,d_7\nx,A_1_001,A_1,A,CA_1,CA,1,2\n",
        )
        .unwrap();
        let e = SalesPanel::read_wide(&p).unwrap_err().to_string();
        assert!(e.contains("not consecutive"), "{e}");
    }
}
