//! `aisle-log-kafka`: the Kafka runtime of Aisle's log, the [`aisle_log`] traits over `rdkafka`.
//!
//! Components never see this crate: the `aisle` binary builds a [`KafkaLog`] when run with
//! `--kafka BOOTSTRAP` and hands it out as an `Arc<dyn aisle_log::Log>`. Everything the log
//! contract promises maps onto Kafka like this:
//!
//! * **Producers** are idempotent (`enable.idempotence=true`, `acks=all`) and place keyed records
//!   with `partitioner=murmur2_random`, the Java client's murmur2, so a key lands where
//!   [`aisle_log::partition_for_key`] (and a Java producer) puts it. `send` only enqueues; the
//!   returned delivery future resolves on the broker's acknowledgement.
//! * **Consumers** never auto-commit; `is_caught_up` comes from librdkafka's partition-EOF events.
//! * **Transactions** use `transactional.id`, and consumer offsets join them through the
//!   consumer's group metadata (exactly-once read-process-write, zombie fencing included).
//!
//! Main types: [`KafkaLog`] (admin and client factory), [`KafkaConfig`] (serde config),
//! [`KafkaProducer`], [`KafkaConsumer`], [`KafkaTxProducer`].
//!
//! # Example
//!
//! ```no_run
//! use aisle_log::{Log, ProduceRecord, Producer, ProducerConfig, TopicSpec};
//! use aisle_log_kafka::{KafkaConfig, KafkaLog};
//!
//! # async fn run() -> aisle_log::Result<()> {
//! let log = KafkaLog::connect(KafkaConfig::new("127.0.0.1:9092")).await?;
//! log.create_topic(&TopicSpec::new("sales", 10)).await?;
//! let producer = log.producer(&ProducerConfig::default())?;
//! let delivered = producer.send(ProduceRecord::new("sales").key("FOODS_3_090_CA_1").value("x")).await?;
//! let meta = delivered.await?;
//! assert_eq!(meta.partition, aisle_log::partition_for_key(b"FOODS_3_090_CA_1", 10));
//! # Ok(()) }
//! ```
//!
//! The configuration is plain serde:
//!
//! ```
//! let config: aisle_log_kafka::KafkaConfig =
//!     serde_json::from_str(r#"{"bootstrap": "127.0.0.1:9092", "replication": 3}"#).unwrap();
//! assert_eq!(config.replication, 3);
//! assert_eq!(config.operation_timeout_ms, 30_000);
//! ```
//!
//! # Layout
//! * `config.rs`: [`KafkaConfig`] and its defaults.
//! * `admin.rs`: topic create/list/describe/delete and watermarks (Admin API + metadata).
//! * `producer.rs`: [`KafkaProducer`] and the librdkafka producer settings.
//! * `delivery.rs`: the producer context routing delivery reports to whoever waits (no future
//!   per record).
//! * `topics.rs`: the producers' partition-count cache, which refuses a missing topic or
//!   partition at `send` instead of after librdkafka's 30 s metadata wait.
//! * `consumer.rs`: [`KafkaConsumer`], its rebalance-collecting context, EOF tracking.
//! * `transaction.rs`: [`KafkaTxProducer`].
//! * `error.rs`: rdkafka errors → [`aisle_log::LogError`] (fencing, retriability, names).
//! * [`bench`]: raw rdkafka produce with the producer's exact settings, the baseline
//!   `aisle bench log` compares against.

mod admin;
pub mod bench;
mod config;
mod consumer;
mod delivery;
mod error;
mod producer;
mod topics;
mod transaction;

pub use config::{BROKER_DEFAULT_REPLICATION, KafkaConfig};
pub use consumer::KafkaConsumer;
pub use producer::KafkaProducer;
pub use transaction::KafkaTxProducer;

use aisle_log::{
    Consumer, ConsumerConfig, Log, LogError, Producer, ProducerConfig, Result, TopicInfo,
    TopicPartition, TopicSpec, TxProducer,
};
use async_trait::async_trait;
use rdkafka::ClientConfig;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use std::sync::Arc;

/// The Kafka runtime: a connection to one cluster, cheap to clone.
///
/// Holds one admin client (shared by clones); every producer and consumer it creates is a
/// separate librdkafka client with its own connections.
#[derive(Clone)]
pub struct KafkaLog {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: KafkaConfig,
    pub(crate) admin: AdminClient<DefaultClientContext>,
}

