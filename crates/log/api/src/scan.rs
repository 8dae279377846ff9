//! Reading partitions from their beginning to their current end: how components restore state
//! kept in the log (tables, state stores, source offsets, processed-file markers, dead letters).
//! Built only on the [`Log`] and [`Consumer`](crate::Consumer) traits, so it works on both runtimes.

use crate::{ConsumerConfig, Isolation, Log, LogError, Offset, Record, TopicPartition};
use std::time::Duration;
use tokio::time::Instant;

/// Why [`read_to_end`] stopped early.
#[derive(Debug)]
pub enum ReadError<E> {
    /// The log failed, or the end was not reached in time ([`LogError::Timeout`]).
    Log(LogError),
    /// The caller's `apply` returned this error.
    Apply(E),
}

impl<E> ReadError<E> {
    /// One error type for both cases: `log` turns a log failure into the caller's error.
    pub fn into_error(self, log: impl FnOnce(LogError) -> E) -> E {
        match self {
            ReadError::Log(e) => log(e),
            ReadError::Apply(e) => e,
        }
    }
}

impl ReadError<std::convert::Infallible> {
    /// The log error, when `apply` cannot fail.
    pub fn into_log(self) -> LogError {
        match self {
            ReadError::Log(e) => e,
            ReadError::Apply(never) => match never {},
        }
    }
}

/// Every partition of `topic`.
pub async fn partitions_of(log: &dyn Log, topic: &str) -> Result<Vec<TopicPartition>, LogError> {
    let info = log.describe_topic(topic).await?;
    Ok((0..info.partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect())
}

/// Reads `partitions` from their beginning to the end they had when the call started, committed
/// records only (`read_committed`), calling `apply` on each record in offset order per partition.
/// Returns how many records were read. Fails with [`LogError::Timeout`] when the end is not
/// reached `within` (a stuck transaction of a dead producer holds `read_committed` readers until
/// the broker aborts it).
pub async fn read_to_end<E>(
    log: &dyn Log,
    partitions: &[TopicPartition],
    client_id: &str,
    within: Duration,
    mut apply: impl FnMut(Record) -> Result<(), E>,
) -> Result<u64, ReadError<E>> {
    let mut ends = Vec::new();
    for tp in partitions {
        let (low, high) = log.watermarks(tp).await.map_err(ReadError::Log)?;
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
        .map_err(ReadError::Log)?;
    let assign: Vec<_> = ends
        .iter()
        .map(|(tp, _)| (tp.clone(), Offset::Beginning))
        .collect();
    consumer.assign(&assign).map_err(ReadError::Log)?;
    let deadline = Instant::now() + within;
    let mut n = 0;
    loop {
        let batch = consumer
            .poll(Duration::from_millis(200))
            .await
            .map_err(ReadError::Log)?;
        let empty = batch.is_empty();
        for rec in batch {
            n += 1;
            apply(rec).map_err(ReadError::Apply)?;
        }
        // Under read_committed the end may be a transaction marker, hence `is_caught_up`.
        let done = ends
            .iter()
            .all(|(tp, high)| consumer.position(tp).is_some_and(|p| p >= *high));
        if done || (empty && consumer.is_caught_up()) {
            return Ok(n);
        }
        if Instant::now() > deadline {
            return Err(ReadError::Log(LogError::Timeout(format!(
                "{client_id}: reading {partitions:?} to the end took over {within:?}"
            ))));
        }
    }
}
