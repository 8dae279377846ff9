//! Reading partitions from the beginning to their end (restores of tables and state stores).

use crate::error::{Result, StreamsError};
use aisle_log::{Log, Record, TopicPartition};
use std::time::Duration;

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
    apply: impl FnMut(Record) -> Result<()>,
) -> Result<u64> {
    aisle_log::read_to_end(log, partitions, client_id, RESTORE_DEADLINE, apply)
        .await
        .map_err(|e| {
            e.into_error(StreamsError::log(format!(
                "{client_id}: restoring {partitions:?}"
            )))
        })
}
