//! Where each store stopped, read from the log itself.
//!
//! The replay writes each store to its own partition, in order, with an idempotent producer, so
//! a partition always holds a *prefix* of what its store sent: no gaps, no duplicates, whatever
//! moment the previous run died at. The last record of a partition says where to continue
//! without any extra bytes: its key is the series (its row in the store) and its timestamp the
//! day's date (its day). No ZooKeeper, no side file, no per-record position header.
//!
//! The first record of the partition guards against resuming from other input: offsets of a
//! non-transactional idempotent producer are dense, so between the first and the last record
//! there must be exactly as many records as this input has (series, day) pairs between them, and
//! a partition that starts at offset 0 must start at a store's first row. A series added,
//! removed or reordered before the resume point breaks one of the two, and the replay refuses
//! rather than skip or repeat a record.

use crate::error::{Result, SalesError};
use aisle_events::topics::M5_STORES;
use aisle_log::{ConsumerConfig, Isolation, Log, Offset, Record, TopicPartition};
use aisle_m5::wide::Series;
use bytes::Bytes;
use std::time::Duration;
use tokio::time::Instant;

/// Header marking synthetic data: `true`.
pub const SYNTHETIC_HEADER: &str = "aisle.synthetic";

/// One record of a store's partition, as far as resuming needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Its offset.
    pub offset: i64,
    /// Its timestamp: the date of its day (UTC midnight, ms).
    pub timestamp: i64,
    /// Its key: the series id, whose row in the store's input gives the row.
    pub key: Option<Bytes>,
}

impl Edge {
    fn of(rec: &Record) -> Self {
        Edge {
            offset: rec.offset,
            timestamp: rec.timestamp,
            key: rec.key.clone(),
        }
    }
}

/// What a store's partition holds: its first and last records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// The first record still in the partition.
    pub first: Edge,
    /// The last record.
    pub last: Edge,
    /// Whether the last record is synthetic data.
    pub synthetic: bool,
}

/// The first and last records of each of `partitions` of `topic` (`None`: empty partition).
pub async fn last_positions(
    log: &dyn Log,
    topic: &str,
    partitions: &[i32],
) -> Result<Vec<Option<Position>>> {
    let mut ranges = Vec::new();
    for (i, p) in partitions.iter().enumerate() {
        let tp = TopicPartition::new(topic, *p);
        let (low, high) = log
            .watermarks(&tp)
            .await
            .map_err(SalesError::log(format!("reading the end of {tp}")))?;
        if high > low {
            ranges.push((i, tp, low, high));
        }
    }
    let mut out = vec![None; partitions.len()];
    if ranges.is_empty() {
        return Ok(out);
    }
    let heads = read_edges(log, topic, &ranges, false).await?;
    let tails = read_edges(log, topic, &ranges, true).await?;
    for ((i, ..), (head, tail)) in ranges.iter().zip(heads.into_iter().zip(tails)) {
        if let (Some(first), Some(last)) = (head, tail) {
            out[*i] = Some(Position {
                first: Edge::of(&first),
                last: Edge::of(&last),
                synthetic: last
                    .header(SYNTHETIC_HEADER)
                    .is_some_and(|v| &v[..] == b"true"),
            });
        }
    }
    Ok(out)
}

/// The first (`tail == false`) or last record of each range `(_, partition, low, high)`.
async fn read_edges(
    log: &dyn Log,
    topic: &str,
    ranges: &[(usize, TopicPartition, i64, i64)],
    tail: bool,
) -> Result<Vec<Option<Record>>> {
    let mut consumer = log
        .consumer(&ConsumerConfig {
            isolation: Isolation::ReadUncommitted,
            client_id: "aisle-replay-resume".into(),
            ..ConsumerConfig::default()
        })
        .map_err(SalesError::log("opening a consumer to resume"))?;
    // The tail from a few records back, not just one, in case offsets are not dense.
    let offsets: Vec<_> = ranges
        .iter()
        .map(|(_, tp, low, high)| {
            let from = if tail { (high - 8).max(*low) } else { *low };
            (tp.clone(), Offset::At(from))
        })
        .collect();
    consumer
        .assign(&offsets)
        .map_err(SalesError::log(format!("assigning {topic} to resume")))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out: Vec<Option<Record>> = vec![None; ranges.len()];
    loop {
        let batch = consumer
            .poll(Duration::from_millis(200))
            .await
            .map_err(SalesError::log(format!("reading {topic} to resume")))?;
        for rec in batch {
            let Some(i) = ranges.iter().position(|r| r.1.partition == rec.partition) else {
                continue;
            };
            let keep = match &out[i] {
                None => true,
                Some(o) => tail && rec.offset > o.offset,
            };
            if keep {
                out[i] = Some(rec);
            }
        }
        let done = ranges.iter().zip(&out).all(|((_, tp, _, high), o)| {
            if tail {
                consumer.position(tp).is_some_and(|p| p >= *high)
                    || (o.is_some() && consumer.is_caught_up())
            } else {
                o.is_some()
            }
        });
        if done {
            return Ok(out);
        }
        if Instant::now() > deadline {
            return Err(SalesError::Log {
                context: format!("reading {topic} to resume"),
                source: aisle_log::LogError::Timeout("no records within 60 s".into()),
            });
        }
    }
}

