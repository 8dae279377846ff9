//! Model selection by backtest over several origins inside the daily days this project has.
//!
//! The real task forecasts 28 days from 28 daily days. Inside the 28-day extract
//! (d_1914..d_1941) a split trains on d_1914..`o` and scores `o+1..=d_1941`; [`SPLITS`] holds
//! four origins (14, 12, 10 and 7 days scored). Every split is reported; a candidate is
//! judged by its **mean over all splits** of WRMSSE levels 1–9, never by one split, and, as
//! these splits share one season, it must also beat the previous default on the rolling
//! 28-day origins of the series with a full daily history ([`choose`]). Scales are
//! the full-history ones when the published file is there ([`ScaleSource::Published`]); the
//! dollar weights are those of each split's training days. WSPL (quantiles, [`crate::wspl`])
//! uses the training days' scales: full-history absolute-difference scales are not published.
//!
//! `cargo run --release -p aisle-forecast --example backtest -- DIR` prints the table
//! ([`run`]) for [`candidates`] and names the winner.

use crate::backtest::BacktestRow;
use crate::dataset::Inputs;
use crate::error::Result;
use crate::models::Model;
use crate::models::pooled::Pooled;
use crate::models::topdown::{Middle, TopDown};
use crate::scales::ScaleSource;
use crate::wspl::{self, QuantileModel};
use aisle_m5::SalesPanel;

/// (last training day, days scored) of each split.
pub const SPLITS: [(i32, usize); 4] = [(1927, 14), (1929, 12), (1931, 10), (1934, 7)];

/// One candidate over every split.
#[derive(Debug, Clone)]
pub struct SelectionRow {
    /// Model name.
    pub model: String,
    /// WRMSSE mean of levels 1–9 per split, in [`SPLITS`] order.
    pub l1_9: Vec<f64>,
    /// WRMSSE mean of levels 1–12 per split.
    pub l1_12: Vec<f64>,
    /// WSPL mean of levels 1–12 per split (with the default quantile model).
    pub wspl: Vec<f64>,
}

impl SelectionRow {
    /// Mean over splits of WRMSSE levels 1–9: the selection criterion.
    pub fn mean_l1_9(&self) -> f64 {
        self.l1_9.iter().sum::<f64>() / self.l1_9.len().max(1) as f64
    }
}

/// The pooled model as it was before this selection (issue 16's "today's defaults").
pub const PREVIOUS_DEFAULT: Pooled = Pooled {
    halflife: 14.0,
    store_share: 0.5,
    snap: true,
    yearly: true,
    yearly_pool: crate::models::yearly::YearlyPool::Dept,
    yearly_shrink: 0.5,
    price: false,
    last_month: 0.0,
    skip_events: false,
    min_weekday_days: 0,
    snap_rounds: 0,
    trim_weekday: 0,
};

