//! The streaming forecaster: `sales` → per-partition history → `sales_forecasts`, as one member
//! of a consumer group on the [`aisle_streams`] exactly-once loop.
//!
//! Instances started with the same `group_id` split the `sales` partitions. Each partition's
//! history ([`crate::partition::PartitionHistory`]) lives in memory and in its partition of the
//! compacted changelog `<group_id>-history-changelog`, written in the same transaction as the
//! turn's outputs and input offsets, and restored from it when the partition is assigned (after a
//! crash, a rebalance or on another instance). Only the keys a turn changed are written (a day's
//! block, a catalog chunk, the marks), never the whole history.
//!
//! A day is forecast only once it is closed on the partition's day watermark (every series of
//! the partition has it, or a later day is complete: the missing series are then reported to
//! `<sales>.gaps`, a warning and `aisle_forecast_missing_series_total`). When the member has read
//! all its partitions to their end, each partition whose closed day advanced is forecast on its
//! own series ([`crate::models::partitioned`]: the same forecasts whichever instance holds it),
//! one `SalesForecast` per series (key = series id) in the turn's transaction, together with the
//! partition's "forecast through" mark, so a restart never publishes a day twice. Two instances
//! therefore publish exactly what one does. With `once` the run stops after the first caught-up
//! turn (writing the submission files from every assigned partition's forecast).
//!
//! Every record carries the nine M5 quantiles of its series (schema v2 `quantiles`), from
//! [`QuantileModel`](crate::quantiles::QuantileModel): negative binomial around the point
//! forecast with the bottom level's over-dispersion, measured by refitting the model without the
//! last week. With `quantile_submission` every level's quantiles go to that file.
//!
//! Records that cannot be decoded go to `<sales topic>.dlq` (original key and bytes, headers of
//! the event contracts, [`aisle_events::dead_letter`]), in the same transaction, are counted in
//! [`RunSummary::skipped`], and the stream goes on.

use crate::dataset::Inputs;
use crate::error::{ForecastError, Result};
use crate::forecaster::{Forecaster, Outputs, Topics};
use crate::models::Model;
use aisle_events::{SalesForecast, SalesRecord, topics};
use aisle_log::clock::SharedClock;
use aisle_log::{CleanupPolicy, Log, TopicSpec};
use aisle_registry::SchemaRegistry;
use aisle_serde::{Deserializer, Serializer};
use aisle_streams::TaskConfig;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Settings of [`run`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Topic with `SalesRecord`s.
    pub sales_topic: String,
    /// Topic for `SalesForecast`s (created compacted with the sales topic's partition count
    /// when missing).
    pub forecasts_topic: String,
    /// Consumer group of the instances that share the work; prefix of the changelog topic.
    pub group_id: String,
    /// This instance's id (its transactional id is `<group_id>-<instance_id>`); restart a
    /// crashed instance with the same id so its open transaction is fenced at once. `None`: a
    /// fresh id from the process id.
    pub instance_id: Option<String>,
    /// Days to forecast.
    pub horizon: usize,
    /// Stop after the first turn that has read every assigned partition to its end (and
    /// forecast what was due).
    pub once: bool,
    /// Also write a Kaggle submission here (every assigned partition's series).
    pub submission: Option<PathBuf>,
    /// Also write an M5 uncertainty submission (nine quantiles of every series at every
    /// level, [`crate::quantiles`]) here.
    pub quantile_submission: Option<PathBuf>,
    /// Longest wait of one poll.
    pub poll_timeout: Duration,
    /// Longest time one turn (one transaction) gathers records.
    pub commit_interval: Duration,
    /// Consumer session timeout: how long a dead instance keeps its partitions (Kafka).
    pub session_timeout: Duration,
    /// Where time is read (paused in tests).
    pub clock: SharedClock,
}

impl RunOptions {
    /// Defaults: the design's topic names, group `aisle-forecast`, 28 days.
    pub fn new() -> Self {
        Self {
            sales_topic: topics::SALES.into(),
            forecasts_topic: topics::SALES_FORECASTS.into(),
            group_id: "aisle-forecast".into(),
            instance_id: None,
            horizon: 28,
            once: false,
            submission: None,
            quantile_submission: None,
            poll_timeout: Duration::from_millis(500),
            commit_interval: Duration::from_millis(500),
            session_timeout: Duration::from_secs(10),
            clock: aisle_log::clock::system(),
        }
    }

    /// The changelog topic of the partition histories.
    pub fn changelog_topic(&self) -> String {
        format!("{}-history-changelog", self.group_id)
    }

