//! Reading partitions from the beginning to their end (restores of tables and state stores).

use crate::error::{Result, StreamsError};
use aisle_log::{ConsumerConfig, Isolation, Log, LogError, Offset, Record, TopicPartition};
use std::time::{Duration, Instant};

/// How long a restore may take before it fails (a stuck transaction of a dead producer holds
/// `read_committed` readers until the broker aborts it; that is bounded by the transaction
/// timeout, well under this).
pub const RESTORE_DEADLINE: Duration = Duration::from_secs(180);

/// Reads `partitions` from their beginning to their end (committed records only) and calls
/// `apply` on each record in offset order per partition. Returns how many records it read.
pub async fn read_to_end(
    log: &dyn Log,
    partitions: &[TopicPartition],
    client_id: &str,
    mut apply: impl FnMut(Record) -> Result<()>,
) -> Result<u64> {
    let mut ends = Vec::new();
    for tp in partitions {
        let (low, high) = log
            .watermarks(tp)
            .await
            .map_err(StreamsError::log(format!("watermarks of {tp}")))?;
        if high > low {
            ends.push((tp.clone(), high));
        }
    }
    if ends.is_empty() {
        return Ok(0);
    }
    let mut consumer = log
        .consumer(&ConsumerConfig {
            client_id: client_id.into(),
            isolation: Isolation::ReadCommitted,
            ..Default::default()
        })
        .map_err(StreamsError::log(format!("{client_id}: consumer")))?;
    let assign: Vec<_> = ends
        .iter()
        .map(|(tp, _)| (tp.clone(), Offset::Beginning))
        .collect();
    consumer
        .assign(&assign)
        .map_err(StreamsError::log(format!("{client_id}: assign")))?;
    let deadline = Instant::now() + RESTORE_DEADLINE;
    let mut n = 0;
    loop {
        let batch = consumer
            .poll(Duration::from_millis(200))
            .await
            .map_err(StreamsError::log(format!("{client_id}: reading")))?;
        for rec in batch {
            n += 1;
            apply(rec)?;
        }
        let done = ends
            .iter()
            .all(|(tp, high)| consumer.position(tp).is_some_and(|p| p >= *high));
        if done || consumer.is_caught_up() {
            return Ok(n);
        }
        if Instant::now() > deadline {
            return Err(StreamsError::Log {
                context: format!("{client_id}: reading {partitions:?} to the end"),
                source: LogError::Timeout(format!("not done within {RESTORE_DEADLINE:?}")),
            });
        }
    }
}
