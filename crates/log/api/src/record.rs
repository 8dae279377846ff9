//! Records, topics and offsets.

use bytes::Bytes;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A topic and one of its partitions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index, from 0.
    pub partition: i32,
}

impl TopicPartition {
    /// `topic`/`partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// A record header, as in Kafka: a string key and a byte value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Header name.
    pub key: String,
    /// Header value.
    pub value: Bytes,
}

/// A record to write.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProduceRecord {
    /// Destination topic.
    pub topic: String,
    /// Explicit partition; `None` means "by key" (murmur2) or, with no key, the runtime's choice.
    pub partition: Option<i32>,
    /// Record key (UTF-8 strings by Aisle convention).
    pub key: Option<Bytes>,
    /// Record value; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<Header>,
    /// Event time in ms since the epoch; `None` means "now".
    pub timestamp: Option<i64>,
}

impl ProduceRecord {
    /// A record for `topic` with no key, value, headers or timestamp yet.
    pub fn new(topic: impl Into<String>) -> Self {
        ProduceRecord {
            topic: topic.into(),
            ..Default::default()
        }
    }
    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }
    /// Sets the value.
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }
    /// Sets an explicit partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }
    /// Sets the event timestamp (ms since the epoch).
    pub fn timestamp(mut self, ts: i64) -> Self {
        self.timestamp = Some(ts);
        self
    }
    /// Appends a header.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header {
            key: key.into(),
            value: value.into(),
        });
        self
    }
}

/// A record read from a partition.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Topic it was read from.
    pub topic: String,
    /// Partition it was read from.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// Its timestamp, ms since the epoch.
    pub timestamp: i64,
    /// Key, if any.
    pub key: Option<Bytes>,
    /// Value; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<Header>,
}

impl Record {
    /// The first header named `key`.
    pub fn header(&self, key: &str) -> Option<&Bytes> {
        self.headers.iter().find(|h| h.key == key).map(|h| &h.value)
    }
    /// Its topic and partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }
}

/// Where a produced record landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordMeta {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp stored with the record.
    pub timestamp: i64,
}

/// How old data leaves a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CleanupPolicy {
    /// Delete whole segments past retention.
    #[default]
    Delete,
    /// Keep the latest record per key; tombstones remove keys.
    Compact,
    /// Both.
    CompactDelete,
}

impl CleanupPolicy {
    /// Kafka's `cleanup.policy` value.
    pub fn as_kafka(&self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        }
    }
    /// Parses Kafka's `cleanup.policy` value.
    pub fn from_kafka(s: &str) -> Option<Self> {
        match s.replace(' ', "").as_str() {
            "delete" => Some(CleanupPolicy::Delete),
            "compact" => Some(CleanupPolicy::Compact),
            "compact,delete" | "delete,compact" => Some(CleanupPolicy::CompactDelete),
            _ => None,
        }
    }
    /// Whether compaction applies.
    pub fn compacts(&self) -> bool {
        !matches!(self, CleanupPolicy::Delete)
    }
}

/// What to create.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Number of partitions (>= 1).
    pub partitions: i32,
    /// Replication factor (Kafka only; the embedded runtime has one copy).
    pub replication: i16,
    /// Cleanup policy.
    pub cleanup: CleanupPolicy,
    /// Time retention in ms (`None`: the runtime's default; -1: forever).
    pub retention_ms: Option<i64>,
    /// Further topic configs, passed to Kafka verbatim (e.g. `min.insync.replicas`).
    pub configs: BTreeMap<String, String>,
}

impl TopicSpec {
    /// A delete-policy topic with `partitions` partitions and replication 1.
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        TopicSpec {
            name: name.into(),
            partitions,
            replication: 1,
            cleanup: CleanupPolicy::Delete,
            retention_ms: None,
            configs: BTreeMap::new(),
        }
    }
    /// Sets the cleanup policy.
    pub fn cleanup(mut self, cleanup: CleanupPolicy) -> Self {
        self.cleanup = cleanup;
        self
    }
    /// Sets the replication factor.
    pub fn replication(mut self, replication: i16) -> Self {
        self.replication = replication;
        self
    }
    /// Sets time retention.
    pub fn retention_ms(mut self, ms: i64) -> Self {
        self.retention_ms = Some(ms);
        self
    }
    /// Adds a verbatim topic config.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(key.into(), value.into());
        self
    }
}

/// A topic as the log reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Number of partitions.
    pub partitions: i32,
    /// Cleanup policy.
    pub cleanup: CleanupPolicy,
}

/// A position to seek to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offset {
    /// The lowest retained offset.
    Beginning,
    /// The end: only records written from now on.
    End,
    /// An absolute offset.
    At(i64),
    /// The group's committed offset, falling back to the consumer's `auto_offset_reset`.
    Committed,
}

/// Where a group member starts when the group has no committed offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AutoOffsetReset {
    /// From the beginning.
    #[default]
    Earliest,
    /// From the end.
    Latest,
}

/// Whether a consumer sees records of open or aborted transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Only committed transactional records (and all non-transactional ones).
    #[default]
    ReadCommitted,
    /// Everything, as soon as written.
    ReadUncommitted,
}

/// Producer settings common to both runtimes.
#[derive(Clone, Debug, PartialEq)]
pub struct ProducerConfig {
    /// Client id shown in logs and broker metrics.
    pub client_id: String,
    /// How long records may wait to be batched (Kafka `linger.ms`).
    pub linger: Duration,
    /// Extra runtime properties (librdkafka names for Kafka), applied last.
    pub properties: BTreeMap<String, String>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            client_id: "aisle".into(),
            linger: Duration::from_millis(5),
            properties: BTreeMap::new(),
        }
    }
}

/// Consumer settings common to both runtimes.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerConfig {
    /// Consumer group; `None` for a standalone consumer (manual assignment, no commits).
    pub group_id: Option<String>,
    /// Client id shown in logs and broker metrics.
    pub client_id: String,
    /// Where to start without a committed offset.
    pub auto_offset_reset: AutoOffsetReset,
    /// Transaction visibility.
    pub isolation: Isolation,
    /// Extra runtime properties (librdkafka names for Kafka), applied last.
    pub properties: BTreeMap<String, String>,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            group_id: None,
            client_id: "aisle".into(),
            auto_offset_reset: AutoOffsetReset::Earliest,
            isolation: Isolation::ReadCommitted,
            properties: BTreeMap::new(),
        }
    }
}

impl ConsumerConfig {
    /// A group member.
    pub fn group(group_id: impl Into<String>) -> Self {
        ConsumerConfig {
            group_id: Some(group_id.into()),
            ..Default::default()
        }
    }
}

/// A change of a group member's partitions, reported by [`crate::Consumer::take_rebalances`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rebalance {
    /// These partitions were taken away (commit state for them first if you can).
    Revoked(Vec<TopicPartition>),
    /// These partitions were given to this member.
    Assigned(Vec<TopicPartition>),
}
