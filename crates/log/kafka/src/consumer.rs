//! [`KafkaConsumer`]: group member or standalone reader over an rdkafka `StreamConsumer`.
//!
//! * Offsets are only ever committed explicitly (`enable.auto.commit=false`).
//! * `is_caught_up` comes from librdkafka's partition-EOF events (`enable.partition.eof=true`):
//!   a partition is caught up once an EOF arrived for it and no record since. rdkafka reports an
//!   EOF with its partition number only, so if two assigned topics share that number both are
//!   marked; the flag of each is cleared again by its next record. Aisle's dumps read one topic,
//!   where this is exact. With nothing assigned (e.g. before the first rebalance) a consumer is
//!   not caught up, so a dump waits for its partitions instead of ending at once.
//! * Rebalances are collected by [`RebalanceLog`], the client context, as they happen inside
//!   `poll`, and handed out by `take_rebalances`.
//! * Positions are tracked here (next offset after the last record returned, or the offset
//!   assigned/sought), since librdkafka only knows a position after the first fetch.

use crate::{KafkaConfig, apply_properties, base_config, blocking, error};
use aisle_log::{
    AutoOffsetReset, Consumer, ConsumerConfig, GroupMetadata, Header, Isolation, LogError, Offset,
    Rebalance, Record, Result, TopicPartition,
};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{TopicPartitionList, consumer::Rebalance as RdRebalance};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most records one `poll` returns: bounds the memory of a batch and the time between polls
/// (group liveness, commits) while still amortising the per-poll overhead.
const MAX_BATCH: usize = 10_000;

/// Collects assignment changes as librdkafka reports them (on the thread that polls).
#[derive(Default)]
pub struct RebalanceLog {
    events: Mutex<Vec<Rebalance>>,
    /// Bumped on every change, so the consumer knows to forget its EOF flags.
    generation: std::sync::atomic::AtomicU64,
}

impl RebalanceLog {
    fn push(&self, event: Rebalance) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}

impl ClientContext for RebalanceLog {
    /// librdkafka reports reaching the end of a partition (which `is_caught_up` is built on,
    /// through `enable.partition.eof`) through the error callback too; that is no error.
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            tracing::trace!(%reason, "end of partition");
        } else if is_informational(&error) {
            tracing::warn!(%error, %reason, "librdkafka consumer: transient error");
        } else {
            tracing::error!(%error, %reason, "librdkafka consumer error");
        }
    }
}

impl ConsumerContext for RebalanceLog {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &RdRebalance<'_>) {
        if let RdRebalance::Revoke(tpl) = rebalance {
            self.push(Rebalance::Revoked(to_tps(tpl)));
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &RdRebalance<'_>) {
        match rebalance {
            RdRebalance::Assign(tpl) => self.push(Rebalance::Assigned(to_tps(tpl))),
            RdRebalance::Error(e) => tracing::warn!(error = %e, "kafka consumer rebalance failed"),
            RdRebalance::Revoke(_) => {}
        }
    }
}

fn to_tps(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| TopicPartition::new(e.topic(), e.partition()))
        .collect()
}

type Inner = StreamConsumer<RebalanceLog>;

/// A Kafka consumer implementing [`aisle_log::Consumer`].
pub struct KafkaConsumer {
    consumer: Arc<Inner>,
    group_id: Option<String>,
    auto_offset_reset: AutoOffsetReset,
    timeout: Duration,
    /// Next offset per partition, as far as this consumer knows.
    positions: HashMap<TopicPartition, i64>,
    /// Partitions whose end was reached with no record since.
    at_eof: HashSet<TopicPartition>,
    /// [`RebalanceLog::generation`] when `at_eof` was last valid.
    generation: u64,
}

impl std::fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("group_id", &self.group_id)
            .finish()
    }
}

