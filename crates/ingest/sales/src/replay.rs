//! The replay: the plan (every check before anything is sent, [`crate::plan`]), dead letters,
//! the topic and where each store stopped, then one generator task per store, window by window.

use crate::error::{Result, SalesError};
use crate::plan::{self, Data};
use crate::resume::{self, Layout};
use crate::store::StoreJob;
use crate::synthetic::Chain;
use aisle_events::SalesRecord;
use aisle_events::topics;
use aisle_log::{Log, ProducerConfig, TopicSpec};
use aisle_m5::wide::{self, Window};
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
    /// Kaggle's M5 files in a directory: M5's ten stores.
    M5 {
        /// The directory (sales, `calendar`, `sell_prices`; `.csv` or `.csv.zst`).
        dir: PathBuf,
    },
    /// Generated M5-shaped data for M5's ten stores of 3,049 items: the default [`Chain`], the
    /// same as `Source::Chain(Chain::default())`.
    Synthetic,
    /// Generated M5-shaped data for a chain of any number of stores and items per store.
    Chain(Chain),
}

impl Source {
    /// The synthetic chain, `None` for M5 files.
    pub fn chain(&self) -> Option<Chain> {
        match self {
            Source::M5 { .. } => None,
            Source::Synthetic => Some(Chain::default()),
            Source::Chain(c) => Some(*c),
        }
    }
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
    /// Stores to replay, by id (M5: `CA_1`..`WI_3`; a chain: its [`topics::chain_store`] ids);
    /// empty: all of the source's.
    pub stores: Vec<String>,
    /// Pacing.
    pub speed: Speed,
    /// Destination topic (its dead letters go to `<topic>.dlq`).
    pub topic: String,
    /// Partitions of the destination topic; `None`: one per store of the source (10 for M5, N
    /// for a chain of N). Store `i` (chain index) writes partition `i mod partitions`
    /// ([`topics::chain_partition`]). An existing topic must have exactly this many.
    pub partitions: Option<i32>,
    /// Replication of topics this creates (Kafka).
    pub replication: i16,
    /// Days per pass over the sales file (memory: series × days × 2 bytes).
    pub window_days: u32,
}

