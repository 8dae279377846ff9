//! WRMSSE, the M5 accuracy measure, as the M5 Competitors' Guide defines it.
//!
//! For each of the 42,840 series of the twelve levels ([`aisle_m5::hierarchy`]):
//!
//! * **scale** = mean over the training days of `(y_t − y_{t−1})²`, starting at the series' first
//!   non-zero day (only *leading* zeros are dropped; zeros later on, including trailing ones,
//!   count). See [`scale`].
//! * **RMSSE** = `sqrt(mean_h (y − ŷ)² / scale)` over the horizon.
//! * **weight** = the series' dollar sales (units × that week's sell price, day by day) over the
//!   last 28 training days, normalised to sum to 1 within its level ([`dollar_sales`],
//!   [`weights_from_dollars`]), or read from an official weights file ([`read_weights`]).
//! * **WRMSSE** = mean over the levels of `Σ weight · RMSSE` ([`Score::mean`] over any range of
//!   levels, e.g. 1–9 alone).
//!
//! The scale needs the training history that precedes the horizon; whatever history the caller
//! passes is used from its first day (with Kaggle's full files: d_1 onwards). A series whose scale
//! is zero (all zeros, or its only non-zero value is the last training day, so there is no
//! difference to average) has no defined RMSSE; it is left out of its level and the level's other
//! weights are renormalised, and [`Score::zero_scale`] counts such series per level. With the full
//! M5 history no series is in that case; in short backtests some bottom series are.

use crate::data::{csv_err, csv_reader};
use crate::error::{ForecastError, Result};
use aisle_m5::hierarchy::{Hierarchy, LEVELS, level_key};
use aisle_m5::{Calendar, Prices, SeriesMeta};
use rayon::prelude::*;
use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::path::Path;

/// The scale of one training series: mean squared one-day difference from its first non-zero
/// value on. `0.0` when there is no such difference.
pub fn scale(train: &[f64]) -> f64 {
    let Some(start) = train.iter().position(|&v| v != 0.0) else {
        return 0.0;
    };
    let tail = &train[start..];
    if tail.len() < 2 {
        return 0.0;
    }
    let sum: f64 = tail.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum();
    sum / (tail.len() - 1) as f64
}

/// RMSSE of one forecast; `None` when `scale` is not positive (undefined).
pub fn rmsse(forecast: &[f64], truth: &[f64], scale: f64) -> Option<f64> {
    if scale <= 0.0 || !scale.is_finite() || truth.is_empty() {
        return None;
    }
    let mse: f64 = forecast
        .iter()
        .zip(truth)
        .map(|(f, y)| (y - f).powi(2))
        .sum::<f64>()
        / truth.len() as f64;
    Some((mse / scale).sqrt())
}

/// The Guide's final step: each level's `(weight, RMSSE)` pairs summed, then averaged over levels.
pub fn combine(levels: &[Vec<(f64, f64)>]) -> f64 {
    if levels.is_empty() {
        return 0.0;
    }
    levels
        .iter()
        .map(|l| l.iter().map(|(w, r)| w * r).sum::<f64>())
        .sum::<f64>()
        / levels.len() as f64
}

/// Dollar sales of each bottom series over its last `days` training days (`train[s]` ends on day
/// `last_day`). Days without a price contribute nothing (the item was not on sale; M5 never has
/// sales then).
pub fn dollar_sales(
    series: &[SeriesMeta],
    train: &[Vec<f32>],
    last_day: i32,
    days: usize,
    calendar: &Calendar,
    prices: &Prices,
) -> Vec<f64> {
    series
        .par_iter()
        .zip(train)
        .map(|(m, row)| {
            let k = days.min(row.len());
            let first = last_day - k as i32 + 1;
            row[row.len() - k..]
                .iter()
                .enumerate()
                .map(|(i, &u)| {
                    let p = prices
                        .on_day(calendar, &m.id, first + i as i32)
                        .unwrap_or(0.0);
                    f64::from(u) * f64::from(p)
                })
                .sum()
        })
        .collect()
}

