//! Rolling 28-day-horizon backtests over series with a full daily history.
//!
//! The real task forecasts 28 days from 28 daily days plus monthly totals of everything before
//! them; inside the 28-day extract no split has both a 28-day horizon and that history. The ten
//! real series with daily d_1..d_1913 (`sales_train_validation_10series.csv`, or every series of
//! Kaggle's `sales_train_validation.csv` when a user has it) allow exactly that set-up at many
//! origins `o`: the model sees the daily days `o-27..=o` and monthly totals rebuilt from the
//! daily data up to `o-28` ([`Monthly::from_daily`], so no month leaks information from the
//! history or the horizon), forecasts `o+1..=o+28`, and is scored with official-style scales
//! (daily history d_1..=o from each series' first non-zero day) and dollar weights of `o-27..=o`.
//!
//! Ten series across five store × department pairs are far less than the 30,490 the pooled
//! model shares its weekday, SNAP and yearly estimates over, so this checks the *components*
//! (weekday profile from four weeks, yearly factor from monthly totals, horizon 28) rather than
//! the final score.

use crate::dataset::Inputs;
use crate::error::{ForecastError, Result};
use crate::models::Model;
use crate::monthly::Monthly;
use crate::wrmsse::{Score, Wrmsse};
use aisle_m5::files::find;
use aisle_m5::{Prices, SalesPanel};
use std::path::Path;

/// Daily files with a full history, most series first.
pub const FULL_FILES: [&str; 2] = [
    "sales_train_validation.csv",
    "sales_train_validation_10series.csv",
];

/// Loads the first of [`FULL_FILES`] found in `dir`, if any.
pub fn load_full(dir: &Path) -> Result<Option<SalesPanel>> {
    FULL_FILES
        .iter()
        .find_map(|f| find(dir, f))
        .map(|p| SalesPanel::read_wide(&p))
        .transpose()
        .map_err(ForecastError::from)
}

/// Origins every `step` days back from `last - horizon` while at least `min_day` (so there is a
/// year of monthly history before the daily days), oldest first.
pub fn origins(last: i32, horizon: usize, step: usize, min_day: i32) -> Vec<i32> {
    let mut o: Vec<i32> = (0..)
        .map(|k| last - horizon as i32 - (k * step) as i32)
        .take_while(|&d| d >= min_day)
        .collect();
    o.reverse();
    o
}

/// One model's rolling result.
#[derive(Debug, Clone)]
pub struct RollingRow {
    /// Model name.
    pub model: String,
    /// Mean over origins of each level's WRMSSE.
    pub levels: Vec<f64>,
    /// Number of origins scored.
    pub origins: usize,
}

impl RollingRow {
    /// Mean over the given 1-based levels.
    pub fn mean(&self, levels: std::ops::RangeInclusive<usize>) -> f64 {
        Score {
            levels: self.levels.clone(),
            zero_scale: Vec::new(),
        }
        .mean(levels)
    }
}

/// Runs every model at every origin (see the module docs) and averages the scores.
/// `history_days` daily days are shown to the models (28 in the real task).
pub fn rolling(
    full: &SalesPanel,
    inputs: &Inputs,
    origins: &[i32],
    history_days: usize,
    horizon: usize,
    models: &[Box<dyn Model>],
) -> Result<Vec<RollingRow>> {
    let mut sums: Vec<Vec<f64>> = vec![Vec::new(); models.len()];
    for &o in origins {
        let first = o - history_days as i32 + 1;
        if first - 1 < full.first_day || o + horizon as i32 > full.last_day() {
            return Err(ForecastError::Mismatch(format!(
                "origin d_{o}: needs d_{}..d_{}, the series cover d_{}..d_{}",
                first - 1,
                o + horizon as i32,
                full.first_day,
                full.last_day()
            )));
        }
        let scale_train = full.slice(full.first_day, o);
        let shown = full.slice(first, o);
        let truth = full.slice(o + 1, o + horizon as i32);
        let mut eval = Wrmsse::m5(
            &full.series,
            &shown.values,
            o,
            &inputs.calendar,
            &inputs.prices,
        )?;
        let full_scales = Wrmsse::m5(
            &full.series,
            &scale_train.values,
            o,
            &inputs.calendar,
            &Prices::default(),
        )?;
        let published: Vec<Vec<Option<f64>>> = full_scales
            .scales()
            .iter()
            .map(|l| l.iter().map(|&s| Some(s)).collect())
            .collect();
        eval.replace_scales(&published);
        let monthly = Monthly::from_daily(full, &inputs.calendar, first - 1);
        let mut ctx = inputs.context(&shown, horizon);
        ctx.monthly = Some(&monthly);
        for (m, acc) in models.iter().zip(sums.iter_mut()) {
            let s = eval.score(&m.forecast(&ctx), &truth.values)?;
            if acc.is_empty() {
                acc.resize(s.levels.len(), 0.0);
            }
            acc.iter_mut().zip(&s.levels).for_each(|(a, v)| *a += v);
        }
    }
    Ok(models
        .iter()
        .zip(sums)
        .map(|(m, acc)| RollingRow {
            model: m.name(),
            levels: acc
                .iter()
                .map(|v| v / origins.len().max(1) as f64)
                .collect(),
            origins: origins.len(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Context;
    use aisle_m5::{Calendar, CalendarDay, SeriesMeta};

    /// Forecasts the panel's own days after the history, shifted by `lag` days.
    struct Oracle(SalesPanel, i32);

    impl Model for Oracle {
        fn name(&self) -> String {
            format!("oracle{}", self.1)
        }
        fn forecast(&self, ctx: &Context<'_>) -> Vec<Vec<f32>> {
            let from = ctx.last_day + 1 - self.1;
            let s = self.0.slice(from, from + ctx.horizon as i32 - 1);
            assert!(ctx.monthly.is_some());
            s.values
        }
    }

    #[test]
    fn each_origin_is_scored_on_the_days_after_it() {
        let cal = Calendar::from_days(
            (0..200)
                .map(|i| CalendarDay {
                    wday: (i % 7) as u8 + 1,
                    month: format!("M{}", i / 30),
                    ..CalendarDay::default()
                })
                .collect(),
        );
        let full = SalesPanel {
            series: vec![
                SeriesMeta::from_ids("A_1_001", "CA_1").unwrap(),
                SeriesMeta::from_ids("A_1_002", "TX_1").unwrap(),
            ],
            first_day: 1,
            values: vec![
                (1..=200).map(|d| (d % 5) as f32).collect(),
                (1..=200).map(|d| (d % 3 + d / 50) as f32).collect(),
            ],
        };
        let inputs = Inputs {
            calendar: cal,
            ..Inputs::default()
        };
        let o = origins(200, 28, 28, 60);
        assert_eq!(o, vec![60, 88, 116, 144, 172]);
        let models: Vec<Box<dyn Model>> = vec![
            Box::new(Oracle(full.clone(), 0)),
            Box::new(Oracle(full.clone(), 1)),
        ];
        let rows = rolling(&full, &inputs, &o, 28, 28, &models).unwrap();
        assert_eq!(rows[0].origins, 5);
        assert_eq!(rows[0].mean(1..=12), 0.0, "{:?}", rows[0]);
        assert!(rows[1].mean(1..=12) > 0.1, "{:?}", rows[1]);
        assert!(rolling(&full, &inputs, &[190], 28, 28, &models).is_err());
    }

    #[test]
    fn origins_step_back_from_the_end() {
        assert_eq!(origins(100, 28, 28, 10), vec![16, 44, 72]);
        assert!(origins(30, 28, 28, 10).is_empty());
    }
}
