//! The clients of a [`super::ReadOnlyLog`]: a consumer by manual assignment that polls the
//! files, and a producer whose every write fails with [`LogError::ReadOnly`].

use super::Shared;
use super::tail::{PartitionReader, Skipped};
use aisle_log::{
    AutoOffsetReset, Consumer, ConsumerConfig, DeliveryFuture, GroupMetadata, LogError, Offset,
    ProduceRecord, Producer, Rebalance, Record, Result, TopicPartition,
};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// Bytes one `poll` reads at most (across partitions).
const POLL_BYTES: usize = 4 << 20;

struct Assigned {
    tp: TopicPartition,
    reader: PartitionReader,
    position: i64,
}

/// A consumer of a read-only log: manual assignment only, no group membership, no commits.
///
/// `poll` reads what the files hold and, when there is nothing new, looks again every
/// [`super::ReadOnlyOptions::poll_interval`] until its timeout.
pub struct ReadOnlyConsumer {
    shared: Arc<Shared>,
    config: ConsumerConfig,
    assigned: Vec<Assigned>,
    caught_up: bool,
    next_start: usize,
    skipped: Vec<Skipped>,
}

impl std::fmt::Debug for ReadOnlyConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyConsumer")
            .field("dir", &self.shared.dir)
            .field("assignment", &self.assignment())
            .finish()
    }
}

impl ReadOnlyConsumer {
    pub(super) fn new(shared: Arc<Shared>, config: ConsumerConfig) -> Self {
        ReadOnlyConsumer {
            shared,
            config,
            assigned: Vec::new(),
            caught_up: false,
            next_start: 0,
            skipped: Vec::new(),
        }
    }

    /// Offsets the writer's retention deleted before this consumer read them (each is also
    /// logged as a warning when it happens), since the last call.
    pub fn take_skipped(&mut self) -> Vec<Skipped> {
        for a in &mut self.assigned {
            self.skipped.extend(a.reader.take_skipped());
        }
        std::mem::take(&mut self.skipped)
    }

    fn refused(&self, what: &str) -> LogError {
        self.shared.refused(what)
    }

    fn committed_offset(&self, tp: &TopicPartition) -> Result<Option<i64>> {
        let Some(group) = &self.config.group_id else {
            return Ok(None);
        };
        self.shared
            .journal
            .lock()
            .committed(group, &tp.topic, tp.partition)
    }

    /// Turns a requested position into an absolute offset within the retained range.
    fn resolve(&self, tp: &TopicPartition, offset: Offset) -> Result<i64> {
        let (low, high) = self.shared.watermarks(tp)?;
        let reset = match self.config.auto_offset_reset {
            AutoOffsetReset::Earliest => low,
            AutoOffsetReset::Latest => high,
        };
        Ok(match offset {
            Offset::Beginning => low,
            Offset::End => high,
            Offset::At(o) if (low..=high).contains(&o) => o,
            Offset::At(_) => reset,
            Offset::Committed => match self.committed_offset(tp)? {
                Some(o) if (low..=high).contains(&o) => o,
                _ => reset,
            },
        })
    }

    fn read_available(&mut self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let n = self.assigned.len();
        if n == 0 {
            return Ok(out);
        }
        let per = (POLL_BYTES / n).max(64 << 10);
        for k in 0..n {
            let i = (self.next_start + k) % n;
            let a = &mut self.assigned[i];
            let mut journal = self.shared.journal.lock();
            a.position = a.reader.read(a.position, per, &mut journal, &mut out)?;
        }
        self.next_start = (self.next_start + 1) % n;
        Ok(out)
    }
}

#[async_trait]
impl Consumer for ReadOnlyConsumer {
    fn subscribe(&mut self, topics: &[&str]) -> Result<()> {
        Err(self.refused(&format!(
            "cannot join a consumer group for {topics:?}: groups live in the writer's process; \
             a reader takes partitions with assign"
        )))
    }

    fn assign(&mut self, partitions: &[(TopicPartition, Offset)]) -> Result<()> {
        let mut assigned = Vec::with_capacity(partitions.len());
        for (tp, off) in partitions {
            let dir = self.shared.partition_dir(tp)?;
            let position = self.resolve(tp, *off)?;
            assigned.push(Assigned {
                tp: tp.clone(),
                reader: PartitionReader::new(&tp.topic, tp.partition, dir),
                position,
            });
        }
        for a in &mut self.assigned {
            self.skipped.extend(a.reader.take_skipped());
        }
        self.assigned = assigned;
        self.caught_up = false;
        Ok(())
    }

    async fn poll(&mut self, timeout: Duration) -> Result<Vec<Record>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let out = self.read_available()?;
            self.caught_up = self.assigned.iter().all(|a| a.reader.at_tail());
            if !out.is_empty() {
                return Ok(out);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(out);
            }
            // Nothing tells a reader in another process that the writer appended: look again.
            let wait = self.shared.options.poll_interval.min(deadline - now);
            tokio::time::sleep(wait).await;
        }
    }

    async fn seek(&mut self, tp: &TopicPartition, offset: Offset) -> Result<()> {
        let i = self
            .assigned
            .iter()
            .position(|a| &a.tp == tp)
            .ok_or_else(|| {
                LogError::InvalidArgument(format!(
                    "seek on {tp}, which is not assigned to this consumer"
                ))
            })?;
        let position = self.resolve(tp, offset)?;
        self.assigned[i].position = position;
        self.caught_up = false;
        Ok(())
    }

    fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.assigned
            .iter()
            .find(|a| &a.tp == tp)
            .map(|a| a.position)
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.assigned.iter().map(|a| a.tp.clone()).collect()
    }

    fn is_caught_up(&self) -> bool {
        self.caught_up
    }

    fn take_rebalances(&mut self) -> Vec<Rebalance> {
        Vec::new()
    }

    async fn commit(&mut self, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        let tps: Vec<String> = offsets.iter().map(|(tp, o)| format!("{tp}@{o}")).collect();
        Err(self.refused(&format!("cannot commit offsets {tps:?}")))
    }

    async fn commit_positions(&mut self) -> Result<()> {
        Err(self.refused("cannot commit positions"))
    }

    async fn committed(&self, partitions: &[TopicPartition]) -> Result<Vec<Option<i64>>> {
        partitions
            .iter()
            .map(|tp| self.committed_offset(tp))
            .collect()
    }

    fn group_metadata(&self) -> Option<GroupMetadata> {
        None
    }
}

/// The producer of a read-only log: it exists (so code that creates a producer up front, like
/// the schema store, can open), but every write fails with [`LogError::ReadOnly`].
pub struct ReadOnlyProducer {
    pub(super) shared: Arc<Shared>,
}

#[async_trait]
impl Producer for ReadOnlyProducer {
    async fn send(&self, record: ProduceRecord) -> Result<DeliveryFuture> {
        Err(self
            .shared
            .refused(&format!("cannot write to `{}`", record.topic)))
    }

    async fn flush(&self, _timeout: Duration) -> Result<()> {
        Ok(())
    }
}