impl KafkaConsumer {
    /// A consumer with Aisle's settings; must be called inside a tokio runtime (rdkafka's
    /// stream consumer starts a task there to wake pollers).
    pub(crate) fn new(log: &KafkaConfig, config: &ConsumerConfig) -> Result<Self> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(LogError::InvalidArgument(
                "a Kafka consumer must be created inside a tokio runtime".into(),
            ));
        }
        let mut c = base_config(log);
        c.set("client.id", &config.client_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            // librdkafka stops fetching a partition whose local queue is past
            // `queued.min.messages` and waits this long before looking again (default 1 s),
            // even when the application emptied the queue a millisecond later: with 200-byte
            // records, reading from the start ran at 118k records/s, with 10 ms at 467k
            // (`aisle bench log`, BENCHMARKS.md).
            .set("fetch.queue.backoff.ms", "10")
            .set(
                "auto.offset.reset",
                match config.auto_offset_reset {
                    AutoOffsetReset::Earliest => "earliest",
                    AutoOffsetReset::Latest => "latest",
                },
            )
            .set(
                "isolation.level",
                match config.isolation {
                    Isolation::ReadCommitted => "read_committed",
                    Isolation::ReadUncommitted => "read_uncommitted",
                },
            );
        match &config.group_id {
            Some(group) => c.set("group.id", group),
            // librdkafka's consumer refuses even a manual `assign` without a group id. A private
            // one never reaches the broker: this consumer neither subscribes nor commits.
            None => c.set("group.id", standalone_group_id()),
        };
        apply_properties(&mut c, log, &config.properties);
        let consumer: Inner = c
            .create_with_context(RebalanceLog::default())
            .map_err(|e| error::map(&format!("consumer for {}", log.bootstrap), e))?;
        Ok(KafkaConsumer {
            consumer: Arc::new(consumer),
            group_id: config.group_id.clone(),
            auto_offset_reset: config.auto_offset_reset,
            timeout: log.operation_timeout(),
            positions: HashMap::new(),
            at_eof: HashSet::new(),
            generation: 0,
        })
    }

    /// The underlying rdkafka consumer.
    pub fn rdkafka(&self) -> &StreamConsumer<RebalanceLog> {
        &self.consumer
    }

    fn group(&self, what: &str) -> Result<&str> {
        self.group_id.as_deref().ok_or_else(|| {
            LogError::InvalidArgument(format!(
                "{what} needs a consumer group (ConsumerConfig::group_id)"
            ))
        })
    }

    /// Forgets EOF flags and positions once the assignment changed under us.
    fn sync_generation(&mut self) {
        let g = self
            .consumer
            .context()
            .generation
            .load(std::sync::atomic::Ordering::SeqCst);
        if g != self.generation {
            self.generation = g;
            self.at_eof.clear();
            let assigned: HashSet<TopicPartition> = self.assignment().into_iter().collect();
            self.positions.retain(|tp, _| assigned.contains(tp));
        }
    }

    /// Handles one item of the message stream; returns the record, if it was one.
    fn handle(
        &mut self,
        item: std::result::Result<BorrowedMessage<'_>, KafkaError>,
    ) -> Result<Option<Record>> {
        match item {
            Ok(msg) => {
                let record = to_record(&msg);
                // Positions are updated once per batch ([`KafkaConsumer::note_positions`]); the
                // EOF set is empty while records flow, so this rarely hashes anything.
                if !self.at_eof.is_empty() {
                    self.at_eof
                        .remove(&TopicPartition::new(record.topic.clone(), record.partition));
                }
                Ok(Some(record))
            }
            Err(KafkaError::PartitionEOF(p)) => {
                for tp in self.assignment().into_iter().filter(|tp| tp.partition == p) {
                    self.at_eof.insert(tp);
                }
                Ok(None)
            }
            Err(e) if is_informational(&e) => {
                // librdkafka reconnects and refetches on its own; Kafka's Java consumer never
                // shows these to the application either.
                tracing::warn!(error = %e, "kafka consumer: transient error, retrying");
                Ok(None)
            }
            Err(e) => Err(error::map("consume", e)),
        }
    }

    /// Records the next offset of every partition in `records` (in stream order): one map
    /// update per run of records from the same partition.
    fn note_positions(&mut self, records: &[Record]) {
        let mut i = 0;
        while i < records.len() {
            let (topic, partition) = (&records[i].topic, records[i].partition);
            let mut j = i + 1;
            while j < records.len()
                && records[j].partition == partition
                && records[j].topic == *topic
            {
                j += 1;
            }
            self.positions.insert(
                TopicPartition::new(topic.clone(), partition),
                records[j - 1].offset + 1,
            );
            i = j;
        }
    }

    fn to_tpl(offsets: &[(TopicPartition, i64)]) -> Result<TopicPartitionList> {
        let mut tpl = TopicPartitionList::with_capacity(offsets.len());
        for (tp, offset) in offsets {
            tpl.add_partition_offset(&tp.topic, tp.partition, rdkafka::Offset::Offset(*offset))
                .map_err(|e| error::map(&format!("offset {offset} for {tp}"), e))?;
        }
        Ok(tpl)
    }
}

/// Errors in the message stream that librdkafka recovers from by itself: a broker that is
/// down or restarting, a leader moving, a coordinator loading. librdkafka delivers them as
/// events ("consumer errors are generally informational"); failing the poll on one would stop a
/// component whenever one broker of a cluster restarts. A topic that does not exist (or was
/// deleted) stays an error, so a reader of a mistyped topic is told so.
fn is_informational(err: &KafkaError) -> bool {
    match error::code_of(err) {
        Some(rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition) | None => false,
        Some(code) => error::is_retriable(code),
    }
}

