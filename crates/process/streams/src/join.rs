//! [`TableJoin`]: a stream–table join at event time.
//!
//! The table side is a [`VersionedTable`] kept up to date by a [`TableFeed`]. A stream record at
//! event time `t` joins the row in force at `t` — and only once the table has been read **to its
//! end or past `t`**: before the join, [`TableJoin::catch_up`] reads the table topic until one of
//! the two holds, waiting at most `max_wait` (then it logs a warning, counts
//! `aisle_errors_total{kind="table_wait_expired"}`, and joins with what it has). So a cart object
//! processed before an older inventory change has been read no longer joins the wrong row.
//!
//! A time before a key's first known version joins to nothing ("not in the table then"), as in
//! Kafka Streams' versioned stores (KIP-889): a first version is the moment the row appeared,
//! and an item carted before its row existed was not in the inventory.

use crate::error::Result;
use crate::table::{TableFeed, VersionedTable};
use aisle_log::clock::SharedClock;
use std::sync::Arc;
use std::time::Duration;

/// The table side of a stream–table join.
pub struct TableJoin<V> {
    table: VersionedTable<V>,
    feed: TableFeed<V>,
    max_wait: Duration,
    clock: SharedClock,
    component: &'static str,
    /// Whether the table was at its end at the last poll.
    caught_up: bool,
}

impl<V> std::fmt::Debug for TableJoin<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableJoin")
            .field("feed", &self.feed)
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

impl<V> TableJoin<V> {
    /// A join over a restored table and its feed, waiting at most `max_wait` per catch-up.
    pub fn new(
        table: VersionedTable<V>,
        feed: TableFeed<V>,
        max_wait: Duration,
        clock: SharedClock,
        component: &'static str,
    ) -> Self {
        TableJoin {
            table,
            max_wait,
            caught_up: feed.is_caught_up(),
            feed,
            clock,
            component,
        }
    }

    /// Applies the table changes that have already arrived (no waiting).
    pub async fn refresh(&mut self) -> Result<usize> {
        let n = self.feed.poll(&mut self.table, Duration::ZERO).await?;
        self.caught_up = self.feed.is_caught_up();
        Ok(n)
    }

    /// Whether a stream record at `ts` may be joined without reading more of the table: the
    /// table had been read to its end at the last poll, or past `ts`. (The end-of-table state is
    /// taken once per poll, not per record: asking the consumer costs a client call.)
    pub fn is_ready_for(&self, ts: i64) -> bool {
        self.feed.observed_time() >= ts || self.caught_up
    }

    /// Reads the table until it is at its end (or a wait brings nothing new) or has shown a
    /// change at or after `ts`, for at most `max_wait`. Returns whether it got there (false: the wait expired).
    pub async fn catch_up(&mut self, ts: i64) -> Result<bool> {
        if self.is_ready_for(ts) {
            return Ok(true);
        }
        let deadline = self.clock.now() + self.max_wait;
        loop {
            let left = deadline.saturating_duration_since(self.clock.now());
            let n = self
                .feed
                .poll(&mut self.table, left.min(Duration::from_millis(50)))
                .await?;
            self.caught_up = self.feed.is_caught_up();
            // Nothing more arrived while waiting: nothing is waiting to be read (a runtime may
            // not have reported the end of a partition it never had data for).
            if n == 0 || self.is_ready_for(ts) {
                return Ok(true);
            }
            if self.clock.now() >= deadline {
                tracing::warn!(
                    component = self.component,
                    event_time = ts,
                    table_time = self.feed.observed_time(),
                    waited_ms = self.max_wait.as_millis() as u64,
                    "the table is neither at its end nor past the record's event time; joining with what it has"
                );
                metrics::counter!("aisle_errors_total", "component" => self.component, "kind" => "table_wait_expired").increment(1);
                return Ok(false);
            }
        }
    }

    /// The row of `key` as of event time `ts`.
    pub fn get_at(&self, key: &str, ts: i64) -> Option<&Arc<V>> {
        self.table.get_at(key, ts)
    }

    /// The table.
    pub fn table(&self) -> &VersionedTable<V> {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_log::{Log, ProduceRecord, ProducerConfig, TopicSpec};
    use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};

    fn decode() -> Arc<crate::TableDecoder<String>> {
        Arc::new(|rec| {
            let key = String::from_utf8(rec.key.clone().unwrap_or_default().to_vec())
                .map_err(|e| e.to_string())?;
            let value = rec
                .value
                .as_ref()
                .map(|v| String::from_utf8_lossy(v).into_owned());
            Ok(Some((key, value)))
        })
    }

    /// Inventory changes race cart objects: a backlog of table changes larger than one poll,
    /// the row a cart object needs at its very end. The join reads the table past the object's
    /// time before joining; one look at what had arrived (the old behaviour) misses the row.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_record_joins_only_once_the_table_is_read_past_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn Log> =
            Arc::new(EmbeddedLog::open(dir.path(), EmbeddedConfig::default()).unwrap());
        log.create_topic(&TopicSpec::new("inv", 1)).await.unwrap();
        let clock = aisle_log::clock::system();
        let mut table = VersionedTable::new(600_000);
        let feed = TableFeed::restore(&*log, "inv", "test", decode(), &mut table, &clock)
            .await
            .unwrap();
        let mut join = TableJoin::new(table, feed, Duration::from_secs(10), clock, "test");
        // Written after the restore, before the cart object at t = 100_000 is processed.
        let producer = log.producer(&ProducerConfig::default()).unwrap();
        let filler = "x".repeat(200);
        let mut batch: Vec<ProduceRecord> = (0..40_000)
            .map(|i| {
                ProduceRecord::new("inv")
                    .key(format!("item-{}", i % 500))
                    .value(filler.clone())
                    .timestamp(i)
            })
            .collect();
        batch.push(
            ProduceRecord::new("inv")
                .key("knife")
                .value("fork")
                .timestamp(90_000),
        );
        producer.send_batch(&batch).await.unwrap().await.unwrap();
        join.refresh().await.unwrap();
        assert!(
            join.get_at("knife", 100_000).is_none(),
            "one poll does not reach the row (the race this test is about)"
        );
        assert!(!join.is_ready_for(100_000));
        assert!(join.catch_up(100_000).await.unwrap());
        assert_eq!(
            join.get_at("knife", 100_000).map(|v| v.as_str()),
            Some("fork")
        );
        assert!(
            join.get_at("knife", 80_000).is_none(),
            "before its first version"
        );
    }
}
