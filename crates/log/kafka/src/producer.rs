//! [`KafkaProducer`]: idempotent, acks=all, Java-compatible key placement, no per-record waits.
//!
//! # Settings and why
//! * `enable.idempotence=true`, `acks=all`: the log contract says retries never duplicate a
//!   record and a delivery means "durable on every in-sync replica".
//! * `partitioner=murmur2_random`: Java's murmur2 for keyed records (librdkafka's default is
//!   CRC32, which would put keys elsewhere than a Java producer and the embedded runtime do).
//! * `linger.ms` from [`ProducerConfig::linger`] (default 5 ms): batching is where Kafka's
//!   throughput comes from; 5 ms costs little latency next to the broker's own fsync-free append.
//! * `batch.num.messages=10000`, `batch.size=1000000`: a partition batch holds ~5,000 records of
//!   200 bytes, so batches are cut by linger, not by count.
//! * `queue.buffering.max.messages=1000000`: room for ~1 s of records at full speed, so a
//!   producer rarely hits `QueueFull`; when it does, `send` waits (that is the back-pressure).
//! * `compression.type=lz4`: the cheapest codec on CPU; Avro records compress well, so the broker
//!   writes and replicates fewer bytes. On the shared 2-core dev box lz4 and none measured within
//!   noise of each other (`examples/produce_bench.rs`); override with `compression.type`.

use crate::{KafkaConfig, apply_properties, base_config, blocking, error};
use aisle_log::{
    DeliveryFuture, LogError, ProduceRecord, Producer, ProducerConfig, RecordMeta, Result,
};
use async_trait::async_trait;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use std::time::Duration;

/// How long `send` sleeps when librdkafka's queue is full before trying again. Short: the queue
/// drains at tens of thousands of records per millisecond-ish batch.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(1);

/// The librdkafka producer settings for `config` (see the module docs for the reasons).
pub(crate) fn client_config(log: &KafkaConfig, config: &ProducerConfig) -> ClientConfig {
    let mut c = base_config(log);
    c.set("client.id", &config.client_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", config.linger.as_millis().to_string())
        .set("batch.num.messages", "10000")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("compression.type", "lz4");
    apply_properties(&mut c, log, &config.properties);
    c
}

/// A Kafka producer shared between tasks (`Arc<dyn Producer>`).
#[derive(Clone)]
pub struct KafkaProducer {
    producer: FutureProducer,
}

impl std::fmt::Debug for KafkaProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KafkaProducer")
    }
}

impl KafkaProducer {
    /// A producer with [`client_config`]'s settings.
    pub(crate) fn new(log: &KafkaConfig, config: &ProducerConfig) -> Result<Self> {
        let producer = client_config(log, config)
            .create()
            .map_err(|e| error::map(&format!("producer for {}", log.bootstrap), e))?;
        Ok(KafkaProducer { producer })
    }

    /// The underlying rdkafka producer.
    pub fn rdkafka(&self) -> &FutureProducer {
        &self.producer
    }
}

/// Enqueues `record` on `producer`, waiting while the queue is full; returns rdkafka's
/// delivery future. Shared with the transactional producer.
pub(crate) async fn enqueue(
    producer: &FutureProducer,
    record: &ProduceRecord,
) -> Result<rdkafka::producer::DeliveryFuture> {
    let headers = (!record.headers.is_empty()).then(|| {
        record.headers.iter().fold(
            OwnedHeaders::new_with_capacity(record.headers.len()),
            |h, x| {
                h.insert(Header {
                    key: &x.key,
                    value: Some(x.value.as_ref()),
                })
            },
        )
    });
    let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord {
        topic: &record.topic,
        partition: record.partition,
        payload: record.value.as_deref(),
        key: record.key.as_deref(),
        timestamp: record.timestamp,
        headers,
    };
    loop {
        match producer.send_result(rec) {
            Ok(fut) => return Ok(fut),
            Err((KafkaError::MessageProduction(Code::QueueFull), back)) => {
                rec = back;
                tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
            }
            Err((e, _)) => return Err(produce_error(&record.topic, record.partition, e)),
        }
    }
}

/// Maps a produce failure, naming the topic (and partition if known).
fn produce_error(topic: &str, partition: Option<i32>, e: KafkaError) -> LogError {
    match e.rdkafka_error_code() {
        Some(Code::UnknownTopic | Code::UnknownTopicOrPartition) => {
            LogError::UnknownTopic(topic.into())
        }
        _ => {
            let target = match partition {
                Some(p) if p >= 0 => format!("{topic}/{p}"),
                _ => format!("`{topic}`"),
            };
            error::map(&format!("produce to {target}"), e)
        }
    }
}

/// Turns rdkafka's delivery future into the log's.
pub(crate) fn delivery(fut: rdkafka::producer::DeliveryFuture) -> DeliveryFuture {
    DeliveryFuture::new(async move {
        match fut.await {
            Ok(Ok(d)) => Ok(RecordMeta {
                partition: d.partition,
                offset: d.offset,
                timestamp: d.timestamp.to_millis().unwrap_or(-1),
            }),
            Ok(Err((e, msg))) => Err(produce_error(msg.topic(), Some(msg.partition()), e)),
            // The producer was dropped with the record still queued.
            Err(_canceled) => Err(LogError::Closed),
        }
    })
}

#[async_trait]
impl Producer for KafkaProducer {
    async fn send(&self, record: ProduceRecord) -> Result<DeliveryFuture> {
        Ok(delivery(enqueue(&self.producer, &record).await?))
    }

    async fn flush(&self, timeout: Duration) -> Result<()> {
        let producer = self.producer.clone();
        blocking(move || producer.flush(timeout))
            .await?
            .map_err(|e| match e {
                KafkaError::Flush(Code::OperationTimedOut) => LogError::Timeout(format!(
                    "flush: records still undelivered after {} ms",
                    timeout.as_millis()
                )),
                e => error::map("flush", e),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_properties_override_aisle_settings_in_order() {
        let log = KafkaConfig::new("b:1")
            .property("compression.type", "zstd")
            .property("acks", "1");
        let mut pc = ProducerConfig {
            linger: Duration::from_millis(20),
            ..Default::default()
        };
        pc.properties
            .insert("compression.type".into(), "none".into());
        let c = client_config(&log, &pc);
        assert_eq!(c.get("bootstrap.servers"), Some("b:1"));
        assert_eq!(c.get("partitioner"), Some("murmur2_random"));
        assert_eq!(c.get("enable.idempotence"), Some("true"));
        assert_eq!(c.get("linger.ms"), Some("20"));
        // log-wide property beats Aisle's default, the producer's own beats both
        assert_eq!(c.get("acks"), Some("1"));
        assert_eq!(c.get("compression.type"), Some("none"));
    }

    #[test]
    fn unknown_topic_errors_name_the_topic() {
        let e = produce_error(
            "nope",
            None,
            KafkaError::MessageProduction(Code::UnknownTopic),
        );
        assert!(
            matches!(e, LogError::UnknownTopic(ref t) if t == "nope"),
            "{e:?}"
        );
        let e = produce_error(
            "t",
            Some(3),
            KafkaError::MessageProduction(Code::MessageSizeTooLarge),
        );
        assert!(e.to_string().contains("t/3"), "{e}");
    }
}