/// Where the last record of store `store`'s partition is in this replay's input: `(day, row)`,
/// the day from its timestamp (`day_of`) and the row from its key. Fails, naming the topic and
/// partition, when this input could not have written the partition (other data, series added or
/// removed, synthetic vs real), rather than resume at a wrong place.
pub fn locate(
    topic: &str,
    store: usize,
    p: &Position,
    synthetic: bool,
    series: &[Series],
    day_of: impl Fn(i64) -> Option<u32>,
) -> Result<(u32, u32)> {
    let err = |reason: String| SalesError::Resume {
        topic: topic.into(),
        partition: store as i32,
        reason,
    };
    if p.synthetic != synthetic {
        return Err(err(format!(
            "it holds {} data and this replay is {}; use another --topic",
            if p.synthetic { "synthetic" } else { "real" },
            if synthetic { "synthetic" } else { "real" }
        )));
    }
    let at = |e: &Edge, which: &str| -> Result<(u32, u32)> {
        let key = e.key.as_deref().unwrap_or_default();
        let row = series.iter().position(|s| &s.key[..] == key).ok_or_else(|| {
            err(format!(
                "its {which} record (offset {}) has key {:?}, which is not a series of {} in this \
                 input: the topic was written from other input; use another --topic",
                e.offset,
                String::from_utf8_lossy(key),
                M5_STORES[store]
            ))
        })?;
        let day = day_of(e.timestamp).ok_or_else(|| {
            err(format!(
                "its {which} record (offset {}) has timestamp {}, which is not the date of any \
                 day of this input's calendar: the topic was written from other input; use \
                 another --topic",
                e.offset, e.timestamp
            ))
        })?;
        Ok((day, row as u32))
    };
    let first = at(&p.first, "first")?;
    let last = at(&p.last, "last")?;
    let rows = series.len() as i64;
    let index = |(d, r): (u32, u32)| d as i64 * rows + r as i64;
    let other_input = |why: String| {
        err(format!(
            "{why}: this input's series of {} are not the ones the topic was written from (rows \
             added, removed or reordered); use another --topic",
            M5_STORES[store]
        ))
    };
    if p.first.offset == 0 && first.1 != 0 {
        return Err(other_input(format!(
            "its first record (d_{}, {:?}) is row {} here, not the first row",
            first.0,
            String::from_utf8_lossy(p.first.key.as_deref().unwrap_or_default()),
            first.1
        )));
    }
    if index(last) - index(first) != p.last.offset - p.first.offset {
        return Err(other_input(format!(
            "it holds {} records from d_{} row {} to d_{} row {} ({:?}), where this input has {}",
            p.last.offset - p.first.offset + 1,
            first.0,
            first.1,
            last.0,
            last.1,
            String::from_utf8_lossy(p.last.key.as_deref().unwrap_or_default()),
            index(last) - index(first) + 1
        )));
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic;
    use aisle_m5::calendar::{date_ms, day_of_date};

    fn edge(offset: i64, day: u32, s: &Series) -> Edge {
        Edge {
            offset,
            timestamp: date_ms(day),
            key: Some(s.key.clone()),
        }
    }

    #[test]
    fn locate_reads_row_from_the_key_and_day_from_the_timestamp() {
        let series = synthetic::store_series(3);
        let rows = series.len() as i64;
        // Days 5.. written from row 0; the last record is d_17 row 2000.
        let p = Position {
            first: edge(0, 5, &series[0]),
            last: edge(12 * rows + 2000, 17, &series[2000]),
            synthetic: true,
        };
        let at = locate("t", 3, &p, true, &series, day_of_date).unwrap();
        assert_eq!(at, (17, 2000));
        // Real data in the topic, synthetic replay: refused.
        let real = Position {
            synthetic: false,
            ..p.clone()
        };
        let e = locate("t", 3, &real, true, &series, day_of_date).unwrap_err();
        assert!(e.to_string().contains("real data"), "{e}");
        // A key of another store, a timestamp that is not a day: refused, naming what is wrong.
        let mut other = p.clone();
        other.last.key = Some(synthetic::store_series(4)[0].key.clone());
        let e = locate("t", 3, &other, true, &series, day_of_date).unwrap_err();
        assert!(e.to_string().contains("HOBBIES_1_001_TX_1"), "{e}");
        let mut noon = p.clone();
        noon.last.timestamp += 43_200_000;
        let e = locate("t", 3, &noon, true, &series, day_of_date).unwrap_err();
        assert!(e.to_string().contains("not the date"), "{e}");
    }

    #[test]
    fn locate_refuses_input_whose_rows_moved() {
        let series = synthetic::store_series(3);
        let rows = series.len() as i64;
        // One record fewer than this input has between the two ends: a row was added since.
        let p = Position {
            first: edge(0, 5, &series[0]),
            last: edge(rows + 10 - 1, 6, &series[10]),
            synthetic: true,
        };
        let e = locate("t", 3, &p, true, &series, day_of_date).unwrap_err();
        assert!(e.to_string().contains("rows added, removed"), "{e}");
        // A partition written from offset 0 must start at the first row.
        let p = Position {
            first: edge(0, 5, &series[1]),
            last: edge(5, 5, &series[6]),
            synthetic: true,
        };
        let e = locate("t", 3, &p, true, &series, day_of_date).unwrap_err();
        assert!(e.to_string().contains("not the first row"), "{e}");
        // Retention removed the head: any first row will do, as long as the count agrees.
        let p = Position {
            first: edge(700, 5, &series[1]),
            last: edge(705, 5, &series[6]),
            synthetic: true,
        };
        assert_eq!(
            locate("t", 3, &p, true, &series, day_of_date).unwrap(),
            (5, 6)
        );
    }
}
