//! [`History`]: the daily sales of every series seen on the `sales` stream, with the stream
//! positions they reflect, saved atomically to one snapshot file.
//!
//! # Snapshot format (`history.bin`, little-endian)
//! ```text
//! magic "AFH1" | u64 FNV-1a of everything after this field
//! u32 partitions, then per partition: i32 partition, i64 next offset
//! u32 series, then per series: u16 len + item_id, u16 len + store_id, i32 first_day,
//!     u32 days, f32 × days (units), f32 × days (sell price, NaN = none)
//! ```
//! Invariant: the snapshot's offsets are exactly the records its history includes, because
//! both are written in one file, replaced by `rename` after `fsync`. A restart restores the
//! history and resumes each partition at its offset, so it re-reads precisely what the
//! snapshot lacks; applying a (series, day) twice just overwrites the value.

use crate::error::{ForecastError, Result};
use aisle_m5::{SalesPanel, SeriesMeta};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"AFH1";

/// One series' days from `first_day` on.
#[derive(Debug, Clone)]
pub struct SeriesHistory {
    /// Hierarchy attributes.
    pub meta: SeriesMeta,
    /// `N` of `units[0]`.
    pub first_day: i32,
    /// Units per day (0 where no record arrived).
    pub units: Vec<f32>,
    /// Sell price per day (`NaN` where unknown).
    pub prices: Vec<f32>,
}

impl SeriesHistory {
    fn set(&mut self, day: i32, units: f32, price: Option<f32>) {
        if self.units.is_empty() {
            self.first_day = day;
        }
        if day < self.first_day {
            let pad = (self.first_day - day) as usize;
            self.units.splice(0..0, std::iter::repeat_n(0.0, pad));
            self.prices.splice(0..0, std::iter::repeat_n(f32::NAN, pad));
            self.first_day = day;
        }
        let i = (day - self.first_day) as usize;
        if i >= self.units.len() {
            self.units.resize(i + 1, 0.0);
            self.prices.resize(i + 1, f32::NAN);
        }
        self.units[i] = units;
        self.prices[i] = price.unwrap_or(f32::NAN);
    }

    /// The last day with data.
    pub fn last_day(&self) -> i32 {
        self.first_day + self.units.len() as i32 - 1
    }
}

/// Per-series history and the next offset of each consumed partition.
#[derive(Debug, Clone, Default)]
pub struct History {
    series: HashMap<String, SeriesHistory>,
    /// Next offset to read per partition.
    pub offsets: BTreeMap<i32, i64>,
}