impl ReplayOptions {
    /// Defaults: all stores, full speed, the `sales` topic with one partition per store, 256-day
    /// windows.
    pub fn new(source: Source) -> Self {
        ReplayOptions {
            source,
            days: None,
            stores: Vec::new(),
            speed: Speed::Max,
            topic: topics::SALES.into(),
            partitions: None,
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
    /// Records per store (sent + resumed), chain order (M5: Kaggle order), selected stores only.
    pub per_store: Vec<(String, u64)>,
    /// Partitions of the topic the stores were mapped onto (store index mod this).
    pub partitions: i32,
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

/// Replays into `log` until done or `shutdown` resolves, registering the `SalesRecord` schema
/// under the topic's `-value` subject in `registry`. Creates the topic (one partition per store,
/// or [`ReplayOptions::partitions`]) and its `.dlq` when missing; resumes from what the topic
/// holds. On `shutdown` every store stops at the end of the day it is sending, what was sent is
/// flushed, and [`Summary::stopped`] is set: the next run resumes after it.
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
    let names = plan::store_ids(&opts.source)?;
    let selected = plan::select_stores(&opts.stores, &names)?;
    let layout = Layout {
        stores: names.len(),
        partitions: match opts.partitions {
            None => names.len() as i32,
            Some(p) if p >= 1 => p,
            Some(p) => {
                return Err(SalesError::Invalid(format!(
                    "{p} partitions: the topic needs at least one"
                )));
            }
        },
    };
    let topic = opts.topic.as_str();
    check_partitions(log.as_ref(), topic, layout).await?;
    let plan = {
        let opts = opts.clone();
        tokio::task::spawn_blocking(move || plan::make_plan(&opts, names, selected))
            .await
            .map_err(|e| SalesError::Task(e.to_string()))??
    };
    // Registered once the arguments and files are known to be good: a bad run changes nothing.
    let schema_id =
        Serializer::<SalesRecord>::register(registry.as_ref(), &topics::value_subject(topic))
            .await
            .map_err(|e| SalesError::Registry(e.to_string()))?
            .id();
    // Replayed records carry their historical day as timestamp (2011–2016): time retention would
    // let the broker delete them minutes after they were written, so the topic keeps them forever.
    let spec = TopicSpec::new(topic, layout.partitions)
        .replication(opts.replication)
        .retention_ms(-1);
    log.create_topic(&spec)
        .await
        .map_err(SalesError::log(format!("creating {topic}")))?;
    let info = log
        .describe_topic(topic)
        .await
        .map_err(SalesError::log(format!("describing {topic}")))?;
    if info.partitions != layout.partitions {
        return Err(partition_mismatch(topic, info.partitions, layout));
    }
    let synthetic = matches!(plan.data, Data::Synthetic);
    let selected = plan.selected.clone();
    let mut positions = Vec::with_capacity(selected.len());
    for (s, last) in selected
        .iter()
        .zip(resume::positions(log.as_ref(), topic, layout, &selected).await?)
    {
        positions.push(match last {
            None => None,
            Some(p) => Some(resume::locate(
                topic,
                layout.partition(*s),
                &plan.names[*s],
                &p,
                synthetic,
                &plan.series[*s],
                |ts| plan.day_of(ts),
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
        partitions: layout.partitions,
        ..Default::default()
    };
    if let Data::M5 { index, prices, .. } = &plan.data {
        summary.rejected = index.rejected.len() as u64;
        summary.bad_price_rows = prices.bad_rows;
        let file = match &opts.source {
            crate::Source::M5 { dir } => aisle_m5::files::find_sales(dir)?.display().to_string(),
            _ => String::new(),
        };
        summary.dead_lettered = crate::dlq::dead_letters(
            log.as_ref(),
            producer.as_ref(),
            topic,
            index,
            &file,
            opts.replication,
        )
        .await?;
    }

    let start = Instant::now();
    let stores = plan.names.len();
    let rows_per_day: Vec<u64> = plan.series.iter().map(|s| s.len() as u64).collect();
    let days_total = (plan.last - plan.first + 1) as u64;
    let mut next: Vec<(u32, u32)> = vec![(plan.first, 0); stores];
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
        observer.start(&plan.names[*s], days_total * rows_per_day[*s], done_before);
    }

    let plan::Plan {
        first,
        last,
        names,
        series,
        data,
        ..
    } = plan;
    let names: Vec<Arc<str>> = names.into_iter().map(Arc::from).collect();
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
    let in_flight = crate::store::in_flight(selected.len());
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
                name: names[s].clone(),
                partition: layout.partition(s),
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
                in_flight,
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
        observer.finish(&names[s]);
        summary
            .per_store
            .push((names[s].to_string(), days_total * rows_per_day[s]));
    }
    summary.secs = start.elapsed().as_secs_f64();
    Ok(summary)
}

/// Fails when `topic` exists with another partition count than the layout's, before anything
/// is read, registered or created: the stores would land on other partitions than documented.
async fn check_partitions(log: &dyn Log, topic: &str, layout: Layout) -> Result<()> {
    let existing = log
        .list_topics()
        .await
        .map_err(SalesError::log("listing topics"))?;
    match existing.iter().find(|t| t.name == topic) {
        Some(t) if t.partitions != layout.partitions => {
            Err(partition_mismatch(topic, t.partitions, layout))
        }
        _ => Ok(()),
    }
}

fn partition_mismatch(topic: &str, has: i32, layout: Layout) -> SalesError {
    SalesError::Invalid(format!(
        "topic {topic} has {has} partitions, and this replay expects {} ({} stores, store i on \
         partition i mod {}): set the partition count to {has} to write onto the existing \
         topic (--partitions {has}), or use another --topic",
        layout.partitions, layout.stores, layout.partitions
    ))
}