/// A group id no one else uses, for a consumer without a group.
fn standalone_group_id() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    #[expect(
        clippy::disallowed_methods,
        reason = "seeds a unique name; nothing is decided by the time"
    )]
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("aisle-standalone-{}-{nanos:x}-{n}", std::process::id())
}

fn to_record(msg: &BorrowedMessage<'_>) -> Record {
    let headers = msg
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| Header {
                    key: h.key.to_owned(),
                    value: h.value.map(Bytes::copy_from_slice).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    Record {
        topic: msg.topic().to_owned(),
        partition: msg.partition(),
        offset: msg.offset(),
        timestamp: msg.timestamp().to_millis().unwrap_or(-1),
        key: msg.key().map(Bytes::copy_from_slice),
        value: msg.payload().map(Bytes::copy_from_slice),
        headers,
    }
}

fn rd_offset(offset: Offset) -> rdkafka::Offset {
    match offset {
        Offset::Beginning => rdkafka::Offset::Beginning,
        Offset::End => rdkafka::Offset::End,
        Offset::At(n) => rdkafka::Offset::Offset(n),
        Offset::Committed => rdkafka::Offset::Stored,
    }
}

#[async_trait]
impl Consumer for KafkaConsumer {
    fn subscribe(&mut self, topics: &[&str]) -> Result<()> {
        self.group("subscribe")?;
        self.consumer
            .subscribe(topics)
            .map_err(|e| error::map(&format!("subscribe to {topics:?}"), e))
    }

    fn assign(&mut self, partitions: &[(TopicPartition, Offset)]) -> Result<()> {
        let mut tpl = TopicPartitionList::with_capacity(partitions.len());
        for (tp, offset) in partitions {
            tpl.add_partition_offset(&tp.topic, tp.partition, rd_offset(*offset))
                .map_err(|e| error::map(&format!("assign {tp}"), e))?;
        }
        self.consumer
            .assign(&tpl)
            .map_err(|e| error::map("assign", e))?;
        self.at_eof.clear();
        self.positions.clear();
        for (tp, offset) in partitions {
            if let Offset::At(n) = offset {
                self.positions.insert(tp.clone(), *n);
            }
        }
        Ok(())
    }

    async fn poll(&mut self, timeout: Duration) -> Result<Vec<Record>> {
        self.sync_generation();
        let consumer = self.consumer.clone();
        let mut stream = consumer.stream();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut out = Vec::new();
        // Wait for the first record (EOF events and rebalances may come before it)...
        loop {
            let item = match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_elapsed) => return Ok(out),
                Ok(None) => return Err(LogError::Closed),
                Ok(Some(item)) => item,
            };
            self.sync_generation();
            if let Some(record) = self.handle(item)? {
                out.push(record);
                break;
            }
        }
        // ...then take what is already there, without waiting.
        while out.len() < MAX_BATCH {
            match futures::FutureExt::now_or_never(stream.next()) {
                Some(Some(item)) => {
                    if let Some(record) = self.handle(item)? {
                        out.push(record);
                    }
                }
                Some(None) | None => break,
            }
        }
        self.note_positions(&out);
        Ok(out)
    }

    async fn seek(&mut self, tp: &TopicPartition, offset: Offset) -> Result<()> {
        let target = match offset {
            // librdkafka cannot seek to "the committed offset": look it up first.
            Offset::Committed => match self.committed(std::slice::from_ref(tp)).await?.remove(0) {
                Some(n) => rdkafka::Offset::Offset(n),
                None => match self.auto_offset_reset {
                    AutoOffsetReset::Earliest => rdkafka::Offset::Beginning,
                    AutoOffsetReset::Latest => rdkafka::Offset::End,
                },
            },
            other => rd_offset(other),
        };
        if !self.assignment().contains(tp) {
            return Err(LogError::InvalidArgument(format!(
                "seek: {tp} is not assigned to this consumer"
            )));
        }
        let consumer = self.consumer.clone();
        let (topic, partition, t) = (tp.topic.clone(), tp.partition, self.timeout);
        blocking(move || consumer.seek(&topic, partition, target, t))
            .await?
            .map_err(|e| error::map(&format!("seek {tp} to {offset:?}"), e))?;
        self.at_eof.remove(tp);
        match target {
            rdkafka::Offset::Offset(n) => self.positions.insert(tp.clone(), n),
            _ => self.positions.remove(tp),
        };
        Ok(())
    }

    fn position(&self, tp: &TopicPartition) -> Option<i64> {
        if let Some(p) = self.positions.get(tp) {
            return Some(*p);
        }
        let tpl = self.consumer.position().ok()?;
        let elem = tpl.find_partition(&tp.topic, tp.partition)?;
        match elem.offset() {
            rdkafka::Offset::Offset(n) => Some(n),
            _ => None,
        }
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.consumer
            .assignment()
            .map(|tpl| to_tps(&tpl))
            .unwrap_or_default()
    }

    fn is_caught_up(&self) -> bool {
        let assigned = self.assignment();
        !assigned.is_empty() && assigned.iter().all(|tp| self.at_eof.contains(tp))
    }

    fn take_rebalances(&mut self) -> Vec<Rebalance> {
        self.consumer
            .context()
            .events
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }

    async fn commit(&mut self, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        let group = self.group("commit")?.to_owned();
        if offsets.is_empty() {
            return Ok(());
        }
        let tpl = Self::to_tpl(offsets)?;
        let consumer = self.consumer.clone();
        blocking(move || consumer.commit(&tpl, CommitMode::Sync))
            .await?
            .map_err(|e| error::map(&format!("commit offsets of group `{group}`"), e))
    }

    async fn commit_positions(&mut self) -> Result<()> {
        let offsets: Vec<(TopicPartition, i64)> = self
            .assignment()
            .into_iter()
            .filter_map(|tp| self.position(&tp).map(|p| (tp, p)))
            .collect();
        self.commit(&offsets).await
    }

    async fn committed(&self, partitions: &[TopicPartition]) -> Result<Vec<Option<i64>>> {
        let group = self.group("committed")?.to_owned();
        let mut tpl = TopicPartitionList::with_capacity(partitions.len());
        for tp in partitions {
            tpl.add_partition(&tp.topic, tp.partition);
        }
        let consumer = self.consumer.clone();
        let t = self.timeout;
        let got = blocking(move || consumer.committed_offsets(tpl, t))
            .await?
            .map_err(|e| error::map(&format!("committed offsets of group `{group}`"), e))?;
        Ok(partitions
            .iter()
            .map(|tp| {
                match got
                    .find_partition(&tp.topic, tp.partition)
                    .map(|e| e.offset())
                {
                    Some(rdkafka::Offset::Offset(n)) => Some(n),
                    _ => None,
                }
            })
            .collect())
    }

    fn group_metadata(&self) -> Option<GroupMetadata> {
        let group_id = self.group_id.clone()?;
        let cgm = self.consumer.group_metadata()?;
        Some(GroupMetadata {
            group_id,
            inner: Arc::new(cgm),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_rdkafka() {
        assert_eq!(rd_offset(Offset::Beginning), rdkafka::Offset::Beginning);
        assert_eq!(rd_offset(Offset::End), rdkafka::Offset::End);
        assert_eq!(rd_offset(Offset::At(42)), rdkafka::Offset::Offset(42));
        assert_eq!(rd_offset(Offset::Committed), rdkafka::Offset::Stored);
    }

    #[test]
    fn broker_outages_are_informational_but_missing_topics_and_fatal_errors_are_not() {
        use rdkafka::types::RDKafkaErrorCode as Code;
        for code in [
            Code::BrokerTransportFailure,
            Code::AllBrokersDown,
            Code::NotLeaderForPartition,
            Code::CoordinatorLoadInProgress,
        ] {
            assert!(
                is_informational(&KafkaError::MessageConsumption(code)),
                "{code:?}"
            );
        }
        for code in [
            Code::UnknownTopicOrPartition,
            Code::Fatal,
            Code::TopicAuthorizationFailed,
        ] {
            assert!(
                !is_informational(&KafkaError::MessageConsumption(code)),
                "{code:?}"
            );
        }
        assert!(!is_informational(&KafkaError::Canceled));
    }

    #[test]
    fn creating_outside_a_runtime_is_an_error_not_a_panic() {
        let e = KafkaConsumer::new(&KafkaConfig::new("127.0.0.1:1"), &ConsumerConfig::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("tokio runtime"), "{e}");
    }

    #[tokio::test]
    async fn group_operations_without_a_group_are_rejected() {
        let c = KafkaConsumer::new(&KafkaConfig::new("127.0.0.1:1"), &ConsumerConfig::default())
            .unwrap();
        let e = c.group("commit").unwrap_err().to_string();
        assert!(e.contains("commit") && e.contains("group"), "{e}");
        assert!(c.group_metadata().is_none());
        assert!(!c.is_caught_up(), "nothing assigned is not caught up");
    }
}
