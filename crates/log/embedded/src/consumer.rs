//! [`EmbeddedConsumer`]: reads partitions, alone or as an in-process group member.

use crate::groups::Mailbox;
use crate::log::Inner;
use crate::partition::{Partition, ReadCursor};
use crate::writer::Cmd;
use aisle_log::{
    AutoOffsetReset, Consumer, ConsumerConfig, GroupMetadata, LogError, Offset, Rebalance, Record,
    Result, TopicPartition,
};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Bytes one `poll` reads at most (across partitions).
const POLL_BYTES: usize = 4 << 20;

struct Assigned {
    tp: TopicPartition,
    part: Arc<Partition>,
    position: i64,
    cursor: Option<ReadCursor>,
}

struct Membership {
    group: String,
    id: u64,
    mailbox: Arc<Mailbox>,
    generation: u64,
}

/// A consumer of the embedded log.
pub struct EmbeddedConsumer {
    inner: Arc<Inner>,
    config: ConsumerConfig,
    member: Option<Membership>,
    assigned: Vec<Assigned>,
    rebalances: Vec<Rebalance>,
    caught_up: bool,
    version: watch::Receiver<u64>,
    next_start: usize,
}

/// What a [`GroupMetadata`] from this runtime carries.
#[derive(Debug)]
pub struct MemberInfo {
    /// Member id within the process.
    pub member_id: u64,
    /// Group generation when the metadata was taken.
    pub generation: u64,
}

impl EmbeddedConsumer {
    pub(crate) fn new(inner: Arc<Inner>, config: ConsumerConfig) -> Self {
        let version = inner.shared.data_version.subscribe();
        EmbeddedConsumer {
            inner,
            config,
            member: None,
            assigned: Vec::new(),
            rebalances: Vec::new(),
            caught_up: false,
            version,
            next_start: 0,
        }
    }

    fn partition(&self, tp: &TopicPartition) -> Result<Arc<Partition>> {
        Ok(self
            .inner
            .topic(&tp.topic)?
            .partition(tp.partition)?
            .clone())
    }

    fn committed_offset(&self, tp: &TopicPartition) -> Option<i64> {
        let group = self.config.group_id.as_ref()?;
        let offs = self.inner.shared.offsets.lock();
        offs.get(group)?
            .get(&(tp.topic.clone(), tp.partition))
            .copied()
    }

    /// Turns a requested position into an absolute offset within the retained range.
    fn resolve(&self, tp: &TopicPartition, part: &Partition, offset: Offset) -> i64 {
        let (low, high) = part.watermarks();
        let reset = match self.config.auto_offset_reset {
            AutoOffsetReset::Earliest => low,
            AutoOffsetReset::Latest => high,
        };
        match offset {
            Offset::Beginning => low,
            Offset::End => high,
            Offset::At(o) if (low..=high).contains(&o) => o,
            Offset::At(_) => reset,
            Offset::Committed => match self.committed_offset(tp) {
                Some(o) if (low..=high).contains(&o) => o,
                _ => reset,
            },
        }
    }

    fn leave_group(&mut self) {
        if let Some(m) = self.member.take() {
            let inner = self.inner.clone();
            inner
                .groups
                .leave(&m.group, m.id, &|t| inner.partitions_of(t));
        }
    }

    /// Applies a new assignment from the coordinator, if there is one.
    fn apply_mailbox(&mut self) {
        let Some(m) = &self.member else { return };
        let Some((generation, new)) = m.mailbox.assignment.lock().take() else {
            return;
        };
        if let Some(m) = &mut self.member {
            m.generation = generation;
        }
        let revoked: Vec<TopicPartition> = self
            .assigned
            .iter()
            .map(|a| a.tp.clone())
            .filter(|tp| !new.contains(tp))
            .collect();
        self.assigned.retain(|a| new.contains(&a.tp));
        let mut added = Vec::new();
        for tp in new {
            if self.assigned.iter().any(|a| a.tp == tp) {
                continue;
            }
            let Ok(part) = self.partition(&tp) else {
                continue;
            };
            let position = self.resolve(&tp, &part, Offset::Committed);
            self.assigned.push(Assigned {
                tp: tp.clone(),
                part,
                position,
                cursor: None,
            });
            added.push(tp);
        }
        if !revoked.is_empty() {
            self.rebalances.push(Rebalance::Revoked(revoked));
        }
        if !added.is_empty() {
            self.rebalances.push(Rebalance::Assigned(added));
        }
    }