impl std::fmt::Debug for KafkaLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaLog")
            .field("bootstrap", &self.inner.config.bootstrap)
            .finish()
    }
}

impl KafkaLog {
    /// Connects to the cluster and checks that it answers a metadata request within
    /// [`KafkaConfig::connect_timeout_ms`]; the error names the bootstrap servers otherwise.
    pub async fn connect(config: KafkaConfig) -> Result<KafkaLog> {
        config.validate()?;
        let mut c = base_config(&config);
        apply_properties(&mut c, &config, &Default::default());
        let admin: AdminClient<DefaultClientContext> = c
            .create()
            .map_err(|e| error::map(&format!("admin client for {}", config.bootstrap), e))?;
        let log = KafkaLog {
            inner: Arc::new(Inner { config, admin }),
        };
        let timeout = log.inner.config.connect_timeout();
        let inner = log.inner.clone();
        blocking(move || inner.admin.inner().fetch_metadata(None, timeout))
            .await?
            .map_err(|e| LogError::Kafka {
                message: format!(
                    "cannot reach Kafka at {} within {} ms: {e}",
                    log.inner.config.bootstrap,
                    timeout.as_millis()
                ),
                retriable: true,
            })?;
        Ok(log)
    }

    /// The configuration this log was connected with.
    pub fn config(&self) -> &KafkaConfig {
        &self.inner.config
    }

    /// The concrete transactional producer behind [`Log::tx_producer`], for callers that need
    /// its Kafka-only extras ([`KafkaTxProducer::flush`]).
    pub async fn kafka_tx_producer(
        &self,
        transactional_id: &str,
        config: &ProducerConfig,
    ) -> Result<KafkaTxProducer> {
        KafkaTxProducer::new(&self.inner.config, transactional_id, config).await
    }

    /// The exact librdkafka settings [`Log::producer`] uses for `config`, so a benchmark or a
    /// tool can build a raw rdkafka producer configured identically.
    pub fn producer_client_config(&self, config: &ProducerConfig) -> ClientConfig {
        producer::client_config(&self.inner.config, config)
    }
}

/// The start of every client config: just the bootstrap servers. Callers add their own
/// settings, then [`apply_properties`].
pub(crate) fn base_config(config: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.bootstrap);
    c
}

/// Applies the user's verbatim properties over Aisle's settings, so they win: first the
/// log-wide [`KafkaConfig::properties`], then the client's own (`extra`).
pub(crate) fn apply_properties(
    c: &mut ClientConfig,
    config: &KafkaConfig,
    extra: &std::collections::BTreeMap<String, String>,
) {
    for (k, v) in config.properties.iter().chain(extra) {
        c.set(k, v);
    }
}

/// Runs a blocking librdkafka call on tokio's blocking pool, off the async workers.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| LogError::Kafka {
            message: format!("background librdkafka call failed: {e}"),
            retriable: false,
        })
}

#[async_trait]
impl Log for KafkaLog {
    fn runtime(&self) -> &'static str {
        "kafka"
    }

    async fn create_topic(&self, spec: &TopicSpec) -> Result<bool> {
        admin::create_topic(&self.inner, spec).await
    }

    async fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        admin::list_topics(&self.inner).await
    }

    async fn describe_topic(&self, topic: &str) -> Result<TopicInfo> {
        admin::describe_topic(&self.inner, topic).await
    }

    async fn delete_topic(&self, topic: &str) -> Result<()> {
        admin::delete_topic(&self.inner, topic).await
    }

    async fn watermarks(&self, tp: &TopicPartition) -> Result<(i64, i64)> {
        admin::watermarks(&self.inner, tp).await
    }

    fn producer(&self, config: &ProducerConfig) -> Result<Arc<dyn Producer>> {
        Ok(Arc::new(KafkaProducer::new(&self.inner.config, config)?))
    }

    fn consumer(&self, config: &ConsumerConfig) -> Result<Box<dyn Consumer>> {
        Ok(Box::new(KafkaConsumer::new(&self.inner.config, config)?))
    }

    async fn tx_producer(
        &self,
        transactional_id: &str,
        config: &ProducerConfig,
    ) -> Result<Box<dyn TxProducer>> {
        Ok(Box::new(
            KafkaTxProducer::new(&self.inner.config, transactional_id, config).await?,
        ))
    }
}
