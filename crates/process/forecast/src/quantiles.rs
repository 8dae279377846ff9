//! Quantile forecasts of every series at every level: the nine M5 uncertainty quantiles
//! ([`QUANTILES`]) around a point model's forecasts.
//!
//! Each series' daily value is taken as negative binomial with mean `μ` (the point forecast,
//! summed bottom-up to the series' level) and variance `μ + φ_l·μ²`; `φ_l` is one
//! over-dispersion per level, measured on the end of the history ([`QuantileModel::dispersion`]):
//! the point model is refitted without the last `holdout` days, forecasts them, and
//! `φ_l = max(0, Σ((y − μ)² − μ)) / Σ μ²` over that level's series and days (method of moments;
//! the `−μ` removes the Poisson part, so a bottom series of pure Poisson noise gets `φ ≈ 0`).
//! The result is multiplied by `inflate` (the real horizon is longer than the holdout).
//!
//! Quantiles are exact (the smallest `k` whose CDF reaches `u`) up to `μ` = [`EXACT_UP_TO`] and
//! normal, `μ + z_u·σ` clamped at 0, above it (aggregates, where the distribution is close to
//! normal). Quantiles of one series and day are non-decreasing in `u` by construction.

use crate::models::{Context, Model};
use aisle_m5::hierarchy::Hierarchy;
use rayon::prelude::*;

/// The nine M5 uncertainty quantiles.
pub const QUANTILES: [f64; 9] = [0.005, 0.025, 0.165, 0.25, 0.5, 0.75, 0.835, 0.975, 0.995];

/// Standard normal quantiles of [`QUANTILES`].
const Z: [f64; 9] = [
    -2.575_829_303_548_901,
    -1.959_963_984_540_054,
    -0.974_113_877_059_308,
    -0.674_489_750_196_082,
    0.0,
    0.674_489_750_196_082,
    0.974_113_877_059_308,
    1.959_963_984_540_054,
    2.575_829_303_548_901,
];

/// Means above this use the normal approximation.
pub const EXACT_UP_TO: f64 = 200.0;

/// Quantile forecasts of one level: `[series][quantile][day]`.
pub type LevelQuantiles = Vec<Vec<Vec<f32>>>;

/// The nine quantiles of a negative binomial with mean `mu` and variance `mu + phi·mu²`
/// (Poisson when `phi` is 0).
pub fn nb_quantiles(mu: f64, phi: f64) -> [f64; 9] {
    let mu = mu.max(0.0);
    let phi = phi.max(0.0);
    if mu <= 0.0 {
        return [0.0; 9];
    }
    if mu > EXACT_UP_TO {
        let sd = (mu + phi * mu * mu).sqrt();
        return Z.map(|z| (mu + z * sd).max(0.0));
    }
    // pmf(0) and the ratio pmf(k+1)/pmf(k): Poisson μ/(k+1); NB with r = 1/φ:
    // (k + r)/(k + 1) · μ/(r + μ).
    let poisson = phi < 1e-9;
    let r = if poisson { 0.0 } else { 1.0 / phi };
    let mut pmf = if poisson {
        (-mu).exp()
    } else {
        (-r * (mu / r).ln_1p()).exp()
    };
    let mut cdf = pmf;
    let mut out = [0.0; 9];
    let mut k = 0.0f64;
    let limit = mu + 40.0 * (mu + phi * mu * mu).sqrt() + 50.0;
    for (o, &u) in out.iter_mut().zip(&QUANTILES) {
        while cdf < u - 1e-12 && k < limit {
            pmf *= if poisson {
                mu / (k + 1.0)
            } else {
                (k + r) / (k + 1.0) * mu / (r + mu)
            };
            k += 1.0;
            cdf += pmf;
        }
        *o = k;
    }
    out
}

/// Quantile forecasts with the point forecasts they came from.
#[derive(Debug, Clone)]
pub struct QuantileForecast {
    /// The point model's bottom forecasts.
    pub points: Vec<Vec<f32>>,
    /// Over-dispersion used per level.
    pub phi: Vec<f64>,
    /// Quantiles of every series of every level (`levels[l][series][quantile][day]`).
    pub levels: Vec<LevelQuantiles>,
}

/// How quantiles are made from a point model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantileModel {
    /// Days held back at the end of the history to measure the over-dispersion.
    pub holdout: usize,
    /// Factor applied to the measured over-dispersion.
    pub inflate: f64,
    /// Over-dispersion used at every level when the history is shorter than `2 · holdout`.
    pub fallback: f64,
}

impl Default for QuantileModel {
    /// Holdout 7 days, inflate 0.5 (lowest mean WSPL over the splits of
    /// [`crate::selection::SPLITS`] among 0.25, 0.5, 0.75, 1, 1.5; see BENCHMARKS.md),
    /// fallback 0.05.
    fn default() -> Self {
        Self {
            holdout: 7,
            inflate: 0.5,
            fallback: 0.05,
        }
    }
}