/// Per-level weights from bottom dollar sales: summed into each level and normalised to 1
/// (a level with no sales at all gets equal weights).
pub fn weights_from_dollars(h: &Hierarchy, dollars: &[f64]) -> Vec<Vec<f64>> {
    h.levels
        .iter()
        .map(|l| {
            let d = l.aggregate_scalar(dollars);
            let total: f64 = d.iter().sum();
            if total > 0.0 {
                d.iter().map(|x| x / total).collect()
            } else {
                vec![1.0 / l.len().max(1) as f64; l.len()]
            }
        })
        .collect()
}

/// Reads an official weights file (`Level_id,Agg_Level_1,Agg_Level_2,[Dollar_Sales,]Weight`) and
/// maps it onto `h` (an M5 hierarchy). Every series of `h` must have a row.
pub fn read_weights(path: &Path, h: &Hierarchy) -> Result<Vec<Vec<f64>>> {
    let mut rdr = csv_reader(path)?;
    let err = csv_err(path);
    let headers = rdr.headers().map_err(&err)?.clone();
    let wcol = headers
        .iter()
        .position(|c| c.eq_ignore_ascii_case("weight"))
        .ok_or_else(|| ForecastError::bad(path, "no Weight column"))?;
    let mut map: HashMap<(usize, String, String), f64> = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(&err)?;
        let line = rec.position().map_or(0, |p| p.line());
        let level: usize = rec[0]
            .strip_prefix("Level")
            .and_then(|l| l.parse().ok())
            .filter(|l| (1..=LEVELS).contains(l))
            .ok_or_else(|| ForecastError::bad(path, format!("line {line}: bad Level_id")))?;
        let w: f64 = rec
            .get(wcol)
            .and_then(|w| w.trim().parse().ok())
            .ok_or_else(|| ForecastError::bad(path, format!("line {line}: bad weight")))?;
        map.insert((level, rec[1].to_string(), rec[2].to_string()), w);
    }
    h.levels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            l.keys
                .iter()
                .map(|(a, b)| {
                    map.get(&(i + 1, a.clone(), b.clone()))
                        .copied()
                        .ok_or_else(|| {
                            ForecastError::bad(
                                path,
                                format!("no weight for Level{} {a},{b}", i + 1),
                            )
                        })
                })
                .collect()
        })
        .collect()
}

/// WRMSSE per level, with how many series had an undefined (zero) scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Σ weight · RMSSE of each level, level 1 first.
    pub levels: Vec<f64>,
    /// Per level, series left out because their scale is zero.
    pub zero_scale: Vec<usize>,
}

impl Score {
    /// Mean over the given 1-based levels (e.g. `1..=9`, `1..=12`).
    pub fn mean(&self, levels: RangeInclusive<usize>) -> f64 {
        let picked: Vec<f64> = levels
            .filter_map(|l| self.levels.get(l.wrapping_sub(1)).copied())
            .collect();
        if picked.is_empty() {
            0.0
        } else {
            picked.iter().sum::<f64>() / picked.len() as f64
        }
    }
}

/// Checks per-level `weights` against `hierarchy` and computes every series' `scale` from the
/// bottom training rows: what WRMSSE and WSPL share (they differ only in the scale).
pub(crate) fn weights_and_scales(
    hierarchy: &Hierarchy,
    train: &[Vec<f32>],
    weights: &[Vec<f64>],
    scale: fn(&[f64]) -> f64,
) -> Result<Vec<Vec<f64>>> {
    if weights.len() != hierarchy.levels.len()
        || weights
            .iter()
            .zip(&hierarchy.levels)
            .any(|(w, l)| w.len() != l.len())
    {
        return Err(ForecastError::Mismatch(
            "weights do not match the hierarchy's levels".into(),
        ));
    }
    Ok(hierarchy
        .levels
        .iter()
        .map(|l| l.aggregate(train).par_iter().map(|r| scale(r)).collect())
        .collect())
}

