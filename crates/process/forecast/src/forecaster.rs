//! [`Forecaster`]: the stream task's processor. `sales` records go into their partition's
//! [`PartitionHistory`]; days close on the partition's day watermark (gaps reported to
//! `<sales>.gaps`); once the member is caught up, every partition whose closed day advanced is
//! forecast on its own series and its `SalesForecast`s are written in the turn's transaction,
//! with the partition's "forecast through" mark in its changelog.

use crate::dataset::Inputs;
use crate::models::{Context, Model};
use crate::partition::{Gap, PartitionHistory, kaggle_order};
use crate::quantiles::{QUANTILES, QuantileModel};
use crate::submission;
use aisle_events::dead_letter::DeadLetter;
use aisle_events::types::ForecastQuantile;
use aisle_events::{SalesForecast, SalesRecord};
use aisle_log::{Log, ProduceRecord, Record, TopicPartition};
use aisle_m5::hierarchy::Hierarchy;
use aisle_m5::{Calendar, CalendarDay, Prices, SalesPanel, SeriesMeta};
use aisle_serde::{DecodeError, Deserializer, Serializer};
use aisle_streams::{Processor, StreamsError, Turn};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the processor reads and writes.
#[derive(Debug, Clone)]
pub(crate) struct Topics {
    pub sales: String,
    pub forecasts: String,
    pub changelog: String,
    pub dlq: String,
    pub gaps: String,
}

/// What the processor produces besides the topics.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outputs {
    pub submission: Option<PathBuf>,
    pub quantile_submission: Option<PathBuf>,
}

/// Counters of a run (see [`crate::stream::RunSummary`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Counts {
    pub records: u64,
    pub skipped: u64,
    pub gaps: u64,
    pub rounds: u64,
    pub published: u64,
    /// [`Forecaster::held`] at the last turn (the task revokes every partition as it ends).
    pub held: (usize, Option<i32>),
}

/// One partition's latest forecast (for the submission files).
struct Latest {
    series: Vec<SeriesMeta>,
    points: Vec<Vec<f32>>,
    /// `[series][quantile][day]`, as in the records.
    bottom: Vec<Vec<Vec<f32>>>,
}

pub(crate) struct Forecaster {
    pub topics: Topics,
    pub outputs: Outputs,
    pub horizon: usize,
    pub once: bool,
    pub model: Arc<dyn Model>,
    pub inputs: Option<Arc<Inputs>>,
    pub sales: Deserializer<SalesRecord>,
    pub out_schema: Serializer<SalesForecast>,
    pub done: Arc<tokio::sync::Notify>,
    pub counts: Counts,
    parts: BTreeMap<i32, PartitionHistory>,
    latest: BTreeMap<i32, Latest>,
    /// Partitions forecast in this run (with `once`, each assigned one is forecast once).
    forecast_this_run: BTreeSet<i32>,
}

