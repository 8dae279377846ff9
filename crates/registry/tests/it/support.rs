//! Test support: an in-memory [`Log`] that honours the trait for what the schema store uses
//! (topics, a producer, a consumer assigned to partitions), and helpers to run the server.
//!
//! It is deliberately small and strict: unknown topics and partitions are errors, offsets are
//! dense, a delivery resolves after the record is appended, and `poll` waits for new records
//! instead of spinning. Transactions buffer their records and append them at commit, with the
//! epochs of a transactional id fencing older producers (what the store relies on); group
//! features answer `InvalidArgument`.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aisle_log::{
    CleanupPolicy, Consumer, ConsumerConfig, DeliveryFuture, GroupMetadata, Log, LogError, Offset,
    ProduceRecord, Producer, ProducerConfig, Rebalance, Record, RecordMeta, TopicInfo,
    TopicPartition, TopicSpec, TxProducer,
};
use async_trait::async_trait;
use tokio::sync::Notify;

type Topics = BTreeMap<String, (CleanupPolicy, Vec<Vec<Record>>)>;

/// The in-memory log.
#[derive(Default)]
pub struct MemLog {
    topics: Mutex<Topics>,
    appended: Notify,
    /// When set, every produce fails with this message (to test the store's error path).
    pub fail_produce: Mutex<Option<String>>,
    /// The newest epoch of each transactional id.
    epochs: Mutex<HashMap<String, u64>>,
}

impl MemLog {
    pub fn new() -> Arc<Self> {
        Arc::new(MemLog::default())
    }

    /// Every record of a partition, for assertions.
    pub fn records(&self, topic: &str, partition: usize) -> Vec<Record> {
        let topics = self.topics.lock().unwrap();
        topics
            .get(topic)
            .map(|(_, parts)| parts[partition].clone())
            .unwrap_or_default()
    }

    /// Appends a record as another writer would (bypassing any producer).
    pub fn append(&self, rec: ProduceRecord) -> Result<RecordMeta, LogError> {
        let mut topics = self.topics.lock().unwrap();
        let (_, parts) = topics
            .get_mut(&rec.topic)
            .ok_or_else(|| LogError::UnknownTopic(rec.topic.clone()))?;
        let n = parts.len() as i32;
        let partition = match (rec.partition, &rec.key) {
            (Some(p), _) => p,
            (None, Some(k)) => aisle_log::partition_for_key(k, n),
            (None, None) => 0,
        };
        let part = parts
            .get_mut(partition as usize)
            .filter(|_| partition >= 0)
            .ok_or_else(|| LogError::UnknownPartition {
                topic: rec.topic.clone(),
                partition,
                partitions: n,
            })?;
        let offset = part.len() as i64;
        let timestamp = rec.timestamp.unwrap_or_else(aisle_log::now_ms);
        part.push(Record {
            topic: rec.topic,
            partition,
            offset,
            timestamp,
            key: rec.key,
            value: rec.value,
            headers: rec.headers,
        });
        drop(topics);
        self.appended.notify_waiters();
        Ok(RecordMeta {
            partition,
            offset,
            timestamp,
        })
    }
}

/// The [`Log`] over a [`MemLog`]; clones share the same topics.
#[derive(Clone)]
pub struct MemLogHandle(pub Arc<MemLog>);

impl MemLogHandle {
    pub fn new() -> Self {
        MemLogHandle(MemLog::new())
    }
    /// As the trait object the store takes.
    pub fn log(&self) -> Arc<dyn Log> {
        Arc::new(self.clone())
    }
}

