//! The interface both runtimes implement.

use crate::{
    ConsumerConfig, Offset, ProduceRecord, ProducerConfig, Rebalance, Record, RecordMeta, Result,
    TopicInfo, TopicPartition, TopicSpec,
};
use async_trait::async_trait;
use futures::future::BoxFuture;
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A log: topics with partitions, and the factory for the clients that use them.
///
/// One value per process is enough; it is cheap to share behind an `Arc`.
#[async_trait]
pub trait Log: Send + Sync {
    /// `"embedded"` or `"kafka"`, for logs and status pages.
    fn runtime(&self) -> &'static str;

    /// Creates a topic. Returns `false` (and changes nothing) if it already exists.
    async fn create_topic(&self, spec: &TopicSpec) -> Result<bool>;

    /// Every topic, sorted by name; internal topics (names starting with `__`) excluded.
    async fn list_topics(&self) -> Result<Vec<TopicInfo>>;

    /// One topic, or [`crate::LogError::UnknownTopic`].
    async fn describe_topic(&self, topic: &str) -> Result<TopicInfo>;

    /// Deletes a topic and its data.
    async fn delete_topic(&self, topic: &str) -> Result<()>;

    /// `(low, high)`: the lowest retained offset and the offset the next record will get.
    async fn watermarks(&self, tp: &TopicPartition) -> Result<(i64, i64)>;

    /// A producer. Idempotent: retries never duplicate a record.
    fn producer(&self, config: &ProducerConfig) -> Result<Arc<dyn Producer>>;

    /// A consumer; call [`Consumer::subscribe`] or [`Consumer::assign`] before polling.
    fn consumer(&self, config: &ConsumerConfig) -> Result<Box<dyn Consumer>>;

    /// A transactional producer. A newer producer with the same `transactional_id` fences
    /// this one (its next transactional call fails with [`crate::LogError::Fenced`]), and any
    /// transaction it left open is aborted.
    async fn tx_producer(
        &self,
        transactional_id: &str,
        config: &ProducerConfig,
    ) -> Result<Box<dyn TxProducer>>;
}

