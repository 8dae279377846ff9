//! The level backtest at monthly resolution: how well a yearly factor ([`YearlySpec`]) predicts
//! the change of every series' sales rate from one month to the next, scored on levels 1–9.
//!
//! The in-window splits ([`crate::selection`]) all cut one April → May of one year, so for the
//! level they are one observation, not four. The monthly totals hold 64 months of every series:
//! each month `k` from 2012-02 on is an origin, the month's daily rate stands for "the last 28
//! days", and the factor of the model (measured on the months 12, 24, … before, exactly as the
//! model measures it 364, 728, … days before) predicts month `k + 1`. Both sides are weekday
//! balanced (each month's rate divided by its weekday mix under the store × department's weekday
//! profile, [`super::models::yearly::composition`]), as the 28-day history and horizon are four
//! full weeks each.
//!
//! The error of a level series is `|predicted − actual| / sqrt(scale)` (its RMSSE if the whole
//! horizon were off by that much), weighted like WRMSSE within the level; the score of an
//! origin is the mean over levels 1–9. Only the level is checked: weekday, SNAP and events do
//! not exist at monthly resolution. The weekday profiles are those of the daily history (2016)
//! applied to earlier years, a structural assumption, not a look at any target.

use crate::models::profile::weekday_profile;
use crate::models::yearly::{YearlyPool, YearlySpec, composition};
use crate::monthly::Monthly;
use aisle_m5::SeriesMeta;
use aisle_m5::hierarchy::Hierarchy;
use rayon::prelude::*;
use std::collections::HashMap;

/// A predictor of next month's rate: the model's yearly factor, or none.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictor {
    /// Name for reports.
    pub name: String,
    /// The factor; `None` = no change.
    pub spec: Option<YearlySpec>,
    /// Pools never span stores (the model fitted per `sales` partition, one store each).
    pub per_store: bool,
}

/// One predictor's scores.
#[derive(Debug, Clone)]
pub struct LevelRow {
    /// Predictor name.
    pub name: String,
    /// Mean over levels 1–9 of the weighted scaled level error, per origin (target month order).
    pub per_origin: Vec<f64>,
    /// Target month (`YYYY-MM`) of each origin.
    pub targets: Vec<String>,
}

impl LevelRow {
    /// Mean over every origin.
    pub fn mean(&self) -> f64 {
        self.per_origin.iter().sum::<f64>() / self.per_origin.len().max(1) as f64
    }

    /// Mean over the origins whose target month ends with `suffix` (e.g. `"-06"`).
    pub fn mean_into(&self, suffix: &str) -> f64 {
        let v: Vec<f64> = self
            .per_origin
            .iter()
            .zip(&self.targets)
            .filter(|(_, t)| t.ends_with(suffix))
            .map(|(e, _)| *e)
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    }
}

/// Weekday profile (index `wday - 1`, mean 1) of each store × department over `history`
/// (`wdays[t]` of each day), keyed `store|dept`: the model's `weekday_profile` of the group's
/// daily sums, flat when a weekday has no day or no sales.
pub fn group_profiles(
    series: &[SeriesMeta],
    history: &[Vec<f32>],
    wdays: &[usize],
) -> HashMap<String, [f64; 7]> {
    let mut sums: HashMap<String, Vec<f64>> = HashMap::new();
    for (m, row) in series.iter().zip(history) {
        let sum = sums
            .entry(format!("{}|{}", m.store_id, m.dept_id))
            .or_insert_with(|| vec![0.0; wdays.len()]);
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += f64::from(v);
        }
    }
    let every_day = vec![true; wdays.len()];
    let all_weekdays = (0..7).all(|w| wdays.contains(&w));
    sums.into_iter()
        .map(|(k, y)| {
            let p = weekday_profile(&y, wdays, &every_day);
            let flat = !all_weekdays || p.iter().any(|&v| v <= 0.0);
            (k, if flat { [1.0; 7] } else { p })
        })
        .collect()
}