#[async_trait]
impl Log for MemLogHandle {
    fn runtime(&self) -> &'static str {
        "memory"
    }
    async fn create_topic(&self, spec: &TopicSpec) -> aisle_log::Result<bool> {
        if spec.partitions < 1 {
            return Err(LogError::InvalidArgument(format!(
                "{}: partitions must be >= 1",
                spec.name
            )));
        }
        let mut topics = self.0.topics.lock().unwrap();
        if topics.contains_key(&spec.name) {
            return Ok(false);
        }
        let parts = (0..spec.partitions).map(|_| Vec::new()).collect();
        topics.insert(spec.name.clone(), (spec.cleanup, parts));
        Ok(true)
    }
    async fn list_topics(&self) -> aisle_log::Result<Vec<TopicInfo>> {
        let topics = self.0.topics.lock().unwrap();
        Ok(topics
            .iter()
            .filter(|(n, _)| !n.starts_with("__"))
            .map(|(n, (c, p))| TopicInfo {
                name: n.clone(),
                partitions: p.len() as i32,
                cleanup: *c,
            })
            .collect())
    }
    async fn describe_topic(&self, topic: &str) -> aisle_log::Result<TopicInfo> {
        let topics = self.0.topics.lock().unwrap();
        let (c, p) = topics
            .get(topic)
            .ok_or_else(|| LogError::UnknownTopic(topic.into()))?;
        Ok(TopicInfo {
            name: topic.into(),
            partitions: p.len() as i32,
            cleanup: *c,
        })
    }
    async fn delete_topic(&self, topic: &str) -> aisle_log::Result<()> {
        let mut topics = self.0.topics.lock().unwrap();
        topics
            .remove(topic)
            .map(|_| ())
            .ok_or_else(|| LogError::UnknownTopic(topic.into()))
    }
    async fn watermarks(&self, tp: &TopicPartition) -> aisle_log::Result<(i64, i64)> {
        let topics = self.0.topics.lock().unwrap();
        let (_, parts) = topics
            .get(&tp.topic)
            .ok_or_else(|| LogError::UnknownTopic(tp.topic.clone()))?;
        let part = parts
            .get(tp.partition as usize)
            .ok_or_else(|| LogError::UnknownPartition {
                topic: tp.topic.clone(),
                partition: tp.partition,
                partitions: parts.len() as i32,
            })?;
        Ok((0, part.len() as i64))
    }
    fn producer(&self, _config: &ProducerConfig) -> aisle_log::Result<Arc<dyn Producer>> {
        Ok(Arc::new(MemProducer(self.0.clone())))
    }
    fn consumer(&self, config: &ConsumerConfig) -> aisle_log::Result<Box<dyn Consumer>> {
        if config.group_id.is_some() {
            return Err(LogError::InvalidArgument(
                "groups are not in the test double".into(),
            ));
        }
        Ok(Box::new(MemConsumer {
            log: self.0.clone(),
            positions: HashMap::new(),
            caught_up: false,
        }))
    }
    async fn tx_producer(
        &self,
        id: &str,
        _config: &ProducerConfig,
    ) -> aisle_log::Result<Box<dyn TxProducer>> {
        let mut epochs = self.0.epochs.lock().unwrap();
        let epoch = epochs.entry(id.to_owned()).or_insert(0);
        *epoch += 1;
        Ok(Box::new(MemTx {
            log: self.0.clone(),
            id: id.to_owned(),
            epoch: *epoch,
            open: None,
        }))
    }
}

/// A transactional producer of the double: records wait in `open` until the commit.
struct MemTx {
    log: Arc<MemLog>,
    id: String,
    epoch: u64,
    open: Option<Vec<ProduceRecord>>,
}

impl MemTx {
    fn check_epoch(&self) -> aisle_log::Result<()> {
        if self.log.epochs.lock().unwrap().get(&self.id) == Some(&self.epoch) {
            Ok(())
        } else {
            Err(LogError::Fenced(format!(
                "{} epoch {}",
                self.id, self.epoch
            )))
        }
    }
}

#[async_trait]
impl TxProducer for MemTx {
    async fn begin(&mut self) -> aisle_log::Result<()> {
        self.check_epoch()?;
        self.open = Some(Vec::new());
        Ok(())
    }
    async fn send(&mut self, record: ProduceRecord) -> aisle_log::Result<()> {
        self.check_epoch()?;
        self.open
            .as_mut()
            .ok_or_else(|| LogError::Transaction("send outside a transaction".into()))?
            .push(record);
        Ok(())
    }
    async fn send_offsets(
        &mut self,
        _offsets: &[(TopicPartition, i64)],
        _group: &GroupMetadata,
    ) -> aisle_log::Result<()> {
        Err(LogError::InvalidArgument(
            "groups are not in the test double".into(),
        ))
    }
    async fn commit(&mut self) -> aisle_log::Result<()> {
        let records = self
            .open
            .take()
            .ok_or_else(|| LogError::Transaction("commit outside a transaction".into()))?;
        if let Some(msg) = self.log.fail_produce.lock().unwrap().clone() {
            return Err(LogError::Timeout(msg));
        }
        // The epoch check and the appends under one lock: a newer epoch either fences this
        // commit or sees all of it.
        let epochs = self.log.epochs.lock().unwrap();
        if epochs.get(&self.id) != Some(&self.epoch) {
            return Err(LogError::Fenced(format!(
                "{} epoch {}",
                self.id, self.epoch
            )));
        }
        for rec in records {
            self.log.append(rec)?;
        }
        drop(epochs);
        Ok(())
    }
    async fn abort(&mut self) -> aisle_log::Result<()> {
        self.open = None;
        Ok(())
    }
}

