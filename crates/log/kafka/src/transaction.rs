//! [`KafkaTxProducer`]: Kafka transactions (`transactional.id`), consumer offsets included.
//!
//! The control calls (`init`, `send_offsets`, `commit`, `abort`) block in librdkafka until the
//! transaction coordinator answers, so they run on tokio's blocking pool. `send` only enqueues:
//! `commit` flushes every record of the transaction first and fails if any of them failed, so
//! per-record delivery futures are not needed.

use crate::delivery::{self, RdProducer, Waiter};
use crate::producer::{self, Sender};
use crate::{KafkaConfig, blocking, error};
use aisle_log::{
    GroupMetadata, LogError, ProduceRecord, ProducerConfig, Result, TopicPartition, TxProducer,
};
use async_trait::async_trait;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::KafkaResult;
use rdkafka::producer::{Producer as _, ProducerContext, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::time::Duration;

/// A transactional Kafka producer implementing [`aisle_log::TxProducer`].
pub struct KafkaTxProducer {
    sender: Sender,
    transactional_id: String,
    timeout: Duration,
}

impl std::fmt::Debug for KafkaTxProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaTxProducer")
            .field("transactional_id", &self.transactional_id)
            .finish()
    }
}

impl KafkaTxProducer {
    /// Creates the producer and runs `init_transactions`, which fences any older producer with
    /// the same id and aborts the transaction it left open.
    pub(crate) async fn new(
        log: &KafkaConfig,
        transactional_id: &str,
        config: &ProducerConfig,
    ) -> Result<Self> {
        if transactional_id.is_empty() {
            return Err(LogError::InvalidArgument(
                "transactional id is empty".into(),
            ));
        }
        let mut c = producer::client_config(log, config);
        c.set("transactional.id", transactional_id).set(
            "transaction.timeout.ms",
            log.transaction_timeout_ms.to_string(),
        );
        // The user's properties still win over the two settings just made.
        crate::apply_properties(&mut c, log, &config.properties);
        let producer = producer::create(&c, &format!("transactional id `{transactional_id}`"))?;
        let tx = KafkaTxProducer {
            sender: Sender::new(producer, log),
            transactional_id: transactional_id.to_owned(),
            timeout: log.operation_timeout(),
        };
        tx.control("init transactions", |p, t| p.init_transactions(t))
            .await?;
        Ok(tx)
    }

    /// The underlying rdkafka producer.
    pub fn rdkafka(&self) -> &ThreadedProducer<impl ProducerContext> {
        &*self.sender.producer
    }

    /// Waits until every record sent so far reached the broker (they stay invisible to
    /// `read_committed` readers until the commit). `abort` drops records still queued locally,
    /// so flushing first is how a test makes an aborted transaction leave data in the log.
    pub async fn flush(&self, timeout: Duration) -> Result<()> {
        delivery::flush(&self.sender.producer, timeout)
            .await
            .map_err(|e| {
                error::map(
                    &format!("flush (transactional id `{}`)", self.transactional_id),
                    e,
                )
            })
    }

    /// Runs a blocking transaction call, naming the transactional id in errors.
    async fn control<F>(&self, what: &str, f: F) -> Result<()>
    where
        F: FnOnce(&RdProducer, Duration) -> KafkaResult<()> + Send + 'static,
    {
        let producer = self.sender.producer.clone();
        let t = self.timeout;
        blocking(move || f(&producer, t)).await?.map_err(|e| {
            error::map(
                &format!("{what} (transactional id `{}`)", self.transactional_id),
                e,
            )
        })
    }
}

#[async_trait]
impl TxProducer for KafkaTxProducer {
    async fn begin(&mut self) -> Result<()> {
        self.sender.producer.begin_transaction().map_err(|e| {
            error::map(
                &format!(
                    "begin transaction (transactional id `{}`)",
                    self.transactional_id
                ),
                e,
            )
        })
    }

    async fn send(&mut self, record: ProduceRecord) -> Result<()> {
        // Nobody waits for the record's own report: the commit fails if any record failed.
        self.sender.enqueue(&record, Waiter::none()).await
    }

    async fn send_offsets(
        &mut self,
        offsets: &[(TopicPartition, i64)],
        group: &GroupMetadata,
    ) -> Result<()> {
        let cgm = group
            .inner
            .clone()
            .downcast::<ConsumerGroupMetadata>()
            .map_err(|_| {
                LogError::InvalidArgument(format!(
                    "group metadata of `{}` does not come from a Kafka consumer",
                    group.group_id
                ))
            })?;
        let mut tpl = TopicPartitionList::with_capacity(offsets.len());
        for (tp, offset) in offsets {
            tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset))
                .map_err(|e| error::map(&format!("offset {offset} for {tp}"), e))?;
        }
        let what = format!("send offsets of group `{}`", group.group_id);
        self.control(&what, move |p, t| {
            p.send_offsets_to_transaction(&tpl, &cgm, t)
        })
        .await
    }

    async fn commit(&mut self) -> Result<()> {
        // Deliver the transaction's records first (see `delivery::flush`); the commit's own
        // flush then finds nothing outstanding and does not sleep.
        self.flush(self.timeout).await?;
        self.control("commit transaction", |p, t| p.commit_transaction(t))
            .await
    }

    async fn abort(&mut self) -> Result<()> {
        self.control("abort transaction", |p, t| p.abort_transaction(t))
            .await
    }
}
