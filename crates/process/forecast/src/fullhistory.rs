//! Rolling-origin backtests when the whole daily history is known (Kaggle's full files, or
//! the ten real series of `sales_train_validation_10series.csv`): at each origin `o` a model
//! sees either every daily day `..=o` ([`Shown::Full`], what [`crate::models::gbdt::Gbdt`] is
//! for) or only the last `n` days with monthly totals rebuilt from the days before them
//! ([`Shown::Days`], today's task with the shipped data, as [`crate::rolling`] does); it
//! forecasts `o+1..=o+horizon`, scored per series with RMSSE (M5's scale: mean squared daily
//! change from the series' first sale through `o`).

use crate::dataset::Inputs;
use crate::error::{ForecastError, Result};
use crate::models::Model;
use crate::monthly::Monthly;
use aisle_m5::SalesPanel;
use tokio::time::Instant;

/// The history a model is shown at each origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Every daily day up to the origin (monthly totals of the same days).
    Full,
    /// The last `n` daily days, and monthly totals of the days before them.
    Days(usize),
}

/// RMSSE of one forecast: `sqrt(mean (y - ŷ)² / mean (Δ train)²)`, the scale over `train` from
/// its first non-zero day. `None` when the scale is zero (no two active days differ).
pub fn rmsse(train: &[f32], truth: &[f32], forecast: &[f32]) -> Option<f64> {
    let start = train.iter().position(|&v| v != 0.0)?;
    let active = &train[start..];
    let n = active.len().checked_sub(1).filter(|&n| n > 0)?;
    let scale = active
        .windows(2)
        .map(|w| f64::from(w[1] - w[0]).powi(2))
        .sum::<f64>()
        / n as f64;
    if scale <= 0.0 || truth.is_empty() {
        return None;
    }
    let mse = truth
        .iter()
        .zip(forecast)
        .map(|(&y, &f)| f64::from(y - f).powi(2))
        .sum::<f64>()
        / truth.len() as f64;
    Some((mse / scale).sqrt())
}

/// The scores of every model at every origin.
#[derive(Debug, Clone)]
pub struct FullRolling {
    /// Model names (with the history shown, e.g. `sNaive [full]`).
    pub models: Vec<String>,
    /// Origins (last shown day).
    pub origins: Vec<i32>,
    /// Series ids.
    pub series: Vec<String>,
    /// `rmsse[m][o][s]`.
    pub rmsse: Vec<Vec<Vec<Option<f64>>>>,
    /// Seconds each model spent (all origins).
    pub seconds: Vec<f64>,
}

impl FullRolling {
    /// Mean RMSSE of model `m` over every (origin, series) with a scale.
    pub fn mean(&self, m: usize) -> f64 {
        let v: Vec<f64> = self.rmsse[m].iter().flatten().flatten().copied().collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    }

    /// Mean RMSSE of model `m` at origin `o` (index).
    pub fn origin_mean(&self, m: usize, o: usize) -> f64 {
        let v: Vec<f64> = self.rmsse[m][o].iter().flatten().copied().collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    }

    /// Index of the model whose name starts with `prefix`.
    pub fn find(&self, prefix: &str) -> Option<usize> {
        self.models.iter().position(|m| m.starts_with(prefix))
    }

    /// Markdown tables: mean per origin and overall, then per series (mean over origins).
    pub fn table(&self) -> String {
        let mut out = String::from("| model | time (s) |");
        for o in &self.origins {
            out += &format!(" o=d_{o} |");
        }
        out += " mean |\n|---|---|";
        out += &"---|".repeat(self.origins.len() + 1);
        out += "\n";
        for (m, name) in self.models.iter().enumerate() {
            out += &format!("| {name} | {:.1} |", self.seconds[m]);
            for o in 0..self.origins.len() {
                out += &format!(" {:.3} |", self.origin_mean(m, o));
            }
            out += &format!(" **{:.3}** |\n", self.mean(m));
        }
        out += "\nRMSSE per series (mean over origins)\n\n| series |";
        for name in &self.models {
            out += &format!(" {name} |");
        }
        out += "\n|---|";
        out += &"---|".repeat(self.models.len());
        out += "\n";
        for (s, id) in self.series.iter().enumerate() {
            out += &format!("| {id} |");
            for m in 0..self.models.len() {
                let v: Vec<f64> = self.rmsse[m].iter().filter_map(|o| o[s]).collect();
                out += &format!(" {:.3} |", v.iter().sum::<f64>() / v.len().max(1) as f64);
            }
            out += "\n";
        }
        out
    }
}

/// Runs every `(model, shown)` pair at every origin of `full` (see the module docs).
pub fn run(
    full: &SalesPanel,
    inputs: &Inputs,
    origins: &[i32],
    horizon: usize,
    models: &[(Box<dyn Model>, Shown)],
) -> Result<FullRolling> {
    let mut scores = vec![Vec::new(); models.len()];
    let mut seconds = vec![0.0; models.len()];
    for &o in origins {
        if o - 28 < full.first_day || o + horizon as i32 > full.last_day() {
            return Err(ForecastError::Mismatch(format!(
                "origin d_{o}: the series cover d_{}..d_{}, horizon {horizon}",
                full.first_day,
                full.last_day()
            )));
        }
        let train = full.slice(full.first_day, o);
        let truth = full.slice(o + 1, o + horizon as i32);
        for (m, (model, shown)) in models.iter().enumerate() {
            let first = match shown {
                Shown::Full => full.first_day,
                Shown::Days(n) => (o - *n as i32 + 1).max(full.first_day),
            };
            let panel = full.slice(first, o);
            let monthly_last = match shown {
                Shown::Full => o,
                Shown::Days(_) => first - 1,
            };
            let monthly = Monthly::from_daily(full, &inputs.calendar, monthly_last);
            let mut ctx = inputs.context(&panel, horizon);
            ctx.monthly = Some(&monthly);
            let t = Instant::now();
            let f = model.forecast(&ctx);
            seconds[m] += t.elapsed().as_secs_f64();
            scores[m].push(
                (0..full.series.len())
                    .map(|s| rmsse(&train.values[s], &truth.values[s], &f[s]))
                    .collect(),
            );
        }
    }
    Ok(FullRolling {
        models: models
            .iter()
            .map(|(m, s)| match s {
                Shown::Full => format!("{} [full]", m.name()),
                Shown::Days(n) => format!("{} [{n} d + monthly]", m.name()),
            })
            .collect(),
        origins: origins.to_vec(),
        series: full.series.iter().map(|s| s.id.clone()).collect(),
        rmsse: scores,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmsse_uses_the_scale_from_the_first_sale() {
        // Active days 2, 4, 2: squared changes 4, 4 → scale 4; errors 2, 2 → RMSSE 1.
        assert_eq!(
            rmsse(&[0.0, 0.0, 2.0, 4.0, 2.0], &[1.0, 5.0], &[3.0, 3.0]),
            Some(1.0)
        );
        assert_eq!(rmsse(&[0.0, 0.0], &[1.0], &[1.0]), None);
        assert_eq!(rmsse(&[3.0, 3.0], &[1.0], &[1.0]), None);
    }
}