/// Scores every predictor over every origin month with a full year before it. `weights[l]` and
/// `scales[l]` are the WRMSSE weights and scales of level `l + 1` of `Hierarchy::m5(series)`;
/// `profiles` from [`group_profiles`].
pub fn run(
    monthly: &Monthly,
    series: &[SeriesMeta],
    profiles: &HashMap<String, [f64; 7]>,
    weights: &[Vec<f64>],
    scales: &[Vec<f64>],
    predictors: &[Predictor],
) -> Vec<LevelRow> {
    let months = monthly.months();
    let flat = [1.0; 7];
    let profile_of = |m: &SeriesMeta| {
        profiles
            .get(&format!("{}|{}", m.store_id, m.dept_id))
            .unwrap_or(&flat)
    };
    // raw[s][k], and the weekday mix factor comp[s][k].
    let raw: Vec<Vec<f64>> = series
        .par_iter()
        .map(|m| {
            months
                .iter()
                .map(|mo| monthly.daily_rate(&m.id, mo).unwrap_or(0.0))
                .collect()
        })
        .collect();
    let comp: Vec<Vec<f64>> = series
        .par_iter()
        .map(|m| {
            months
                .iter()
                .map(|mo| composition(monthly, mo, profile_of(m)))
                .collect()
        })
        .collect();
    let h = Hierarchy::m5(series);
    let origins: Vec<usize> = (13..months.len().saturating_sub(1)).collect();
    predictors
        .iter()
        .map(|p| {
            let key = |m: &SeriesMeta| {
                let k = p.spec.map_or(YearlyPool::StoreDept, |s| s.pool).key(m);
                if p.per_store {
                    format!("{}|{k}", m.store_id)
                } else {
                    k
                }
            };
            let mut pool_index: HashMap<String, usize> = HashMap::new();
            let pool_of: Vec<usize> = series
                .iter()
                .map(|m| {
                    let n = pool_index.len();
                    *pool_index.entry(key(m)).or_insert(n)
                })
                .collect();
            let n_pools = pool_index.len();
            let per_origin: Vec<f64> = origins
                .par_iter()
                .map(|&k| {
                    let factor = match p.spec {
                        None => vec![1.0; n_pools],
                        Some(spec) => pool_factors(&raw, &comp, &pool_of, n_pools, k, &spec),
                    };
                    let pred: Vec<f64> = (0..series.len())
                        .map(|s| raw[s][k] / comp[s][k] * factor[pool_of[s]])
                        .collect();
                    let act: Vec<f64> = (0..series.len())
                        .map(|s| raw[s][k + 1] / comp[s][k + 1])
                        .collect();
                    let mut sum = 0.0;
                    for (l, level) in h.levels.iter().enumerate().take(9) {
                        let (pa, aa) =
                            (level.aggregate_scalar(&pred), level.aggregate_scalar(&act));
                        let (mut e, mut wsum) = (0.0, 0.0);
                        for g in 0..level.len() {
                            let sc = scales[l][g];
                            if sc > 0.0 {
                                e += weights[l][g] * (pa[g] - aa[g]).abs() / sc.sqrt();
                                wsum += weights[l][g];
                            }
                        }
                        sum += if wsum > 0.0 { e / wsum } else { 0.0 };
                    }
                    sum / 9.0
                })
                .collect();
            LevelRow {
                name: p.name.clone(),
                per_origin,
                targets: origins.iter().map(|&k| months[k + 1].clone()).collect(),
            }
        })
        .collect()
}

