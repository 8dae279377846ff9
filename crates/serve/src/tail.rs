//! The tailer: one consumer, by manual assignment (no group, nothing committed), reading every
//! watched topic from its beginning and folding each record into the views.
//!
//! Topics that do not exist yet (a component not started) are picked up when they appear: the
//! assignment is refreshed every few seconds, keeping the position of partitions already read.
//! Values are Confluent-framed Avro, read through [`aisle_serde::Deserializer`]s (writer schema
//! from the registry by id, cached; older or newer writer versions resolved). A record that cannot be
//! decoded is counted in the health view and the `aisle_errors_total` metric and skipped: the
//! server only reads, so it leaves dead-lettering to the components that own the topics.

use crate::Topics;
use crate::state::{Kind, State};
use aisle_events::{
    Event, GreenLightSpecial, Inventory, SalesForecast, SalesRecord, WindowedItem, wire,
};
use aisle_log::{ConsumerConfig, Log, Offset, Record, TopicPartition};
use aisle_registry::SchemaRegistry;
use aisle_serde::{DecodeError, Deserializer};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often the tailer looks for new topics and partitions.
const REFRESH: Duration = Duration::from_secs(2);
/// Longest wait in one poll.
const POLL: Duration = Duration::from_millis(300);

/// Reads the watched topics into `state` until `stop` turns true.
pub async fn run(
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    state: Arc<State>,
    topics: Topics,
    mut stop: watch::Receiver<bool>,
) {
    let config = ConsumerConfig {
        client_id: "aisle-serve".into(),
        ..Default::default()
    };
    let mut consumer = match log.consumer(&config) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "serve: cannot create the tail consumer");
            return;
        }
    };
    let mut decoder = Decoder::new(registry);
    let mut assigned: BTreeSet<TopicPartition> = BTreeSet::new();
    let mut refreshed: Option<Instant> = None;
    let (started, mut read, mut caught_up) = (Instant::now(), 0u64, false);
    while !*stop.borrow() {
        if refreshed.is_none_or(|t| t.elapsed() >= REFRESH) {
            refreshed = Some(Instant::now());
            match wanted(log.as_ref(), &topics).await {
                Ok(want) if want != assigned => {
                    let plan: Vec<_> = want
                        .iter()
                        .map(|tp| {
                            let at = consumer.position(tp).map_or(Offset::Beginning, Offset::At);
                            (tp.clone(), at)
                        })
                        .collect();
                    match consumer.assign(&plan) {
                        Ok(()) => {
                            tracing::info!(partitions = plan.len(), "serve: tailing");
                            assigned = want;
                        }
                        Err(e) => tracing::warn!(error = %e, "serve: assign failed"),
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "serve: cannot list topics"),
            }
        }
        if assigned.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {},
                _ = stop.changed() => {},
            }
            continue;
        }
        let batch = tokio::select! {
            b = consumer.poll(POLL) => b,
            _ = stop.changed() => break,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                metrics::counter!("aisle_errors_total", "component" => "serve", "kind" => "log")
                    .increment(1);
                tracing::warn!(error = %e, "serve: poll failed");
                tokio::time::sleep(POLL).await;
                continue;
            }
        };
        read += batch.len() as u64;
        if !caught_up && consumer.is_caught_up() {
            caught_up = true;
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(records = read, secs, "serve: caught up with the topics");
        }
        if batch.is_empty() {
            continue;
        }
        let batch_started = Instant::now();
        decoder.fetch_schemas(&topics, &batch).await;
        let changed = decoder.apply(&state, &topics, &batch);
        let positions: HashMap<_, _> = assigned
            .iter()
            .filter_map(|tp| consumer.position(tp).map(|p| (tp.clone(), p)))
            .collect();
        state.views.write().health.tail_positions = positions;
        for kind in changed {
            state.bump(kind);
        }
        metrics::histogram!("aisle_processing_seconds", "component" => "serve")
            .record(batch_started.elapsed().as_secs_f64());
    }
}

/// Every partition of the watched topics that exist now.
async fn wanted(log: &dyn Log, topics: &Topics) -> aisle_log::Result<BTreeSet<TopicPartition>> {
    let watched = topics.watched();
    Ok(log
        .list_topics()
        .await?
        .into_iter()
        .filter(|t| watched.contains(&t.name.as_str()))
        .flat_map(|t| (0..t.partitions).map(move |p| TopicPartition::new(t.name.clone(), p)))
        .collect())
}

/// A deserializer per value type (writer schemas from the registry by id, cached), and the
/// fold of records into views.
struct Decoder {
    specials: Deserializer<GreenLightSpecial>,
    windows: Deserializer<WindowedItem>,
    inventory: Deserializer<Inventory>,
    sales: Deserializer<SalesRecord>,
    forecasts: Deserializer<SalesForecast>,
    /// Why the registry could not be asked about an id in this batch.
    unavailable: HashMap<u32, String>,
}

