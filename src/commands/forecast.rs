//! `aisle forecast run|evaluate|backtest` (library: `aisle-forecast`).

use crate::config::Config;
use crate::runtime;
use aisle_events::topics;
use aisle_forecast::backtest::backtest;
use aisle_forecast::dataset::{Inputs, M5Data};
use aisle_forecast::evaluate::{self, EvalFiles};
use aisle_forecast::models::{self, Model};
use aisle_forecast::scales::{self, ScaleSource};
use aisle_forecast::stream::{self, RunOptions};
use aisle_forecast::wspl::{self, QuantileModel};
use aisle_m5::files::find;
use aisle_m5::hierarchy::Hierarchy;
use anyhow::Context;
use clap::{Args, Subcommand};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum ForecastCmd {
    /// Consume `sales` as a member of a consumer group (instances with the same --group split
    /// its partitions; history is restored from a changelog topic) and publish 28-day forecasts
    /// of every series of each partition to `sales_forecasts` (key = series id) once caught up
    /// and a new day is complete for every series of that partition.
    Run(RunArgs),
    /// Score a submission with WRMSSE (M5 Competitors' Guide), per level, beside the official
    /// sNaive, ES_bu and winner scores; with --quantile-forecasts also a quantile file with
    /// WSPL (M5 Uncertainty Guide) beside it.
    Evaluate(EvalArgs),
    /// Backtest every model inside the available days (default: train d_1914..d_1927, score
    /// d_1928..d_1941) and print the WRMSSE table, with the WSPL of the nine M5 quantiles
    /// around each model's forecasts beside it.
    Backtest(BacktestArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// M5 directory for calendar.csv, sell_prices.csv and (optional) monthly totals. Without it,
    /// weekdays follow from the day number and prices from the records.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Exit once every assigned partition has been read to its end and forecast (one instance:
    /// every partition).
    #[arg(long)]
    pub once: bool,
    /// Also write a Kaggle submission (`id,F1..F28`, `_evaluation` rows).
    #[arg(long, value_name = "FILE")]
    pub submission: Option<PathBuf>,
    /// Also write the nine M5 quantiles (0.005 .. 0.995) of every series at every level, in
    /// the M5 uncertainty format (`id,F1..F28`, ids like `Total_X_0.005_evaluation`).
    #[arg(long, value_name = "FILE")]
    pub quantiles: Option<PathBuf>,
    /// Consumer group: instances with the same group share the `sales` partitions, and its
    /// history lives in `<GROUP>-history-changelog`.
    #[arg(long, default_value = "aisle-forecast", value_name = "GROUP")]
    pub group: String,
    /// This instance's id, stable across restarts (its transactional id is `<GROUP>-<ID>`, so a
    /// restarted instance fences its dead predecessor at once). Default: the process id.
    #[arg(long, value_name = "ID")]
    pub instance_id: Option<String>,
    /// Model: pooled (default: built for a few weeks of daily sales plus monthly totals, the
    /// data shipped here), auto (gbdt when the history holds at least 365 daily days, e.g.
    /// Kaggle's full sales_train_evaluation.csv, else pooled), gbdt, snaive, ma, ses, croston,
    /// tsb, naive. BENCHMARKS.md has each one's accuracy.
    #[arg(long, default_value = "pooled")]
    pub model: String,
    /// Days to forecast.
    #[arg(long, default_value_t = 28)]
    pub horizon: usize,
    /// Input topic.
    #[arg(long, default_value = topics::SALES)]
    pub topic: String,
    /// Output topic.
    #[arg(long, default_value = topics::SALES_FORECASTS)]
    pub output: String,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Submission file (`id,F1..Fh`).
    #[arg(long, value_name = "FILE")]
    pub forecasts: PathBuf,
    /// Wide sales file; its last h days are the truth, earlier days extend the training history.
    #[arg(long, value_name = "FILE")]
    pub truth: PathBuf,
    /// Wide sales file with the training history before the truth days (scales, weights).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Official weights file (weights_evaluation.csv); default: dollar sales from --data.
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// M5 directory: calendar and prices (weights), official score files (comparison rows).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Levels to report and average, e.g. 1-9 (default 1-12).
    #[arg(long, default_value = "1-12", value_parser = parse_levels)]
    pub levels: RangeInclusive<usize>,
    /// FORECASTS is a quantile file (`forecast run --quantiles`): score it with WSPL (M5
    /// uncertainty guide) instead of WRMSSE.
    #[arg(long)]
    pub quantiles: bool,
    /// Also score this quantile file (`forecast run --quantiles`) with WSPL, same truth,
    /// history and weights, and print it beside the WRMSSE of FORECASTS.
    #[arg(long, value_name = "FILE", conflicts_with = "quantiles")]
    pub quantile_forecasts: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// M5 directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Last training day.
    #[arg(long, default_value_t = 1927)]
    pub train_last: i32,
    /// Days scored after it.
    #[arg(long, default_value_t = 14)]
    pub horizon: usize,
    /// WRMSSE scales: `published` = full-history d_1..d_1913 scales from
    /// validation_all_levels_d1914_d1941.csv in --data (closest to the official metric; the
    /// default when the file is there), `training` = the training days only (biased: aggregate
    /// scales of a few weeks are several times smaller than the full history's).
    #[arg(long, value_parser = ["published", "training"])]
    pub scales: Option<String>,
}

fn parse_levels(s: &str) -> Result<RangeInclusive<usize>, String> {
    let bad = || format!("`{s}`: expected A-B with 1 <= A <= B <= 12");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b): (usize, usize) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a == 0 || b < a || b > 12 {
        return Err(bad());
    }
    Ok(a..=b)
}