struct MemProducer(Arc<MemLog>);

#[async_trait]
impl Producer for MemProducer {
    async fn send(&self, record: ProduceRecord) -> aisle_log::Result<DeliveryFuture> {
        if let Some(msg) = self.0.fail_produce.lock().unwrap().clone() {
            return Ok(DeliveryFuture::failed(LogError::Timeout(msg)));
        }
        let meta = self.0.append(record);
        Ok(DeliveryFuture::new(async move { meta }))
    }
    async fn flush(&self, _timeout: Duration) -> aisle_log::Result<()> {
        Ok(())
    }
}

struct MemConsumer {
    log: Arc<MemLog>,
    positions: HashMap<TopicPartition, i64>,
    caught_up: bool,
}

impl MemConsumer {
    fn take_available(&mut self) -> Vec<Record> {
        let topics = self.log.topics.lock().unwrap();
        let mut out = Vec::new();
        let mut caught_up = true;
        for (tp, pos) in self.positions.iter_mut() {
            let Some((_, parts)) = topics.get(&tp.topic) else {
                continue;
            };
            let part = &parts[tp.partition as usize];
            let from = (*pos).max(0) as usize;
            if from < part.len() {
                out.extend_from_slice(&part[from..]);
                *pos = part.len() as i64;
            }
            caught_up &= *pos >= part.len() as i64;
        }
        self.caught_up = caught_up;
        out
    }
}

#[async_trait]
impl Consumer for MemConsumer {
    fn subscribe(&mut self, _topics: &[&str]) -> aisle_log::Result<()> {
        Err(LogError::InvalidArgument(
            "groups are not in the test double".into(),
        ))
    }
    fn assign(&mut self, partitions: &[(TopicPartition, Offset)]) -> aisle_log::Result<()> {
        self.positions.clear();
        for (tp, off) in partitions {
            let start = match off {
                Offset::Beginning | Offset::Committed => 0,
                Offset::At(o) => *o,
                Offset::End => self.log.records(&tp.topic, tp.partition as usize).len() as i64,
            };
            self.positions.insert(tp.clone(), start);
        }
        Ok(())
    }
    async fn poll(&mut self, timeout: Duration) -> aisle_log::Result<Vec<Record>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register interest before looking, so an append between look and wait is not lost.
            let log = self.log.clone();
            let notified = log.appended.notified();
            let batch = self.take_available();
            if !batch.is_empty() {
                return Ok(batch);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }
    async fn seek(&mut self, tp: &TopicPartition, offset: Offset) -> aisle_log::Result<()> {
        self.assign(&[(tp.clone(), offset)])
    }
    fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.positions.get(tp).copied()
    }
    fn assignment(&self) -> Vec<TopicPartition> {
        self.positions.keys().cloned().collect()
    }
    fn is_caught_up(&self) -> bool {
        self.caught_up
    }
    fn take_rebalances(&mut self) -> Vec<Rebalance> {
        Vec::new()
    }
    async fn commit(&mut self, _offsets: &[(TopicPartition, i64)]) -> aisle_log::Result<()> {
        Err(LogError::InvalidArgument("no group".into()))
    }
    async fn commit_positions(&mut self) -> aisle_log::Result<()> {
        Err(LogError::InvalidArgument("no group".into()))
    }
    async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> aisle_log::Result<Vec<Option<i64>>> {
        Ok(vec![None; partitions.len()])
    }
    fn group_metadata(&self) -> Option<GroupMetadata> {
        None
    }
}
