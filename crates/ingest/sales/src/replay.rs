//! The replay: plan (every check before anything is sent), dead letters, then one generator task
//! per store, window by window.

use crate::error::{Result, SalesError};
use crate::resume;
use crate::store::StoreJob;
use crate::synthetic;
use aisle_events::SalesRecord;
use aisle_events::dead_letter::DeadLetter;
use aisle_events::topics::{self, M5_STORES};
use aisle_log::{Log, Producer, ProducerConfig, TopicSpec};
use aisle_m5::Calendar;
use aisle_m5::files::{self, CALENDAR, PRICES};
use aisle_m5::prices::{PriceFilter, PriceTable};
use aisle_m5::wide::{self, SalesHeader, SalesIndex, Series, Window};
use aisle_registry::SchemaRegistry;
use aisle_serde::Serializer;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Where the data comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Kaggle's M5 files in a directory.
    M5 {
        /// The directory (sales, `calendar`, `sell_prices`; `.csv` or `.csv.zst`).
        dir: PathBuf,
    },
    /// Generated M5-shaped data.
    Synthetic,
}

/// Pacing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// As fast as the log takes it.
    Max,
    /// This many days per second (per store).
    DaysPerSecond(f64),
}

/// What to replay.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// The data.
    pub source: Source,
    /// Days `first..=last`; `None`: every day of the sales file (synthetic: required).
    pub days: Option<(u32, u32)>,
    /// Stores to replay; empty: all ten.
    pub stores: Vec<String>,
    /// Pacing.
    pub speed: Speed,
    /// Destination topic (its dead letters go to `<topic>.dlq`).
    pub topic: String,
    /// Replication of topics this creates (Kafka).
    pub replication: i16,
    /// Days per pass over the sales file (memory: series × days × 2 bytes).
    pub window_days: u32,
}

impl ReplayOptions {
    /// Defaults: all stores, full speed, the `sales` topic, 256-day windows.
    pub fn new(source: Source) -> Self {
        ReplayOptions {
            source,
            days: None,
            stores: Vec::new(),
            speed: Speed::Max,
            topic: topics::SALES.into(),
            replication: 1,
            window_days: 256,
        }
    }
}

/// Progress reports, for bars or log lines. Called from the store tasks.
pub trait Observer: Send + Sync {
    /// A store starts: `total` records in the requested range, `done` already in the log.
    fn start(&self, store: &str, total: u64, done: u64);
    /// `n` more records of `store` were sent.
    fn sent(&self, store: &str, n: u64);
    /// A store finished (all its records durable).
    fn finish(&self, store: &str);
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Quiet;

impl Observer for Quiet {
    fn start(&self, _: &str, _: u64, _: u64) {}
    fn sent(&self, _: &str, _: u64) {}
    fn finish(&self, _: &str) {}
}

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Records sent (and durable) by this run.
    pub sent: u64,
    /// Records already in the log from an earlier run (skipped).
    pub resumed: u64,
    /// Malformed rows found in the input.
    pub rejected: u64,
    /// Rejected rows written to the dead-letter topic by this run.
    pub dead_lettered: u64,
    /// Records per store (sent + resumed), Kaggle order, selected stores only.
    pub per_store: Vec<(String, u64)>,
    /// Price rows that could not be parsed.
    pub bad_price_rows: u64,
    /// Whether the data was synthetic.
    pub synthetic: bool,
    /// Wall time of the sending phase, seconds.
    pub secs: f64,
    /// Whether the run stopped on its shutdown signal before the end (a later run resumes).
    pub stopped: bool,
}