pub async fn run(config: &Config, cmd: ForecastCmd) -> anyhow::Result<()> {
    match cmd {
        ForecastCmd::Run(args) => run_stream(config, args).await,
        ForecastCmd::Evaluate(args) => {
            let files = EvalFiles {
                forecasts: args.forecasts,
                truth: args.truth,
                history: args.history,
                weights: args.weights,
                data: args.data.clone(),
            };
            let quantiles = args.quantiles;
            let also = args.quantile_forecasts.clone();
            let (e, wspl) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                if quantiles {
                    return Ok((evaluate::evaluate_quantiles(&files)?, None));
                }
                let e = evaluate::evaluate(&files)?;
                let wspl = match also {
                    Some(q) => Some(evaluate::evaluate_quantiles(&EvalFiles {
                        forecasts: q,
                        ..files
                    })?),
                    None => None,
                };
                Ok((e, wspl))
            })
            .await??;
            if let Some(w) = &wspl
                && (w.train, w.test) != (e.train, e.test)
            {
                anyhow::bail!(
                    "the quantile file covers d_{}..d_{}, the forecasts d_{}..d_{}",
                    w.test.0,
                    w.test.1,
                    e.test.0,
                    e.test.1
                );
            }
            // The official rows are WRMSSE scores: no comparison for a WSPL table.
            let official = match &args.data {
                Some(dir) if !args.quantiles => evaluate::official_rows(dir)?,
                _ => Vec::new(),
            };
            if args.quantiles {
                println!("WSPL (weighted scaled pinball loss over the nine M5 quantiles)");
            }
            println!(
                "{} series; training d_{}..d_{} (scale), test d_{}..d_{}; weights: {}",
                e.series, e.train.0, e.train.1, e.test.0, e.test.1, e.weights
            );
            let zero: usize = e.score.zero_scale.iter().sum();
            if zero > 0 {
                println!("{zero} series with zero scale left out (weights renormalised)");
            }
            if !official.is_empty() {
                println!(
                    "official rows: M5 evaluation window d_1942..d_1969 with full-history scales; \
                     comparable only when the test days are those"
                );
            }
            match &wspl {
                Some(w) => print!(
                    "{}",
                    evaluate::table_columns(
                        &[("WRMSSE", &e.score), ("WSPL", &w.score)],
                        &official,
                        args.levels
                    )
                ),
                None => print!("{}", evaluate::table(&e.score, &official, args.levels)),
            }
            Ok(())
        }
        ForecastCmd::Backtest(args) => {
            let rows = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let data = M5Data::load(&args.data)?;
                let file = find(&args.data, scales::PUBLISHED_FILE);
                let source = match (args.scales.as_deref(), file) {
                    (Some("training"), _) | (None, None) => ScaleSource::Training,
                    (_, Some(p)) => ScaleSource::Published(scales::read_published(
                        &p,
                        &Hierarchy::m5(&data.sales.series),
                    )?),
                    (_, None) => anyhow::bail!(
                        "--scales published: no {} in {}",
                        scales::PUBLISHED_FILE,
                        args.data.display()
                    ),
                };
                let label = match source {
                    ScaleSource::Training => "training days",
                    ScaleSource::Published(_) => "full history d_1..d_1913",
                };
                let all = models::all();
                let rows = backtest(
                    &data.sales,
                    &data.inputs,
                    args.train_last,
                    args.horizon,
                    &source,
                    &all,
                )?;
                // The nine M5 quantiles around each model's forecasts, scored with WSPL.
                let wspl = wspl::backtest(
                    &data.sales,
                    &data.inputs,
                    args.train_last,
                    args.horizon,
                    &all,
                    &QuantileModel::default(),
                )?;
                Ok((rows, wspl, label))
            })
            .await??;
            let (rows, wspl, label) = rows;
            println!("scales: {label} (WRMSSE); training days (WSPL)");
            println!("| model | WRMSSE L1-9 | WRMSSE L1-12 | WSPL L1-12 | time |");
            println!("|---|---|---|---|---|");
            for (r, w) in rows.iter().zip(&wspl) {
                println!(
                    "| {} | {:.4} | {:.4} | {:.4} | {:.2?} |",
                    r.model,
                    r.score.mean(1..=9),
                    r.score.mean(1..=12),
                    w.mean(1..=12),
                    r.elapsed
                );
            }
            Ok(())
        }
    }
}

