//! Producers: plain ([`EmbeddedProducer`]) and transactional ([`EmbeddedTxProducer`]).

use crate::log::Inner;
use crate::partition::{Durable, Partition};
use crate::topic::Topic;
use crate::writer::{Cmd, TxRecord};
use aisle_log::{
    BatchDelivery, DeliveryFuture, GroupMetadata, LogError, ProduceRecord, Producer, RecordMeta,
    Result, TopicPartition, TxProducer, partition_for_key,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Picks the partition: explicit, else murmur2 of the key, else round-robin.
pub(crate) fn choose_partition<'t>(
    topic: &'t Topic,
    rec: &ProduceRecord,
) -> Result<&'t Arc<Partition>> {
    let n = topic.meta.partitions;
    let p = match (rec.partition, &rec.key) {
        (Some(p), _) => p,
        (None, Some(k)) => partition_for_key(k, n),
        (None, None) => (topic.round_robin.fetch_add(1, Ordering::Relaxed) % n as u32) as i32,
    };
    topic.partition(p)
}

/// Waits until `offset` of the partition watched by `rx` is durable.
async fn wait_durable(mut rx: watch::Receiver<Durable>, offset: i64) -> Result<()> {
    let d = rx
        .wait_for(|d| d.next > offset || d.error.is_some())
        .await
        .map_err(|_| LogError::Closed)?;
    if d.next > offset {
        return Ok(());
    }
    let msg = d.error.clone().unwrap_or_else(|| "writer failed".into());
    Err(LogError::io("", std::io::Error::other(msg.to_string())))
}

/// A producer of the embedded log.
pub struct EmbeddedProducer {
    inner: Arc<Inner>,
}

impl EmbeddedProducer {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        EmbeddedProducer { inner }
    }
}

#[async_trait]
impl Producer for EmbeddedProducer {
    async fn send(&self, record: ProduceRecord) -> Result<DeliveryFuture> {
        self.inner.shared.check()?;
        let topic = self.inner.topic_for_produce(&record.topic)?;
        let part = choose_partition(&topic, &record)?;
        let timestamp = record.timestamp.unwrap_or_else(aisle_log::now_ms);
        let cfg = &self.inner.shared.config;
        let (offset, mark) = loop {
            let notified = part.drained.notified();
            tokio::pin!(notified);
            {
                let mut pend = part.pending.lock();
                // One oversized record may always enter an empty queue, or it could never fit.
                if pend.bytes < cfg.max_pending_bytes || pend.batches.is_empty() {
                    let off = Partition::append(
                        &mut pend,
                        cfg.max_batch_bytes,
                        timestamp,
                        record.key.as_deref(),
                        record.value.as_deref(),
                        &record.headers,
                        0,
                    );
                    let mark = !pend.queued;
                    pend.queued = true;
                    break (off, mark);
                }
                // Register before unlocking so the writer's drain cannot be missed.
                notified.as_mut().enable();
            }
            if part.deleted.load(Ordering::Acquire) {
                return Err(LogError::UnknownTopic(record.topic));
            }
            notified.await;
        };
        if mark {
            self.inner.shared.mark_dirty(part);
        }
        let rx = part.durable.subscribe();
        let meta = RecordMeta {
            partition: part.id,
            offset,
            timestamp,
        };
        Ok(DeliveryFuture::new(async move {
            wait_durable(rx, offset).await?;
            Ok(meta)
        }))
    }

    /// One lock per run of records bound for the same partition, and one durability wait per
    /// partition for the whole batch instead of a future per record.
    async fn send_batch(&self, records: &[ProduceRecord]) -> Result<BatchDelivery> {
        self.inner.shared.check()?;
        let cfg = &self.inner.shared.config;
        let mut metas = Vec::with_capacity(records.len());
        // Per partition touched: the partition and the last offset this batch gave it.
        let mut last: Vec<(Arc<Partition>, i64)> = Vec::new();
        let mut topic: Option<Arc<Topic>> = None;
        let mut i = 0;
        while i < records.len() {
            let t = match &topic {
                Some(t) if t.meta.name == records[i].topic => t.clone(),
                _ => {
                    let t = self.inner.topic_for_produce(&records[i].topic)?;
                    topic = Some(t.clone());
                    t
                }
            };
            let part = choose_partition(&t, &records[i])?.clone();
            let notified = part.drained.notified();
            tokio::pin!(notified);
            let appended = {
                let mut pend = part.pending.lock();
                if pend.bytes >= cfg.max_pending_bytes && !pend.batches.is_empty() {
                    // Register before unlocking so the writer's drain cannot be missed.
                    notified.as_mut().enable();
                    None
                } else {
                    // Append under one lock while the records go to this partition and fit.
                    let mut offset;
                    loop {
                        let record = &records[i];
                        let timestamp = record.timestamp.unwrap_or_else(aisle_log::now_ms);
                        offset = Partition::append(
                            &mut pend,
                            cfg.max_batch_bytes,
                            timestamp,
                            record.key.as_deref(),
                            record.value.as_deref(),
                            &record.headers,
                            0,
                        );
                        metas.push(RecordMeta {
                            partition: part.id,
                            offset,
                            timestamp,
                        });
                        i += 1;
                        let same = records.get(i).is_some_and(|r| {
                            r.topic == t.meta.name
                                && pend.bytes < cfg.max_pending_bytes
                                && choose_partition(&t, r).is_ok_and(|p| p.id == part.id)
                        });
                        if !same {
                            break;
                        }
                    }
                    let mark = !pend.queued;
                    pend.queued = true;
                    Some((mark, offset))
                }
            };
            match appended {
                Some((mark, offset)) => {
                    if mark {
                        self.inner.shared.mark_dirty(&part);
                    }
                    match last.iter_mut().find(|(p, _)| Arc::ptr_eq(p, &part)) {
                        Some(l) => l.1 = offset,
                        None => last.push((part.clone(), offset)),
                    }
                }
                None => {
                    if part.deleted.load(Ordering::Acquire) {
                        return Err(LogError::UnknownTopic(records[i].topic.clone()));
                    }
                    notified.await;
                }
            }
        }
        let waits: Vec<_> = last
            .into_iter()
            .map(|(p, offset)| (p.durable.subscribe(), offset))
            .collect();
        Ok(BatchDelivery::new(async move {
            for (rx, offset) in waits {
                wait_durable(rx, offset).await?;
            }
            Ok(metas)
        }))
    }

