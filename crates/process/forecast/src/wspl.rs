//! WSPL, the M5 uncertainty measure (M5 Uncertainty Competitors' Guide): weighted scaled
//! pinball loss over the nine quantiles [`QUANTILES`] of all 42,840 series.
//!
//! For series `i`, quantile `u` and horizon `h`:
//!
//! * **pinball** `Σ_t (Y_t − Q_t(u))·u` where `Q_t(u) ≤ Y_t`, else `(Q_t(u) − Y_t)·(1 − u)`;
//! * **SPL** = pinball / h / scale, with **scale** = mean absolute one-day difference
//!   `|y_t − y_{t−1}|` over the training days from the series' first non-zero one ([`scale`]);
//! * **WSPL** = per level `Σ_i w_i · (1/9) Σ_u SPL_i(u)` with the WRMSSE weights (dollar sales,
//!   1 per level), then the mean over the levels ([`Score::mean`], e.g. 1–12).
//!
//! Series with a zero scale are left out of their level and the other weights renormalised, as
//! in [`crate::wrmsse`]. [`QuantileModel`](crate::quantiles::QuantileModel) makes the
//! quantiles; [`backtest`] scores them inside the available days.

use crate::dataset::Inputs;
use crate::error::{ForecastError, Result};
use crate::models::Model;
pub use crate::quantiles::{LevelQuantiles, QUANTILES, QuantileModel};
use crate::wrmsse::{Score, m5_weights, weights_and_scales};
use aisle_m5::hierarchy::Hierarchy;
use aisle_m5::{Calendar, Prices, SalesPanel, SeriesMeta};
use rayon::prelude::*;

/// Mean absolute one-day difference from the first non-zero value on; 0 without a difference.
pub fn scale(train: &[f64]) -> f64 {
    let Some(start) = train.iter().position(|&v| v != 0.0) else {
        return 0.0;
    };
    let tail = &train[start..];
    if tail.len() < 2 {
        return 0.0;
    }
    tail.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (tail.len() - 1) as f64
}

/// Pinball loss of quantile `u` forecasts `q` against `y`, summed over the days.
pub fn pinball(q: &[f32], y: &[f64], u: f64) -> f64 {
    q.iter()
        .zip(y)
        .map(|(&q, &y)| {
            let q = f64::from(q);
            if q <= y {
                (y - q) * u
            } else {
                (q - y) * (1.0 - u)
            }
        })
        .sum()
}

/// Scaled pinball loss of one series averaged over the quantiles: `quantiles[k]` are the
/// forecasts of [`QUANTILES`]`[k]`. `None` for a non-positive scale.
pub fn spl(quantiles: &[Vec<f32>], truth: &[f64], scale: f64) -> Option<f64> {
    if scale <= 0.0 || !scale.is_finite() || truth.is_empty() {
        return None;
    }
    let h = truth.len() as f64;
    let sum: f64 = quantiles
        .iter()
        .zip(QUANTILES)
        .map(|(q, u)| pinball(q, truth, u) / h / scale)
        .sum();
    Some(sum / quantiles.len().max(1) as f64)
}

/// A WSPL evaluator: weights and scales fixed from the training data.
#[derive(Debug, Clone)]
pub struct Wspl {
    hierarchy: Hierarchy,
    weights: Vec<Vec<f64>>,
    scales: Vec<Vec<f64>>,
}

impl Wspl {
    /// From the bottom training rows (any length) and per-level weights.
    pub fn new(hierarchy: Hierarchy, train: &[Vec<f32>], weights: Vec<Vec<f64>>) -> Result<Self> {
        let scales = weights_and_scales(&hierarchy, train, &weights, scale)?;
        Ok(Self {
            hierarchy,
            weights,
            scales,
        })
    }

    /// The M5 evaluator: dollar-sales weights of the last 28 training days (`train` ends on
    /// `last_day`), scales from the training days.
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

    /// Replaces the weights (e.g. from an official weights file).
    pub fn with_weights(mut self, weights: Vec<Vec<f64>>) -> Result<Self> {
        if weights.len() != self.weights.len()
            || weights
                .iter()
                .zip(&self.weights)
                .any(|(a, b)| a.len() != b.len())
        {
            return Err(ForecastError::Mismatch(
                "weights do not match the hierarchy's levels".into(),
            ));
        }
        self.weights = weights;
        Ok(self)
    }

    /// The hierarchy.
    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    /// Per-level scales.
    pub fn scales(&self) -> &[Vec<f64>] {
        &self.scales
    }

    /// Scores quantile forecasts of every series of every level (`quantiles[level][series]
    /// [quantile][day]`) against the bottom truth.
    pub fn score(&self, quantiles: &[LevelQuantiles], truth: &[Vec<f32>]) -> Result<Score> {
        if quantiles.len() != self.hierarchy.levels.len() {
            return Err(ForecastError::Mismatch(format!(
                "{} levels of quantiles for {} levels",
                quantiles.len(),
                self.hierarchy.levels.len()
            )));
        }
        let mut levels = Vec::new();
        let mut zero_scale = Vec::new();
        for (li, l) in self.hierarchy.levels.iter().enumerate() {
            let y = l.aggregate(truth);
            let q = &quantiles[li];
            if q.len() != l.len() {
                return Err(ForecastError::Mismatch(format!(
                    "level {}: {} series of quantiles for {}",
                    li + 1,
                    q.len(),
                    l.len()
                )));
            }
            let per: Vec<Option<f64>> = (0..l.len())
                .into_par_iter()
                .map(|g| spl(&q[g], &y[g], self.scales[li][g]))
                .collect();
            let (mut num, mut wsum, mut zeros) = (0.0, 0.0, 0);
            for (g, s) in per.iter().enumerate() {
                match s {
                    Some(s) => {
                        num += self.weights[li][g] * s;
                        wsum += self.weights[li][g];
                    }
                    None => zeros += 1,
                }
            }
            levels.push(if wsum > 0.0 { num / wsum } else { 0.0 });
            zero_scale.push(zeros);
        }
        Ok(Score { levels, zero_scale })
    }
}

