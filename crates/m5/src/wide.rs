//! The wide M5 sales file (`sales_train_*.csv`): one row per item × store, one column per day.
//!
//! One header check ([`read_header`]: the id columns by name, then contiguous `d_N` columns) and
//! one row reader serve two ways of loading it:
//!
//! * [`SalesPanel::read_wide`]: the whole table in memory as `f32`s, for forecasting; any bad row
//!   is an error naming its line;
//! * [`index`] and [`load_window`]: the replay's reader, below.
//!
//! # Bounded memory, any row order
//! Records go out day by day within a store, but the file holds a series' days in one row, so a
//! store's whole day `d` is spread over thousands of rows. Rather than assume Kaggle's order (each
//! store's rows contiguous), the reader works in *windows* of days:
//!
//! * pass 1 ([`index`]) reads every row once, validates it over the requested days, and keeps per
//!   store only the series' ids (a few dozen bytes each), plus the first window's values;
//! * each later window is one more streaming pass ([`load_window`]) that keeps only that window's
//!   columns, as `u16` (M5's largest daily count is under 1,000).
//!
//! Memory is therefore `series × window days × 2 bytes` (30,490 × 28 days: 1.7 MB; the default
//! 256-day window: 15.6 MB) whatever the file's length or order, and a full 1,941-day file costs
//! eight passes. Rows are read as raw lines (so a malformed one can go to the dead-letter topic
//! byte for byte), each parsed by the `csv` crate.

use crate::calendar::parse_day;
use crate::error::{M5Error, Result};
use crate::files;
use crate::series::SeriesMeta;
use aisle_events::SalesRecord;
use aisle_events::topics::{M5_STORES, store_partition};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Column positions of a wide sales file.
#[derive(Clone, Debug)]
pub struct SalesHeader {
    /// The file.
    pub path: PathBuf,
    /// Number of columns.
    pub columns: usize,
    ids: [usize; 5],
    /// First day column `d_N`'s N.
    pub first_day: u32,
    /// Last day column's N.
    pub last_day: u32,
    day0: usize,
}

/// One series of a store: the record template and its key.
#[derive(Clone, Debug)]
pub struct Series {
    /// The record with the series' ids; day, sold and price are filled per day.
    pub record: SalesRecord,
    /// `ITEM_STORE`.
    pub key: Bytes,
    /// The item's index in [`SalesIndex::items`] (for price lookups).
    pub item: u16,
}

/// A row that was not replayed, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// 1-based line in the file.
    pub line: u64,
    /// The row's series id when it could be read.
    pub key: Option<String>,
    /// What is wrong.
    pub reason: String,
    /// The line's bytes, without the line ending.
    pub raw: Vec<u8>,
}

/// Pass 1's result: every valid series by store, in file order, and the rejected rows.
#[derive(Debug, Default)]
pub struct SalesIndex {
    /// Series per store index (Kaggle order); a series' position is its row number in the store.
    pub stores: Vec<Vec<Series>>,
    /// Rows not replayed.
    pub rejected: Vec<Rejected>,
    /// Item id → index.
    pub items: HashMap<String, u16>,
    /// For each data line (0 = first after the header): its store and row, if replayed.
    lines: Vec<Option<(u8, u32)>>,
}

/// The values of a window of days for every replayed series.
#[derive(Debug)]
pub struct Window {
    /// First day of the window.
    pub first: u32,
    /// Number of days.
    pub days: u32,
    /// Per store: `values[d * rows + row]` = units sold on day `first + d`.
    pub values: Vec<Vec<u16>>,
}

impl Window {
    fn new(first: u32, days: u32, index: &SalesIndex) -> Self {
        let values = index
            .stores
            .iter()
            .map(|s| vec![0u16; s.len() * days as usize])
            .collect();
        Window {
            first,
            days,
            values,
        }
    }

    /// Units sold on `day` by row `row` of store `store`.
    pub fn sold(&self, store: usize, rows: usize, row: usize, day: u32) -> u16 {
        self.values[store][(day - self.first) as usize * rows + row]
    }
}