impl Decoder {
    fn new(registry: Arc<dyn SchemaRegistry>) -> Self {
        Decoder {
            specials: Deserializer::new(registry.clone()),
            windows: Deserializer::new(registry.clone()),
            inventory: Deserializer::new(registry.clone()),
            sales: Deserializer::new(registry.clone()),
            forecasts: Deserializer::new(registry),
            unavailable: HashMap::new(),
        }
    }

    /// Looks up the schema ids of the batch not seen before (outside the views' lock).
    async fn fetch_schemas(&mut self, topics: &Topics, batch: &[Record]) {
        self.unavailable.clear();
        for r in batch {
            let Some(v) = r.value.as_deref() else {
                continue;
            };
            let t = r.topic.as_str();
            let got = if t == topics.specials {
                self.specials.prepare(v).await
            } else if t == topics.windows {
                self.windows.prepare(v).await
            } else if t == topics.inventory {
                self.inventory.prepare(v).await
            } else if t == topics.sales {
                self.sales.prepare(v).await
            } else if t == topics.forecasts {
                self.forecasts.prepare(v).await
            } else {
                Ok(())
            };
            if let (Err(e), Ok((id, _))) = (got, wire::split(v)) {
                self.unavailable.insert(id, e.to_string());
            }
        }
    }

    /// Folds the batch into the views; returns the views that changed.
    fn apply(&self, state: &State, topics: &Topics, batch: &[Record]) -> BTreeSet<Kind> {
        let mut changed = BTreeSet::new();
        // Counted per topic per batch: a labelled counter lookup per record costs more than
        // decoding the record.
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for r in batch {
            *counts.entry(r.topic.as_str()).or_default() += 1;
        }
        for (topic, n) in counts {
            metrics::counter!("aisle_records_in_total", "component" => "serve",
                "topic" => topic.to_string())
            .increment(n);
        }
        let mut v = state.views.write();
        for r in batch {
            let key = r
                .key
                .as_ref()
                .map(|k| String::from_utf8_lossy(k).into_owned());
            let t = r.topic.as_str();
            let Some(value) = &r.value else {
                // Tombstones: the tables forget the key; other topics have none to forget.
                if let Some(k) = key {
                    if t == topics.inventory {
                        v.inventory.delete(&k);
                        changed.insert(Kind::Inventory);
                    } else if t == topics.forecasts {
                        v.sales.delete_forecast(&k);
                        changed.insert(Kind::Forecasts);
                    }
                }
                continue;
            };
            let result = if t == topics.specials {
                self.decode(&self.specials, value)
                    .map(|s| v.specials.apply(s))
                    .map(|()| Kind::Specials)
            } else if t == topics.windows {
                self.decode(&self.windows, value)
                    .map(|w| v.windows.apply(w))
                    .map(|()| Kind::Windows)
            } else if t == topics.inventory {
                self.decode(&self.inventory, value).map(|row| {
                    let k = key.or_else(|| row.name.clone()).unwrap_or_default();
                    v.inventory.upsert(k, row, r.offset);
                    Kind::Inventory
                })
            } else if t == topics.sales {
                self.decode(&self.sales, value).map(|s| {
                    v.sales.apply_sale(&s);
                    // New actuals move the forecast-vs-actual chart and the scores too.
                    if v.sales.forecast_count() > 0 {
                        changed.insert(Kind::Forecasts);
                    }
                    Kind::Sales
                })
            } else if t == topics.forecasts {
                self.decode(&self.forecasts, value)
                    .map(|f| v.sales.apply_forecast(f))
                    .map(|()| Kind::Forecasts)
            } else {
                continue;
            };
            match result {
                Ok(kind) => {
                    changed.insert(kind);
                }
                Err(reason) => {
                    metrics::counter!("aisle_errors_total", "component" => "serve",
                        "kind" => "decode")
                    .increment(1);
                    let reason = format!("{}/{}@{}: {reason}", r.topic, r.partition, r.offset);
                    tracing::debug!(%reason, "serve: undecodable record skipped");
                    v.health.decode_error(t, reason);
                    changed.insert(Kind::Health);
                }
            }
        }
        changed
    }

    /// One framed value, resolved from its writer schema to `T`'s.
    fn decode<T: Event>(&self, de: &Deserializer<T>, value: &[u8]) -> Result<T, String> {
        de.decode(value).map_err(|e| match e {
            DecodeError::Unavailable(_) => wire::split(value)
                .ok()
                .and_then(|(id, _)| self.unavailable.get(&id).cloned())
                .unwrap_or_else(|| e.to_string()),
            DecodeError::Bad(why) => why,
        })
    }
}