async fn run_stream(config: &Config, args: RunArgs) -> anyhow::Result<()> {
    // Installed first: a SIGTERM while the data loads or the state restores still stops the
    // forecaster cleanly.
    let shutdown = crate::signal::shutdown_signal();
    let model: Arc<dyn Model> = Arc::from(
        models::by_name(&args.model)
            .with_context(|| format!("--model `{}`: unknown model", args.model))?,
    );
    let inputs = match args.data.clone() {
        Some(dir) => {
            let loaded = tokio::task::spawn_blocking(move || Inputs::load(&dir)).await??;
            Some(Arc::new(loaded))
        }
        None => None,
    };
    let opened = runtime::open_log(config).await?;
    let log = opened.log.clone();
    let registry = runtime::registry(config, &log).await?;
    let old = config.data_dir.join("forecast").join("history.bin");
    if old.exists() {
        tracing::warn!(
            file = %old.display(),
            "this snapshot is no longer read: history now lives in the group's changelog topic \
             (the first run reads `sales` from the beginning); the file can be deleted"
        );
    }
    let mut opts = RunOptions::new();
    opts.group_id = args.group;
    opts.instance_id = args.instance_id;
    opts.sales_topic = args.topic;
    opts.forecasts_topic = args.output;
    opts.once = args.once;
    opts.submission = args.submission;
    opts.quantile_submission = args.quantiles;
    opts.horizon = args.horizon;
    let s = stream::run(log, registry, inputs, model, opts, shutdown).await?;
    println!(
        "forecast: {} records applied ({} skipped, {} days closed with series missing), {} series through d_{}, {} forecasts published",
        s.records,
        s.skipped,
        s.gaps,
        s.series,
        s.last_day.unwrap_or(0),
        s.published
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse() {
        assert_eq!(parse_levels("1-9"), Ok(1..=9));
        assert_eq!(parse_levels("12"), Ok(12..=12));
        assert!(parse_levels("0-3").is_err());
        assert!(parse_levels("3-13").is_err());
    }
}
