//! A table materialised from a (compacted) topic: the latest value per key, tombstones delete,
//! with a short per-key history so a stream can be joined with the table *as of its event time*.
//!
//! [`VersionedTable`] is the in-memory state; [`TableFeed`] keeps one up to date from a topic. The
//! feed reads every partition by manual assignment (no consumer group), so each instance of a
//! scaled-out processor holds the whole table (a replicated "global table"): inventory is small.

use crate::error::{Result, StreamsError};
use aisle_log::{Consumer, ConsumerConfig, Isolation, Log, Offset, Record, TopicPartition};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A key's versions, oldest first: (change time, row or `None` for a delete).
type Versions<V> = Vec<(i64, Option<Arc<V>>)>;

/// Latest value per key plus recent versions.
///
/// Each change is stored with its record timestamp. [`VersionedTable::get_at`] answers "what was
/// the row at time `t`": the newest version with timestamp `<= t`. Versions older than
/// `history_ms` behind a key's newest version are dropped, except the newest one before that
/// horizon (it is still the answer for times after it). With `history_ms == 0` only the latest
/// version is kept and every lookup sees it (a processing-time join).
#[derive(Debug)]
pub struct VersionedTable<V> {
    rows: HashMap<String, Versions<V>>,
    history_ms: i64,
}

impl<V> VersionedTable<V> {
    /// An empty table keeping `history_ms` of versions per key.
    pub fn new(history_ms: i64) -> Self {
        VersionedTable {
            rows: HashMap::new(),
            history_ms: history_ms.max(0),
        }
    }

    /// Applies a change: `Some` upserts, `None` deletes, at event time `ts`.
    pub fn apply(&mut self, key: &str, ts: i64, value: Option<V>) {
        let value = value.map(Arc::new);
        let versions = self.rows.entry(key.to_owned()).or_default();
        if self.history_ms == 0 {
            versions.clear();
            versions.push((ts, value));
            return;
        }
        // Keep versions sorted by time; an out-of-order change lands in its place.
        let at = versions.partition_point(|(t, _)| *t <= ts);
        versions.insert(at, (ts, value));
        let newest = versions.last().map(|(t, _)| *t).unwrap_or(ts);
        let horizon = newest.saturating_sub(self.history_ms);
        // Drop all but the last version at or before the horizon.
        let keep_from = versions
            .partition_point(|(t, _)| *t <= horizon)
            .saturating_sub(1);
        if keep_from > 0 {
            versions.drain(..keep_from);
        }
    }

    /// The row as of event time `ts` (`None`: no row then). Without history, the latest row.
    pub fn get_at(&self, key: &str, ts: i64) -> Option<&Arc<V>> {
        let versions = self.rows.get(key)?;
        if self.history_ms == 0 {
            return versions.last()?.1.as_ref();
        }
        let i = versions.partition_point(|(t, _)| *t <= ts);
        versions.get(i.checked_sub(1)?)?.1.as_ref()
    }

    /// The latest row.
    pub fn latest(&self, key: &str) -> Option<&Arc<V>> {
        self.rows.get(key)?.last()?.1.as_ref()
    }

    /// Keys with a live latest row.
    pub fn len(&self) -> usize {
        self.rows
            .values()
            .filter(|v| v.last().is_some_and(|(_, r)| r.is_some()))
            .count()
    }

    /// Whether no key has a live row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Decodes a table record: `Ok(Some((key, value)))` for a change (value `None` = delete),
/// `Ok(None)` to skip it, `Err(reason)` for a bad record (logged and counted, then skipped).
pub type TableDecoder<V> =
    dyn Fn(&Record) -> std::result::Result<Option<(String, Option<V>)>, String> + Send + Sync;

/// Keeps a [`VersionedTable`] up to date from every partition of a topic.
pub struct TableFeed<V> {
    topic: String,
    consumer: Box<dyn Consumer>,
    decode: Arc<TableDecoder<V>>,
    component: &'static str,
    /// Largest timestamp of a change read so far.
    observed: i64,
}

impl<V> std::fmt::Debug for TableFeed<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableFeed")
            .field("topic", &self.topic)
            .finish()
    }
}