impl Forecaster {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        topics: Topics,
        outputs: Outputs,
        horizon: usize,
        once: bool,
        model: Arc<dyn Model>,
        inputs: Option<Arc<Inputs>>,
        sales: Deserializer<SalesRecord>,
        out_schema: Serializer<SalesForecast>,
    ) -> Self {
        Self {
            topics,
            outputs,
            horizon,
            once,
            model,
            inputs,
            sales,
            out_schema,
            done: Arc::new(tokio::sync::Notify::new()),
            counts: Counts::default(),
            parts: BTreeMap::new(),
            latest: BTreeMap::new(),
            forecast_this_run: BTreeSet::new(),
        }
    }

    /// Series held (assigned partitions) and the latest closed day over them.
    pub fn held(&self) -> (usize, Option<i32>) {
        let series = self.parts.values().map(PartitionHistory::len).sum();
        let closed = self.parts.values().map(PartitionHistory::closed).max();
        (series, closed.filter(|&d| d > 0))
    }

    fn dead_letter(&mut self, rec: &Record, why: &str, out: &mut Vec<ProduceRecord>) {
        tracing::warn!(
            topic = %rec.topic, partition = rec.partition, offset = rec.offset,
            "sales record to the dead-letter topic: {why}"
        );
        out.push(DeadLetter::of_record(&self.topics.dlq, rec, why).build());
        self.counts.skipped += 1;
    }

    fn report(&mut self, gap: &Gap, out: &mut Vec<ProduceRecord>) {
        let shown: Vec<&str> = gap.missing.iter().take(5).map(String::as_str).collect();
        tracing::warn!(
            partition = gap.partition,
            day = gap.day,
            missing = gap.missing.len(),
            expected = gap.expected,
            "day closed with series missing (a later day is complete); e.g. {shown:?}"
        );
        metrics::counter!("aisle_forecast_missing_series_total")
            .increment(gap.missing.len() as u64);
        let value = serde_json::json!({
            "partition": gap.partition,
            "day": gap.day,
            "expected": gap.expected,
            "missing": gap.missing,
        });
        out.push(
            ProduceRecord::new(&self.topics.gaps)
                .key(format!("d_{}/p{}", gap.day, gap.partition).into_bytes())
                .value(value.to_string().into_bytes()),
        );
        self.counts.gaps += 1;
    }

    /// Forecasts partition `p` through its closed day; publishes unless it was already
    /// published through that day (a `once` rerun only recomputes for the files).
    async fn forecast(
        &mut self,
        p: i32,
        out: &mut Vec<ProduceRecord>,
    ) -> aisle_streams::Result<()> {
        let Some(h) = self.parts.get(&p) else {
            return Ok(());
        };
        let through = h.closed();
        let publish = h.needs_forecast();
        let (panel, stream_prices) = h.panel(through);
        let (model, inputs, horizon) = (self.model.clone(), self.inputs.clone(), self.horizon);
        let started = tokio::time::Instant::now();
        let (panel, points, bottom) = tokio::task::spawn_blocking(move || {
            let own;
            let inputs: &Inputs = match &inputs {
                Some(i) => i,
                None => {
                    own = inputs_from_stream(through, horizon, &stream_prices);
                    &own
                }
            };
            let ctx: Context<'_> = inputs.context(&panel, horizon);
            let f = model.forecast(&ctx);
            // The bottom level's over-dispersion (one refit without the last week).
            let hier = Hierarchy::m5(&panel.series);
            let phi = QuantileModel::default().dispersion(model.as_ref(), &ctx, &hier);
            let bottom = QuantileModel::of_rows(&f, phi.last().copied().unwrap_or_default());
            (panel, f, bottom)
        })
        .await
        .map_err(|e| StreamsError::Processor(format!("forecast task failed: {e}")))?;
        tracing::info!(
            partition = p,
            series = panel.series.len(),
            through,
            publish,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "forecasts computed"
        );
        if publish {
            let now = aisle_log::now_ms();
            let name = self.model.name();
            for ((m, f), q) in panel.series.iter().zip(&points).zip(bottom.clone()) {
                let event = SalesForecast {
                    id: m.id.clone(),
                    item_id: m.item_id.clone(),
                    store_id: m.store_id.clone(),
                    first_day: through + 1,
                    forecast: f.clone(),
                    model: name.clone(),
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
                self.out_schema
                    .serialize_into(&event, &mut value)
                    .map_err(|e| StreamsError::Processor(format!("encoding {}: {e}", m.id)))?;
                out.push(
                    ProduceRecord::new(&self.topics.forecasts)
                        .key(m.id.clone().into_bytes())
                        .value(value)
                        .timestamp(now),
                );
            }
            self.counts.published += panel.series.len() as u64;
            self.counts.rounds += 1;
            if let Some(h) = self.parts.get_mut(&p) {
                h.set_forecast_day(through);
            }
        }
        self.latest.insert(
            p,
            Latest {
                series: panel.series,
                points,
                bottom,
            },
        );
        self.forecast_this_run.insert(p);
        Ok(())
    }

    /// Writes the submission files from the latest forecast of every assigned partition.
    fn write_files(&self) -> aisle_streams::Result<()> {
        if self.outputs.submission.is_none() && self.outputs.quantile_submission.is_none() {
            return Ok(());
        }
        let mut rows: Vec<(&SeriesMeta, &Vec<f32>)> = self
            .latest
            .values()
            .flat_map(|l| l.series.iter().zip(&l.points))
            .collect();
        rows.sort_by_key(|(m, _)| kaggle_order(m));
        let fail = |e: crate::ForecastError| StreamsError::Processor(e.to_string());
        if let Some(path) = &self.outputs.submission {
            let ids: Vec<&str> = rows.iter().map(|(m, _)| m.id.as_str()).collect();
            let map: submission::Forecasts = rows
                .iter()
                .map(|(m, f)| (m.id.clone(), (*f).clone()))
                .collect();
            submission::write(path, &ids, &map, self.horizon, "evaluation").map_err(fail)?;
        }
        if let Some(path) = &self.outputs.quantile_submission {
            // Every level's quantiles need the whole panel: the dispersions are measured on
            // the union of the partitions (one refit without the last week).
            let by_id: HashMap<&str, &Vec<f32>> =
                rows.iter().map(|(m, f)| (m.id.as_str(), *f)).collect();
            let through = self
                .parts
                .values()
                .map(PartitionHistory::closed)
                .max()
                .unwrap_or(0);
            let parts: Vec<_> = self.parts.values().map(|h| h.panel(through)).collect();
            let first_day = parts.iter().map(|(p, _)| p.first_day).min().unwrap_or(1);
            let days = (through - first_day + 1).max(0) as usize;
            let mut union: Vec<(SeriesMeta, Vec<f32>)> = Vec::new();
            let mut prices = Vec::new();
            for (p, pr) in parts {
                let pad = (p.first_day - first_day) as usize;
                for (m, v) in p.series.into_iter().zip(p.values) {
                    if by_id.contains_key(m.id.as_str()) {
                        let mut row = vec![0.0; pad];
                        row.extend(v);
                        row.resize(days, 0.0);
                        union.push((m, row));
                    }
                }
                prices.extend(pr);
            }
            union.sort_by_key(|(m, _)| kaggle_order(m));
            let points: Vec<Vec<f32>> = union
                .iter()
                .filter_map(|(m, _)| by_id.get(m.id.as_str()).map(|f| (*f).clone()))
                .collect();
            let (series, values) = union.into_iter().unzip();
            let panel = SalesPanel {
                series,
                first_day,
                values,
            };
            let own;
            let inputs: &Inputs = match &self.inputs {
                Some(i) => i,
                None => {
                    own = inputs_from_stream(through, self.horizon, &prices);
                    &own
                }
            };
            let ctx = inputs.context(&panel, self.horizon);
            let h = Hierarchy::m5(&panel.series);
            let phi = QuantileModel::default().dispersion(self.model.as_ref(), &ctx, &h);
            let mut levels = QuantileModel::from_points(&h, &points, &phi);
            // The bottom level is what the records carry (each partition's own dispersion).
            let bottom: HashMap<&str, &Vec<Vec<f32>>> = self
                .latest
                .values()
                .flat_map(|l| l.series.iter().map(|m| m.id.as_str()).zip(&l.bottom))
                .collect();
            if let Some(last) = levels.last_mut() {
                *last = panel
                    .series
                    .iter()
                    .filter_map(|m| bottom.get(m.id.as_str()).map(|q| (*q).clone()))
                    .collect();
            }
            submission::write_quantiles(path, &h, &levels, self.horizon, "evaluation")
                .map_err(fail)?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Processor for Forecaster {
    async fn assigned(
        &mut self,
        log: &dyn Log,
        partitions: &[TopicPartition],
    ) -> aisle_streams::Result<()> {
        for tp in partitions.iter().filter(|tp| tp.topic == self.topics.sales) {
            let changelog = TopicPartition::new(&self.topics.changelog, tp.partition);
            let mut h = PartitionHistory::new(changelog.clone());
            let mut bad = None;
            let n = aisle_streams::read::read_to_end(
                log,
                std::slice::from_ref(&changelog),
                "aisle-forecast-restore",
                |rec| {
                    if bad.is_none() {
                        bad = h.apply_changelog(&rec).err();
                    }
                    Ok(())
                },
            )
            .await?;
            if let Some(reason) = bad {
                return Err(StreamsError::State {
                    store: changelog.to_string(),
                    reason,
                });
            }
            h.finish_restore();
            tracing::info!(
                partition = tp.partition,
                changelog_records = n,
                series = h.len(),
                closed = h.closed(),
                forecast = h.forecast_day(),
                "partition history restored"
            );
            self.parts.insert(tp.partition, h);
        }
        Ok(())
    }

    fn revoked(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.parts.remove(&tp.partition);
            self.latest.remove(&tp.partition);
            self.forecast_this_run.remove(&tp.partition);
        }
    }

    async fn process(
        &mut self,
        records: &[Record],
        out: &mut Vec<ProduceRecord>,
    ) -> aisle_streams::Result<()> {
        let mut touched = BTreeSet::new();
        for rec in records {
            match decode(rec, &self.sales).await? {
                Ok(s) => {
                    let result = match self.parts.get_mut(&rec.partition) {
                        Some(h) => h.record(&s),
                        None => continue,
                    };
                    match result {
                        Ok(()) => self.counts.records += 1,
                        Err(why) => self.dead_letter(rec, &why, out),
                    }
                    touched.insert(rec.partition);
                }
                Err(why) => self.dead_letter(rec, &why, out),
            }
        }
        for p in touched {
            let gaps = self.parts.get_mut(&p).map(PartitionHistory::advance);
            for gap in gaps.unwrap_or_default() {
                self.report(&gap, out);
            }
        }
        Ok(())
    }

    async fn punctuate(
        &mut self,
        turn: Turn<'_>,
        out: &mut Vec<ProduceRecord>,
    ) -> aisle_streams::Result<()> {
        self.counts.held = self.held();
        if !turn.caught_up || turn.assigned.is_empty() {
            return Ok(());
        }
        let due: Vec<i32> = self
            .parts
            .iter()
            .filter(|(p, h)| {
                h.needs_forecast()
                    || (self.once && h.closed() > 0 && !self.forecast_this_run.contains(*p))
            })
            .map(|(p, _)| *p)
            .collect();
        for &p in &due {
            self.forecast(p, out).await?;
        }
        if !due.is_empty() {
            self.write_files()?;
        }
        self.counts.held = self.held();
        if self.once {
            self.done.notify_one();
        }
        Ok(())
    }

    fn drain_state(&mut self) -> aisle_streams::Result<Vec<ProduceRecord>> {
        let mut out = Vec::new();
        for h in self.parts.values_mut() {
            let store = h.partition();
            out.extend(h.drain_changes().map_err(|reason| StreamsError::State {
                store: format!("forecast history {store}"),
                reason,
            })?);
        }
        Ok(out)
    }
}

/// The sales record in `rec`: `Ok(Err(why))` for a bad record (dead letter), `Err` when the
/// registry cannot be asked (the task restarts after a pause; the record is not bad).
async fn decode(
    rec: &Record,
    sales: &Deserializer<SalesRecord>,
) -> aisle_streams::Result<Result<SalesRecord, String>> {
    let Some(value) = rec.value.as_deref() else {
        return Ok(Err("tombstone: a sales record needs a value".into()));
    };
    let unavailable = |e: DecodeError| {
        StreamsError::Unavailable(format!(
            "{}/{}@{}: {e}",
            rec.topic, rec.partition, rec.offset
        ))
    };
    sales.prepare(value).await.map_err(unavailable)?;
    match sales.decode(value) {
        Ok(s) => Ok(Ok(s)),
        Err(DecodeError::Bad(why)) => Ok(Err(why)),
        Err(e) => Err(unavailable(e)),
    }
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
