//! The streaming forecaster: `sales` → per-series [`History`] → `sales_forecasts`.
//!
//! It reads every partition of the sales topic by manual assignment, from the positions saved
//! in its snapshot (so it works the same on both runtimes and needs no group coordination),
//! records each `SalesRecord` into the history, and snapshots history + positions together
//! every `snapshot_every` records and whenever it catches up. When it has caught up with the
//! topic and the last day seen has advanced, it forecasts every series `horizon` days ahead
//! (model fitting runs on the blocking pool), publishes one `SalesForecast` per series (key =
//! series id) and optionally writes a Kaggle submission. With `once` it then exits.
//!
//! Every record carries the nine M5 quantiles of its series (schema v2 `quantiles`), from
//! [`QuantileModel`]: negative binomial around the point forecast with the bottom level's
//! over-dispersion, measured by refitting the model without the last week (so a round fits the
//! model twice). They are non-decreasing in `q` for every day; the point forecast (the mean)
//! lies in `[q0.005, q0.995]` except where the mean is so small that even `q0.995` is 0 units.
//! With `quantile_submission` the same dispersions give every level's quantiles for the file.
//!
//! Records that cannot be decoded go to `<sales topic>.dlq` (original key and bytes, headers
//! of the event contracts, [`aisle_events::dead_letter`]: `aisle.dlq.reason`, `aisle.dlq.kind`,
//! `aisle.dlq.source` = topic/partition@offset), are counted in
//! [`RunSummary::skipped`], and the stream goes on.

use crate::dataset::Inputs;
use crate::error::{ForecastError, Result};
use crate::history::History;
use crate::models::{Context, Model};
use crate::quantiles::{QUANTILES, QuantileModel};
use crate::submission;
use aisle_events::dead_letter::DeadLetter;
use aisle_events::types::ForecastQuantile;
use aisle_events::{SalesForecast, SalesRecord, topics};
use aisle_log::{
    ConsumerConfig, Log, Offset, ProduceRecord, ProducerConfig, Record, TopicPartition, TopicSpec,
};
use aisle_m5::hierarchy::Hierarchy;
use aisle_m5::{Calendar, CalendarDay, Prices};
use aisle_registry::SchemaRegistry;
use aisle_serde::{DecodeError, Deserializer, Serializer};
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
    /// Directory for the history snapshot (`history.bin`).
    pub state_dir: PathBuf,
    /// Days to forecast.
    pub horizon: usize,
    /// Stop after the first forecast made once caught up.
    pub once: bool,
    /// Also write a Kaggle submission here.
    pub submission: Option<PathBuf>,
    /// Also write an M5 uncertainty submission (nine quantiles of every series at every
    /// level, [`crate::quantiles`]) here.
    pub quantile_submission: Option<PathBuf>,
    /// Snapshot after this many records (besides whenever caught up).
    pub snapshot_every: u64,
    /// Stop after this many records have been applied (tests: simulate a crash); `None` = no limit.
    pub max_records: Option<u64>,
    /// Longest wait of one poll.
    pub poll_timeout: Duration,
}

impl RunOptions {
    /// Defaults: the design's topic names, 28 days, snapshot every 200,000 records.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            sales_topic: topics::SALES.into(),
            forecasts_topic: topics::SALES_FORECASTS.into(),
            state_dir: state_dir.into(),
            horizon: 28,
            once: false,
            submission: None,
            quantile_submission: None,
            snapshot_every: 200_000,
            max_records: None,
            poll_timeout: Duration::from_millis(500),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    /// Records applied in this run.
    pub records: u64,
    /// Records skipped (undecodable).
    pub skipped: u64,
    /// Series in the history.
    pub series: usize,
    /// Last day seen.
    pub last_day: Option<i32>,
    /// Forecast rounds made.
    pub rounds: u64,
    /// Forecast records published.
    pub published: u64,
}

/// The snapshot file in `state_dir`.
pub fn snapshot_path(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("history.bin")
}