    /// Reads what is available now from every assigned partition, round-robin.
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
            a.position = a.part.read(a.position, per, &mut a.cursor, &mut out)?;
        }
        self.next_start = (self.next_start + 1) % n;
        Ok(out)
    }

    fn update_caught_up(&mut self) {
        self.caught_up = self
            .assigned
            .iter()
            .all(|a| a.position >= a.part.durable.borrow().next);
    }
}

impl Drop for EmbeddedConsumer {
    fn drop(&mut self) {
        self.leave_group();
    }
}

#[async_trait]
impl Consumer for EmbeddedConsumer {
    fn subscribe(&mut self, topics: &[&str]) -> Result<()> {
        let Some(group) = self.config.group_id.clone() else {
            return Err(LogError::InvalidArgument(
                "subscribe needs a consumer group id".into(),
            ));
        };
        self.leave_group();
        let inner = self.inner.clone();
        let (id, mailbox) = inner
            .groups
            .join(&group, topics, &|t| inner.partitions_of(t));
        self.member = Some(Membership {
            group,
            id,
            mailbox,
            generation: 0,
        });
        self.apply_mailbox();
        Ok(())
    }

    fn assign(&mut self, partitions: &[(TopicPartition, Offset)]) -> Result<()> {
        self.leave_group();
        let mut assigned = Vec::with_capacity(partitions.len());
        for (tp, off) in partitions {
            let part = self.partition(tp)?;
            let position = self.resolve(tp, &part, *off);
            assigned.push(Assigned {
                tp: tp.clone(),
                part,
                position,
                cursor: None,
            });
        }
        self.assigned = assigned;
        self.caught_up = false;
        Ok(())
    }

    async fn poll(&mut self, timeout: Duration) -> Result<Vec<Record>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.apply_mailbox();
            // Mark the current version seen *before* reading, so a publish that lands after
            // the read wakes the wait below.
            self.version.borrow_and_update();
            let out = self.read_available()?;
            self.update_caught_up();
            if !out.is_empty() {
                return Ok(out);
            }
            let mailbox = self.member.as_ref().map(|m| m.mailbox.clone());
            let rebalanced = async {
                match &mailbox {
                    Some(m) => m.notify.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = self.version.changed() => { if r.is_err() { return Err(LogError::Closed); } }
                _ = rebalanced => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
            }
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
        let part = self.assigned[i].part.clone();
        let position = self.resolve(tp, &part, offset);
        let a = &mut self.assigned[i];
        a.position = position;
        a.cursor = None;
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
        self.apply_mailbox();
        std::mem::take(&mut self.rebalances)
    }

    async fn commit(&mut self, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        let Some(group) = self.config.group_id.clone() else {
            return Err(LogError::InvalidArgument(
                "commit needs a consumer group id".into(),
            ));
        };
        if offsets.is_empty() {
            return Ok(());
        }
        for (tp, _) in offsets {
            self.partition(tp)?;
        }
        let (done, rx) = oneshot::channel();
        let offsets = offsets
            .iter()
            .map(|(tp, o)| (tp.topic.clone(), tp.partition, *o))
            .collect();
        self.inner.shared.submit(Cmd::Offsets {
            group,
            offsets,
            done,
        });
        rx.await.map_err(|_| LogError::Closed)?
    }

    async fn commit_positions(&mut self) -> Result<()> {
        let offs: Vec<(TopicPartition, i64)> = self
            .assigned
            .iter()
            .map(|a| (a.tp.clone(), a.position))
            .collect();
        self.commit(&offs).await
    }

    async fn committed(&self, partitions: &[TopicPartition]) -> Result<Vec<Option<i64>>> {
        Ok(partitions
            .iter()
            .map(|tp| self.committed_offset(tp))
            .collect())
    }

    fn group_metadata(&self) -> Option<GroupMetadata> {
        let group_id = self.config.group_id.clone()?;
        let (member_id, generation) = self
            .member
            .as_ref()
            .map_or((0, 0), |m| (m.id, m.generation));
        Some(GroupMetadata {
            group_id,
            inner: Arc::new(MemberInfo {
                member_id,
                generation,
            }),
        })
    }
}