/// The M5 hierarchy of `series` and its dollar-sales weights over the last 28 training days
/// (`train` ends on `last_day`).
pub(crate) fn m5_weights(
    series: &[SeriesMeta],
    train: &[Vec<f32>],
    last_day: i32,
    calendar: &Calendar,
    prices: &Prices,
) -> (Hierarchy, Vec<Vec<f64>>) {
    let h = Hierarchy::m5(series);
    let dollars = dollar_sales(series, train, last_day, 28, calendar, prices);
    let w = weights_from_dollars(&h, &dollars);
    (h, w)
}

/// An evaluator: hierarchy, weights and scales fixed from the training data, ready to score any
/// number of forecasts of the horizon that follows.
#[derive(Debug, Clone)]
pub struct Wrmsse {
    hierarchy: Hierarchy,
    weights: Vec<Vec<f64>>,
    scales: Vec<Vec<f64>>,
}

impl Wrmsse {
    /// Builds the evaluator from the bottom series' training rows (`train[s]`, any length, in the
    /// hierarchy's bottom order) and per-level weights.
    pub fn new(hierarchy: Hierarchy, train: &[Vec<f32>], weights: Vec<Vec<f64>>) -> Result<Self> {
        let scales = weights_and_scales(&hierarchy, train, &weights, scale)?;
        Ok(Self {
            hierarchy,
            weights,
            scales,
        })
    }

    /// The M5 evaluator for `series` with dollar-sales weights of the last 28 training days
    /// (`train` ends on `last_day`).
    pub fn m5(
        series: &[SeriesMeta],
        train: &[Vec<f32>],
        last_day: i32,
        calendar: &Calendar,
        prices: &Prices,
    ) -> Result<Self> {
        let (h, w) = m5_weights(series, train, last_day, calendar, prices);
        Self::new(h, train, w)
    }

    /// Replaces the scales of the series that have one in `published` (per level, in the
    /// hierarchy's order; see [`crate::scales::read_published`]); the others keep theirs.
    pub fn replace_scales(&mut self, published: &[Vec<Option<f64>>]) {
        for (mine, theirs) in self.scales.iter_mut().zip(published) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                if let Some(t) = t {
                    *m = *t;
                }
            }
        }
    }

    /// The hierarchy.
    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    /// Per-level weights.
    pub fn weights(&self) -> &[Vec<f64>] {
        &self.weights
    }

    /// Per-level scales.
    pub fn scales(&self) -> &[Vec<f64>] {
        &self.scales
    }

    /// Scores bottom forecasts against bottom truth (same series order, same horizon).
    pub fn score(&self, forecasts: &[Vec<f32>], truth: &[Vec<f32>]) -> Result<Score> {
        let n = self
            .hierarchy
            .levels
            .first()
            .map_or(0, |l| l.group_of.len());
        let h = truth.first().map_or(0, Vec::len);
        if forecasts.len() != n || truth.len() != n {
            return Err(ForecastError::Mismatch(format!(
                "{} forecast rows and {} truth rows for {n} series",
                forecasts.len(),
                truth.len()
            )));
        }
        if let Some(i) = (0..n).find(|&i| forecasts[i].len() != h || truth[i].len() != h) {
            return Err(ForecastError::Mismatch(format!(
                "series {i}: horizons differ (forecast {}, truth {}, expected {h})",
                forecasts[i].len(),
                truth[i].len()
            )));
        }
        let mut levels = Vec::new();
        let mut zero_scale = Vec::new();
        for (li, l) in self.hierarchy.levels.iter().enumerate() {
            let f = l.aggregate(forecasts);
            let y = l.aggregate(truth);
            let mut pairs = Vec::with_capacity(l.len());
            let mut zeros = 0;
            for g in 0..l.len() {
                match rmsse(&f[g], &y[g], self.scales[li][g]) {
                    Some(r) => pairs.push((self.weights[li][g], r)),
                    None => zeros += 1,
                }
            }
            let wsum: f64 = pairs.iter().map(|p| p.0).sum();
            let v = if wsum > 0.0 {
                pairs.iter().map(|(w, r)| w * r).sum::<f64>() / wsum
            } else {
                0.0
            };
            levels.push(v);
            zero_scale.push(zeros);
        }
        Ok(Score { levels, zero_scale })
    }
}

