//! `aisle-log`: the one log interface that every Aisle component reads and writes through.
//!
//! Aisle has two runtimes, and components must not know which one they run on:
//! the embedded log (`aisle-log-embedded`, one process, files on disk) and Apache Kafka
//! (`aisle-log-kafka`, through rdkafka). Both implement the traits in this crate, and one
//! conformance suite (`aisle-testkit`) runs the same cases against both.
//!
//! This crate does no I/O of its own. It holds:
//!
//! * [`Log`]: topic administration and the factory for producers and consumers;
//! * [`Producer`]: asynchronous, idempotent produce, acknowledged on durability, one record at a
//!   time or in batches ([`Producer::send_batch`], one [`BatchDelivery`] for many records);
//! * [`Consumer`]: consumer groups with committed offsets, manual assignment, seek;
//! * [`TxProducer`]: transactions that write to several topics and commit consumer offsets
//!   atomically (exactly-once read-process-write);
//! * [`partition_for_key`]: Kafka's Java default partitioner (murmur2), so a key lands on the
//!   partition a Java producer would pick, whichever runtime wrote it;
//! * the record types ([`ProduceRecord`], [`Record`]) and [`LogError`];
//! * [`Clock`] ([`clock`]): the time every component's time-based decisions take, so tests can
//!   pause or fix it.
//!
//! # Semantics both runtimes honour
//!
//! * Offsets are per partition, dense in the embedded runtime and increasing in Kafka (transaction
//!   markers take offsets there). A committed offset is the *next* offset to read, as in Kafka.
//! * A record with a key and no explicit partition goes to `partition_for_key(key, n)`. A record
//!   with neither goes to a partition of the runtime's choosing.
//! * A delivery future resolves only once the record is durable (embedded: written and, per the
//!   fsync policy, synced; Kafka: acknowledged by all in-sync replicas).
//! * Within a partition, records are read in offset order; a consumer never sees a record from an
//!   open or aborted transaction when its isolation is [`Isolation::ReadCommitted`].
//! * A `None` value is a tombstone: compaction keeps it for a while, then drops it and every earlier
//!   record with the same key.
//!
//! # Example
//!
//! ```
//! use aisle_log::{partition_for_key, ProduceRecord};
//!
//! let rec = ProduceRecord::new("sales").key("FOODS_3_090_CA_1").value(vec![0u8, 0, 0, 0, 1]);
//! assert_eq!(rec.topic, "sales");
//! // Kafka's Java client puts this key on the same partition.
//! let p = partition_for_key(b"FOODS_3_090_CA_1", 10);
//! assert!((0..10).contains(&p));
//! ```
//!
//! # Layout
//! * `record.rs`: record, header, topic and offset types.
//! * `partitioner.rs`: murmur2 exactly as Kafka's `org.apache.kafka.common.utils.Utils.murmur2`.
//! * `error.rs`: [`LogError`], saying whose fault an error is and whether a retry can help.
//! * `traits.rs`: [`Log`], [`Producer`], [`Consumer`], [`TxProducer`].
//! * `scan.rs`: [`read_to_end`], reading partitions from the beginning to their current end, the
//!   way components restore state kept in the log; built on the traits alone.

pub mod clock;
mod error;
mod partitioner;
mod record;
mod scan;
mod traits;

pub use clock::{Clock, SharedClock};
pub use error::{LogError, Result};
pub use partitioner::{murmur2, partition_for_key};
pub use record::{
    AutoOffsetReset, CleanupPolicy, ConsumerConfig, Header, Isolation, Offset, ProduceRecord,
    ProducerConfig, Rebalance, Record, RecordMeta, TopicInfo, TopicPartition, TopicSpec,
};
pub use scan::{ReadError, partitions_of, read_to_end};
pub use traits::{
    BatchDelivery, Consumer, DeliveryFuture, GroupMetadata, Log, Producer, TxProducer,
};

/// Milliseconds since the Unix epoch, the unit of every record timestamp: the system wall
/// clock, read here and nowhere else (`clippy.toml` forbids `SystemTime::now` elsewhere). Code
/// that decides by the time takes a [`Clock`] instead, whose system variant calls this.
#[expect(
    clippy::disallowed_methods,
    reason = "the one read of the system wall clock"
)]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
