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

use crate::topics::TopicCache;
use crate::{KafkaConfig, apply_properties, base_config, blocking, error};
use aisle_log::{
    BatchDelivery, DeliveryFuture, LogError, ProduceRecord, Producer, ProducerConfig, RecordMeta,
    Result,
};
use async_trait::async_trait;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
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
    sender: Arc<Sender>,
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
        Ok(KafkaProducer {
            sender: Arc::new(Sender::new(producer, log)),
        })
    }

    /// The underlying rdkafka producer.
    pub fn rdkafka(&self) -> &FutureProducer {
        &self.sender.producer
    }
}

/// An rdkafka producer and what it knows about topics: the enqueue path both the plain and the
/// transactional producer share.
pub(crate) struct Sender {
    pub(crate) producer: FutureProducer,
    topics: TopicCache,
}

impl Sender {
    pub(crate) fn new(producer: FutureProducer, log: &KafkaConfig) -> Self {
        Sender {
            producer,
            topics: TopicCache::new(log.operation_timeout()),
        }
    }

    /// Checks the record's topic and partition (see [`TopicCache`]), then enqueues it, waiting
    /// while librdkafka's queue is full; returns rdkafka's delivery future.
    ///
    /// This runs once per record inside the boxed future of `Producer::send`, so the common
    /// case stays synchronous and small: the metadata look-up and the queue-full wait are
    /// boxed slow paths, which keeps their state (~500 bytes) out of every record's allocation.
    pub(crate) async fn enqueue(
        &self,
        record: &ProduceRecord,
    ) -> Result<rdkafka::producer::DeliveryFuture> {
        if !self.topics.cached_ok(&record.topic, record.partition) {
            self.check_boxed(record).await?;
        }
        self.enqueue_checked(record).await
    }

    /// [`Sender::enqueue`] for a record whose topic and partition were just checked.
    pub(crate) async fn enqueue_checked(
        &self,
        record: &ProduceRecord,
    ) -> Result<rdkafka::producer::DeliveryFuture> {
        // Not `match … { Err(..) => ….await }`: the returned record would then live across
        // the await and grow this future.
        let first = match self.producer.send_result(future_record(record)) {
            Ok(fut) => return Ok(fut),
            Err((e, _)) => e,
        };
        self.enqueue_slow_boxed(record, first).await
    }

    // The two `_boxed` helpers are plain fns on purpose: a future built inside an `async fn`
    // keeps its full size in the caller's state even once moved into a box.
    fn check_boxed<'a>(
        &'a self,
        record: &'a ProduceRecord,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(
            self.topics
                .check(&self.producer, &record.topic, record.partition),
        )
    }

    fn enqueue_slow_boxed<'a>(
        &'a self,
        record: &'a ProduceRecord,
        first: KafkaError,
    ) -> Pin<Box<dyn Future<Output = Result<rdkafka::producer::DeliveryFuture>> + Send + 'a>> {
        Box::pin(self.enqueue_slow(record, first))
    }

    /// The first attempt failed with `first`: wait out a full queue, or map the error.
    async fn enqueue_slow(
        &self,
        record: &ProduceRecord,
        first: KafkaError,
    ) -> Result<rdkafka::producer::DeliveryFuture> {
        let mut e = first;
        loop {
            if e != KafkaError::MessageProduction(Code::QueueFull) {
                return Err(self.error(&record.topic, record.partition, e).await);
            }
            tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
            match self.producer.send_result(future_record(record)) {
                Ok(fut) => return Ok(fut),
                Err((next, _)) => e = next,
            }
        }
    }

    /// Maps a produce failure like [`produce_error`], except that an unknown partition gets the
    /// topic's current partition count (looked up again: librdkafka knew better than the cache,
    /// e.g. after the topic was recreated smaller).
    async fn error(&self, topic: &str, partition: Option<i32>, e: KafkaError) -> LogError {
        match (e.rdkafka_error_code(), partition) {
            (Some(Code::UnknownPartition), Some(p)) => {
                match self.topics.refresh(&self.producer, topic).await {
                    Ok(partitions) => LogError::UnknownPartition {
                        topic: topic.to_owned(),
                        partition: p,
                        partitions,
                    },
                    Err(lookup) => lookup,
                }
            }
            _ => produce_error(topic, partition, e),
        }
    }
}

/// rdkafka's view of `record`, borrowing its topic, key and value (librdkafka copies them).
fn future_record(record: &ProduceRecord) -> FutureRecord<'_, [u8], [u8]> {
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
    FutureRecord {
        topic: &record.topic,
        partition: record.partition,
        payload: record.value.as_deref(),
        key: record.key.as_deref(),
        timestamp: record.timestamp,
        headers,
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

/// Turns rdkafka's delivery future into the log's. `sender` is kept only to name an unknown
/// partition's count if librdkafka refuses the record after it was enqueued.
fn delivery(sender: Arc<Sender>, fut: rdkafka::producer::DeliveryFuture) -> DeliveryFuture {
    DeliveryFuture::new(async move { delivered(&sender, fut).await })
}

/// Awaits one rdkafka delivery report and maps it to the log's terms.
async fn delivered(sender: &Sender, fut: rdkafka::producer::DeliveryFuture) -> Result<RecordMeta> {
    match fut.await {
        Ok(Ok(d)) => Ok(RecordMeta {
            partition: d.partition,
            offset: d.offset,
            timestamp: d.timestamp.to_millis().unwrap_or(-1),
        }),
        Ok(Err((e, msg))) => {
            let partition = (msg.partition() >= 0).then_some(msg.partition());
            Err(sender.error(msg.topic(), partition, e).await)
        }
        // The producer was dropped with the record still queued.
        Err(_canceled) => Err(LogError::Closed),
    }
}

#[async_trait]
impl Producer for KafkaProducer {
    async fn send(&self, record: ProduceRecord) -> Result<DeliveryFuture> {
        let fut = self.sender.enqueue(&record).await?;
        Ok(delivery(self.sender.clone(), fut))
    }

    /// Enqueues every record inline (no future per record, the topic checked once per run of
    /// records to the same partition) and awaits rdkafka's delivery reports in one future.
    async fn send_batch(&self, records: &[ProduceRecord]) -> Result<BatchDelivery> {
        let mut futs = Vec::with_capacity(records.len());
        let mut checked: Option<(&str, Option<i32>)> = None;
        for record in records {
            let target = (record.topic.as_str(), record.partition);
            let fut = if checked == Some(target) {
                self.sender.enqueue_checked(record).await?
            } else {
                let fut = self.sender.enqueue(record).await?;
                checked = Some(target);
                fut
            };
            futs.push(fut);
        }
        let sender = self.sender.clone();
        Ok(BatchDelivery::new(async move {
            let mut metas = Vec::with_capacity(futs.len());
            for fut in futs {
                metas.push(delivered(&sender, fut).await?);
            }
            Ok(metas)
        }))
    }

    async fn flush(&self, timeout: Duration) -> Result<()> {
        let producer = self.sender.producer.clone();
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
