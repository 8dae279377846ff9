//! `aisle replay sales`: the M5 sales streamed into `sales` (library: `aisle-sales`).

use crate::config::Config;
use crate::exit;
use crate::runtime;
use crate::signal::shutdown_signal;
use aisle_events::topics;
use aisle_log::Log;
use aisle_registry::SchemaRegistry;
use aisle_sales::{Observer, ReplayOptions, Source, Speed, Summary};
use clap::{Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Debug, Subcommand)]
pub enum ReplayCmd {
    /// Stream M5 sales into the `sales` topic: one record per item × store × day, partition = store
    /// (Kaggle order), key = ITEM_STORE, timestamp = the day. Resumes where an earlier run stopped
    /// (even after kill -9): the topic ends up with every (series, day) exactly once.
    Sales(SalesArgs),
}

#[derive(Debug, Args)]
pub struct SalesArgs {
    /// Directory with the M5 files (sales_train_*.csv, calendar.csv, sell_prices.csv; or .csv.zst).
    #[arg(long, value_name = "DIR", required_unless_present = "synthetic")]
    pub data: Option<PathBuf>,
    /// Generate M5-shaped data instead (marked with header aisle.synthetic=true).
    #[arg(long, conflicts_with = "data")]
    pub synthetic: bool,
    /// Days: FIRST..LAST (M5 day numbers, inclusive), or N = days 1..N. Default: the whole file.
    #[arg(long, value_name = "RANGE", required_if_eq("synthetic", "true"))]
    pub days: Option<String>,
    /// Stores, comma-separated (default: all ten), e.g. CA_1,TX_2.
    #[arg(long, value_delimiter = ',', value_name = "STORES")]
    pub stores: Vec<String>,
    /// `max`, or N days per second per store.
    #[arg(long, default_value = "max", value_name = "SPEED")]
    pub speed: String,
    /// Topic to write (dead letters go to TOPIC.dlq).
    #[arg(long, default_value = topics::SALES)]
    pub topic: String,
}

pub async fn run(config: &Config, cmd: ReplayCmd) -> anyhow::Result<()> {
    match cmd {
        ReplayCmd::Sales(args) => {
            let summary = sales(config, args).await?;
            print_summary(&summary);
            if summary.stopped {
                return Err(exit::fail(
                    exit::INTERRUPTED,
                    "replay stopped by a signal before the end; run the same command again to \
                     resume after the last record sent",
                ));
            }
            Ok(())
        }
    }
}

/// Parses `FIRST..LAST` (inclusive) or `N` (days 1..N).
fn parse_days(s: &str) -> anyhow::Result<(u32, u32)> {
    let bad = || anyhow::anyhow!("--days `{s}`: expected FIRST..LAST (e.g. 1914..1941) or N");
    let (a, b) = match s.split_once("..") {
        Some((a, b)) => (
            a.trim().parse().map_err(|_| bad())?,
            b.trim()
                .trim_start_matches('=')
                .parse()
                .map_err(|_| bad())?,
        ),
        None => (1, s.trim().parse().map_err(|_| bad())?),
    };
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a, b))
}

fn parse_speed(s: &str) -> anyhow::Result<Speed> {
    if s == "max" {
        return Ok(Speed::Max);
    }
    match s.parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok(Speed::DaysPerSecond(n)),
        _ => anyhow::bail!("--speed `{s}`: expected `max` or a positive number of days per second"),
    }
}

/// Runs a replay with the configured runtime.
pub async fn sales(config: &Config, args: SalesArgs) -> anyhow::Result<Summary> {
    let opened = runtime::open_log(config).await?;
    let log = opened.log.clone();
    let registry = runtime::registry(config, &log).await?;
    let observer: Arc<dyn Observer> = Arc::new(Progress::new());
    sales_on(log, registry, config, &args, observer, shutdown_signal()).await
}

/// Runs a replay on an open log until done or `shutdown`; `aisle demo` calls this on the log
/// it already holds (the embedded runtime's directory can be opened only once).
async fn sales_on(
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    config: &Config,
    args: &SalesArgs,
    observer: Arc<dyn Observer>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Summary> {
    let source = match (&args.data, args.synthetic) {
        (Some(dir), false) => Source::M5 { dir: dir.clone() },
        _ => Source::Synthetic,
    };
    let mut opts = ReplayOptions::new(source);
    opts.days = args.days.as_deref().map(parse_days).transpose()?;
    opts.stores = args.stores.clone();
    opts.speed = parse_speed(&args.speed)?;
    opts.topic = args.topic.clone();
    opts.replication = config.kafka.replication;
    Ok(aisle_sales::replay(log, registry, opts, observer, shutdown).await?)
}

fn print_summary(s: &Summary) {
    println!(
        "replay {}: {} records sent in {:.2} s ({:.0} records/s), {} already in the log, {} rejected rows ({} sent to the dead-letter topic)",
        if s.synthetic {
            "done (synthetic data)"
        } else {
            "done"
        },
        s.sent,
        s.secs,
        s.rate(),
        s.resumed,
        s.rejected,
        s.dead_lettered
    );
    for (store, n) in &s.per_store {
        println!("  {store}: {n} records");
    }
    if s.bad_price_rows > 0 {
        println!(
            "  {} unparseable rows in sell_prices were ignored",
            s.bad_price_rows
        );
    }
}

/// Bars per store on a terminal; otherwise a log line per store every 10% and at the end.
struct Progress {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, (ProgressBar, u64, u64)>>,
}

impl Progress {
    fn new() -> Self {
        Progress {
            multi: std::io::stderr().is_terminal().then(MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
        }
    }
}

impl Observer for Progress {
    fn start(&self, store: &str, total: u64, done: u64) {
        let bar = match &self.multi {
            Some(m) => {
                let b = m.add(ProgressBar::new(total));
                b.set_style(
                    ProgressStyle::with_template(
                        "{msg:>5} [{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b.set_message(store.to_string());
                b.set_position(done);
                b
            }
            None => {
                tracing::info!(store, total, already = done, "replay starting");
                ProgressBar::hidden()
            }
        };
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(store.to_string(), (bar, done, total));
        }
    }

    fn sent(&self, store: &str, n: u64) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        if let Some((bar, pos, total)) = bars.get_mut(store) {
            let before = *pos * 10 / (*total).max(1);
            *pos += n;
            bar.inc(n);
            if self.multi.is_none() && *pos * 10 / (*total).max(1) > before {
                tracing::info!(store, sent = *pos, total = *total, "replay progress");
            }
        }
    }

    fn finish(&self, store: &str) {
        if let Ok(bars) = self.bars.lock()
            && let Some((bar, pos, _)) = bars.get(store)
        {
            bar.finish();
            if self.multi.is_none() {
                tracing::info!(store, records = *pos, "replay finished");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_speed_parse() {
        assert_eq!(parse_days("1914..1941").unwrap(), (1914, 1941));
        assert_eq!(parse_days("28").unwrap(), (1, 28));
        assert!(parse_days("5..2").is_err());
        assert!(parse_days("x").is_err());
        assert_eq!(parse_speed("max").unwrap(), Speed::Max);
        assert_eq!(parse_speed("2.5").unwrap(), Speed::DaysPerSecond(2.5));
        assert!(parse_speed("0").is_err());
    }
}