/// Trains on `sales` up to `train_last`, makes quantiles of the next `horizon` days with
/// every model and `quantiles`, and scores them (scales and weights from the training days).
pub fn backtest(
    sales: &SalesPanel,
    inputs: &Inputs,
    train_last: i32,
    horizon: usize,
    models: &[Box<dyn Model>],
    quantiles: &QuantileModel,
) -> Result<Vec<Score>> {
    let test_last = train_last + horizon as i32;
    if train_last < sales.first_day + 1 || test_last > sales.last_day() {
        return Err(ForecastError::Mismatch(format!(
            "backtest needs days d_{}..d_{test_last}; the sales cover d_{}..d_{}",
            sales.first_day,
            sales.first_day,
            sales.last_day()
        )));
    }
    let train = sales.slice(sales.first_day, train_last);
    let truth = sales.slice(train_last + 1, test_last);
    let eval = Wspl::m5(
        &train.series,
        &train.values,
        train_last,
        &inputs.calendar,
        &inputs.prices,
    )?;
    let ctx = inputs.context(&train, horizon);
    models
        .iter()
        .map(|m| {
            let q = quantiles.forecast(m.as_ref(), &ctx, eval.hierarchy());
            eval.score(&q.levels, &truth.values)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_m5::hierarchy::Level;

    #[test]
    fn guide_definition_on_a_worked_example() {
        // One bottom series (so one series per level, weight 1, two levels: total and bottom).
        // Training 0, 2, 4, 3: first non-zero is 2, differences |4-2|, |3-4| → scale 1.5.
        // Truth 5, 1. Quantile forecasts: every quantile predicts 3 on both days, except
        // u = 0.995 predicts 6, 6 and u = 0.005 predicts 0, 0.
        let h = Hierarchy {
            levels: vec![
                Level::from_keys(vec![("Total".into(), "X".into())]),
                Level::from_keys(vec![("A".into(), "X".into())]),
            ],
        };
        let train = vec![vec![0.0f32, 2.0, 4.0, 3.0]];
        let e = Wspl::new(h, &train, vec![vec![1.0], vec![1.0]]).unwrap();
        assert_eq!(e.scales()[0], vec![1.5]);
        let q: Vec<Vec<f32>> = QUANTILES
            .iter()
            .map(|&u| {
                if u < 0.01 {
                    vec![0.0, 0.0]
                } else if u > 0.99 {
                    vec![6.0, 6.0]
                } else {
                    vec![3.0, 3.0]
                }
            })
            .collect();
        // By hand, pinball per quantile (day 1: y=5, day 2: y=1):
        //   u=0.005, q=0: 5·0.005 + 1·0.005 = 0.03
        //   q=3 (u in 0.025..0.975): (5−3)·u + (3−1)·(1−u) = 2u + 2 − 2u = 2 for each of 7
        //   u=0.995, q=6: (6−5)·0.005 + (6−1)·0.005 = 0.03
        // SPL = mean over u of pinball / h / scale = (0.03 + 7·2 + 0.03) / 9 / 2 / 1.5.
        let want = (0.03 + 14.0 + 0.03) / 9.0 / 2.0 / 1.5;
        let s = e
            .score(&[vec![q.clone()], vec![q]], &[vec![5.0, 1.0]])
            .unwrap();
        assert!((s.levels[0] - want).abs() < 1e-9, "{s:?} vs {want}");
        assert!((s.mean(1..=2) - want).abs() < 1e-9);
    }

    #[test]
    fn weights_and_zero_scales() {
        // Two bottom series with weights ¼ and ¾; the second has no scale (all zero).
        let h = Hierarchy {
            levels: vec![Level::from_keys(vec![
                ("A".into(), "X".into()),
                ("B".into(), "X".into()),
            ])],
        };
        let train = vec![vec![1.0f32, 3.0], vec![0.0, 0.0]];
        let e = Wspl::new(h, &train, vec![vec![0.25, 0.75]]).unwrap();
        let q = |v: f32| vec![vec![v]; 9];
        let s = e
            .score(&[vec![q(2.0), q(0.0)]], &[vec![2.0], vec![0.0]])
            .unwrap();
        assert_eq!((s.levels[0], s.zero_scale[0]), (0.0, 1));
        // Forecast 0 for truth 2: pinball 2u per quantile, mean u = 0.5 → SPL 1 / scale 2.
        let s = e
            .score(&[vec![q(0.0), q(0.0)]], &[vec![2.0], vec![0.0]])
            .unwrap();
        assert!((s.levels[0] - 0.5).abs() < 1e-9, "{s:?}");
        assert_eq!(scale(&[0.0, 0.0, 2.0]), 0.0);
        assert!(e.score(&[], &[vec![2.0], vec![0.0]]).is_err());
    }
}