impl Summary {
    /// Records per second sent by this run.
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.sent as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// Everything resolved before sending.
struct Plan {
    first: u32,
    last: u32,
    stores: [bool; 10],
    series: Vec<Arc<Vec<Series>>>,
    data: Data,
}

enum Data {
    M5 {
        header: SalesHeader,
        index: Arc<SalesIndex>,
        calendar: Calendar,
        prices: Arc<PriceTable>,
        first_window: Option<Window>,
    },
    Synthetic,
}

/// Replays into `log` until done or `shutdown` resolves, registering the `SalesRecord` schema
/// under the topic's `-value` subject in `registry`. Creates the topic (10 partitions) and its
/// `.dlq` when missing; resumes from what the topic holds. On `shutdown` every store stops at
/// the end of the day it is sending, what was sent is flushed, and [`Summary::stopped`] is set:
/// the next run resumes after it.
pub async fn replay(
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    opts: ReplayOptions,
    observer: Arc<dyn Observer>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let result = replay_until(log, registry, opts, observer, stop).await;
    watcher.abort();
    result
}

async fn replay_until(
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    opts: ReplayOptions,
    observer: Arc<dyn Observer>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Summary> {
    let stores = select_stores(&opts.stores)?;
    let plan = {
        let opts = opts.clone();
        tokio::task::spawn_blocking(move || make_plan(&opts, stores))
            .await
            .map_err(|e| SalesError::Task(e.to_string()))??
    };
    let topic = opts.topic.as_str();
    // Registered once the arguments and files are known to be good: a bad run changes nothing.
    let schema_id =
        Serializer::<SalesRecord>::register(registry.as_ref(), &topics::value_subject(topic))
            .await
            .map_err(|e| SalesError::Registry(e.to_string()))?
            .id();
    // Replayed records carry their historical day as timestamp (2011–2016): time retention would
    // let the broker delete them minutes after they were written, so the topic keeps them forever.
    let spec = TopicSpec::new(topic, M5_STORES.len() as i32)
        .replication(opts.replication)
        .retention_ms(-1);
    log.create_topic(&spec)
        .await
        .map_err(SalesError::log(format!("creating {topic}")))?;
    let info = log
        .describe_topic(topic)
        .await
        .map_err(SalesError::log(format!("describing {topic}")))?;
    if info.partitions < M5_STORES.len() as i32 {
        return Err(SalesError::Invalid(format!(
            "topic {topic} has {} partitions; the replay needs one per store ({})",
            info.partitions,
            M5_STORES.len()
        )));
    }
    let synthetic = matches!(plan.data, Data::Synthetic);
    let selected: Vec<usize> = (0..10).filter(|s| plan.stores[*s]).collect();
    let parts: Vec<i32> = selected.iter().map(|s| *s as i32).collect();
    let mut positions = Vec::with_capacity(selected.len());
    for (s, last) in selected
        .iter()
        .zip(resume::last_positions(log.as_ref(), topic, &parts).await?)
    {
        positions.push(match last {
            None => None,
            Some(p) => Some(resume::locate(
                topic,
                *s,
                &p,
                synthetic,
                &plan.series[*s],
                |ts| day_of(&plan, ts),
            )?),
        });
    }
    let producer = log
        .producer(&ProducerConfig {
            client_id: "aisle-replay-sales".into(),
            ..Default::default()
        })
        .map_err(SalesError::log("opening the producer"))?;
    let mut summary = Summary {
        synthetic,
        ..Default::default()
    };
    if let Data::M5 { index, prices, .. } = &plan.data {
        summary.rejected = index.rejected.len() as u64;
        summary.bad_price_rows = prices.bad_rows;
        summary.dead_lettered =
            dead_letters(log.as_ref(), producer.as_ref(), topic, index, &opts).await?;
    }

    let start = Instant::now();
    let rows_per_day: Vec<u64> = (0..10).map(|s| plan.series[s].len() as u64).collect();
    let days_total = (plan.last - plan.first + 1) as u64;
    let mut next: Vec<(u32, u32)> = vec![(plan.first, 0); 10];
    for (s, pos) in selected.iter().zip(&positions) {
        let done_before = match pos {
            None => 0,
            Some((day, _)) if *day < plan.first => 0,
            Some((day, row)) => {
                let (d, r) = if *row as usize + 1 >= plan.series[*s].len() {
                    (day + 1, 0)
                } else {
                    (*day, row + 1)
                };
                next[*s] = (d, r);
                ((d.min(plan.last + 1) - plan.first) as u64) * rows_per_day[*s] + r as u64
            }
        };
        summary.resumed += done_before;
        observer.start(M5_STORES[*s], days_total * rows_per_day[*s], done_before);
    }

    let Plan {
        first,
        last,
        series,
        data,
        ..
    } = plan;
    let (window_days, mut first_window) = match &data {
        Data::M5 { .. } => (opts.window_days.max(1), None),
        Data::Synthetic => (last - first + 1, None::<Window>),
    };
    let data = match data {
        Data::M5 {
            header,
            index,
            calendar,
            prices,
            first_window: w,
        } => {
            first_window = w;
            Some((header, index, Arc::new(calendar), prices))
        }
        Data::Synthetic => None,
    };
    let pace_start = tokio::time::Instant::now();
    let mut w_first = first;
    while w_first <= last {
        let w_last = last.min(w_first + window_days - 1);
        let window = match &data {
            None => None,
            Some((header, index, ..)) => Some(Arc::new(match first_window.take() {
                Some(w) => w,
                None => {
                    let (h, i) = (header.clone(), index.clone());
                    tokio::task::spawn_blocking(move || {
                        wide::load_window(&h, &i, w_first, w_last - w_first + 1)
                    })
                    .await
                    .map_err(|e| SalesError::Task(e.to_string()))??
                }
            })),
        };
        let mut tasks = Vec::new();
        for &s in &selected {
            if next[s].0 > w_last {
                continue;
            }
            let job = StoreJob {
                store: s,
                series: series[s].clone(),
                from: next[s],
                to_day: w_last,
                window: window.clone(),
                calendar: data.as_ref().map(|d| d.2.clone()),
                prices: data.as_ref().map(|d| d.3.clone()),
                topic: opts.topic.clone(),
                schema_id,
                speed: opts.speed,
                pace: (pace_start, first.max(next[s].0)),
                producer: producer.clone(),
                observer: observer.clone(),
                stop: stop.clone(),
            };
            tasks.push(tokio::spawn(job.run()));
        }
        for t in tasks {
            summary.sent += t.await.map_err(|e| SalesError::Task(e.to_string()))??;
        }
        if *stop.borrow() {
            summary.stopped = true;
            break;
        }
        for &s in &selected {
            next[s] = next[s].max((w_last + 1, 0));
        }
        w_first = w_last + 1;
    }
    producer
        .flush(Duration::from_secs(60))
        .await
        .map_err(SalesError::log(format!("flushing {topic}")))?;
    for &s in selected.iter().filter(|_| !summary.stopped) {
        observer.finish(M5_STORES[s]);
        summary
            .per_store
            .push((M5_STORES[s].to_string(), days_total * rows_per_day[s]));
    }
    summary.secs = start.elapsed().as_secs_f64();
    Ok(summary)
}

fn select_stores(names: &[String]) -> Result<[bool; 10]> {
    let mut out = [names.is_empty(); 10];
    for n in names {
        let i = topics::store_partition(n.trim()).ok_or_else(|| {
            SalesError::Invalid(format!(
                "unknown store `{n}` (M5 stores: {})",
                M5_STORES.join(",")
            ))
        })?;
        out[i as usize] = true;
    }
    Ok(out)
}

fn make_plan(opts: &ReplayOptions, stores: [bool; 10]) -> Result<Plan> {
    match &opts.source {
        Source::Synthetic => {
            let (first, last) = opts
                .days
                .ok_or_else(|| SalesError::Invalid("synthetic data needs a day range".into()))?;
            if first == 0 || last < first {
                return Err(SalesError::Invalid(format!(
                    "empty day range {first}..{last}"
                )));
            }
            let series = (0..10)
                .map(|s| {
                    Arc::new(if stores[s] {
                        synthetic::store_series(s)
                    } else {
                        Vec::new()
                    })
                })
                .collect();
            Ok(Plan {
                first,
                last,
                stores,
                series,
                data: Data::Synthetic,
            })
        }
        Source::M5 { dir } => {
            if !dir.is_dir() {
                return Err(aisle_m5::M5Error::MissingFile {
                    what: "data directory",
                    dir: dir.clone(),
                    tried: "--data".into(),
                }
                .into());
            }
            let sales = files::find_sales(dir)?;
            let calendar_path = files::require(dir, "calendar", CALENDAR)?;
            let prices_path = files::require(dir, "prices", PRICES)?;
            let header = wide::read_header(&sales)?;
            let (first, last) = opts.days.unwrap_or((header.first_day, header.last_day));
            if first == 0 || last < first {
                return Err(SalesError::Invalid(format!(
                    "empty day range {first}..{last}"
                )));
            }
            header.require(first, last)?;
            let calendar = Calendar::read(&calendar_path)?;
            calendar.require(first, last)?;
            let (index, first_window) =
                wide::index(&header, first, last, &stores, opts.window_days)?;
            let mut weeks: Vec<u32> = (first..=last)
                .filter_map(|d| calendar.day(d))
                .map(|c| c.wm_yr_wk)
                .collect();
            weeks.sort_unstable();
            weeks.dedup();
            let prices = PriceTable::read(
                &prices_path,
                &PriceFilter {
                    stores: &stores,
                    items: &index.items,
                    weeks: &weeks,
                },
            )?;
            let series = index.stores.iter().map(|s| Arc::new(s.clone())).collect();
            Ok(Plan {
                first,
                last,
                stores,
                series,
                data: Data::M5 {
                    header,
                    index: Arc::new(index),
                    calendar,
                    prices: Arc::new(prices),
                    first_window: Some(first_window),
                },
            })
        }
    }
}

/// The day of a record timestamp in this replay's data: the calendar's, or synthetic dates.
fn day_of(plan: &Plan, ts: i64) -> Option<u32> {
    match &plan.data {
        Data::M5 { calendar, .. } => calendar.day_of(ts),
        Data::Synthetic => aisle_m5::calendar::day_of_date(ts),
    }
}

/// Writes rejected rows to `<topic>.dlq` (original bytes, headers with file, line and reason),
/// skipping those an earlier run already wrote, so a resumed replay does not repeat them.
async fn dead_letters(
    log: &dyn Log,
    producer: &dyn Producer,
    topic: &str,
    index: &SalesIndex,
    opts: &ReplayOptions,
) -> Result<u64> {
    if index.rejected.is_empty() {
        return Ok(0);
    }
    let dlq = topics::dlq(topic);
    let spec = topics::default_spec(&dlq)
        .unwrap_or_else(|| TopicSpec::new(&dlq, 1))
        .replication(opts.replication);
    log.create_topic(&spec)
        .await
        .map_err(SalesError::log(format!("creating {dlq}")))?;
    let file = match &opts.source {
        Source::M5 { dir } => files::find_sales(dir)?.display().to_string(),
        Source::Synthetic => String::new(),
    };
    let already = crate::dlq::written_lines(log, &dlq, &file).await?;
    let mut futs = Vec::new();
    for r in index.rejected.iter().filter(|r| !already.contains(&r.line)) {
        tracing::warn!(file = %file, line = r.line, reason = %r.reason, "row rejected to {dlq}");
        let mut rec = DeadLetter::new(&dlq, &r.reason)
            .file(&file)
            .line(r.line)
            .value(r.raw.clone());
        if let Some(k) = &r.key {
            rec = rec.key(k.clone());
        }
        let rec = rec.build();
        futs.push(
            producer
                .send(rec)
                .await
                .map_err(SalesError::log(format!("sending to {dlq}")))?,
        );
    }
    let n = futs.len() as u64;
    for f in futs {
        f.await
            .map_err(SalesError::log(format!("delivering to {dlq}")))?;
    }
    Ok(n)
}