    async fn flush(&self, timeout: Duration) -> Result<()> {
        let topics: Vec<Arc<Topic>> = self.inner.topics.read().values().cloned().collect();
        let waits = topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter_map(|p| {
                let target = p.pending.lock().next_offset;
                (p.durable.borrow().next < target)
                    .then(|| wait_durable(p.durable.subscribe(), target - 1))
            });
        let all = futures::future::try_join_all(waits);
        match tokio::time::timeout(timeout, all).await {
            Ok(r) => r.map(|_| ()),
            Err(_) => Err(LogError::Timeout(format!(
                "flush did not finish within {timeout:?}"
            ))),
        }
    }
}

/// A transactional producer. Records are buffered until `commit`, which hands them to the
/// writer as one unit: they get offsets, are written, and become visible together with the
/// group offsets, or (aborted, fenced, crashed) never appear.
pub struct EmbeddedTxProducer {
    inner: Arc<Inner>,
    id: String,
    epoch: u64,
    open: bool,
    records: HashMap<(String, i32), (Arc<Partition>, Vec<TxRecord>)>,
    order: Vec<(String, i32)>,
    offsets: Option<(String, crate::writer::GroupOffsets)>,
}

impl EmbeddedTxProducer {
    /// A producer holding the next epoch of `id`, taken through the writer's queue
    /// ([`Cmd::Init`]): it returns once every commit queued before it is published.
    pub(crate) async fn init(inner: Arc<Inner>, id: &str) -> Result<Self> {
        let (done, rx) = oneshot::channel();
        inner.shared.submit(Cmd::Init {
            transactional_id: id.to_owned(),
            done,
        });
        let epoch = rx.await.map_err(|_| LogError::Closed)??;
        Ok(EmbeddedTxProducer {
            inner,
            id: id.to_owned(),
            epoch,
            open: false,
            records: HashMap::new(),
            order: Vec::new(),
            offsets: None,
        })
    }

    fn check_epoch(&self) -> Result<()> {
        let current = self.inner.shared.tx_epochs.lock().get(&self.id).copied();
        if current != Some(self.epoch) {
            return Err(LogError::Fenced(format!(
                "transactional id `{}` was taken over by a newer producer",
                self.id
            )));
        }
        Ok(())
    }

    fn check_open(&self, op: &str) -> Result<()> {
        self.check_epoch()?;
        if !self.open {
            return Err(LogError::Transaction(format!(
                "{op} without an open transaction"
            )));
        }
        Ok(())
    }

    fn clear(&mut self) {
        self.open = false;
        self.records.clear();
        self.order.clear();
        self.offsets = None;
    }
}

#[async_trait]
impl TxProducer for EmbeddedTxProducer {
    async fn begin(&mut self) -> Result<()> {
        self.check_epoch()?;
        if self.open {
            return Err(LogError::Transaction(
                "begin while a transaction is open".into(),
            ));
        }
        self.open = true;
        Ok(())
    }

    async fn send(&mut self, record: ProduceRecord) -> Result<()> {
        self.check_open("send")?;
        let topic = self.inner.topic_for_produce(&record.topic)?;
        let part = choose_partition(&topic, &record)?.clone();
        let key = (record.topic.clone(), part.id);
        let rec = TxRecord {
            timestamp: record.timestamp.unwrap_or_else(aisle_log::now_ms),
            key: record.key,
            value: record.value,
            headers: record.headers,
        };
        match self.records.get_mut(&key) {
            Some((_, v)) => v.push(rec),
            None => {
                self.order.push(key.clone());
                self.records.insert(key, (part, vec![rec]));
            }
        }
        Ok(())
    }

    async fn send_offsets(
        &mut self,
        offsets: &[(TopicPartition, i64)],
        group: &GroupMetadata,
    ) -> Result<()> {
        self.check_open("send_offsets")?;
        let list = offsets
            .iter()
            .map(|(tp, o)| (tp.topic.clone(), tp.partition, *o));
        match &mut self.offsets {
            Some((g, v)) if *g == group.group_id => v.extend(list),
            Some((g, _)) => {
                return Err(LogError::Transaction(format!(
                    "offsets of group `{}` sent to a transaction already holding group `{g}`",
                    group.group_id
                )));
            }
            None => self.offsets = Some((group.group_id.clone(), list.collect())),
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<()> {
        self.check_open("commit")?;
        let mut records = Vec::with_capacity(self.order.len());
        for k in std::mem::take(&mut self.order) {
            if let Some(v) = self.records.remove(&k) {
                records.push(v);
            }
        }
        let group = self.offsets.take();
        self.clear();
        if records.is_empty() && group.is_none() {
            return Ok(());
        }
        let (done, rx) = oneshot::channel();
        self.inner.shared.submit(Cmd::Tx {
            transactional_id: self.id.clone(),
            epoch: self.epoch,
            records,
            group,
            done,
        });
        rx.await.map_err(|_| LogError::Closed)?
    }

    async fn abort(&mut self) -> Result<()> {
        self.check_epoch()?;
        self.clear();
        Ok(())
    }
}