impl QuantileModel {
    /// The over-dispersion `φ_l` of each level of `h` (see the module docs).
    pub fn dispersion(&self, model: &dyn Model, ctx: &Context<'_>, h: &Hierarchy) -> Vec<f64> {
        let days = ctx.history.first().map_or(0, Vec::len);
        let k = self.holdout;
        if k == 0 || days < 2 * k {
            return vec![self.fallback; h.levels.len()];
        }
        let short: Vec<Vec<f32>> = ctx.history.iter().map(|r| r[..days - k].to_vec()).collect();
        let held: Vec<Vec<f32>> = ctx.history.iter().map(|r| r[days - k..].to_vec()).collect();
        let sub = Context {
            history: &short,
            last_day: ctx.last_day - k as i32,
            horizon: k,
            ..*ctx
        };
        let f = model.forecast(&sub);
        h.levels
            .iter()
            .map(|l| {
                let (mu, y) = (l.aggregate(&f), l.aggregate(&held));
                let (mut num, mut den) = (0.0, 0.0);
                for (m, t) in mu.iter().flatten().zip(y.iter().flatten()) {
                    num += (t - m).powi(2) - m;
                    den += m * m;
                }
                if den > 0.0 {
                    (num / den).max(0.0) * self.inflate
                } else {
                    self.fallback
                }
            })
            .collect()
    }

    /// Quantiles of every level from bottom `points` and per-level `phi`.
    pub fn from_points(h: &Hierarchy, points: &[Vec<f32>], phi: &[f64]) -> Vec<LevelQuantiles> {
        h.levels
            .iter()
            .zip(phi)
            .map(|(l, &phi)| Self::of_rows(&l.aggregate(points), phi))
            .collect()
    }

    /// Quantiles (`[series][quantile][day]`) of rows of means `rows` sharing one `phi`: e.g. the
    /// bottom series (item × store) with the bottom level's `phi`, which is what the streaming
    /// forecaster puts in each `SalesForecast`. Equal to the last level of [`Self::from_points`]
    /// for M5 bottom series.
    pub fn of_rows<T: Copy + Into<f64> + Sync>(rows: &[Vec<T>], phi: f64) -> LevelQuantiles {
        rows.par_iter()
            .map(|row| {
                let per_day: Vec<[f64; 9]> =
                    row.iter().map(|&mu| nb_quantiles(mu.into(), phi)).collect();
                (0..QUANTILES.len())
                    .map(|q| per_day.iter().map(|d| d[q] as f32).collect())
                    .collect()
            })
            .collect()
    }

    /// Point forecasts of `model` and the quantiles around them, for every level of `h` (the
    /// hierarchy over `ctx.series`).
    pub fn forecast(
        &self,
        model: &dyn Model,
        ctx: &Context<'_>,
        h: &Hierarchy,
    ) -> QuantileForecast {
        let phi = self.dispersion(model, ctx, h);
        let points = model.forecast(ctx);
        let levels = Self::from_points(h, &points, &phi);
        QuantileForecast {
            points,
            phi,
            levels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_and_nb_quantiles() {
        // Poisson(1): CDF 0.368, 0.736, 0.920, 0.981, 0.996 at 0..4.
        assert_eq!(
            nb_quantiles(1.0, 0.0),
            [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 4.0]
        );
        // NB with φ = 1 (geometric, p = ½ at μ = 1): CDF 0.5, 0.75, 0.875, ... → the 0.5
        // quantile is 0, the 0.75 one 1, the 0.995 one 7 (1 − 2^-8 ≥ 0.995 > 1 − 2^-7).
        let g = nb_quantiles(1.0, 1.0);
        assert_eq!((g[4], g[5], g[8]), (0.0, 1.0, 7.0));
        assert_eq!(nb_quantiles(0.0, 1.0), [0.0; 9]);
        let big = nb_quantiles(10_000.0, 0.01);
        assert!((big[4] - 10_000.0).abs() < 1e-9);
        let sd = (10_000.0f64 + 0.01 * 1e8).sqrt();
        assert!((big[8] - (10_000.0 + 2.575_829_303_548_901 * sd)).abs() < 1e-6);
    }

    #[test]
    fn quantiles_are_monotone_per_series_and_day() {
        for mu in [0.01, 0.3, 1.0, 2.5, 7.0, 40.0, 199.0, 201.0, 5000.0] {
            for phi in [0.0, 0.01, 0.3, 2.0, 10.0] {
                let q = nb_quantiles(mu, phi);
                assert!(q.windows(2).all(|w| w[0] <= w[1]), "μ {mu} φ {phi}: {q:?}");
                assert!(q[0] >= 0.0);
            }
        }
        let h = Hierarchy::m5(&[
            aisle_m5::SeriesMeta::from_ids("A_1_001", "CA_1").unwrap(),
            aisle_m5::SeriesMeta::from_ids("A_1_002", "TX_1").unwrap(),
        ]);
        let points = vec![vec![0.2f32, 3.0, 150.0], vec![1.0, 0.0, 90.0]];
        let lq = QuantileModel::from_points(&h, &points, &[0.1; 12]);
        assert_eq!(lq.len(), 12);
        for level in &lq {
            for series in level {
                assert_eq!(series.len(), 9);
                for d in 0..3 {
                    assert!(
                        (1..9).all(|k| series[k - 1][d] <= series[k][d]),
                        "{series:?}"
                    );
                }
            }
        }
        // The total of day 3 (μ 240) is past the exact range: its median is μ.
        assert_eq!(lq[0][0][4][2], 240.0);
        // The bottom level alone (what the stream's records carry) is the last level.
        assert_eq!(QuantileModel::of_rows(&points, 0.1), lq[11]);
        assert_ne!(QuantileModel::of_rows(&points, 5.0), lq[11]);
    }
}
