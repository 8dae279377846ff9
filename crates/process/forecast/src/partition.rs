//! [`PartitionHistory`]: the daily sales of one `sales` partition's series, its day watermark,
//! and its changelog records.
//!
//! # Day watermark
//! A day is *complete* when every series of the partition that had started by then (its first
//! record is on or before that day) has a record for it. The partition's *closed* day is the
//! last day up to which every day is complete, or was passed by a later complete day: the
//! stores of a partition replay their days in order, so once a later day is whole, a series
//! still missing an earlier day is not going to fill it in order. Closing such a day reports the
//! missing series ([`Gap`]); its value stays unknown in the history and is counted as 0 units
//! in forecasts, reported rather than silently zero. Forecasts are made only through the closed
//! day, so two runs (or instances) forecast from the same complete days whatever the timing.
//!
//! # Changelog (one partition of `<group>-history-changelog` per `sales` partition)
//! Keys and values ([postcard](https://docs.rs/postcard)):
//! * `s/<chunk>`: the series catalog in chunks of [`CHUNK`] (item id, store id, first day), in
//!   arrival order; a series' index is its row in every day block.
//! * `d/<day>`: that day's units (`-1` = no record) and prices by series index.
//! * `m`: the closed day and the last day forecast.
//!
//! Each turn writes only the keys it changed: a day's block is written once or twice while its
//! records arrive (never the whole history again), so the changelog grows with the data.

use aisle_events::SalesRecord;
use aisle_log::{ProduceRecord, Record, TopicPartition};
use aisle_m5::{SalesPanel, SeriesMeta};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Series per catalog record.
pub const CHUNK: usize = 1024;

/// Days of one series that were closed without its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The `sales` partition.
    pub partition: i32,
    /// The day (`d_N`).
    pub day: i32,
    /// Series expected that day.
    pub expected: usize,
    /// Ids of the series with no record that day.
    pub missing: Vec<String>,
}

#[derive(Debug, Clone)]
struct Series {
    meta: SeriesMeta,
    first_day: i32,
}

/// One day: units and prices by series index (`NaN` = no record / no price).
#[derive(Debug, Clone, Default)]
struct Day {
    units: Vec<f32>,
    prices: Vec<f32>,
    filled: usize,
}

#[derive(Serialize, Deserialize)]
struct DayWire {
    sold: Vec<i32>,
    prices: Vec<Option<f32>>,
}

#[derive(Serialize, Deserialize, Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Marks {
    closed: i32,
    forecast: i32,
}

/// One partition's history (see the module docs).
#[derive(Debug, Clone)]
pub struct PartitionHistory {
    changelog: TopicPartition,
    series: Vec<Series>,
    index: HashMap<String, usize>,
    /// Series count by first day (for the expected count of a day).
    starts: BTreeMap<i32, usize>,
    days: BTreeMap<i32, Day>,
    marks: Marks,
    dirty_chunks: BTreeSet<usize>,
    dirty_days: BTreeSet<i32>,
    dirty_marks: bool,
}

impl PartitionHistory {
    /// An empty history writing to `changelog` (its partition = the `sales` partition).
    pub fn new(changelog: TopicPartition) -> Self {
        Self {
            changelog,
            series: Vec::new(),
            index: HashMap::new(),
            starts: BTreeMap::new(),
            days: BTreeMap::new(),
            marks: Marks::default(),
            dirty_chunks: BTreeSet::new(),
            dirty_days: BTreeSet::new(),
            dirty_marks: false,
        }
    }

