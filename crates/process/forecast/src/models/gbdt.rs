//! [`Gbdt`]: one global gradient-boosted-tree model over every series, for when the daily
//! history is long (Kaggle's full `sales_train_evaluation.csv`, d_1..d_1941), as the M5
//! winners did with LightGBM; and [`Auto`], which uses it only then.
//!
//! Multi-horizon strategy: **direct**. Rows are (series, origin, horizon `h`) with features
//! known at the origin ([`crate::features`]); one model predicts all 28 days, and a forecast is
//! one prediction pass over `series × 28` rows (no recursion, no error feed-back). Training
//! origins step back weekly from `last - horizon`, so the training rows look exactly like the
//! forecast rows (same origin weekday); on full-size data they are subsampled to
//! [`TrainRows::max_rows`] (BENCHMARKS.md, issue 16 part 2, gives the cost).
//!
//! The data shipped with Aisle has 28 daily days per series (plus monthly totals): below
//! [`Gbdt::min_history`] days the model is never fitted and [`Auto`] forecasts with the default
//! [`Pooled`] model, so today's default output does not change.

use super::learner::{Fitted, Learner, LearnerError};
use super::pooled::Pooled;
use super::{Context, Model};
use crate::features::{COLS, Features, TrainRows};
use tokio::time::Instant;

/// Errors of fitting the GBDT model.
#[derive(Debug, thiserror::Error)]
pub enum GbdtError {
    /// The history is shorter than the model needs.
    #[error("GBDT needs at least {need} days of daily history, the data has {days}")]
    TooShort {
        /// Days of history.
        days: usize,
        /// [`Gbdt::min_history`].
        need: usize,
    },
    /// The tree learner failed.
    #[error("GBDT learner: {0}")]
    Learner(#[from] LearnerError),
}

/// The global GBDT model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gbdt {
    /// Tree learner and its settings.
    pub learner: Learner,
    /// Which training rows to build.
    pub rows: TrainRows,
    /// Shortest daily history (days) the model is fitted on; shorter falls back to `fallback`.
    pub min_history: usize,
    /// Threads (`None`: all cores).
    pub threads: Option<usize>,
    /// The model used when the history is too short or fitting fails.
    pub fallback: Pooled,
}

impl Default for Gbdt {
    fn default() -> Self {
        Self {
            learner: Learner::default(),
            rows: TrainRows::default(),
            min_history: 365,
            threads: None,
            fallback: Pooled::default(),
        }
    }
}

/// What one fit did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FitReport {
    /// Training rows used.
    pub rows: usize,
    /// Candidate rows before subsampling.
    pub candidates: usize,
    /// Features per row.
    pub features: usize,
    /// Trees fitted.
    pub trees: usize,
    /// Seconds building the training rows.
    pub build_s: f64,
    /// Seconds fitting.
    pub fit_s: f64,
    /// Seconds building the forecast rows and predicting.
    pub predict_s: f64,
}

/// A fitted model with the codes it was trained with.
#[derive(Debug)]
pub struct FittedGbdt {
    features: Features,
    model: Fitted,
    /// How it was fitted.
    pub report: FitReport,
}

impl FittedGbdt {
    /// `ctx.horizon` forecasts per series of `ctx` (the context it was fitted on, or the same
    /// series later).
    pub fn forecast(&mut self, ctx: &Context<'_>) -> Vec<Vec<f32>> {
        let t = Instant::now();
        let x = self.features.forecast_rows(ctx);
        let p = self.model.predict(&x);
        self.report.predict_s = t.elapsed().as_secs_f64();
        p.chunks(ctx.horizon.max(1))
            .map(|c| c.iter().map(|&v| v.max(0.0) as f32).collect())
            .collect()
    }
}

impl Gbdt {
    /// Fits on the history of `ctx` (training rows end on `ctx.last_day`).
    pub fn fit(&self, ctx: &Context<'_>) -> Result<FittedGbdt, GbdtError> {
        let days = ctx.history.first().map_or(0, Vec::len);
        if days < self.min_history {
            return Err(GbdtError::TooShort {
                days,
                need: self.min_history,
            });
        }
        let t = Instant::now();
        let features = Features::new(ctx);
        let train = features.train(ctx, &self.rows);
        let build_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let model = self
            .learner
            .fit(&train.x, &train.y, self.threads, self.rows.seed)?;
        let report = FitReport {
            rows: train.x.rows,
            candidates: train.candidates,
            features: COLS,
            trees: model.trees(),
            build_s,
            fit_s: t.elapsed().as_secs_f64(),
            predict_s: 0.0,
        };
        tracing::info!(?report, learner = %self.learner.name(), "GBDT fitted");
        Ok(FittedGbdt {
            features,
            model,
            report,
        })
    }