/// Resolves when a produced record is durable, with where it landed.
///
/// Dropping it does not cancel the write.
pub struct DeliveryFuture(BoxFuture<'static, Result<RecordMeta>>);

impl DeliveryFuture {
    /// Wraps a runtime's own future.
    pub fn new(fut: impl Future<Output = Result<RecordMeta>> + Send + 'static) -> Self {
        DeliveryFuture(Box::pin(fut))
    }
    /// An already-failed delivery.
    pub fn failed(err: crate::LogError) -> Self {
        DeliveryFuture(Box::pin(async move { Err(err) }))
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMeta>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for DeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeliveryFuture")
    }
}

/// Resolves when every record of a [`Producer::send_batch`] is durable, with where each landed
/// (in the order they were given), or with the first failure.
///
/// Dropping it does not cancel the writes.
pub struct BatchDelivery(BoxFuture<'static, Result<Vec<RecordMeta>>>);

impl BatchDelivery {
    /// Wraps a runtime's own future.
    pub fn new(fut: impl Future<Output = Result<Vec<RecordMeta>>> + Send + 'static) -> Self {
        BatchDelivery(Box::pin(fut))
    }
}

impl Future for BatchDelivery {
    type Output = Result<Vec<RecordMeta>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for BatchDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchDelivery")
    }
}

/// Writes records. Shared between tasks (`Arc<dyn Producer>`).
#[async_trait]
pub trait Producer: Send + Sync {
    /// Enqueues a record. The outer future resolves when the record is accepted (it waits while
    /// the producer's queue is full: that is the back-pressure); the returned
    /// [`DeliveryFuture`] resolves when it is durable. Records sent to one partition from one
    /// task are stored in the order they were sent.
    async fn send(&self, record: ProduceRecord) -> Result<DeliveryFuture>;

    /// Enqueues `records` in order, exactly as calling [`Producer::send`] on a copy of each in
    /// turn would (same placement, same back-pressure, same per-partition order), and returns one
    /// [`BatchDelivery`] for all of them instead of a future per record: the fast path for
    /// producers that write many records at once. The records are borrowed (both runtimes copy
    /// what they store), so a caller can refill and reuse them. If enqueueing fails part-way,
    /// the records before the failing one are still written and the error is returned.
    ///
    /// The default calls `send` per record; runtimes override it to skip per-record futures.
    async fn send_batch(&self, records: &[ProduceRecord]) -> Result<BatchDelivery> {
        let mut futs = Vec::with_capacity(records.len());
        for record in records {
            futs.push(self.send(record.clone()).await?);
        }
        Ok(BatchDelivery::new(async move {
            let mut metas = Vec::with_capacity(futs.len());
            for f in futs {
                metas.push(f.await?);
            }
            Ok(metas)
        }))
    }

    /// Waits until every record sent so far is durable (or failed).
    async fn flush(&self, timeout: Duration) -> Result<()>;
}

/// Reads records, alone or as a member of a consumer group.
#[async_trait]
pub trait Consumer: Send {
    /// Joins the consumer group (the config must name one) and subscribes to `topics`.
    /// Partitions arrive through rebalances; positions start at the group's committed offsets,
    /// or per `auto_offset_reset` where there are none.
    fn subscribe(&mut self, topics: &[&str]) -> Result<()>;

    /// Takes exactly these partitions, starting at the given positions, without group
    /// management. Replaces any earlier assignment.
    fn assign(&mut self, partitions: &[(TopicPartition, Offset)]) -> Result<()>;

    /// The next records from the assigned partitions: waits up to `timeout` for at least one,
    /// returns an empty batch if none arrived. Records of one partition come in offset order.
    async fn poll(&mut self, timeout: Duration) -> Result<Vec<Record>>;

    /// Moves the position of an assigned partition.
    async fn seek(&mut self, tp: &TopicPartition, offset: Offset) -> Result<()>;

    /// The offset of the next record `poll` returns for `tp`, if assigned and known.
    fn position(&self, tp: &TopicPartition) -> Option<i64>;

    /// The partitions currently assigned.
    fn assignment(&self) -> Vec<TopicPartition>;

    /// True when, at the last `poll`, every assigned partition had been read to its end (the
    /// last stable offset under `ReadCommitted`). Used to stop "dump" style reads.
    fn is_caught_up(&self) -> bool;

    /// Assignment changes since the last call, oldest first.
    fn take_rebalances(&mut self) -> Vec<Rebalance>;

    /// Commits, for the group, the *next* offsets to read.
    async fn commit(&mut self, offsets: &[(TopicPartition, i64)]) -> Result<()>;

    /// Commits the current position of every assigned partition.
    async fn commit_positions(&mut self) -> Result<()>;

    /// The group's committed offsets for `partitions` (`None` where nothing is committed).
    async fn committed(&self, partitions: &[TopicPartition]) -> Result<Vec<Option<i64>>>;

    /// What a [`TxProducer`] needs to commit this member's offsets inside a transaction;
    /// `None` for a consumer without a group.
    fn group_metadata(&self) -> Option<GroupMetadata>;
}

/// Writes to several topics and commits consumer offsets atomically.
///
/// Protocol, as in Kafka: `begin` → `send`… → `send_offsets` → `commit` (or `abort`).
/// Records of a committed transaction become visible to `ReadCommitted` consumers together;
/// those of an aborted one never do.
#[async_trait]
pub trait TxProducer: Send {
    /// Starts a transaction.
    async fn begin(&mut self) -> Result<()>;
    /// Adds a record to the open transaction.
    async fn send(&mut self, record: ProduceRecord) -> Result<()>;
    /// Adds the group's next offsets to the open transaction.
    async fn send_offsets(
        &mut self,
        offsets: &[(TopicPartition, i64)],
        group: &GroupMetadata,
    ) -> Result<()>;
    /// Makes the transaction's records and offsets visible, all or nothing.
    async fn commit(&mut self) -> Result<()>;
    /// Discards the open transaction.
    async fn abort(&mut self) -> Result<()>;
}

/// A consumer group member's identity, opaque to components; each runtime puts what it needs
/// inside (Kafka: librdkafka's group metadata, for zombie fencing).
#[derive(Clone)]
pub struct GroupMetadata {
    /// The group.
    pub group_id: String,
    /// The runtime's own data.
    pub inner: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for GroupMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMetadata")
            .field("group_id", &self.group_id)
            .finish()
    }
}
