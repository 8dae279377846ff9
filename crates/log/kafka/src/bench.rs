//! Produce throughput of raw rdkafka, configured exactly like [`KafkaLog`](crate::KafkaLog)'s
//! producers, and of Aisle's [`Producer`] on the same workload: the baseline that
//! `aisle bench log` and `examples/produce_bench.rs` compare Aisle's produce path against.
//!
//! Both sides send the same records: keys cycling through [`KEYS`] (placed by murmur2), values
//! of a fixed size, no explicit timestamp. A run is timed from the first send until every record
//! is acknowledged (acks=all), each delivery checked; [`Until::Enqueued`] instead stops the
//! clock once librdkafka has taken the last record, which measures the client-side cost per
//! record without broker noise.

use crate::producer::client_config;
use crate::{KafkaConfig, error};
use aisle_log::{LogError, ProduceRecord, Producer, ProducerConfig, Result};
use bytes::Bytes;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};
use rdkafka::message::ToBytes;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// The keys records cycle through: COCO labels of Aisle's seed inventory, as the camera writes.
pub const KEYS: [&str; 7] = [
    "cup",
    "bowl",
    "fork",
    "spoon",
    "sports ball",
    "tennis racket",
    "frisbee",
];

/// Deliveries awaited at most at once; far above what one linger window holds, so the window
/// never throttles, while memory stays bounded for any record count.
const WINDOW: usize = 200_000;

/// How long to sleep when librdkafka's queue is full: the same back-off Aisle's producer uses.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(1);

/// One produce run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawProduce {
    /// Records sent (all of them acknowledged, unless the run was [`Until::Enqueued`]).
    pub records: u64,
    /// Value bytes sent (keys not counted).
    pub bytes: u64,
    /// Seconds from the first send to the last acknowledgement.
    pub secs: f64,
}

impl RawProduce {
    /// Records per second.
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.secs
    }
    /// Value megabytes (10^6) per second.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.secs / 1e6
    }
}

/// When a run stops the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Until {
    /// Every record acknowledged by the broker, each delivery checked.
    #[default]
    Delivered,
    /// librdkafka accepted the last record; nothing is awaited (records still queued are
    /// dropped when the producer is).
    Enqueued,
}

/// The key of record `i`.
pub fn key(i: u64) -> &'static str {
    KEYS[(i % KEYS.len() as u64) as usize]
}