    /// Fits and forecasts `ctx.horizon` days after `ctx.last_day`.
    pub fn fit_forecast(&self, ctx: &Context<'_>) -> Result<(Vec<Vec<f32>>, FitReport), GbdtError> {
        let mut fitted = self.fit(ctx)?;
        let f = fitted.forecast(ctx);
        Ok((f, fitted.report))
    }
}

impl Model for Gbdt {
    fn name(&self) -> String {
        format!("GBDT({})", self.learner.name())
    }

    fn forecast(&self, ctx: &Context<'_>) -> Vec<Vec<f32>> {
        match self.fit_forecast(ctx) {
            Ok((f, _)) => f,
            Err(e) => {
                tracing::warn!("{e}; forecasting with {}", self.fallback.name());
                self.fallback.forecast(ctx)
            }
        }
    }
}

/// [`Gbdt`] when the daily history has at least [`Gbdt::min_history`] days, else the default
/// [`Pooled`] model (`aisle forecast run --model auto`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Auto {
    /// The long-history model (its `fallback` serves short histories).
    pub gbdt: Gbdt,
}

impl Auto {
    /// Whether `ctx` gets the GBDT model.
    pub fn uses_gbdt(&self, ctx: &Context<'_>) -> bool {
        ctx.history.first().map_or(0, Vec::len) >= self.gbdt.min_history
    }
}

impl Model for Auto {
    fn name(&self) -> String {
        "auto".into()
    }

    fn forecast(&self, ctx: &Context<'_>) -> Vec<Vec<f32>> {
        if self.uses_gbdt(ctx) {
            self.gbdt.forecast(ctx)
        } else {
            self.gbdt.fallback.forecast(ctx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::TrainRows;
    use crate::fullhistory::rmsse;
    use crate::models::baselines::seasonal_naive;
    use crate::synthetic::Synthetic;

    fn ctx<'a>(data: &'a Synthetic, panel: &'a aisle_m5::SalesPanel) -> Context<'a> {
        Context {
            series: &panel.series,
            history: &panel.values,
            last_day: panel.last_day(),
            horizon: 28,
            calendar: &data.calendar,
            prices: &data.prices,
            monthly: None,
        }
    }

    #[test]
    fn short_history_is_the_pooled_default_exactly() {
        let data = Synthetic::generate(0.01, 28, 28, 5);
        let c = ctx(&data, &data.sales);
        let pooled = Pooled::default().forecast(&c);
        assert_eq!(Gbdt::default().forecast(&c), pooled);
        assert_eq!(Auto::default().forecast(&c), pooled);
        assert!(!Auto::default().uses_gbdt(&c));
        assert!(matches!(
            Gbdt::default().fit(&c),
            Err(GbdtError::TooShort {
                days: 28,
                need: 365
            })
        ));
    }

    #[test]
    fn learns_weekly_structure_better_than_seasonal_naive() {
        let data = Synthetic::generate(0.01, 600, 28, 9);
        let seen = data.sales.slice(1, 572);
        let truth = data.sales.slice(573, 600);
        let model = Gbdt {
            rows: TrainRows {
                max_rows: 20_000,
                ..TrainRows::default()
            },
            learner: Learner::Forust {
                iterations: 100,
                learning_rate: 0.1,
                max_depth: 5,
                subsample: 0.8,
            },
            ..Gbdt::default()
        };
        let c = ctx(&data, &seen);
        let (f, report) = model.fit_forecast(&c).unwrap();
        assert!(report.trees > 0 && report.rows <= 23_000, "{report:?}");
        assert_eq!((f.len(), f[0].len()), (seen.series.len(), 28));
        let (mut g, mut s, mut n) = (0.0, 0.0, 0);
        for (i, train) in seen.values.iter().enumerate() {
            let y: Vec<f64> = train.iter().map(|&v| f64::from(v)).collect();
            let sn: Vec<f32> = seasonal_naive(&y, 28, 7)
                .iter()
                .map(|&v| v as f32)
                .collect();
            if let (Some(a), Some(b)) = (
                rmsse(train, &truth.values[i], &f[i]),
                rmsse(train, &truth.values[i], &sn),
            ) {
                g += a;
                s += b;
                n += 1;
            }
        }
        assert!(n > 100);
        assert!(
            g < 0.9 * s,
            "GBDT {} vs sNaive {}",
            g / n as f64,
            s / n as f64
        );
    }
}
