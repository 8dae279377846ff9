//! `aisle replay sales`: the M5 sales streamed into `sales` (library: `aisle-sales`).

use crate::config::Config;
use crate::exit;
use crate::runtime;
use crate::signal::shutdown_signal;
use aisle_events::topics;
use aisle_log::Log;
use aisle_registry::SchemaRegistry;
use aisle_sales::{Chain, Observer, ReplayOptions, Source, Speed, Summary};
use clap::{Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Debug, Subcommand)]
pub enum ReplayCmd {
    /// Stream M5 sales into the `sales` topic: one record per item × store × day, key =
    /// ITEM_STORE, timestamp = the day, partition = store index mod --partitions (by default one
    /// partition per store: M5's ten in Kaggle order CA_1..WI_3 on 0..9). --synthetic generates
    /// M5-shaped data instead, for M5's ten stores or a chain of any size (--chain-stores,
    /// --items-per-store). Resumes where an earlier run stopped (even after kill -9): the topic
    /// ends up with every (series, day) exactly once.
    Sales(SalesArgs),
}

#[derive(Debug, Args)]
pub struct SalesArgs {
    /// Directory with the M5 files (sales_train_*.csv, calendar.csv, sell_prices.csv; or .csv.zst).
    #[arg(long, value_name = "DIR", required_unless_present = "synthetic")]
    pub data: Option<PathBuf>,
    /// Generate M5-shaped data instead (marked with header aisle.synthetic=true): by default
    /// M5's ten stores of 3,049 items; --chain-stores and --items-per-store make a chain.
    #[arg(long, conflicts_with = "data")]
    pub synthetic: bool,
    /// With --synthetic: a chain of N stores (default 10 = M5's CA_1..WI_3). Stores are M5's
    /// ten first, then CA_5, TX_4, WI_4, CA_6, ... (states in turn, numbered on from M5's).
    #[arg(long, value_name = "N", requires = "synthetic")]
    pub chain_stores: Option<usize>,
    /// With --synthetic: items per store (default 3049 = M5's). A smaller (or larger) count keeps
    /// M5's seven departments in proportion (largest remainder), each with at least one item:
    /// 7..=30000.
    #[arg(long, value_name = "M", requires = "synthetic")]
    pub items_per_store: Option<u32>,
    /// Days: FIRST..LAST (M5 day numbers, inclusive), or N = days 1..N. Default: the whole file.
    #[arg(long, value_name = "RANGE", required_if_eq("synthetic", "true"))]
    pub days: Option<String>,
    /// Stores to replay, comma-separated (default: all of the source's), e.g. CA_1,TX_2; with
    /// --chain-stores, any of the chain's ids (e.g. CA_5).
    #[arg(long, value_delimiter = ',', value_name = "STORES")]
    pub stores: Vec<String>,
    /// `max`, or N days per second per store.
    #[arg(long, default_value = "max", value_name = "SPEED")]
    pub speed: String,
    /// Topic to write (dead letters go to TOPIC.dlq).
    #[arg(long, default_value = topics::SALES)]
    pub topic: String,
    /// Partitions of the topic (default: one per store: 10 for M5, N for --chain-stores N).
    /// Store i (chain order, CA_1 = 0 .. WI_3 = 9, CA_5 = 10, ...) writes partition i mod P, so
    /// several stores share a partition when P is smaller. An existing topic must have exactly
    /// P partitions (else the replay refuses, naming both counts).
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(i32).range(1..))]
    pub partitions: Option<i32>,
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
    let stores = match (&args.stores[..], args.synthetic) {
        ([], true) => args.chain_stores.unwrap_or(topics::M5_STORES.len()),
        ([], false) => topics::M5_STORES.len(),
        (some, _) => some.len(),
    };
    let observer: Arc<dyn Observer> = Arc::new(Progress::new(stores));
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
    let opts = options(config, args)?;
    Ok(aisle_sales::replay(log, registry, opts, observer, shutdown).await?)
}

/// Stores listed one by one in the summary; more are summed up in one line.
const LISTED_STORES: usize = 12;

/// The library's options for `args`.
fn options(config: &Config, args: &SalesArgs) -> anyhow::Result<ReplayOptions> {
    // clap's `requires` does not see an unset boolean flag as missing: checked here.
    if !args.synthetic && (args.chain_stores.is_some() || args.items_per_store.is_some()) {
        anyhow::bail!(
            "--chain-stores and --items-per-store describe a synthetic chain: add --synthetic \
             (the M5 files always hold M5's ten stores of 3,049 items)"
        );
    }
    let source = match (&args.data, args.synthetic) {
        (Some(dir), false) => Source::M5 { dir: dir.clone() },
        _ => match (args.chain_stores, args.items_per_store) {
            (None, None) => Source::Synthetic,
            (stores, items) => {
                let default = Chain::default();
                Source::Chain(Chain {
                    stores: stores.unwrap_or(default.stores),
                    items_per_store: items.unwrap_or(default.items_per_store),
                })
            }
        },
    };
    let mut opts = ReplayOptions::new(source);
    opts.days = args.days.as_deref().map(parse_days).transpose()?;
    opts.stores = args.stores.clone();
    opts.speed = parse_speed(&args.speed)?;
    opts.topic = args.topic.clone();
    opts.partitions = args.partitions;
    opts.replication = config.kafka.spec_replication();
    Ok(opts)
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
    let listed = if s.per_store.len() > LISTED_STORES {
        10
    } else {
        s.per_store.len()
    };
    for (store, n) in &s.per_store[..listed] {
        println!("  {store}: {n} records");
    }
    if let Some(last) = s.per_store.last()
        && listed < s.per_store.len()
    {
        let rest = &s.per_store[listed..];
        println!(
            "  ... and {} more stores up to {}: {} records",
            rest.len(),
            last.0,
            rest.iter().map(|(_, n)| n).sum::<u64>()
        );
    }
    if !s.per_store.is_empty() {
        println!(
            "  stores on {} partitions: store i (chain order) on partition i mod {}",
            s.partitions, s.partitions
        );
    }
    if s.bad_price_rows > 0 {
        println!(
            "  {} unparseable rows in sell_prices were ignored",
            s.bad_price_rows
        );
    }
}