impl History {
    /// Records `units` (and the price) of a series on `day`. Errors for ids that are not
    /// `ITEM_STORE` shaped.
    pub fn record(
        &mut self,
        item_id: &str,
        store_id: &str,
        day: i32,
        units: f32,
        price: Option<f32>,
    ) -> std::result::Result<(), String> {
        if !(1..=100_000).contains(&day) {
            return Err(format!("day {day} out of range"));
        }
        let id = format!("{item_id}_{store_id}");
        let entry = match self.series.get_mut(&id) {
            Some(e) => e,
            None => {
                let meta = SeriesMeta::from_ids(item_id, store_id)
                    .ok_or_else(|| format!("bad item/store `{item_id}`/`{store_id}`"))?;
                self.series.entry(id).or_insert(SeriesHistory {
                    meta,
                    first_day: day,
                    units: Vec::new(),
                    prices: Vec::new(),
                })
            }
        };
        entry.set(day, units, price);
        Ok(())
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series has been seen.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// One series.
    pub fn get(&self, id: &str) -> Option<&SeriesHistory> {
        self.series.get(id)
    }

    /// The last day seen over all series.
    pub fn last_day(&self) -> Option<i32> {
        self.series.values().map(SeriesHistory::last_day).max()
    }

    /// Every series on one day range (the union of what was seen; days a series has no record
    /// for are 0), in Kaggle row order (store, category HOBBIES/HOUSEHOLD/FOODS, department,
    /// item), plus the known prices as `(series id, day, price)`.
    pub fn panel(&self) -> (SalesPanel, Vec<(String, i32, f32)>) {
        let first = self.series.values().map(|s| s.first_day).min().unwrap_or(1);
        let last = self.last_day().unwrap_or(0);
        let days = (last - first + 1).max(0) as usize;
        let mut all: Vec<&SeriesHistory> = self.series.values().collect();
        all.sort_by_key(|s| kaggle_order(&s.meta));
        let mut panel = SalesPanel {
            first_day: first,
            ..SalesPanel::default()
        };
        let mut prices = Vec::new();
        for s in all {
            let mut row = vec![0.0; days];
            let off = (s.first_day - first) as usize;
            row[off..off + s.units.len()].copy_from_slice(&s.units);
            for (i, p) in s.prices.iter().enumerate() {
                if !p.is_nan() {
                    prices.push((s.meta.id.clone(), s.first_day + i as i32, *p));
                }
            }
            panel.series.push(s.meta.clone());
            panel.values.push(row);
        }
        (panel, prices)
    }

    /// Writes the snapshot to `path` atomically (temp file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut body = Vec::with_capacity(64 + self.series.len() * 64);
        body.extend((self.offsets.len() as u32).to_le_bytes());
        for (p, o) in &self.offsets {
            body.extend(p.to_le_bytes());
            body.extend(o.to_le_bytes());
        }
        body.extend((self.series.len() as u32).to_le_bytes());
        for s in self.series.values() {
            for text in [&s.meta.item_id, &s.meta.store_id] {
                body.extend((text.len() as u16).to_le_bytes());
                body.extend(text.as_bytes());
            }
            body.extend(s.first_day.to_le_bytes());
            body.extend((s.units.len() as u32).to_le_bytes());
            s.units.iter().for_each(|v| body.extend(v.to_le_bytes()));
            s.prices.iter().for_each(|v| body.extend(v.to_le_bytes()));
        }
        let err = |e: std::io::Error| ForecastError::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let tmp = tmp_path(path);
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(MAGIC).map_err(err)?;
        f.write_all(&fnv1a(&body).to_le_bytes()).map_err(err)?;
        f.write_all(&body).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)?;
        if let Some(dir) = path.parent() {
            // Make the rename itself durable.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Loads a snapshot; an absent file is an empty history.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(ForecastError::State {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                });
            }
        };
        let bad = |m: &str| ForecastError::State {
            path: path.to_path_buf(),
            message: m.to_string(),
        };
        if bytes.len() < 12 || &bytes[..4] != MAGIC {
            return Err(bad("not a forecast history snapshot"));
        }
        let sum = u64::from_le_bytes(bytes[4..12].try_into().map_err(|_| bad("short"))?);
        let body = &bytes[12..];
        if fnv1a(body) != sum {
            return Err(bad("checksum mismatch (damaged snapshot)"));
        }
        let mut r = Reader { b: body, at: 0 };
        let mut h = Self::default();
        for _ in 0..r.u32().ok_or_else(|| bad("truncated"))? {
            let p = r.i32().ok_or_else(|| bad("truncated"))?;
            let o = r.i64().ok_or_else(|| bad("truncated"))?;
            h.offsets.insert(p, o);
        }
        for _ in 0..r.u32().ok_or_else(|| bad("truncated"))? {
            let item = r.text().ok_or_else(|| bad("truncated"))?;
            let store = r.text().ok_or_else(|| bad("truncated"))?;
            let first_day = r.i32().ok_or_else(|| bad("truncated"))?;
            let n = r.u32().ok_or_else(|| bad("truncated"))? as usize;
            let units = r.f32s(n).ok_or_else(|| bad("truncated"))?;
            let prices = r.f32s(n).ok_or_else(|| bad("truncated"))?;
            let meta = SeriesMeta::from_ids(&item, &store).ok_or_else(|| bad("bad series id"))?;
            h.series.insert(
                meta.id.clone(),
                SeriesHistory {
                    meta,
                    first_day,
                    units,
                    prices,
                },
            );
        }
        Ok(h)
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Kaggle's row order key.
pub fn kaggle_order(m: &SeriesMeta) -> (usize, String, usize, String, String) {
    let store = aisle_events::topics::M5_STORES
        .iter()
        .position(|s| *s == m.store_id)
        .unwrap_or(usize::MAX);
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

fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn text(&mut self) -> Option<String> {
        let n = u16::from_le_bytes(self.take(2)?.try_into().ok()?) as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn f32s(&mut self, n: usize) -> Option<Vec<f32>> {
        let raw = self.take(n.checked_mul(4)?)?;
        Some(
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_fill_gaps_and_survive_a_snapshot() {
        let mut h = History::default();
        h.record("FOODS_1_001", "CA_1", 10, 2.0, Some(1.5)).unwrap();
        h.record("FOODS_1_001", "CA_1", 12, 3.0, None).unwrap();
        h.record("FOODS_1_001", "CA_1", 9, 1.0, None).unwrap();
        h.record("HOBBIES_1_001", "CA_1", 12, 5.0, None).unwrap();
        assert!(h.record("bad", "CA_1", 1, 1.0, None).is_err());
        h.offsets.insert(0, 42);
        let s = h.get("FOODS_1_001_CA_1").unwrap();
        assert_eq!(
            (s.first_day, s.units.clone()),
            (9, vec![1.0, 2.0, 0.0, 3.0])
        );
        let (panel, prices) = h.panel();
        // Kaggle order: HOBBIES before FOODS.
        assert_eq!(panel.series[0].id, "HOBBIES_1_001_CA_1");
        assert_eq!(panel.values[0], vec![0.0, 0.0, 0.0, 5.0]);
        assert_eq!(prices, vec![("FOODS_1_001_CA_1".to_string(), 10, 1.5)]);

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("history.bin");
        assert!(History::load(&p).unwrap().is_empty());
        h.save(&p).unwrap();
        let back = History::load(&p).unwrap();
        assert_eq!(back.offsets, h.offsets);
        assert_eq!(back.panel().0.values, panel.values);
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        std::fs::write(&p, &bytes).unwrap();
        assert!(
            History::load(&p)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
    }
}
