//! Source offsets: where the connector got to, stored as JSON records in a compacted topic
//! (Kafka Connect's `connect-offsets` idea) and written in the same transaction as the rows they
//! cover, so the log can never hold rows the offset does not account for, or the reverse.
//!
//! Also the start-up reads: the latest offset of this connector, and the item names currently
//! live in `inventory_rekeyed` (what delete detection compares the table against).

use crate::error::{InventoryError, Result};
use aisle_log::{ConsumerConfig, Log, Offset, ProduceRecord, Record, TopicPartition};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::Duration;

/// Where a connector got to: the last captured row's timestamp and id (as the JDBC
/// connector's `{"timestamp": .., "timestamp_nanos": .., "incrementing": ..}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SourceOffset {
    /// Timestamp column of the last captured row, µs since the epoch (exact below a millisecond).
    pub timestamp_us: Option<i64>,
    /// Incrementing column of the last captured row.
    pub incrementing: Option<i64>,
}

/// The offsets-topic key of a connector on a table.
pub fn offset_key(connector: &str, table: &str) -> String {
    format!("{connector}:{table}")
}

/// The offsets record for `offset`.
pub fn offset_record(topic: &str, key: &str, offset: &SourceOffset) -> ProduceRecord {
    let value = serde_json::to_vec(offset).unwrap_or_default();
    ProduceRecord::new(topic).key(key.to_string()).value(value)
}

/// The connector's latest committed offset (`None`: never ran, or `--rescan` wrote a reset).
pub async fn load_offset(log: &dyn Log, topic: &str, key: &str) -> Result<Option<SourceOffset>> {
    let mut last: Option<Option<SourceOffset>> = None;
    read_topic(log, topic, |rec| {
        if rec.key.as_deref() == Some(key.as_bytes()) {
            last = Some(
                rec.value
                    .as_ref()
                    .and_then(|v| serde_json::from_slice::<SourceOffset>(v).ok()),
            );
        }
    })
    .await?;
    Ok(last.flatten())
}

/// Keys whose latest record in `topic` is not a tombstone.
pub async fn live_keys(log: &dyn Log, topic: &str) -> Result<HashSet<String>> {
    let mut live = HashSet::new();
    read_topic(log, topic, |rec| {
        if let Some(k) = rec.key.as_ref().and_then(|k| std::str::from_utf8(k).ok()) {
            if rec.value.is_some() {
                live.insert(k.to_string());
            } else {
                live.remove(k);
            }
        }
    })
    .await?;
    Ok(live)
}

/// Reads every committed record of `topic`, all partitions, beginning to end.
async fn read_topic(log: &dyn Log, topic: &str, mut f: impl FnMut(&Record)) -> Result<()> {
    let ctx = || format!("reading {topic}");
    let info = log
        .describe_topic(topic)
        .await
        .map_err(InventoryError::log(ctx()))?;
    let mut ends = Vec::new();
    for p in 0..info.partitions {
        let tp = TopicPartition::new(topic, p);
        let (low, high) = log
            .watermarks(&tp)
            .await
            .map_err(InventoryError::log(ctx()))?;
        if high > low {
            ends.push((tp, high));
        }
    }
    if ends.is_empty() {
        return Ok(());
    }
    let mut consumer = log
        .consumer(&ConsumerConfig {
            client_id: "aisle-inventory-start".into(),
            ..Default::default()
        })
        .map_err(InventoryError::log(ctx()))?;
    let assign: Vec<_> = ends
        .iter()
        .map(|(tp, _)| (tp.clone(), Offset::Beginning))
        .collect();
    consumer
        .assign(&assign)
        .map_err(InventoryError::log(ctx()))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let batch = consumer
            .poll(Duration::from_millis(200))
            .await
            .map_err(InventoryError::log(ctx()))?;
        batch.iter().for_each(&mut f);
        // Under read_committed the end may be a transaction marker, hence `is_caught_up`.
        if ends
            .iter()
            .all(|(tp, high)| consumer.position(tp).is_some_and(|p| p >= *high))
            || (batch.is_empty() && consumer.is_caught_up())
        {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(InventoryError::Log {
                context: ctx(),
                source: aisle_log::LogError::Timeout("not at its end within 120 s".into()),
            });
        }
    }
}
