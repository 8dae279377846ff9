//! Where each store stopped, read from the log itself.
//!
//! The replay writes each store to its own partition, in order, with an idempotent producer, so
//! a partition always holds a *prefix* of what its store sent: no gaps, no duplicates, whatever
//! moment the previous run died at. Every record carries [`POS_HEADER`] = `day:row`, so the last
//! record of a partition says exactly where to continue. No ZooKeeper, no side file.

use crate::error::{Result, SalesError};
use aisle_log::{ConsumerConfig, Isolation, Log, Offset, TopicPartition};
use std::time::{Duration, Instant};

/// Header with the record's position in the replay: `day:row` (row = series index in the store).
pub const POS_HEADER: &str = "aisle.replay.pos";
/// Header marking synthetic data: `true`.
pub const SYNTHETIC_HEADER: &str = "aisle.synthetic";

/// The last position written to a store's partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// Day of the last record.
    pub day: u32,
    /// Row of the last record.
    pub row: u32,
    /// Whether it was synthetic data.
    pub synthetic: bool,
    /// Its key (the series id), to check the input still has that series at that row.
    pub key: Option<bytes::Bytes>,
}

/// Parses `day:row`.
pub fn parse_pos(s: &[u8]) -> Option<(u32, u32)> {
    let s = std::str::from_utf8(s).ok()?;
    let (d, r) = s.split_once(':')?;
    Some((d.parse().ok()?, r.parse().ok()?))
}

/// The last position of each of `partitions` of `topic` (`None`: empty partition).
pub async fn last_positions(
    log: &dyn Log,
    topic: &str,
    partitions: &[i32],
) -> Result<Vec<Option<Position>>> {
    let mut out = vec![None; partitions.len()];
    let mut assign = Vec::new();
    for (i, p) in partitions.iter().enumerate() {
        let tp = TopicPartition::new(topic, *p);
        let (low, high) = log
            .watermarks(&tp)
            .await
            .map_err(SalesError::log(format!("reading the end of {tp}")))?;
        if high > low {
            // A few records back, not just one: Kafka offsets are not always dense.
            assign.push((tp, Offset::At((high - 8).max(low)), i, high));
        }
    }
    if assign.is_empty() {
        return Ok(out);
    }
    let mut consumer = log
        .consumer(&ConsumerConfig {
            isolation: Isolation::ReadUncommitted,
            client_id: "aisle-replay-resume".into(),
            ..ConsumerConfig::default()
        })
        .map_err(SalesError::log("opening a consumer to resume"))?;
    let offsets: Vec<_> = assign.iter().map(|(tp, o, ..)| (tp.clone(), *o)).collect();
    consumer
        .assign(&offsets)
        .map_err(SalesError::log(format!("assigning {topic} to resume")))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last: Vec<Option<i64>> = vec![None; partitions.len()];
    loop {
        let batch = consumer
            .poll(Duration::from_millis(200))
            .await
            .map_err(SalesError::log(format!("reading the tail of {topic}")))?;
        for rec in batch {
            let Some((_, _, i, _)) = assign.iter().find(|a| a.0.partition == rec.partition) else {
                continue;
            };
            if last[*i].is_some_and(|o| o > rec.offset) {
                continue;
            }
            last[*i] = Some(rec.offset);
            let pos = rec
                .header(POS_HEADER)
                .and_then(|v| parse_pos(v))
                .ok_or_else(|| SalesError::Resume {
                    topic: topic.into(),
                    partition: rec.partition,
                    reason: format!(
                        "the record at offset {} has no `{POS_HEADER}` header: the topic holds \
                         data not written by `aisle replay sales`",
                        rec.offset
                    ),
                })?;
            out[*i] = Some(Position {
                day: pos.0,
                row: pos.1,
                synthetic: rec
                    .header(SYNTHETIC_HEADER)
                    .is_some_and(|v| &v[..] == b"true"),
                key: rec.key.clone(),
            });
        }
        let done = assign.iter().all(|(tp, _, i, high)| {
            consumer.position(tp).is_some_and(|p| p >= *high)
                || (out[*i].is_some() && consumer.is_caught_up())
        });
        if done {
            return Ok(out);
        }
        if Instant::now() > deadline {
            return Err(SalesError::Log {
                context: format!("reading the tail of {topic}"),
                source: aisle_log::LogError::Timeout("no records within 60 s".into()),
            });
        }
    }
}