/// A value of `len` bytes (a repeating non-constant pattern, so compression has work to do
/// without collapsing it to nothing).
pub fn value(len: usize) -> Bytes {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Produces `records` keyed records of `value_bytes` to `topic` (which must exist) with a raw
/// rdkafka `FutureProducer` configured exactly as `KafkaLog::producer(&ProducerConfig::default())`
/// is, given `KafkaConfig::properties = properties`; returns the time until all were delivered.
pub async fn raw_produce(
    bootstrap: &str,
    properties: &BTreeMap<String, String>,
    topic: &str,
    records: u64,
    value_bytes: usize,
) -> Result<RawProduce> {
    let mut log = KafkaConfig::new(bootstrap);
    log.properties = properties.clone();
    log.validate()?;
    let settings = client_config(&log, &ProducerConfig::default());
    raw_produce_with(&settings, topic, records, value_bytes, Until::Delivered).await
}

/// [`raw_produce`] with explicit librdkafka `settings` (e.g. from
/// [`KafkaLog::producer_client_config`](crate::KafkaLog::producer_client_config)) and stopping
/// point.
pub async fn raw_produce_with(
    settings: &ClientConfig,
    topic: &str,
    records: u64,
    value_bytes: usize,
    until: Until,
) -> Result<RawProduce> {
    let producer: FutureProducer = settings
        .create()
        .map_err(|e| error::map(&format!("raw bench producer for `{topic}`"), e))?;
    let value = value(value_bytes);
    let start = Instant::now();
    send_all(&producer, topic, records, until, |i| {
        FutureRecord::to(topic).key(key(i)).payload(&value[..])
    })
    .await?;
    Ok(finish(records, value_bytes, start))
}

/// Produces `records` records to `topic` (which must exist) with a raw rdkafka
/// `FutureProducer` configured as [`raw_produce`] is, cycling through `pool`: each record keeps
/// its partition, key, value, timestamp and headers (its own topic is ignored). So a component's
/// own records — e.g. read back from what it wrote — are sent raw, in the same shape.
pub async fn raw_produce_pool(
    bootstrap: &str,
    properties: &BTreeMap<String, String>,
    topic: &str,
    pool: &[ProduceRecord],
    records: u64,
) -> Result<RawProduce> {
    if pool.is_empty() {
        return Err(LogError::InvalidArgument(
            "raw produce: empty record pool".into(),
        ));
    }
    let mut log = KafkaConfig::new(bootstrap);
    log.properties = properties.clone();
    log.validate()?;
    let producer: FutureProducer = client_config(&log, &ProducerConfig::default())
        .create()
        .map_err(|e| error::map(&format!("raw bench producer for `{topic}`"), e))?;
    let bytes: u64 = (0..records)
        .map(|i| {
            pool[(i % pool.len() as u64) as usize]
                .value
                .as_ref()
                .map_or(0, |v| v.len() as u64)
        })
        .sum();
    let start = Instant::now();
    send_all(&producer, topic, records, Until::Delivered, |i| {
        let r = &pool[(i % pool.len() as u64) as usize];
        let headers = (!r.headers.is_empty()).then(|| {
            r.headers.iter().fold(OwnedHeaders::new(), |h, x| {
                h.insert(Header {
                    key: &x.key,
                    value: Some(x.value.as_ref()),
                })
            })
        });
        FutureRecord {
            topic,
            partition: r.partition,
            payload: r.value.as_deref(),
            key: r.key.as_deref(),
            timestamp: r.timestamp,
            headers,
        }
    })
    .await?;
    Ok(RawProduce {
        records,
        bytes,
        secs: start.elapsed().as_secs_f64().max(1e-9),
    })
}

/// Sends `make(0..records)` through `producer`, waiting out a full queue, and (unless
/// [`Until::Enqueued`]) awaits every delivery report, at most [`WINDOW`] outstanding at once.
async fn send_all<'a, K, P>(
    producer: &FutureProducer,
    topic: &str,
    records: u64,
    until: Until,
    mut make: impl FnMut(u64) -> FutureRecord<'a, K, P>,
) -> Result<()>
where
    K: ToBytes + ?Sized + 'a,
    P: ToBytes + ?Sized + 'a,
{
    let mut pending = VecDeque::with_capacity(WINDOW.min(records as usize));
    for i in 0..records {
        let mut rec = make(i);
        let fut = loop {
            match producer.send_result(rec) {
                Ok(f) => break f,
                Err((KafkaError::MessageProduction(Code::QueueFull), back)) => {
                    rec = back;
                    tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                }
                Err((e, _)) => return Err(error::map(&format!("raw produce to `{topic}`"), e)),
            }
        };
        if until == Until::Enqueued {
            continue;
        }
        if pending.len() >= WINDOW {
            raw_delivered(topic, pending.pop_front()).await?;
        }
        pending.push_back(fut);
    }
    while !pending.is_empty() {
        raw_delivered(topic, pending.pop_front()).await?;
    }
    Ok(())
}

/// Awaits one raw delivery, naming the topic if it failed.
async fn raw_delivered(topic: &str, fut: Option<rdkafka::producer::DeliveryFuture>) -> Result<()> {
    match fut {
        None => Ok(()),
        Some(fut) => match fut.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((e, _))) => Err(error::map(&format!("raw delivery to `{topic}`"), e)),
            Err(_canceled) => Err(LogError::Closed),
        },
    }
}

/// The same workload as [`raw_produce_with`] through Aisle's [`Producer`]: one
/// [`ProduceRecord`] and one delivery future per record.
pub async fn aisle_produce(
    producer: &dyn Producer,
    topic: &str,
    records: u64,
    value_bytes: usize,
    until: Until,
) -> Result<RawProduce> {
    let value = value(value_bytes);
    let mut pending = VecDeque::with_capacity(WINDOW.min(records as usize));
    let start = Instant::now();
    for i in 0..records {
        let rec = ProduceRecord::new(topic)
            .key(Bytes::from_static(key(i).as_bytes()))
            .value(value.clone());
        let fut = producer.send(rec).await?;
        if until == Until::Enqueued {
            continue;
        }
        if pending.len() >= WINDOW
            && let Some(oldest) = pending.pop_front()
        {
            oldest.await?;
        }
        pending.push_back(fut);
    }
    for fut in pending {
        fut.await?;
    }
    Ok(finish(records, value_bytes, start))
}

fn finish(records: u64, value_bytes: usize, start: Instant) -> RawProduce {
    RawProduce {
        records,
        bytes: records * value_bytes as u64,
        // Never zero, so rates stay finite even for an empty run.
        secs: start.elapsed().as_secs_f64().max(1e-9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cycle_and_values_have_the_size_asked() {
        assert_eq!(key(0), "cup");
        assert_eq!(key(6), "frisbee");
        assert_eq!(key(7), "cup");
        assert_eq!(value(200).len(), 200);
        assert!(value(0).is_empty());
        let r = RawProduce {
            records: 1000,
            bytes: 200_000,
            secs: 0.5,
        };
        assert_eq!(r.rate(), 2000.0);
        assert_eq!(r.mb_per_s(), 0.4);
    }
}