/// The level keys of one series (for callers that align files by key).
pub fn keys_of(level: usize, m: &SeriesMeta) -> (String, String) {
    level_key(level, m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_m5::hierarchy::Level;

    #[test]
    fn guide_worked_example() {
        // M5 Competitors' Guide: two levels; the bottom has two series with dollar sales 10 and
        // 12 and RMSSE 0.8 and 0.7, the top one series with RMSSE 0.77.
        let h = Hierarchy {
            levels: vec![
                Level::from_keys(vec![("T".into(), "X".into()); 2]),
                Level::from_keys(vec![("A".into(), "X".into()), ("B".into(), "X".into())]),
            ],
        };
        let w = weights_from_dollars(&h, &[10.0, 12.0]);
        assert_eq!(w[0], vec![1.0]);
        assert!((w[1][0] - 10.0 / 22.0).abs() < 1e-12);
        let v = combine(&[vec![(w[1][0], 0.8), (w[1][1], 0.7)], vec![(w[0][0], 0.77)]]);
        assert!((v - 0.758).abs() < 5e-4, "{v}");
        assert!(
            (v - (0.8 * 0.5 * 10.0 / 22.0 + 0.7 * 0.5 * 12.0 / 22.0 + 0.77 * 0.5)).abs() < 1e-12
        );
    }

    #[test]
    fn scale_drops_only_leading_zeros() {
        assert_eq!(
            scale(&[0.0, 0.0, 1.0, 3.0, 0.0, 0.0]),
            (4.0 + 9.0 + 0.0) / 3.0
        );
        assert_eq!(scale(&[0.0, 0.0]), 0.0);
        assert_eq!(scale(&[0.0, 5.0]), 0.0);
        assert_eq!(rmsse(&[1.0, 1.0], &[3.0, 1.0], 2.0), Some(1.0));
        assert_eq!(rmsse(&[1.0], &[1.0], 0.0), None);
    }

    #[test]
    fn end_to_end_with_zero_scale_series_has_no_nan() {
        let series: Vec<SeriesMeta> = [
            ("A_1_001", "CA_1"),
            ("A_1_002", "CA_1"),
            ("A_1_003", "CA_1"),
        ]
        .iter()
        .map(|(i, s)| SeriesMeta::from_ids(i, s).unwrap())
        .collect();
        let h = Hierarchy::m5(&series);
        // Series 2 is all zero, series 3 sells only on the last training day: both zero scale.
        let train = vec![
            vec![1.0, 2.0, 1.0, 2.0],
            vec![0.0; 4],
            vec![0.0, 0.0, 0.0, 4.0],
        ];
        let truth = vec![vec![2.0, 1.0], vec![0.0, 0.0], vec![1.0, 1.0]];
        let w = weights_from_dollars(&h, &[6.0, 0.0, 4.0]);
        let e = Wrmsse::new(h, &train, w).unwrap();
        let s = e.score(&truth, &truth).unwrap();
        assert!(s.levels.iter().all(|&v| v == 0.0), "{s:?}");
        let f = vec![vec![3.0, 2.0], vec![1.0, 1.0], vec![0.0, 0.0]];
        let s = e.score(&f, &truth).unwrap();
        assert!(s.levels.iter().all(|v| v.is_finite()));
        // Level 12: only series 1 has a scale (1.0); its RMSSE is 1, renormalised weight 1.
        assert_eq!(s.levels[11], 1.0);
        assert_eq!(s.zero_scale[11], 2);
        assert_eq!(s.zero_scale[0], 0);
        assert!(e.score(&f[..2], &truth[..2]).is_err());
    }
}
