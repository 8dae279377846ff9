//! Source offsets: where the connector got to, stored as JSON records in a compacted topic
//! (Kafka Connect's `connect-offsets` idea) and written in the same transaction as the rows they
//! cover, so the log can never hold rows the offset does not account for, or the reverse.
//!
//! Also the start-up reads: the latest offset of this connector, and the item names currently
//! live in `inventory_rekeyed` (what delete detection compares the table against).

use crate::error::{InventoryError, Result};
use aisle_log::{Log, ProduceRecord, Record};
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
    let partitions = aisle_log::partitions_of(log, topic)
        .await
        .map_err(InventoryError::log(ctx()))?;
    aisle_log::read_to_end(
        log,
        &partitions,
        "aisle-inventory-start",
        Duration::from_secs(120),
        |rec| {
            f(&rec);
            Ok::<_, std::convert::Infallible>(())
        },
    )
    .await
    .map_err(|e| InventoryError::log(ctx())(e.into_log()))?;
    Ok(())
}
