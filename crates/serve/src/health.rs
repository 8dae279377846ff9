//! Pipeline health: per-topic record counts and rates, dead-letter counts, consumer lag, and
//! records the server could not decode. Sampled from the log's watermarks every few seconds.
//!
//! Lag is known for the server's own tail (component `serve`) and for the consumer groups it is
//! told about (`groups`): their committed offsets, read through a consumer of that group that
//! never joins it ([`Consumer::committed`] works on both runtimes). Components that read by
//! manual assignment without committing (the forecaster keeps its positions in its snapshot)
//! have no lag the log can tell.

use crate::Topics;
use crate::state::{Kind, State};
use aisle_log::{Consumer, ConsumerConfig, Log, TopicPartition};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::time::Instant;

/// One topic.
#[derive(Debug, Clone, Serialize)]
struct TopicStat {
    topic: String,
    partitions: i32,
    /// Records retained (high - low watermarks, summed).
    records: i64,
    /// Records appended per second, smoothed over the last samples.
    rate: f64,
    /// The component that writes it, when it is one of Aisle's topics.
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<&'static str>,
}

/// Lag of one consumer on one partition.
#[derive(Debug, Clone, Serialize)]
struct Lag {
    group: String,
    topic: String,
    partition: i32,
    lag: i64,
}

/// Records the server could not decode, per topic.
#[derive(Debug, Clone, Default, Serialize)]
struct DecodeErrors {
    count: u64,
    last: String,
}

/// The health view.
#[derive(Debug, Default)]
pub struct Health {
    topics: Vec<TopicStat>,
    lag: Vec<Lag>,
    errors: BTreeMap<String, DecodeErrors>,
    /// The tail's next offset per partition, reported by the tailer.
    pub tail_positions: HashMap<TopicPartition, i64>,
    sampled_at: i64,
}

impl Health {
    /// Counts a record the server could not decode.
    pub fn decode_error(&mut self, topic: &str, reason: String) {
        let e = self.errors.entry(topic.to_string()).or_default();
        e.count += 1;
        e.last = reason;
    }

    /// `{"runtime", "sampled_at", "topics", "dlq", "lag", "decode_errors"}`.
    pub fn to_json(&self, runtime: &str) -> serde_json::Value {
        let (dlq, topics): (Vec<&TopicStat>, Vec<&TopicStat>) =
            self.topics.iter().partition(|t| t.topic.ends_with(".dlq"));
        let dlq: Vec<_> = dlq
            .iter()
            .map(|t| serde_json::json!({"topic": t.topic, "records": t.records}))
            .collect();
        let errors: Vec<_> = self
            .errors
            .iter()
            .map(|(t, e)| serde_json::json!({"topic": t, "count": e.count, "last": e.last}))
            .collect();
        serde_json::json!({
            "runtime": runtime,
            "sampled_at": self.sampled_at,
            "topics": topics,
            "dlq": dlq,
            "lag": self.lag,
            "decode_errors": errors,
        })
    }
}

/// Samples the log and updates the health view and the gauges; keeps what it needs between
/// samples (previous ends for rates, one consumer per watched group).
pub struct Sampler {
    log: Arc<dyn Log>,
    topics: Topics,
    groups: Vec<String>,
    consumers: HashMap<String, Box<dyn Consumer>>,
    prev: HashMap<String, (i64, Instant, f64)>,
}

impl Sampler {
    /// A sampler watching `groups`' committed offsets.
    pub fn new(log: Arc<dyn Log>, topics: Topics, groups: Vec<String>) -> Self {
        Sampler {
            log,
            topics,
            groups,
            consumers: HashMap::new(),
            prev: HashMap::new(),
        }
    }

    /// One sample. Errors are logged and leave the previous view in place.
    pub async fn sample(&mut self, state: &State) {
        if let Err(e) = self.try_sample(state).await {
            metrics::counter!("aisle_errors_total", "component" => "serve", "kind" => "health")
                .increment(1);
            tracing::warn!(error = %e, "health sample failed");
        }
    }

