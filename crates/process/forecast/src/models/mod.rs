//! Forecasting models: the M5 baselines ([`baselines`]), a pooled multiplicative model
//! ([`pooled`]) and, for long daily histories, a global gradient-boosted-tree model
//! ([`gbdt`], on the learners of [`learner`]), behind one [`Model`] trait that forecasts every
//! series at once.

pub mod baselines;
pub mod gbdt;
pub mod learner;
pub mod partitioned;
pub mod pooled;
pub mod price;
pub(crate) mod profile;
pub mod topdown;
pub mod yearly;

use crate::monthly::Monthly;
use aisle_m5::{Calendar, Prices, SeriesMeta};
use rayon::prelude::*;

/// What a model sees: the history of every series up to `last_day`, and known future inputs.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Bottom series.
    pub series: &'a [SeriesMeta],
    /// `history[s]` = daily units of series `s`, ending on `last_day` (all rows one length).
    pub history: &'a [Vec<f32>],
    /// The last day (`d_N`) of the history; forecasts start the day after.
    pub last_day: i32,
    /// Days to forecast.
    pub horizon: usize,
    /// The calendar (weekdays, events, SNAP) covering history and horizon.
    pub calendar: &'a Calendar,
    /// Sell prices (future prices are known).
    pub prices: &'a Prices,
    /// Monthly totals of earlier years, when available.
    pub monthly: Option<&'a Monthly>,
}

impl<'a> Context<'a> {
    /// A context of daily history only (no monthly totals) running from d_1 to the rows' length.
    pub fn daily(
        series: &'a [SeriesMeta],
        history: &'a [Vec<f32>],
        horizon: usize,
        calendar: &'a Calendar,
        prices: &'a Prices,
    ) -> Self {
        Context {
            series,
            history,
            last_day: history.first().map_or(0, Vec::len) as i32,
            horizon,
            calendar,
            prices,
            monthly: None,
        }
    }

    /// The first history day.
    pub fn first_day(&self) -> i32 {
        self.last_day - self.history.first().map_or(0, Vec::len) as i32 + 1
    }
}

/// A forecasting model over all series.
pub trait Model: Send + Sync {
    /// Name (and parameters) for reports and the `SalesForecast.model` field.
    fn name(&self) -> String;
    /// `horizon` forecasts per series, in `ctx.series` order; never negative.
    fn forecast(&self, ctx: &Context<'_>) -> Vec<Vec<f32>>;
}

/// One-series forecasting function: history, horizon → forecasts.
pub type SeriesFn = fn(&[f64], usize) -> Vec<f64>;

/// A per-series model: applies a [`SeriesFn`] to every series in parallel.
#[derive(Debug, Clone)]
pub struct PerSeries {
    name: &'static str,
    f: SeriesFn,
}

impl PerSeries {
    /// Wraps a one-series function.
    pub const fn new(name: &'static str, f: SeriesFn) -> Self {
        Self { name, f }
    }
}

impl Model for PerSeries {
    fn name(&self) -> String {
        self.name.to_string()
    }

    fn forecast(&self, ctx: &Context<'_>) -> Vec<Vec<f32>> {
        ctx.history
            .par_iter()
            .map(|row| {
                let y: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
                (self.f)(&y, ctx.horizon)
                    .into_iter()
                    .map(|v| v.max(0.0) as f32)
                    .collect()
            })
            .collect()
    }
}

fn snaive7(y: &[f64], h: usize) -> Vec<f64> {
    baselines::seasonal_naive(y, h, 7)
}
fn croston01(y: &[f64], h: usize) -> Vec<f64> {
    baselines::croston(y, h, 0.1)
}
fn tsb01(y: &[f64], h: usize) -> Vec<f64> {
    baselines::tsb(y, h, 0.1, 0.1)
}

/// Every model: the baselines and the pooled model with its default settings.
pub fn all() -> Vec<Box<dyn Model>> {
    vec![
        Box::new(PerSeries::new("Naive", baselines::naive)),
        Box::new(PerSeries::new("sNaive", snaive7)),
        Box::new(PerSeries::new("MA", baselines::moving_average_auto)),
        Box::new(PerSeries::new("SES", baselines::ses_auto)),
        Box::new(PerSeries::new("Croston", croston01)),
        Box::new(PerSeries::new("TSB", tsb01)),
        Box::new(pooled::Pooled::default()),
    ]
}

/// Models chosen by name only (not in [`all`], so backtests over the shipped 28-day data are
/// unchanged): the full-history [`gbdt::Gbdt`] and [`gbdt::Auto`] (GBDT when the daily history
/// is long enough, else the default pooled model).
pub fn long_history() -> Vec<Box<dyn Model>> {
    vec![
        Box::new(gbdt::Gbdt::default()),
        Box::new(gbdt::Auto::default()),
    ]
}

/// The model named `name` (case-insensitive, parameters ignored) among [`all`] and
/// [`long_history`].
pub fn by_name(name: &str) -> Option<Box<dyn Model>> {
    all().into_iter().chain(long_history()).find(|m| {
        m.name()
            .split('(')
            .next()
            .unwrap_or("")
            .eq_ignore_ascii_case(name)
    })
}