/// The factor of each pool for origin month `k` → `k + 1`: `exp(shrink · mean over years y of
/// ln(rate(k + 1 − 12y) / rate(k − 12y)))` over the years with both months (from month 1 on:
/// month 0 of the M5 file holds 3 days).
fn pool_factors(
    raw: &[Vec<f64>],
    comp: &[Vec<f64>],
    pool_of: &[usize],
    n_pools: usize,
    k: usize,
    spec: &YearlySpec,
) -> Vec<f64> {
    let (mut logs, mut counts) = (vec![0.0; n_pools], vec![0.0; n_pools]);
    for y in 1..=spec.years.max(1) {
        let Some(j) = k.checked_sub(12 * y).filter(|&j| j >= 1) else {
            break;
        };
        let (mut past, mut fut) = (vec![0.0; n_pools], vec![0.0; n_pools]);
        for (s, &p) in pool_of.iter().enumerate() {
            let (a, b) = if spec.adjust {
                (raw[s][j] / comp[s][j], raw[s][j + 1] / comp[s][j + 1])
            } else {
                (raw[s][j], raw[s][j + 1])
            };
            past[p] += a;
            fut[p] += b;
        }
        for p in 0..n_pools {
            if past[p] > 0.0 && fut[p] > 0.0 {
                logs[p] += (fut[p] / past[p]).ln();
                counts[p] += 1.0;
            }
        }
    }
    logs.iter()
        .zip(&counts)
        .map(|(l, &n)| {
            if n > 0.0 {
                (spec.shrink * l / n).exp()
            } else {
                1.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_m5::{Calendar, CalendarDay, SalesPanel};

    /// 40 months of 28 days (four of each weekday); one series whose rate is 10 in even and
    /// 20 in odd months, every year alike.
    #[test]
    fn the_true_seasonal_change_scores_zero_and_no_change_does_not() {
        let cal = Calendar::from_days(
            (0..40 * 28)
                .map(|i| CalendarDay {
                    month: format!("{:04}-{:02}", 2000 + i / (28 * 12), 1 + (i / 28) % 12),
                    wday: (i % 7) as u8 + 1,
                    ..CalendarDay::default()
                })
                .collect(),
        );
        let series = vec![SeriesMeta::from_ids("A_1_001", "CA_1").unwrap()];
        let row: Vec<f32> = (0..40 * 28)
            .map(|i| if (i / 28) % 2 == 0 { 10.0 } else { 20.0 })
            .collect();
        let panel = SalesPanel {
            series: series.clone(),
            first_day: 1,
            values: vec![row],
        };
        let monthly = Monthly::from_daily(&panel, &cal, 40 * 28);
        let wdays: Vec<usize> = (0..28).map(|t| t % 7).collect();
        let profiles = group_profiles(&series, &[vec![1.0; 28]], &wdays);
        let (w, s) = (vec![vec![1.0]; 9], vec![vec![1.0]; 9]);
        let spec = |shrink| YearlySpec {
            pool: YearlyPool::Dept,
            shrink,
            years: 2,
            adjust: true,
        };
        let preds = [
            Predictor {
                name: "none".into(),
                spec: None,
                per_store: true,
            },
            Predictor {
                name: "full".into(),
                spec: Some(spec(1.0)),
                per_store: true,
            },
            Predictor {
                name: "half".into(),
                spec: Some(spec(0.5)),
                per_store: false,
            },
        ];
        let rows = run(&monthly, &series, &profiles, &w, &s, &preds);
        // Origins: months 13..=38 (26), rate alternating 10 ↔ 20: |change| = 10 at each level.
        assert_eq!(rows[0].per_origin.len(), 26);
        assert!((rows[0].mean() - 10.0).abs() < 1e-9, "{:?}", rows[0]);
        assert!(rows[1].mean() < 1e-9, "{:?}", rows[1]);
        // Half the log change: 10·√2 for 20, 20/√2 for 10 → errors 5.86 and 4.14, mean 5.
        let want = (20.0 - 10.0 * 2f64.sqrt() + 20.0 / 2f64.sqrt() - 10.0) / 2.0;
        assert!(
            (rows[2].mean() - want).abs() < 1e-9,
            "{} vs {want}",
            rows[2].mean()
        );
        assert_eq!(rows[1].targets[0], "2001-03");
    }
}