/// Runs the forecaster until `once` is satisfied, `max_records` is reached, or `shutdown`
/// resolves. `inputs` (calendar, prices, monthly totals of a data directory) are optional: without
/// them weekdays follow from the day number (d_1 is a Saturday) and prices from the records.
pub async fn run(
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    inputs: Option<Arc<Inputs>>,
    model: Arc<dyn Model>,
    opts: RunOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<RunSummary> {
    std::fs::create_dir_all(&opts.state_dir).map_err(|e| ForecastError::State {
        path: opts.state_dir.clone(),
        message: e.to_string(),
    })?;
    let snap = snapshot_path(&opts.state_dir);
    let mut history = History::load(&snap)?;
    let partitions = log.describe_topic(&opts.sales_topic).await?.partitions;
    let spec = TopicSpec::new(&opts.forecasts_topic, partitions)
        .cleanup(aisle_log::CleanupPolicy::Compact);
    log.create_topic(&spec).await?;
    log.create_topic(&TopicSpec::new(topics::dlq(&opts.sales_topic), 1))
        .await?;
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
    let mut consumer = log.consumer(&ConsumerConfig::default())?;
    let assignment: Vec<(TopicPartition, Offset)> = (0..partitions)
        .map(|p| {
            let tp = TopicPartition::new(&opts.sales_topic, p);
            let at = history
                .offsets
                .get(&p)
                .map_or(Offset::Beginning, |&o| Offset::At(o));
            (tp, at)
        })
        .collect();
    consumer.assign(&assignment)?;
    let producer = log.producer(&ProducerConfig::default())?;
    tracing::info!(
        sales = %opts.sales_topic,
        partitions,
        series = history.len(),
        "forecaster started"
    );
    let sales = Deserializer::<SalesRecord>::new(registry.clone());
    let mut summary = RunSummary::default();
    let mut since_snapshot = 0u64;
    let mut forecast_day = None;
    tokio::pin!(shutdown);
    loop {
        let batch = tokio::select! {
            b = consumer.poll(opts.poll_timeout) => b?,
            () = &mut shutdown => break,
        };
        for rec in &batch {
            match decode(rec, &sales).await? {
                Ok(s) => {
                    let price = s.sell_price.filter(|p| p.is_finite());
                    if let Err(e) =
                        history.record(&s.item_id, &s.store_id, s.day, s.sold as f32, price)
                    {
                        skip(rec, &e, producer.as_ref(), &mut summary).await?;
                    } else {
                        summary.records += 1;
                    }
                }
                Err(e) => skip(rec, &e, producer.as_ref(), &mut summary).await?,
            }
            history.offsets.insert(rec.partition, rec.offset + 1);
            since_snapshot += 1;
            if opts.max_records.is_some_and(|m| summary.records >= m) {
                history.save(&snap)?;
                return Ok(finish(summary, &history));
            }
        }
        if since_snapshot >= opts.snapshot_every {
            history.save(&snap)?;
            since_snapshot = 0;
        }
        if !batch.is_empty()
            || !caught_up(log.as_ref(), &opts.sales_topic, &history, partitions).await?
        {
            continue;
        }
        if since_snapshot > 0 {
            history.save(&snap)?;
            since_snapshot = 0;
        }
        let last = history.last_day();
        if last.is_some() && last != forecast_day {
            forecast_day = last;
            let n = publish_forecasts(
                &history,
                inputs.clone(),
                model.clone(),
                &opts,
                producer.as_ref(),
                &out_schema,
            )
            .await?;
            summary.rounds += 1;
            summary.published += n;
        }
        if opts.once {
            break;
        }
    }
    if since_snapshot > 0 {
        history.save(&snap)?;
    }
    Ok(finish(summary, &history))
}

fn finish(mut s: RunSummary, h: &History) -> RunSummary {
    s.series = h.len();
    s.last_day = h.last_day();
    s
}

/// Sends an undecodable record to `<topic>.dlq` (original key and bytes, error headers) and
/// counts it; the stream goes on.
async fn skip(
    rec: &Record,
    why: &str,
    producer: &dyn aisle_log::Producer,
    summary: &mut RunSummary,
) -> Result<()> {
    tracing::warn!(
        topic = %rec.topic, partition = rec.partition, offset = rec.offset,
        "sales record to the dead-letter topic: {why}"
    );
    let dead = DeadLetter::of_record(&topics::dlq(&rec.topic), rec, why).build();
    producer.send(dead).await?.await?;
    summary.skipped += 1;
    Ok(())
}

/// The sales record in `rec`: `Ok(Err(why))` for a bad record (dead letter), `Err` when the
/// registry cannot be asked (the run stops; the record is not bad).
async fn decode(
    rec: &Record,
    sales: &Deserializer<SalesRecord>,
) -> Result<std::result::Result<SalesRecord, String>> {
    let Some(value) = rec.value.as_deref() else {
        return Ok(Err("tombstone: a sales record needs a value".into()));
    };
    let unavailable = |e: DecodeError| ForecastError::Record {
        topic: rec.topic.clone(),
        partition: rec.partition,
        offset: rec.offset,
        message: e.to_string(),
    };
    sales.prepare(value).await.map_err(unavailable)?;
    match sales.decode(value) {
        Ok(s) => Ok(Ok(s)),
        Err(DecodeError::Bad(why)) => Ok(Err(why)),
        Err(e) => Err(unavailable(e)),
    }
}

async fn caught_up(log: &dyn Log, topic: &str, h: &History, partitions: i32) -> Result<bool> {
    for p in 0..partitions {
        let (low, high) = log.watermarks(&TopicPartition::new(topic, p)).await?;
        if h.offsets.get(&p).copied().unwrap_or(low) < high {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Calendar and prices when no data directory is given: weekdays from the day number (d_1 =
/// 2011-01-29, a Saturday, `wday` 1; weeks run Saturday..Friday), prices as the records carried.
fn inputs_from_stream(last_day: i32, horizon: usize, prices: &[(String, i32, f32)]) -> Inputs {
    let days = (last_day.max(0) as usize) + horizon;
    let calendar = Calendar::from_days(
        (0..days)
            .map(|i| CalendarDay {
                wm_yr_wk: (i / 7) as u32 + 1,
                wday: (i % 7) as u8 + 1,
                ..CalendarDay::default()
            })
            .collect(),
    );
    let mut p = Prices::default();
    for (id, d, price) in prices {
        p.insert(id, ((d - 1) / 7) as u32 + 1, *price);
    }
    Inputs {
        calendar,
        prices: p,
        monthly: None,
    }
}

async fn publish_forecasts(
    history: &History,
    inputs: Option<Arc<Inputs>>,
    model: Arc<dyn Model>,
    opts: &RunOptions,
    producer: &dyn aisle_log::Producer,
    out_schema: &Serializer<SalesForecast>,
) -> Result<u64> {
    let (panel, stream_prices) = history.panel();
    let last_day = panel.last_day();
    let horizon = opts.horizon;
    let started = tokio::time::Instant::now();
    let model_name = model.name();
    let want_levels = opts.quantile_submission.is_some();
    let (panel, forecasts, bottom, quantiles) = tokio::task::spawn_blocking(move || {
        let own;
        let inputs: &Inputs = match &inputs {
            Some(i) => i,
            None => {
                own = inputs_from_stream(last_day, horizon, &stream_prices);
                &own
            }
        };
        let ctx: Context<'_> = inputs.context(&panel, horizon);
        let f = model.forecast(&ctx);
        // One over-dispersion per level (one refit of the model without the last week); the
        // records carry the bottom level's quantiles, the submission file every level's.
        let h = Hierarchy::m5(&panel.series);
        let phi = QuantileModel::default().dispersion(model.as_ref(), &ctx, &h);
        let bottom = QuantileModel::of_rows(&f, phi.last().copied().unwrap_or_default());
        let q = want_levels.then(|| {
            let levels = QuantileModel::from_points(&h, &f, &phi);
            (h, levels)
        });
        (panel, f, bottom, q)
    })
    .await
    .map_err(|e| ForecastError::Mismatch(format!("forecast task failed: {e}")))?;
    tracing::info!(
        series = panel.series.len(),
        last_day,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "forecasts computed"
    );
    let now = aisle_log::now_ms();
    let mut pending = Vec::with_capacity(panel.series.len());
    for ((m, f), q) in panel.series.iter().zip(&forecasts).zip(bottom) {
        let event = SalesForecast {
            id: m.id.clone(),
            item_id: m.item_id.clone(),
            store_id: m.store_id.clone(),
            first_day: last_day + 1,
            forecast: f.clone(),
            model: model_name.clone(),
            generated_at: now,
            quantiles: QUANTILES
                .iter()
                .zip(q)
                .map(|(&q, values)| ForecastQuantile {
                    q: q as f32,
                    values,
                })
                .collect(),
        };
        let mut value = Vec::with_capacity(64 + 40 * f.len());
        out_schema
            .serialize_into(&event, &mut value)
            .map_err(|e| ForecastError::Record {
                topic: opts.forecasts_topic.clone(),
                partition: -1,
                offset: -1,
                message: format!("encoding {}: {e}", m.id),
            })?;
        let rec = ProduceRecord::new(&opts.forecasts_topic)
            .key(m.id.clone().into_bytes())
            .value(value)
            .timestamp(now);
        pending.push(producer.send(rec).await?);
    }
    for d in pending {
        d.await?;
    }
    if let Some(path) = &opts.submission {
        let ids: Vec<&str> = panel.series.iter().map(|m| m.id.as_str()).collect();
        let map: submission::Forecasts = panel
            .series
            .iter()
            .zip(forecasts)
            .map(|(m, f)| (m.id.clone(), f))
            .collect();
        submission::write(path, &ids, &map, horizon, "evaluation")?;
    }
    if let (Some(path), Some((h, levels))) = (&opts.quantile_submission, &quantiles) {
        submission::write_quantiles(path, h, levels, horizon, "evaluation")?;
    }
    Ok(panel.series.len() as u64)
}