    async fn try_sample(&mut self, state: &State) -> aisle_log::Result<()> {
        let now = Instant::now();
        let infos = self.log.list_topics().await?;
        let mut stats = Vec::new();
        let mut ends: HashMap<TopicPartition, i64> = HashMap::new();
        for info in infos.iter().filter(|t| !t.name.starts_with('_')) {
            let (mut records, mut end) = (0, 0);
            for p in 0..info.partitions {
                let tp = TopicPartition::new(info.name.clone(), p);
                let (low, high) = self.log.watermarks(&tp).await?;
                records += high - low;
                end += high;
                ends.insert(tp, high);
            }
            let rate = match self.prev.get(&info.name) {
                Some((prev_end, at, prev_rate)) => {
                    let dt = now.duration_since(*at).as_secs_f64().max(1e-3);
                    let r = (end - prev_end).max(0) as f64 / dt;
                    0.5 * r + 0.5 * prev_rate
                }
                None => 0.0,
            };
            self.prev.insert(info.name.clone(), (end, now, rate));
            let labels = [("topic", info.name.clone())];
            metrics::gauge!("aisle_topic_records", &labels).set(records as f64);
            metrics::gauge!("aisle_topic_end_offset", &labels).set(end as f64);
            if info.name.ends_with(".dlq") {
                metrics::gauge!("aisle_dlq_records", &labels).set(records as f64);
            }
            stats.push(TopicStat {
                topic: info.name.clone(),
                partitions: info.partitions,
                records,
                rate,
                component: self.topics.component_of(&info.name),
            });
        }
        let mut lag = Vec::new();
        let tail = state.views.read().health.tail_positions.clone();
        let mut tail: Vec<_> = tail.into_iter().collect();
        tail.sort();
        for (tp, pos) in tail {
            if let Some(high) = ends.get(&tp) {
                let l = (high - pos).max(0);
                metrics::gauge!("aisle_consumer_lag", "component" => "serve",
                    "topic" => tp.topic.clone(), "partition" => tp.partition.to_string())
                .set(l as f64);
                lag.push(Lag {
                    group: "serve".into(),
                    topic: tp.topic,
                    partition: tp.partition,
                    lag: l,
                });
            }
        }
        lag.extend(self.group_lag(&ends).await);
        let mut v = state.views.write();
        v.health.topics = stats;
        v.health.lag = lag;
        v.health.sampled_at = now_ms();
        drop(v);
        state.bump(Kind::Health);
        Ok(())
    }

    /// Committed-offset lag of the watched groups, where they have committed something.
    async fn group_lag(&mut self, ends: &HashMap<TopicPartition, i64>) -> Vec<Lag> {
        let mut tps: Vec<TopicPartition> = ends
            .keys()
            .filter(|tp| !tp.topic.ends_with(".dlq"))
            .cloned()
            .collect();
        tps.sort();
        let mut out = Vec::new();
        for group in self.groups.clone() {
            if !self.consumers.contains_key(&group) {
                let mut cfg = ConsumerConfig::group(group.clone());
                cfg.client_id = "aisle-serve-lag".into();
                match self.log.consumer(&cfg) {
                    Ok(c) => {
                        self.consumers.insert(group.clone(), c);
                    }
                    Err(e) => {
                        tracing::warn!(%group, error = %e, "no lag consumer");
                        continue;
                    }
                }
            }
            let Some(c) = self.consumers.get(&group) else {
                continue;
            };
            let committed = match c.committed(&tps).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(%group, error = %e, "committed offsets unavailable");
                    continue;
                }
            };
            for (tp, off) in tps.iter().zip(committed) {
                let (Some(off), Some(high)) = (off, ends.get(tp)) else {
                    continue;
                };
                let l = (high - off).max(0);
                metrics::gauge!("aisle_group_lag", "group" => group.clone(),
                    "topic" => tp.topic.clone(), "partition" => tp.partition.to_string())
                .set(l as f64);
                out.push(Lag {
                    group: group.clone(),
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    lag: l,
                });
            }
        }
        out
    }
}

/// Wall-clock ms since the Unix epoch.
pub fn now_ms() -> i64 {
    aisle_log::now_ms()
}
