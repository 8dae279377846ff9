//! `aisle replay sales`: the M5 sales streamed into `sales` (library: `aisle-sales`).

use crate::commands::registry::shutdown_signal;
use crate::config::Config;
use crate::exit;
use crate::runtime;
use aisle_events::topics;
use aisle_log::Log;
use aisle_registry::SchemaRegistry;
pub use aisle_sales::Quiet;
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
pub async fn sales_on(
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

/// `aisle bench replay`.
#[derive(Debug, Args)]
pub struct BenchReplayArgs {
    /// Records to replay (rounded up to whole days of 30,490 series).
    #[arg(long, default_value_t = 10_000_000)]
    pub records: u64,
    /// Skip the raw rdkafka comparison (Kafka runtime only).
    #[arg(long)]
    pub no_raw: bool,
    /// Also run the Python reference producer (benches/reference/sales_producer.py: confluent-kafka,
    /// Avro serializer, one process per store) with the same record count (Kafka runtime only;
    /// needs python3 with confluent-kafka and fastavro).
    #[arg(long)]
    pub reference: bool,
}

/// A synthetic replay into a fresh topic, timed; on Kafka, raw rdkafka sending the same number
/// of the replay's own records on the same broker, in the same run.
pub async fn bench(config: &Config, args: BenchReplayArgs) -> anyhow::Result<()> {
    const SERIES: u64 = 30_490;
    let days = args.records.div_ceil(SERIES).max(1);
    let opened = runtime::open_log(config).await?;
    let log = opened.log.clone();
    let registry = runtime::registry(config, &log).await?;
    let topic = format!(
        "aisle-bench-replay-{}-{}",
        std::process::id(),
        aisle_log::now_ms()
    );
    let sales_args = SalesArgs {
        data: None,
        synthetic: true,
        days: Some(format!("1..{days}")),
        stores: Vec::new(),
        speed: "max".into(),
        topic: topic.clone(),
    };
    println!(
        "runtime={} topic={topic} records={} (synthetic, {days} days x {SERIES} series)",
        log.runtime(),
        days * SERIES
    );
    let s = sales_on(
        log.clone(),
        registry.clone(),
        config,
        &sales_args,
        Arc::new(Quiet),
        std::future::pending(),
    )
    .await?;
    println!(
        "replay   aisle  {:>12.0} records/s  ({} records in {:.2} s, durable)",
        s.rate(),
        s.sent,
        s.secs
    );
    if let (Some(bootstrap), false) = (config.kafka.bootstrap.as_deref(), args.no_raw) {
        // Raw rdkafka sends the replay's own records (read back: same partitions, keys, values,
        // timestamps and header), cycling through the first RAW_POOL of them.
        let pool = read_pool(log.as_ref(), &topic, RAW_POOL).await?;
        let raw_topic = format!("{topic}-raw");
        log.create_topic(
            &aisle_log::TopicSpec::new(&raw_topic, 10).replication(config.kafka.replication),
        )
        .await?;
        let raw = aisle_log_kafka::bench::raw_produce_pool(
            bootstrap,
            &config.kafka.properties,
            &raw_topic,
            &pool,
            s.sent,
        )
        .await?;
        println!(
            "produce  raw    {:>12.0} records/s  ({} of the replay's records in {:.2} s, rdkafka FutureProducer, same settings)",
            raw.rate(),
            raw.records,
            raw.secs
        );
        println!("replay / raw = {:.0}%", 100.0 * s.rate() / raw.rate());
        log.delete_topic(&raw_topic).await.ok();
    }
    if let (Some(bootstrap), true) = (config.kafka.bootstrap.as_deref(), args.reference) {
        let rate = reference(config, &log, bootstrap, &topic, s.sent).await?;
        println!("aisle / python reference = {:.1}x", s.rate() / rate);
    }
    log.delete_topic(&topic).await.ok();
    Ok(())
}

/// Records the raw comparison cycles through: ten days of one store's series, enough that
/// batches look like the replay's.
const RAW_POOL: usize = 300_000;

/// Up to `n` records of `topic` from the start of every partition, as records to send again
/// (partition, key, value, timestamp and headers kept).
async fn read_pool(
    log: &dyn Log,
    topic: &str,
    n: usize,
) -> anyhow::Result<Vec<aisle_log::ProduceRecord>> {
    use aisle_log::{ConsumerConfig, Offset, ProduceRecord, TopicPartition};
    let partitions = log.describe_topic(topic).await?.partitions;
    let mut consumer = log.consumer(&ConsumerConfig::default())?;
    let assignment: Vec<_> = (0..partitions)
        .map(|p| (TopicPartition::new(topic, p), Offset::Beginning))
        .collect();
    consumer.assign(&assignment)?;
    let mut pool = Vec::with_capacity(n);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while pool.len() < n && std::time::Instant::now() < deadline {
        for r in consumer.poll(std::time::Duration::from_millis(200)).await? {
            pool.push(ProduceRecord {
                topic: String::new(),
                partition: Some(r.partition),
                key: r.key,
                value: r.value,
                headers: r.headers,
                timestamp: Some(r.timestamp),
            });
        }
    }
    anyhow::ensure!(!pool.is_empty(), "no records read back from {topic}");
    pool.truncate(n);
    Ok(pool)
}

/// Runs `benches/reference/sales_producer.py` against the same broker, with a registry: the
/// configured one, or Aisle's own served on a free local port for the run. Returns its records/s.
async fn reference(
    config: &Config,
    log: &Arc<dyn Log>,
    bootstrap: &str,
    topic: &str,
    records: u64,
) -> anyhow::Result<f64> {
    use anyhow::Context;
    let (url, server) = match &config.registry.url {
        Some(url) => (url.clone(), None),
        None => {
            let store = runtime::local_store(log).await?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}", listener.local_addr()?);
            let task = tokio::spawn(aisle_registry::serve(
                store,
                listener,
                std::future::pending::<()>(),
            ));
            (url, Some(task))
        }
    };
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/reference/sales_producer.py");
    let ref_topic = format!("{topic}-python");
    let out = tokio::process::Command::new("python3")
        .arg(&script)
        .args([
            "--bootstrap",
            bootstrap,
            "--registry",
            &url,
            "--topic",
            &ref_topic,
        ])
        .args(["--records", &records.to_string()])
        .output()
        .await
        .with_context(|| format!("running {}", script.display()))?;
    if let Some(t) = server {
        t.abort();
    }
    log.delete_topic(&ref_topic).await.ok();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        anyhow::bail!(
            "the Python reference failed ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line = stdout
        .lines()
        .find(|l| l.starts_with("reference python"))
        .unwrap_or("");
    print!("{stdout}");
    line.split_whitespace()
        .nth(2)
        .and_then(|r| r.parse::<f64>().ok())
        .with_context(|| format!("no rate in the Python reference's output: {stdout}"))
}