    /// The `sales` partition.
    pub fn partition(&self) -> i32 {
        self.changelog.partition
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series has been seen.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The last closed day (0: none).
    pub fn closed(&self) -> i32 {
        self.marks.closed
    }

    /// The last day forecast (0: none).
    pub fn forecast_day(&self) -> i32 {
        self.marks.forecast
    }

    /// Notes that forecasts through `day` were published (written with the next changes).
    pub fn set_forecast_day(&mut self, day: i32) {
        self.marks.forecast = day;
        self.dirty_marks = true;
    }

    /// Whether the closed day is past the last forecast.
    pub fn needs_forecast(&self) -> bool {
        self.marks.closed > self.marks.forecast
    }

    /// The last day with any record.
    pub fn last_day(&self) -> Option<i32> {
        self.days.keys().next_back().copied()
    }

    /// Records one sale. Errors (for the dead-letter topic) on a day out of range or ids that are
    /// not `ITEM_STORE` shaped.
    pub fn record(&mut self, s: &SalesRecord) -> Result<(), String> {
        let day = s.day;
        if !(1..=100_000).contains(&day) {
            return Err(format!("day {day} out of range 1..=100000"));
        }
        let id = aisle_events::series_id(&s.item_id, &s.store_id);
        let i = match self.index.get(&id) {
            Some(&i) => i,
            None => {
                let meta = SeriesMeta::from_ids(&s.item_id, &s.store_id)
                    .ok_or_else(|| format!("bad item/store `{}`/`{}`", s.item_id, s.store_id))?;
                let i = self.series.len();
                self.series.push(Series {
                    meta,
                    first_day: day,
                });
                self.index.insert(id, i);
                *self.starts.entry(day).or_default() += 1;
                self.dirty_chunks.insert(i / CHUNK);
                i
            }
        };
        let first = self.series[i].first_day;
        if day < first {
            self.move_start(first, day);
            self.series[i].first_day = day;
            self.dirty_chunks.insert(i / CHUNK);
        }
        let block = self.days.entry(day).or_default();
        if block.units.len() <= i {
            block.units.resize(i + 1, f32::NAN);
            block.prices.resize(i + 1, f32::NAN);
        }
        if block.units[i].is_nan() {
            block.filled += 1;
        }
        block.units[i] = s.sold as f32;
        block.prices[i] = s.sell_price.filter(|p| p.is_finite()).unwrap_or(f32::NAN);
        self.dirty_days.insert(day);
        Ok(())
    }

    fn move_start(&mut self, from: i32, to: i32) {
        if let Some(n) = self.starts.get_mut(&from) {
            *n -= 1;
            if *n == 0 {
                self.starts.remove(&from);
            }
        }
        *self.starts.entry(to).or_default() += 1;
    }

    /// Moves the closed day as far as the watermark allows; returns the days closed with series
    /// missing.
    pub fn advance(&mut self) -> Vec<Gap> {
        let closed = self.marks.closed;
        let started_by = |d: i32| -> usize { self.starts.range(..=d).map(|(_, n)| n).sum() };
        // The last complete day after `closed`.
        let mut expected = started_by(closed);
        let mut last_complete = None;
        let mut starts = self.starts.range(closed + 1..).peekable();
        for (&d, block) in self.days.range(closed + 1..) {
            while let Some((_, n)) = starts.next_if(|(s, _)| **s <= d) {
                expected += n;
            }
            if block.filled >= expected {
                last_complete = Some(d);
            }
        }
        let Some(to) = last_complete else {
            return Vec::new();
        };
        let mut gaps = Vec::new();
        for d in closed + 1..=to {
            let expected = started_by(d);
            let block = self.days.get(&d);
            if block.is_some_and(|b| b.filled >= expected) || expected == 0 {
                continue;
            }
            let missing: Vec<String> = self
                .series
                .iter()
                .enumerate()
                .filter(|(i, s)| {
                    s.first_day <= d
                        && block.is_none_or(|b| b.units.get(*i).is_none_or(|u| u.is_nan()))
                })
                .map(|(_, s)| s.meta.id.clone())
                .collect();
            gaps.push(Gap {
                partition: self.partition(),
                day: d,
                expected,
                missing,
            });
        }
        self.marks.closed = to;
        self.dirty_marks = true;
        gaps
    }

    /// Every series through day `through`, in Kaggle row order (store, category, department,
    /// item), days from the earliest first day; unknown days are 0. Also the known prices as
    /// `(series id, day, price)`.
    pub fn panel(&self, through: i32) -> (SalesPanel, Vec<(String, i32, f32)>) {
        let first = self.series.iter().map(|s| s.first_day).min().unwrap_or(1);
        let n = (through - first + 1).max(0) as usize;
        let mut order: Vec<usize> = (0..self.series.len()).collect();
        order.sort_by_key(|&i| kaggle_order(&self.series[i].meta));
        let mut values = vec![vec![0.0f32; n]; order.len()];
        let mut prices = Vec::new();
        for (&d, block) in self.days.range(first..=through) {
            let col = (d - first) as usize;
            for (row, &i) in order.iter().enumerate() {
                if let Some(&u) = block.units.get(i).filter(|u| !u.is_nan()) {
                    values[row][col] = u;
                }
                if let Some(&p) = block.prices.get(i).filter(|p| !p.is_nan()) {
                    prices.push((self.series[i].meta.id.clone(), d, p));
                }
            }
        }
        let panel = SalesPanel {
            series: order.iter().map(|&i| self.series[i].meta.clone()).collect(),
            first_day: first,
            values,
        };
        (panel, prices)
    }

    /// The changelog records of everything changed since the last call.
    pub fn drain_changes(&mut self) -> Result<Vec<ProduceRecord>, String> {
        let mut out = Vec::new();
        let rec = |key: String, value: Vec<u8>| {
            ProduceRecord::new(self.changelog.topic.clone())
                .partition(self.changelog.partition)
                .key(key.into_bytes())
                .value(value)
        };
        for c in std::mem::take(&mut self.dirty_chunks) {
            let chunk: Vec<(&str, &str, i32)> = self
                .series
                .iter()
                .skip(c * CHUNK)
                .take(CHUNK)
                .map(|s| {
                    (
                        s.meta.item_id.as_str(),
                        s.meta.store_id.as_str(),
                        s.first_day,
                    )
                })
                .collect();
            out.push(rec(format!("s/{c}"), encode(&chunk)?));
        }
        for d in std::mem::take(&mut self.dirty_days) {
            if let Some(b) = self.days.get(&d) {
                let wire = DayWire {
                    sold: b
                        .units
                        .iter()
                        .map(|u| if u.is_nan() { -1 } else { *u as i32 })
                        .collect(),
                    prices: b
                        .prices
                        .iter()
                        .map(|p| (!p.is_nan()).then_some(*p))
                        .collect(),
                };
                out.push(rec(format!("d/{d}"), encode(&wire)?));
            }
        }
        if std::mem::take(&mut self.dirty_marks) {
            out.push(rec("m".into(), encode(&self.marks)?));
        }
        Ok(out)
    }

    /// Applies one changelog record (restore). Errors name the offset and what is wrong.
    pub fn apply_changelog(&mut self, rec: &Record) -> Result<(), String> {
        let at = rec.offset;
        let key = rec
            .key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
            .ok_or_else(|| format!("offset {at}: no UTF-8 key"))?;
        let value = rec
            .value
            .as_deref()
            .ok_or_else(|| format!("offset {at}: `{key}` has no value"))?;
        let bad = |e: postcard::Error| format!("offset {at}: `{key}`: {e}");
        if key == "m" {
            self.marks = postcard::from_bytes(value).map_err(bad)?;
        } else if let Some(c) = key.strip_prefix("s/") {
            let c: usize = c
                .parse()
                .map_err(|_| format!("offset {at}: bad key `{key}`"))?;
            let chunk: Vec<(String, String, i32)> = postcard::from_bytes(value).map_err(bad)?;
            for (j, (item, store, first_day)) in chunk.into_iter().enumerate() {
                let meta = SeriesMeta::from_ids(&item, &store)
                    .ok_or_else(|| format!("offset {at}: bad series `{item}`/`{store}`"))?;
                let i = c * CHUNK + j;
                if self.series.len() <= i {
                    // Placeholders until their chunk is read (every chunk precedes its use).
                    self.series.resize(
                        i + 1,
                        Series {
                            meta: meta.clone(),
                            first_day,
                        },
                    );
                }
                self.series[i] = Series { meta, first_day };
            }
        } else if let Some(d) = key.strip_prefix("d/") {
            let d: i32 = d
                .parse()
                .map_err(|_| format!("offset {at}: bad key `{key}`"))?;
            let wire: DayWire = postcard::from_bytes(value).map_err(bad)?;
            let units: Vec<f32> = wire
                .sold
                .iter()
                .map(|&s| if s < 0 { f32::NAN } else { s as f32 })
                .collect();
            let day = Day {
                filled: units.iter().filter(|u| !u.is_nan()).count(),
                units,
                prices: wire.prices.iter().map(|p| p.unwrap_or(f32::NAN)).collect(),
            };
            self.days.insert(d, day);
        } else {
            return Err(format!("offset {at}: unknown key `{key}`"));
        }
        Ok(())
    }

    /// Rebuilds the indexes after [`PartitionHistory::apply_changelog`] has read every record.
    pub fn finish_restore(&mut self) {
        self.index = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.meta.id.clone(), i))
            .collect();
        self.starts.clear();
        for s in &self.series {
            *self.starts.entry(s.first_day).or_default() += 1;
        }
        self.dirty_chunks.clear();
        self.dirty_days.clear();
        self.dirty_marks = false;
    }
}

fn encode<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(v).map_err(|e| format!("encoding a changelog value: {e}"))
}

/// Kaggle's row order key: store (M5 and chain stores by chain index, others after them by
/// name), category HOBBIES/HOUSEHOLD/FOODS, department, item.
pub fn kaggle_order(m: &SeriesMeta) -> (usize, String, usize, String, String) {
    let store = aisle_events::topics::chain_store_index(&m.store_id).unwrap_or(usize::MAX);
    let cat = ["HOBBIES", "HOUSEHOLD", "FOODS"]
        .iter()
        .position(|c| *c == m.cat_id)
        .unwrap_or(3);
    (
        store,
        m.store_id.clone(),
        cat,
        m.dept_id.clone(),
        m.item_id.clone(),
    )
}

#[cfg(test)]
#[path = "partition_tests.rs"]
mod tests;