/// Name of the one bar (and log lines) of a replay of more than [`LISTED_STORES`] stores.
const ALL_STORES: &str = "all stores";

/// Bars per store on a terminal; otherwise a log line per store every 10% and at the end. With
/// more than [`LISTED_STORES`] stores, one bar (or log line) for all of them.
struct Progress {
    multi: Option<MultiProgress>,
    aggregate: bool,
    /// Per bar: the bar, position, total, stores started, stores finished.
    bars: Mutex<HashMap<String, Slot>>,
}

struct Slot {
    bar: ProgressBar,
    pos: u64,
    total: u64,
    started: usize,
    finished: usize,
}

impl Progress {
    /// Progress for a replay of `stores` stores.
    fn new(stores: usize) -> Self {
        Progress {
            multi: std::io::stderr().is_terminal().then(MultiProgress::new),
            aggregate: stores > LISTED_STORES,
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn slot<'a>(&self, store: &'a str) -> &'a str {
        if self.aggregate { ALL_STORES } else { store }
    }
}

impl Observer for Progress {
    fn start(&self, store: &str, total: u64, done: u64) {
        let name = self.slot(store);
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        if let Some(slot) = bars.get_mut(name) {
            slot.total += total;
            slot.pos += done;
            slot.started += 1;
            slot.bar.set_length(slot.total);
            slot.bar.set_position(slot.pos);
            return;
        }
        let bar = match &self.multi {
            Some(m) => {
                let b = m.add(ProgressBar::new(total));
                b.set_style(
                    ProgressStyle::with_template(
                        "{msg:>5} [{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b.set_message(name.to_string());
                b.set_position(done);
                b
            }
            None => ProgressBar::hidden(),
        };
        if self.multi.is_none() && !self.aggregate {
            tracing::info!(store, total, already = done, "replay starting");
        }
        bars.insert(
            name.to_string(),
            Slot {
                bar,
                pos: done,
                total,
                started: 1,
                finished: 0,
            },
        );
    }

    fn sent(&self, store: &str, n: u64) {
        let name = self.slot(store);
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        if let Some(slot) = bars.get_mut(name) {
            let total = slot.total.max(1);
            let before = slot.pos * 10 / total;
            slot.pos += n;
            slot.bar.inc(n);
            if self.multi.is_none() && slot.pos * 10 / total > before {
                tracing::info!(
                    store = name,
                    sent = slot.pos,
                    total = slot.total,
                    "replay progress"
                );
            }
        }
    }

    fn finish(&self, store: &str) {
        let name = self.slot(store);
        if let Ok(mut bars) = self.bars.lock()
            && let Some(slot) = bars.get_mut(name)
        {
            slot.finished += 1;
            if slot.finished < slot.started {
                return;
            }
            slot.bar.finish();
            if self.multi.is_none() {
                tracing::info!(
                    store = name,
                    stores = slot.started,
                    records = slot.pos,
                    "replay finished"
                );
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

    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        args: SalesArgs,
    }

    fn opts(args: &[&str]) -> anyhow::Result<ReplayOptions> {
        use clap::Parser;
        let cmd = Cmd::try_parse_from(std::iter::once("sales").chain(args.iter().copied()))?;
        options(&Config::default(), &cmd.args)
    }

    #[test]
    fn chain_flags_make_a_chain_and_partitions_a_setting() {
        let o = opts(&["--synthetic", "--days", "2"]).unwrap();
        assert!(matches!(o.source, Source::Synthetic));
        assert_eq!(o.partitions, None);
        let o = opts(&[
            "--synthetic",
            "--days",
            "2",
            "--chain-stores",
            "100",
            "--items-per-store",
            "40",
            "--partitions",
            "10",
            "--stores",
            "CA_1,CA_5",
        ])
        .unwrap();
        let chain = o.source.chain().unwrap();
        assert_eq!((chain.stores, chain.items_per_store), (100, 40));
        assert_eq!(o.partitions, Some(10));
        assert_eq!(o.stores, ["CA_1", "CA_5"]);
        let o = opts(&["--synthetic", "--days", "2", "--items-per-store", "40"]).unwrap();
        assert_eq!(o.source.chain().unwrap().stores, 10, "M5's ten stores");
        let o = opts(&["--data", "/m5", "--partitions", "5"]).unwrap();
        assert!(matches!(o.source, Source::M5 { .. }) && o.partitions == Some(5));
        // A chain needs --synthetic; a partition count is at least 1.
        assert!(opts(&["--data", "/m5", "--chain-stores", "20"]).is_err());
        assert!(opts(&["--synthetic", "--days", "2", "--partitions", "0"]).is_err());
    }
}
