//! Reading helpers: drain a topic, poll until a condition holds, wait for group assignments.
//!
//! Every loop here has a deadline and returns [`LogError::Timeout`] saying what it was waiting
//! for and what it had seen, so a stuck runtime fails a test with a message instead of hanging CI.

use aisle_log::{
    Consumer, ConsumerConfig, Isolation, Log, LogError, Offset, Record, Result, TopicPartition,
};
use std::time::Duration;
use tokio::time::Instant;

/// How long helpers wait by default. Generous because a Kafka group join alone waits for the
/// broker's `group.initial.rebalance.delay.ms` (3 s by default) and a 2-core CI box is slow.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// One poll's wait; short so loops re-check their condition often.
pub const POLL_STEP: Duration = Duration::from_millis(200);

/// Every record of `topic`, all partitions from the beginning up to the end (the last stable
/// offset: committed transactions only), sorted by partition then offset.
pub async fn read_all(log: &dyn Log, topic: &str) -> Result<Vec<Record>> {
    read_all_with(log, topic, Isolation::ReadCommitted, DEFAULT_WAIT).await
}

/// [`read_all`] with a chosen isolation and deadline.
pub async fn read_all_with(
    log: &dyn Log,
    topic: &str,
    isolation: Isolation,
    wait: Duration,
) -> Result<Vec<Record>> {
    let info = log.describe_topic(topic).await?;
    let mut consumer = log.consumer(&ConsumerConfig {
        isolation,
        client_id: "aisle-testkit-read-all".into(),
        ..ConsumerConfig::default()
    })?;
    let assignment: Vec<_> = (0..info.partitions)
        .map(|p| (TopicPartition::new(topic, p), Offset::Beginning))
        .collect();
    consumer.assign(&assignment)?;
    let mut records = poll_until(
        consumer.as_mut(),
        wait,
        &format!("reading {topic} to its end"),
        |_, c| c.is_caught_up(),
    )
    .await?;
    records.sort_by_key(|r| (r.partition, r.offset));
    Ok(records)
}

/// Polls `consumer` until `done(records so far, consumer)` holds after a poll, and returns every
/// record polled. `what` names the wait in the timeout error.
pub async fn poll_until<F>(
    consumer: &mut dyn Consumer,
    wait: Duration,
    what: &str,
    mut done: F,
) -> Result<Vec<Record>>
where
    F: FnMut(&[Record], &dyn Consumer) -> bool,
{
    let deadline = Instant::now() + wait;
    let mut records = Vec::new();
    loop {
        records.extend(consumer.poll(POLL_STEP).await?);
        if done(&records, &*consumer) {
            return Ok(records);
        }
        if Instant::now() >= deadline {
            return Err(LogError::Timeout(format!(
                "{what}: gave up after {wait:?} with {} records polled, assignment {:?}",
                records.len(),
                consumer.assignment()
            )));
        }
    }
}

/// Polls until `count` records arrived (returning possibly more, from the last batch).
pub async fn poll_count(
    consumer: &mut dyn Consumer,
    count: usize,
    wait: Duration,
) -> Result<Vec<Record>> {
    poll_until(
        consumer,
        wait,
        &format!("waiting for {count} records"),
        |r, _| r.len() >= count,
    )
    .await
}

/// Polls a group member until it has at least one partition, keeping what it read.
pub async fn wait_for_assignment(
    consumer: &mut dyn Consumer,
    wait: Duration,
) -> Result<Vec<Record>> {
    poll_until(consumer, wait, "waiting for a group assignment", |_, c| {
        !c.assignment().is_empty()
    })
    .await
}

/// Values of `records` as UTF-8 strings (lossy), tombstones as `None`: handy in assertions.
pub fn values(records: &[Record]) -> Vec<Option<String>> {
    records
        .iter()
        .map(|r| {
            r.value
                .as_ref()
                .map(|v| String::from_utf8_lossy(v).into_owned())
        })
        .collect()
}