    /// The topic of days closed with series missing.
    pub fn gaps_topic(&self) -> String {
        format!("{}.gaps", self.sales_topic)
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    /// Records applied in this run.
    pub records: u64,
    /// Records skipped (undecodable, dead-lettered).
    pub skipped: u64,
    /// Days closed with series missing (reported to `<sales>.gaps`).
    pub gaps: u64,
    /// Series held at the end (assigned partitions).
    pub series: usize,
    /// Latest closed day over the assigned partitions.
    pub last_day: Option<i32>,
    /// Partition forecasts published.
    pub rounds: u64,
    /// Forecast records published.
    pub published: u64,
    /// Commits and restarts of the stream task.
    pub commits: u64,
    /// Restarts after recoverable failures.
    pub restarts: u64,
}

/// Runs one forecaster instance until `once` is satisfied or `shutdown` resolves. `inputs`
/// (calendar, prices, monthly totals of a data directory) are optional: without them weekdays
/// follow from the day number (d_1 is a Saturday) and prices from the records.
pub async fn run(
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    inputs: Option<Arc<Inputs>>,
    model: Arc<dyn Model>,
    opts: RunOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<RunSummary> {
    let partitions = log.describe_topic(&opts.sales_topic).await?.partitions;
    let topics = Topics {
        sales: opts.sales_topic.clone(),
        forecasts: opts.forecasts_topic.clone(),
        changelog: opts.changelog_topic(),
        dlq: topics::dlq(&opts.sales_topic),
        gaps: opts.gaps_topic(),
    };
    for spec in [
        TopicSpec::new(&topics.forecasts, partitions).cleanup(CleanupPolicy::Compact),
        TopicSpec::new(&topics.changelog, partitions).cleanup(CleanupPolicy::Compact),
        TopicSpec::new(&topics.dlq, 1),
        TopicSpec::new(&topics.gaps, 1),
    ] {
        log.create_topic(&spec).await?;
    }
    let changelog = log.describe_topic(&topics.changelog).await?.partitions;
    if changelog != partitions {
        return Err(ForecastError::Mismatch(format!(
            "changelog `{}` has {changelog} partitions but `{}` has {partitions}: a history \
             partition per sales partition is needed (use a new --group after repartitioning)",
            topics.changelog, opts.sales_topic
        )));
    }
    let out_schema = Serializer::<SalesForecast>::register(
        registry.as_ref(),
        &topics::value_subject(&opts.forecasts_topic),
    )
    .await
    .map_err(|e| ForecastError::Record {
        topic: opts.forecasts_topic.clone(),
        partition: -1,
        offset: -1,
        message: format!("registering SalesForecast: {e}"),
    })?;
    let mut processor = Forecaster::new(
        topics,
        Outputs {
            submission: opts.submission.clone(),
            quantile_submission: opts.quantile_submission.clone(),
        },
        opts.horizon,
        opts.once,
        model,
        inputs,
        Deserializer::<SalesRecord>::new(registry.clone()),
        out_schema,
    );
    let instance = opts
        .instance_id
        .clone()
        .unwrap_or_else(|| format!("{}", std::process::id()));
    let session = opts.session_timeout.as_millis() as u64;
    let task = TaskConfig {
        component: "forecast",
        group_id: opts.group_id.clone(),
        transactional_id: format!("{}-{instance}", opts.group_id),
        topics: vec![opts.sales_topic.clone()],
        poll_timeout: opts.poll_timeout,
        consumer_properties: BTreeMap::from([
            ("session.timeout.ms".into(), session.to_string()),
            (
                "heartbeat.interval.ms".into(),
                (session / 4).max(100).to_string(),
            ),
            ("max.partition.fetch.bytes".into(), (16 << 20).to_string()),
            // A forecast round can take seconds of CPU between polls.
            ("max.poll.interval.ms".into(), "600000".into()),
        ]),
        producer_properties: BTreeMap::from([
            ("transaction.timeout.ms".into(), "60000".into()),
            ("retry.backoff.ms".into(), "5".into()),
        ]),
        retry_backoff: Duration::from_secs(1),
        commit_interval: opts.commit_interval,
        max_batch: 200_000,
        clock: opts.clock.clone(),
    };
    tracing::info!(
        runtime = log.runtime(),
        sales = %opts.sales_topic,
        partitions,
        group = %opts.group_id,
        instance = %instance,
        "forecaster started"
    );
    let done = processor.done.clone();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            () = done.notified() => {}
        }
    };
    let stats = aisle_streams::run_task(&*log, &task, &mut processor, stop)
        .await
        .map_err(|e| ForecastError::Stream(e.to_string()))?;
    let c = &processor.counts;
    let (series, last_day) = c.held;
    Ok(RunSummary {
        records: c.records,
        skipped: c.skipped,
        gaps: c.gaps,
        series,
        last_day,
        rounds: c.rounds,
        published: c.published,
        commits: stats.commits,
        restarts: stats.restarts,
    })
}