/// Reads and checks the header: the five id columns by name, then contiguous `d_N` columns.
pub fn read_header(path: &Path) -> Result<SalesHeader> {
    let bad = |reason: String| M5Error::bad(path, 1, reason);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(files::open(path)?);
    let mut rec = csv::StringRecord::new();
    if !rdr.read_record(&mut rec).map_err(|e| bad(e.to_string()))? {
        return Err(bad("the file is empty".into()));
    }
    let col = |name: &str| {
        rec.iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(format!("no `{name}` column")))
    };
    let ids = [
        col("item_id")?,
        col("dept_id")?,
        col("cat_id")?,
        col("store_id")?,
        col("state_id")?,
    ];
    let day0 = rec
        .iter()
        .position(|h| h.starts_with("d_"))
        .ok_or_else(|| bad("no d_N day columns".into()))?;
    let first_day =
        parse_day(&rec[day0]).ok_or_else(|| bad(format!("bad day column `{}`", &rec[day0])))?;
    for (i, h) in rec.iter().enumerate().skip(day0) {
        let want = first_day + (i - day0) as u32;
        if parse_day(h) != Some(want) {
            return Err(bad(format!(
                "day columns must be contiguous: column {} is `{h}`, expected `d_{want}`",
                i + 1
            )));
        }
    }
    let columns = rec.len();
    Ok(SalesHeader {
        path: path.to_path_buf(),
        columns,
        ids,
        first_day,
        last_day: first_day + (columns - day0) as u32 - 1,
        day0,
    })
}

impl SalesHeader {
    /// Fails unless the file holds every day of `first..=last`.
    pub fn require(&self, first: u32, last: u32) -> Result<()> {
        if first < self.first_day || last > self.last_day {
            return Err(M5Error::DaysNotCovered {
                first,
                last,
                path: self.path.clone(),
                detail: format!("it has d_{}..d_{}", self.first_day, self.last_day),
            });
        }
        Ok(())
    }
}

/// Calls `f(line number, raw line, parsed fields)` for every data line.
fn for_each_row(
    header: &SalesHeader,
    mut f: impl FnMut(u64, &[u8], &csv::ByteRecord) -> Result<()>,
) -> Result<()> {
    let path = &header.path;
    let mut rdr = files::open(path)?;
    let mut line = Vec::with_capacity(1 << 12);
    let mut rec = csv::ByteRecord::new();
    let mut n = 0u64;
    loop {
        line.clear();
        let read = rdr
            .read_until(b'\n', &mut line)
            .map_err(|e| M5Error::io(path, e))?;
        if read == 0 {
            return Ok(());
        }
        n += 1;
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        if n == 1 || line.is_empty() {
            continue;
        }
        let mut parser = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&line[..]);
        rec.clear();
        if parser.read_byte_record(&mut rec).is_err() {
            rec.clear();
        }
        f(n, &line, &rec)?;
    }
}

fn field(rec: &csv::ByteRecord, i: usize) -> &str {
    std::str::from_utf8(rec.get(i).unwrap_or(b"")).unwrap_or("")
}

/// Reads the days `first..=last` of one row as counts; `Err(reason)` for the first bad value.
fn row_values(
    header: &SalesHeader,
    rec: &csv::ByteRecord,
    first: u32,
    last: u32,
    mut out: impl FnMut(u32, u16),
) -> std::result::Result<(), String> {
    for day in first..=last {
        let col = header.day0 + (day - header.first_day) as usize;
        let raw = field(rec, col);
        let v: u16 = raw
            .trim()
            .parse()
            .map_err(|_| format!("d_{day} is `{raw}`, not a count of units (0..=65535)"))?;
        out(day, v);
    }
    Ok(())
}

