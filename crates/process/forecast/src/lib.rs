//! `aisle-forecast`: 28-day unit-sales forecasts for the M5 item × store series, their WRMSSE
//! score, backtests, Kaggle submissions, and the forecaster that follows the `sales` topic.
//!
//! Main items:
//! * [`wrmsse::Wrmsse`]: the M5 accuracy measure (12 levels, scales from each series' first
//!   non-zero day, dollar-sales weights), with [`wrmsse::Score`] per level;
//! * [`models::Model`]: the M5 baselines ([`models::baselines`]: Naive, sNaive, MA, SES, Croston,
//!   TSB), the pooled multiplicative model [`models::pooled::Pooled`] and its middle-out
//!   reconciliation [`models::topdown::TopDown`]; for long daily histories the global GBDT
//!   [`models::gbdt::Gbdt`] over [`features`] (and [`models::gbdt::Auto`], which picks it);
//! * [`scales::ScaleSource`]: full-history WRMSSE scales for backtests;
//!   [`rolling::rolling`]: 28-day-horizon backtests over series with a full daily history;
//! * [`backtest::backtest`]: forecast held-back days of the data you have and score them;
//!   [`evaluate::evaluate`]: score a submission file against a truth file;
//! * [`quantiles::QuantileModel`]: the nine M5 quantiles of every series at every level;
//!   [`wspl::Wspl`]: their weighted scaled pinball loss (M5 uncertainty measure);
//! * [`selection`]: the multi-origin backtest that picks the default pooled model;
//!   [`levelcheck`]: the yearly factor scored month to month over five years, levels 1–9;
//!   [`fullhistory`]: rolling origins with the whole daily history shown, RMSSE per series;
//! * [`synthetic`]: M5-shaped synthetic data for cost measurements;
//! * [`dataset::M5Data`]: loads an M5 directory (`.csv` or `.csv.zst`) with the readers of
//!   `aisle-m5` (calendar, prices, wide tables, series ids, the hierarchy);
//! * [`submission`]: Kaggle `id,F1..F28` files; [`stream`]: the `sales` → `sales_forecasts`
//!   forecaster, one member of a consumer group, with per-partition history in a changelog
//!   ([`partition::PartitionHistory`]) and a per-partition day watermark.
//!
//! ```
//! use aisle_m5::SeriesMeta;
//! use aisle_m5::hierarchy::Hierarchy;
//! use aisle_forecast::wrmsse::{Wrmsse, weights_from_dollars};
//!
//! let series = vec![SeriesMeta::from_ids("FOODS_3_090", "CA_1").unwrap()];
//! let h = Hierarchy::m5(&series);
//! let train = vec![vec![0.0, 2.0, 4.0, 2.0]]; // scale = mean of 2², 2² = 4
//! let weights = weights_from_dollars(&h, &[10.0]);
//! let eval = Wrmsse::new(h, &train, weights)?;
//! let score = eval.score(&[vec![3.0, 3.0]], &[vec![1.0, 5.0]])?; // RMSE 2 → RMSSE 1
//! assert_eq!(score.mean(1..=12), 1.0);
//! # Ok::<(), aisle_forecast::ForecastError>(())
//! ```
//!
//! # Layout
//! * `data`: the `aisle-m5` readers under their old paths, CSV helpers for the files below.
//! * `monthly`: the monthly totals of d_1..d_1913.
//! * `dataset`: which files of a data directory are used, loaded together.
//! * `hierarchy`: the twelve M5 levels and aggregation (`aisle_m5::hierarchy`, re-exported).
//! * `wrmsse`: scales, weights, scoring.
//! * `scales`: full-history scales for backtests ([`scales::ScaleSource`]).
//! * `models/`: the [`models::Model`] trait, `baselines`, `pooled` (with its `yearly` and
//!   `price` factors), `gbdt` (with its tree `learner`s).
//! * `features`: the GBDT's feature rows (lags, windows, calendar, price, hierarchy).
//! * `fullhistory`: rolling-origin RMSSE backtests over full daily histories.
//! * `synthetic`: M5-shaped synthetic sales, calendar and prices.
//! * `backtest`: train/test splits inside the available days.
//! * `selection`: several such splits, every candidate, the choice by mean over splits.
//! * `levelcheck`: the level (yearly factor) backtested at monthly resolution.
//! * `quantiles`, `wspl`: quantile forecasts and their score.
//! * `rolling`: 28-day-horizon splits over series with a full daily history.
//! * `evaluate`: scoring a submission file against a truth file, the official comparison rows.
//! * `submission`: Kaggle CSV read/write.
//! * `partition`: one `sales` partition's daily history, day watermark and changelog records.
//! * `forecaster`: the stream task's processor (records → history → forecasts per partition).
//! * `stream`: [`stream::run`], one instance of the forecaster on the exactly-once loop.
//! * `error`: [`ForecastError`].

pub mod backtest;
pub mod data;
pub mod dataset;
mod error;
pub mod evaluate;
pub mod features;
pub mod fullhistory;
pub mod levelcheck;
/// The twelve M5 levels: [`aisle_m5::hierarchy`], under its old path.
pub mod models;
pub mod monthly;
pub mod quantiles;
pub mod rolling;
pub mod scales;
pub mod selection;
pub mod submission;
pub mod synthetic;
pub mod wrmsse;
pub mod wspl;

pub use error::{ForecastError, Result};
mod forecaster;
pub mod partition;
pub mod stream;