impl<V> TableFeed<V> {
    /// Opens a feed of `topic` and restores `table` from its beginning to its end.
    pub async fn restore(
        log: &dyn Log,
        topic: &str,
        component: &'static str,
        decode: Arc<TableDecoder<V>>,
        table: &mut VersionedTable<V>,
        clock: &aisle_log::clock::SharedClock,
    ) -> Result<Self> {
        let info = log
            .describe_topic(topic)
            .await
            .map_err(StreamsError::log(format!("table {topic}")))?;
        let partitions: Vec<_> = (0..info.partitions)
            .map(|p| TopicPartition::new(topic, p))
            .collect();
        let mut ends = Vec::new();
        for tp in &partitions {
            let (_, high) = log
                .watermarks(tp)
                .await
                .map_err(StreamsError::log(format!("watermarks of {tp}")))?;
            ends.push((tp.clone(), high));
        }
        let mut consumer = log
            .consumer(&ConsumerConfig {
                client_id: format!("aisle-{component}-table"),
                isolation: Isolation::ReadCommitted,
                ..Default::default()
            })
            .map_err(StreamsError::log(format!("table {topic}: consumer")))?;
        let assign: Vec<_> = partitions
            .iter()
            .map(|tp| (tp.clone(), Offset::Beginning))
            .collect();
        consumer
            .assign(&assign)
            .map_err(StreamsError::log(format!("table {topic}: assign")))?;
        let mut feed = TableFeed {
            topic: topic.to_owned(),
            consumer,
            decode,
            component,
            observed: i64::MIN,
        };
        let deadline = clock.now() + crate::read::RESTORE_DEADLINE;
        loop {
            feed.poll(table, Duration::from_millis(200)).await?;
            let done = ends.iter().all(|(tp, high)| {
                *high == 0 || feed.consumer.position(tp).is_some_and(|p| p >= *high)
            });
            if done || feed.consumer.is_caught_up() {
                break;
            }
            if clock.now() > deadline {
                return Err(StreamsError::Log {
                    context: format!("restoring table {topic}"),
                    source: aisle_log::LogError::Timeout("not at its end".into()),
                });
            }
        }
        tracing::info!(topic, rows = table.len(), "table restored");
        Ok(feed)
    }

    /// Whether the last poll found every partition read to its end.
    pub fn is_caught_up(&self) -> bool {
        self.consumer.is_caught_up()
    }

    /// The largest timestamp of a change read so far (`i64::MIN`: none).
    pub fn observed_time(&self) -> i64 {
        self.observed
    }

    /// Applies whatever changes arrived within `timeout`; returns how many.
    pub async fn poll(
        &mut self,
        table: &mut VersionedTable<V>,
        timeout: Duration,
    ) -> Result<usize> {
        let batch = self
            .consumer
            .poll(timeout)
            .await
            .map_err(StreamsError::log(format!("table {}: poll", self.topic)))?;
        let n = batch.len();
        for rec in &batch {
            self.observed = self.observed.max(rec.timestamp);
            match (self.decode)(rec) {
                Ok(Some((key, value))) => table.apply(&key, rec.timestamp, value),
                Ok(None) => {}
                Err(reason) => {
                    tracing::warn!(topic = %self.topic, partition = rec.partition, offset = rec.offset, %reason, "table record skipped");
                    metrics::counter!("aisle_errors_total", "component" => self.component, "kind" => "table_record").increment(1);
                }
            }
        }
        if n > 0 {
            metrics::counter!("aisle_records_in_total", "component" => self.component, "topic" => self.topic.clone()).increment(n as u64);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_honour_event_time_and_tombstones() {
        let mut t = VersionedTable::new(60_000);
        t.apply("cup", 1_000, Some(100));
        t.apply("cup", 5_000, Some(90));
        t.apply("cup", 9_000, None);
        assert_eq!(t.get_at("cup", 500), None);
        assert_eq!(t.get_at("cup", 1_000).map(|v| **v), Some(100));
        assert_eq!(t.get_at("cup", 6_000).map(|v| **v), Some(90));
        assert_eq!(t.get_at("cup", 9_000), None);
        assert_eq!(t.latest("cup"), None);
        assert!(t.is_empty());
        // Out of order: lands in its place.
        t.apply("cup", 3_000, Some(95));
        assert_eq!(t.get_at("cup", 4_000).map(|v| **v), Some(95));
    }

    #[test]
    fn history_is_trimmed_but_keeps_the_version_in_force() {
        let mut t = VersionedTable::new(10);
        t.apply("a", 0, Some(1));
        t.apply("a", 5, Some(2));
        t.apply("a", 100, Some(3));
        // 0 is gone, 5 is the version in force at the horizon (90).
        assert_eq!(t.get_at("a", 95).map(|v| **v), Some(2));
        assert_eq!(t.get_at("a", 2), None);
        let mut latest = VersionedTable::new(0);
        latest.apply("a", 100, Some(1));
        assert_eq!(latest.get_at("a", 0).map(|v| **v), Some(1));
    }
}