/// Pass 1: validates every row over `first..=last` for the selected stores, indexes the valid
/// series, and loads the window `first..first + window_days`.
pub fn index(
    header: &SalesHeader,
    first: u32,
    last: u32,
    stores: &[bool; 10],
    window_days: u32,
) -> Result<(SalesIndex, Window)> {
    header.require(first, last)?;
    let mut idx = SalesIndex {
        stores: vec![Vec::new(); M5_STORES.len()],
        ..Default::default()
    };
    // Values of the first window, per line, until the index is complete and the window can be
    // laid out by store and row.
    let w_last = last.min(first + window_days.max(1) - 1);
    let mut pending: Vec<(u8, Vec<u16>)> = Vec::new();
    let mut seen = HashSet::new();
    let [c_item, c_dept, c_cat, c_store, c_state] = header.ids;
    for_each_row(header, |line, raw, rec| {
        let data_line = (line - 2) as usize;
        if idx.lines.len() <= data_line {
            idx.lines.resize(data_line + 1, None);
        }
        let key = (!field(rec, c_item).is_empty() && !field(rec, c_store).is_empty())
            .then(|| aisle_events::series_id(field(rec, c_item), field(rec, c_store)));
        let mut reject = |reason: String| {
            idx.rejected.push(Rejected {
                line,
                key: key.clone(),
                reason,
                raw: raw.to_vec(),
            });
        };
        if rec.len() != header.columns {
            reject(format!(
                "{} columns, the header has {}",
                rec.len(),
                header.columns
            ));
            return Ok(());
        }
        let Some(store) = store_partition(field(rec, c_store)).map(|s| s as usize) else {
            reject(format!("unknown store `{}`", field(rec, c_store)));
            return Ok(());
        };
        if !stores[store] {
            return Ok(());
        }
        if [c_item, c_dept, c_cat, c_state]
            .iter()
            .any(|&c| field(rec, c).is_empty())
        {
            reject("an id column is empty".into());
            return Ok(());
        }
        let mut values = Vec::with_capacity((w_last - first + 1) as usize);
        if let Err(reason) = row_values(header, rec, first, last, |d, v| {
            if d <= w_last {
                values.push(v)
            }
        }) {
            reject(reason);
            return Ok(());
        }
        let key = key.clone().unwrap_or_default();
        if !seen.insert(key.clone()) {
            reject(format!("duplicate series `{key}`"));
            return Ok(());
        }
        let n_items = idx.items.len();
        let item = match idx.items.get(field(rec, c_item)) {
            Some(i) => *i,
            None => {
                let i = u16::try_from(n_items).map_err(|_| {
                    M5Error::Invalid(format!("{}: more than 65,536 items", header.path.display()))
                })?;
                idx.items.insert(field(rec, c_item).to_string(), i);
                i
            }
        };
        let row = idx.stores[store].len() as u32;
        idx.stores[store].push(Series {
            record: SalesRecord {
                item_id: field(rec, c_item).into(),
                dept_id: field(rec, c_dept).into(),
                cat_id: field(rec, c_cat).into(),
                store_id: field(rec, c_store).into(),
                state_id: field(rec, c_state).into(),
                day: 0,
                sold: 0,
                sell_price: None,
            },
            key: Bytes::from(key),
            item,
        });
        idx.lines[data_line] = Some((store as u8, row));
        pending.push((store as u8, values));
        Ok(())
    })?;
    let mut window = Window::new(first, w_last - first + 1, &idx);
    let mut rows_done = [0usize; 10];
    for (store, values) in pending {
        let s = store as usize;
        let rows = idx.stores[s].len();
        for (d, v) in values.into_iter().enumerate() {
            window.values[s][d * rows + rows_done[s]] = v;
        }
        rows_done[s] += 1;
    }
    Ok((idx, window))
}

