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

use crate::delivery::{self, BatchState, DeliveryContext, Failed, RdProducer, Waiter};
use crate::topics::TopicCache;
use crate::{KafkaConfig, apply_properties, base_config, error};
use aisle_log::{
    BatchDelivery, DeliveryFuture, LogError, ProduceRecord, Producer, ProducerConfig, Result,
};
use async_trait::async_trait;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, ProducerContext, ThreadedProducer};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

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
        let producer = create(&client_config(log, config), &log.bootstrap)?;
        Ok(KafkaProducer {
            sender: Arc::new(Sender::new(producer, log)),
        })
    }

    /// The underlying rdkafka producer.
    pub fn rdkafka(&self) -> &ThreadedProducer<impl ProducerContext> {
        &*self.sender.producer
    }
}

/// Creates the librdkafka producer for `settings`, naming `what` in errors.
pub(crate) fn create(settings: &ClientConfig, what: &str) -> Result<Arc<RdProducer>> {
    settings
        .create_with_context(DeliveryContext)
        .map(Arc::new)
        .map_err(|e| error::map(&format!("producer for {what}"), e))
}

/// An rdkafka producer and what it knows about topics: the enqueue path both the plain and the
/// transactional producer share.
pub(crate) struct Sender {
    pub(crate) producer: Arc<RdProducer>,
    topics: TopicCache,
}

impl Sender {
    pub(crate) fn new(producer: Arc<RdProducer>, log: &KafkaConfig) -> Self {
        Sender {
            producer,
            topics: TopicCache::new(log.operation_timeout()),
        }
    }

    /// Checks the record's topic and partition (see [`TopicCache`]), then enqueues it with
    /// `waiter`, waiting while librdkafka's queue is full.
    ///
    /// This runs once per record, so the common case stays synchronous and small: the
    /// metadata look-up and the queue-full wait are boxed slow paths, which keeps their state
    /// (~500 bytes) out of every caller's future.
    pub(crate) async fn enqueue(&self, record: &ProduceRecord, waiter: Waiter) -> Result<()> {
        if !self.topics.cached_ok(&record.topic, record.partition) {
            self.check_boxed(record).await?;
        }
        self.enqueue_checked(record, waiter).await
    }

    /// [`Sender::enqueue`] for a record whose topic and partition were just checked.
    pub(crate) async fn enqueue_checked(
        &self,
        record: &ProduceRecord,
        waiter: Waiter,
    ) -> Result<()> {
        // Not `match … { Err(..) => ….await }`: the returned record would then live across
        // the await and grow this future.
        let (first, back) = match self.producer.send(base_record(record, waiter)) {
            Ok(()) => return Ok(()),
            Err(refused) => refused,
        };
        self.enqueue_slow_boxed(record, back.delivery_opaque, first)
            .await
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
        waiter: Waiter,
        first: KafkaError,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(self.enqueue_slow(record, waiter, first))
    }

    /// The first attempt failed with `first`: wait out a full queue, or map the error.
    async fn enqueue_slow(
        &self,
        record: &ProduceRecord,
        mut waiter: Waiter,
        first: KafkaError,
    ) -> Result<()> {
        let mut e = first;
        loop {
            if e != KafkaError::MessageProduction(Code::QueueFull) {
                return Err(self.error(&record.topic, record.partition, e).await);
            }
            tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
            match self.producer.send(base_record(record, waiter)) {
                Ok(()) => return Ok(()),
                Err((next, back)) => (e, waiter) = (next, back.delivery_opaque),
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
            // The producer was closed (dropped) with the record still queued.
            (Some(Code::PurgeQueue | Code::PurgeInflight), _) => LogError::Closed,
            _ => produce_error(topic, partition, e),
        }
    }

    /// Awaits a delivery report (one record's or a batch's) and puts it in the log's terms.
    async fn settle<T>(
        &self,
        report: oneshot::Receiver<std::result::Result<T, Failed>>,
    ) -> Result<T> {
        match report.await {
            Ok(Ok(landed)) => Ok(landed),
            Ok(Err(f)) => Err(self.error(&f.topic, f.partition, f.error).await),
            // The producer was dropped with the record still queued.
            Err(_closed) => Err(LogError::Closed),
        }
    }
}

/// rdkafka's view of `record`, borrowing its topic, key and value (librdkafka copies them).
fn base_record(record: &ProduceRecord, waiter: Waiter) -> BaseRecord<'_, [u8], [u8], Waiter> {
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
    BaseRecord {
        topic: &record.topic,
        partition: record.partition,
        payload: record.value.as_deref(),
        key: record.key.as_deref(),
        timestamp: record.timestamp,
        headers,
        delivery_opaque: waiter,
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

#[async_trait]
impl Producer for KafkaProducer {
    async fn send(&self, record: ProduceRecord) -> Result<DeliveryFuture> {
        let (waiter, report) = Waiter::one();
        self.sender.enqueue(&record, waiter).await?;
        let sender = self.sender.clone();
        Ok(DeliveryFuture::new(
            async move { sender.settle(report).await },
        ))
    }

    /// Enqueues every record inline (the topic checked once per run of records to the same
    /// partition); one shared state collects the reports and one channel resolves the batch.
    async fn send_batch(&self, records: &[ProduceRecord]) -> Result<BatchDelivery> {
        let (state, done) = BatchState::new(records.len());
        let mut checked: Option<(&str, Option<i32>)> = None;
        for (i, record) in records.iter().enumerate() {
            let target = (record.topic.as_str(), record.partition);
            let waiter = state.waiter(i);
            if checked == Some(target) {
                self.sender.enqueue_checked(record, waiter).await?;
            } else {
                self.sender.enqueue(record, waiter).await?;
                checked = Some(target);
            }
        }
        drop(state);
        let sender = self.sender.clone();
        Ok(BatchDelivery::new(async move { sender.settle(done).await }))
    }

    async fn flush(&self, timeout: Duration) -> Result<()> {
        delivery::flush(&self.sender.producer, timeout)
            .await
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