/// The pooled variants compared: the previous default, the structural changes (event days,
/// SNAP / weekday rounds) and one-parameter neighbours. [`Pooled::default`] is one of them.
pub fn candidates() -> Vec<Pooled> {
    let old = PREVIOUS_DEFAULT;
    let skip = Pooled {
        skip_events: true,
        min_weekday_days: 2,
        ..old
    };
    let mut out = vec![
        old,
        skip,
        Pooled {
            snap_rounds: 1,
            ..old
        },
        Pooled {
            snap_rounds: 2,
            ..old
        },
        Pooled {
            snap_rounds: 1,
            ..skip
        },
        Pooled {
            trim_weekday: 3,
            ..old
        },
        Pooled {
            trim_weekday: 4,
            ..old
        },
    ];
    for p in [
        Pooled {
            halflife: 7.0,
            ..old
        },
        Pooled {
            halflife: 28.0,
            ..old
        },
        Pooled {
            halflife: f64::INFINITY,
            ..old
        },
        Pooled {
            store_share: 0.25,
            ..old
        },
        Pooled {
            store_share: 0.75,
            ..old
        },
        Pooled {
            yearly_shrink: 0.3,
            ..old
        },
        Pooled {
            yearly_shrink: 1.0,
            ..old
        },
        Pooled {
            yearly: false,
            ..old
        },
        Pooled::default(),
    ] {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The middle-out variants of the previous default ([`crate::models::topdown`]).
pub fn reconciled() -> Vec<TopDown> {
    [Middle::Store, Middle::StoreCat]
        .map(|middle| TopDown {
            inner: PREVIOUS_DEFAULT,
            middle,
        })
        .to_vec()
}

/// Backtests every model at every split of [`SPLITS`] and collects the scores.
pub fn run(
    sales: &SalesPanel,
    inputs: &Inputs,
    scales: &ScaleSource,
    models: &[Box<dyn Model>],
) -> Result<Vec<SelectionRow>> {
    let mut rows: Vec<SelectionRow> = models
        .iter()
        .map(|m| SelectionRow {
            model: m.name(),
            l1_9: Vec::new(),
            l1_12: Vec::new(),
            wspl: Vec::new(),
        })
        .collect();
    let quantiles = QuantileModel::default();
    for &(train_last, horizon) in &SPLITS {
        let scored: Vec<BacktestRow> =
            crate::backtest::backtest(sales, inputs, train_last, horizon, scales, models)?;
        let w = wspl::backtest(sales, inputs, train_last, horizon, models, &quantiles)?;
        for ((row, s), q) in rows.iter_mut().zip(scored).zip(w) {
            row.l1_9.push(s.score.mean(1..=9));
            row.l1_12.push(s.score.mean(1..=12));
            row.wspl.push(q.mean(1..=12));
        }
    }
    Ok(rows)
}

/// The row with the lowest mean over splits of WRMSSE levels 1–9.
pub fn best(rows: &[SelectionRow]) -> Option<&SelectionRow> {
    rows.iter()
        .min_by(|a, b| a.mean_l1_9().total_cmp(&b.mean_l1_9()))
}

/// The decision rule: the in-window splits share one season (one May), so a candidate
/// replaces the previous default (`rows[0]`) only if its mean WRMSSE L1–9 is lower over the
/// in-window splits **and** over every set of rolling origins (`rolling[k][i]` = L1–9 of
/// candidate `i` in set `k`, same order as `rows`). Returns the index of the chosen row.
pub fn choose(rows: &[SelectionRow], rolling: &[Vec<f64>]) -> usize {
    let beats =
        |i: usize| rows[i].mean_l1_9() < rows[0].mean_l1_9() && rolling.iter().all(|r| r[i] < r[0]);
    (1..rows.len())
        .filter(|&i| beats(i))
        .min_by(|&a, &b| rows[a].mean_l1_9().total_cmp(&rows[b].mean_l1_9()))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, l1_9: Vec<f64>) -> SelectionRow {
        SelectionRow {
            model: name.into(),
            l1_9,
            l1_12: Vec::new(),
            wspl: Vec::new(),
        }
    }

    #[test]
    fn a_candidate_must_win_in_window_and_on_every_rolling_set() {
        let rows = vec![
            row("old", vec![0.7, 0.5]),
            row("window only", vec![0.6, 0.4]),
            row("both", vec![0.65, 0.5]),
            row("rolling only", vec![0.8, 0.5]),
        ];
        let rolling = vec![vec![0.9, 1.0, 0.85, 0.8], vec![0.8, 0.7, 0.79, 0.7]];
        assert_eq!(choose(&rows, &rolling), 2);
        assert_eq!(best(&rows).unwrap().model, "window only");
        assert_eq!(choose(&rows[..2], &[vec![0.9, 1.0]]), 0);
        assert!(candidates().contains(&Pooled::default()));
        assert_eq!(candidates()[0], PREVIOUS_DEFAULT);
    }
}