/// A later pass: the values of `first..first + days` for every series of `index`.
pub fn load_window(
    header: &SalesHeader,
    index: &SalesIndex,
    first: u32,
    days: u32,
) -> Result<Window> {
    let last = first + days - 1;
    header.require(first, last)?;
    let mut window = Window::new(first, days, index);
    for_each_row(header, |line, _raw, rec| {
        let Some(Some((store, row))) = index.lines.get((line - 2) as usize) else {
            return Ok(());
        };
        let (s, r) = (*store as usize, *row as usize);
        let rows = index.stores[s].len();
        let values = &mut window.values[s];
        // Pass 1 validated every requested day of this row; a failure now means the file changed
        // under us, which must not be replayed silently.
        row_values(header, rec, first, last, |d, v| {
            values[(d - first) as usize * rows + r] = v;
        })
        .map_err(|reason| M5Error::BadFile {
            path: header.path.clone(),
            line,
            reason: format!("{reason} (the file changed during the replay)"),
        })
    })?;
    Ok(window)
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

    /// Reads a Kaggle wide file (`id,item_id,dept_id,cat_id,store_id,state_id,d_A..d_B`, checked
    /// by [`read_header`]); values may be fractional (forecasts, aggregates). Every row must have
    /// the header's columns, a valid item and store, and a number in every day.
    pub fn read_wide(path: &Path) -> Result<Self> {
        let header = read_header(path)?;
        let [c_item, _, _, c_store, _] = header.ids;
        let days = (header.last_day - header.first_day + 1) as usize;
        let mut panel = Self {
            first_day: header.first_day as i32,
            ..Self::default()
        };
        for_each_row(&header, |line, _raw, rec| {
            let bad = |reason: String| M5Error::bad(path, line, reason);
            if rec.len() != header.columns {
                return Err(bad(format!(
                    "{} columns, the header has {}",
                    rec.len(),
                    header.columns
                )));
            }
            let (item, store) = (field(rec, c_item), field(rec, c_store));
            let meta = SeriesMeta::from_ids(item, store)
                .ok_or_else(|| bad(format!("bad item/store `{item}`/`{store}`")))?;
            let mut row = Vec::with_capacity(days);
            for (k, raw) in rec.iter().skip(header.day0).enumerate() {
                let v = std::str::from_utf8(raw)
                    .ok()
                    .and_then(|t| t.trim().parse::<f32>().ok())
                    .ok_or_else(|| {
                        bad(format!(
                            "d_{} is `{}`, not a number",
                            header.first_day + k as u32,
                            String::from_utf8_lossy(raw)
                        ))
                    })?;
                row.push(v);
            }
            panel.series.push(meta);
            panel.values.push(row);
            Ok(())
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "id,item_id,dept_id,cat_id,store_id,state_id,d_5,d_6,d_7\n\
        A_1_001_TX_1_evaluation,A_1_001,A_1,A,TX_1,TX,1,2,3\n\
        A_1_001_CA_1_evaluation,A_1_001,A_1,A,CA_1,CA,4,5,6\n\
        A_1_002_CA_1_evaluation,A_1_002,A_1,A,CA_1,CA,7,x,9\n\
        A_1_003_CA_1_evaluation,A_1_003,A_1,A,CA_1,CA,1,1\n\
        A_1_004_ZZ_1_evaluation,A_1_004,A_1,A,ZZ_1,ZZ,1,1,1\n\
        A_1_005_CA_1_evaluation,A_1_005,A_1,A,CA_1,CA,0,0,8\r\n";

    fn file() -> (tempfile::TempDir, SalesHeader) {
        let (dir, p) = crate::test_file("sales.csv", FILE);
        let h = read_header(&p).unwrap();
        (dir, h)
    }

    #[test]
    fn header_gives_the_day_range() {
        let (_d, h) = file();
        assert_eq!((h.first_day, h.last_day, h.columns), (5, 7, 9));
        assert!(h.require(5, 7).is_ok());
        let err = h.require(4, 7).unwrap_err().to_string();
        assert!(err.contains("d_5..d_7"), "{err}");
    }

    #[test]
    fn index_validates_groups_by_store_and_windows() {
        let (_d, h) = file();
        let all = [true; 10];
        let (idx, w) = index(&h, 5, 7, &all, 2).unwrap();
        let keys: Vec<_> = idx.stores[0].iter().map(|s| s.key.clone()).collect();
        assert_eq!(keys, ["A_1_001_CA_1", "A_1_005_CA_1"]);
        assert_eq!(idx.stores[4].len(), 1);
        let reasons: Vec<(u64, &str)> = idx
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].0 == 4 && reasons[0].1.contains("d_6 is `x`"));
        assert!(reasons[1].0 == 5 && reasons[1].1.contains("8 columns"));
        assert!(reasons[2].0 == 6 && reasons[2].1.contains("unknown store `ZZ_1`"));
        assert_eq!(
            idx.rejected[1].raw,
            b"A_1_003_CA_1_evaluation,A_1_003,A_1,A,CA_1,CA,1,1"
        );
        assert_eq!((w.first, w.days), (5, 2));
        assert_eq!(w.sold(0, 2, 0, 6), 5);
        assert_eq!(w.sold(0, 2, 1, 5), 0);
        assert_eq!(w.sold(4, 1, 0, 6), 2);
        let w2 = load_window(&h, &idx, 7, 1).unwrap();
        assert_eq!(
            (
                w2.sold(0, 2, 0, 7),
                w2.sold(0, 2, 1, 7),
                w2.sold(4, 1, 0, 7)
            ),
            (6, 8, 3)
        );
    }

    #[test]
    fn store_filter_skips_without_rejecting() {
        let (_d, h) = file();
        let mut only_tx1 = [false; 10];
        only_tx1[4] = true;
        let (idx, _) = index(&h, 6, 7, &only_tx1, 28).unwrap();
        assert!(idx.stores[0].is_empty());
        assert_eq!(idx.stores[4].len(), 1);
        // Rows that are not rows of any store (wrong shape, unknown store) are always rejected;
        // the values of unselected stores' rows are not looked at (CA_1's `x` passes here).
        let lines: Vec<u64> = idx.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [5, 6]);
    }

    #[test]
    fn panel_reads_whole_files_and_slices() {
        let (_d, h) = file();
        let e = SalesPanel::read_wide(&h.path).unwrap_err().to_string();
        assert!(e.contains("line 4") && e.contains("d_6 is `x`"), "{e}");
        std::fs::write(
            &h.path,
            "id,item_id,dept_id,cat_id,store_id,state_id,d_5,d_6,d_7\n\
             A_1_001_CA_1_evaluation,A_1_001,A_1,A,CA_1,CA,1,2,3.5\r\n",
        )
        .unwrap();
        let panel = SalesPanel::read_wide(&h.path).unwrap();
        assert_eq!((panel.first_day, panel.last_day()), (5, 7));
        assert_eq!(panel.series[0].id, "A_1_001_CA_1");
        assert_eq!(panel.index()["A_1_001_CA_1"], 0);
        let s = panel.slice(6, 9);
        assert_eq!((s.first_day, s.values[0].clone()), (6, vec![2.0, 3.5]));
        std::fs::write(
            &h.path,
            "id,item_id,dept_id,cat_id,store_id,state_id,d_5,d_7\nx,A_1_001,A_1,A,CA_1,CA,1,2\n",
        )
        .unwrap();
        let e = SalesPanel::read_wide(&h.path).unwrap_err().to_string();
        assert!(e.contains("contiguous"), "{e}");
    }
}
