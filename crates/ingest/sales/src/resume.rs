//! Where each store stopped, read from the log itself.
//!
//! The replay writes each store's records in order through one idempotent producer, onto the
//! store's partition (`topics::chain_partition(store, partitions)`: store index mod partition
//! count). A partition therefore always holds a *prefix* of what the producer sent to it, and,
//! since every store's records are in order within that stream, a prefix of each of its stores'
//! records: no gaps, no duplicates, whatever moment the previous run died at. A store's last
//! record says where to continue without any extra bytes: its key is the series (its row in the
//! store) and its timestamp the day's date (its day). No ZooKeeper, no side file, no per-record
//! position header.
//!
//! **Finding each store's last record** ([`positions`]): a partition is read backwards from its
//! end in windows of 8 × its stores, then 4 times as many each step, until every wanted store
//! mapped to it has been seen, or the partition's beginning. The cost is the distance from the
//! end to the oldest of those last records (one window when the partition has one store: its
//! last record is the partition's), not the partition's length; a store that has never written
//! to the partition is looked for down to the beginning. A key that is not a series of a store
//! of this chain mapped to the partition means other input (another chain, store count or
//! partition count) and is refused.
//!
//! **Checking the input is the one the topic was written from** ([`locate`]): a store's records
//! from the earliest one read to its last are consecutive in its (day, row) order, so between
//! them there must be exactly as many records as this input has (series, day) pairs, and a store
//! whose partition was read from offset 0 must start at a first row. A partition with one store
//! is checked over its whole length, as the offsets of a non-transactional idempotent producer
//! are dense: its first record is read too, and the offsets between the ends count the records.
//! A series added, removed or reordered breaks one of the two, and the replay refuses rather
//! than skip or repeat a record.

use crate::error::{Result, SalesError};
use aisle_events::topics;
use aisle_log::{Consumer, ConsumerConfig, Isolation, Log, Offset, Record, TopicPartition};
use aisle_m5::wide::Series;
use bytes::Bytes;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Header marking synthetic data: `true`.
pub const SYNTHETIC_HEADER: &str = "aisle.synthetic";

/// A reader that sees no new record for this long gives up.
const STALL: Duration = Duration::from_secs(60);

/// One record of a store, as far as resuming needs it.
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

/// What a store's partition holds of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// The store's earliest record read (a partition with one store: its first record).
    pub first: Edge,
    /// The store's last record.
    pub last: Edge,
    /// The store's records from `first` to `last`, both included.
    pub count: i64,
    /// Whether `first` is the store's first record in a partition that starts at offset 0.
    pub from_start: bool,
    /// Whether the last record is synthetic data.
    pub synthetic: bool,
}

/// The chain's layout: which store a key belongs to and which partition a store writes.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Stores of the chain (chain indexes `0..stores`).
    pub stores: usize,
    /// Partitions of the topic.
    pub partitions: i32,
}

impl Layout {
    /// The partition of chain store `store`.
    pub fn partition(&self, store: usize) -> i32 {
        topics::chain_partition(store, self.partitions)
    }

    /// Stores of the chain mapped to `partition`.
    pub fn stores_of(&self, partition: i32) -> usize {
        (0..self.stores)
            .filter(|s| self.partition(*s) == partition)
            .count()
    }

    /// The chain store of a series key `ITEM_STORE` written to `partition`, `None` when no store
    /// of this chain mapped to it has such a key.
    pub fn store_of_key(&self, key: &[u8], partition: i32) -> Option<usize> {
        let last = key.iter().rposition(|b| *b == b'_')?;
        let cut = key[..last].iter().rposition(|b| *b == b'_')?;
        let id = std::str::from_utf8(&key[cut + 1..]).ok()?;
        topics::chain_store_index(id)
            .filter(|s| *s < self.stores && self.partition(*s) == partition)
    }
}

/// A store's records seen while reading its partition backwards.
struct Seen {
    first: Record,
    last: Record,
    count: i64,
}

/// One partition being read backwards.
struct Scan {
    tp: TopicPartition,
    low: i64,
    /// The window being read: `start..end`.
    start: i64,
    end: i64,
    /// Stores wanted (chain indexes) and what was seen of them.
    wanted: Vec<usize>,
    seen: HashMap<usize, Seen>,
    /// One store in the partition: its first record is read, and its offsets count.
    single: bool,
    head: Option<Record>,
}

impl Scan {
    fn found_all(&self) -> bool {
        self.wanted.iter().all(|s| self.seen.contains_key(s))
    }
}

/// Where each of `stores` (chain indexes) of `layout` stopped in `topic`: its [`Position`], or
/// `None` when its partition holds nothing of it.
pub async fn positions(
    log: &dyn Log,
    topic: &str,
    layout: Layout,
    stores: &[usize],
) -> Result<Vec<Option<Position>>> {
    let mut scans: Vec<Scan> = Vec::new();
    for &s in stores {
        let p = layout.partition(s);
        if let Some(scan) = scans.iter_mut().find(|x| x.tp.partition == p) {
            scan.wanted.push(s);
            continue;
        }
        let tp = TopicPartition::new(topic, p);
        let (low, high) = log
            .watermarks(&tp)
            .await
            .map_err(SalesError::log(format!("reading the end of {tp}")))?;
        let single = layout.stores_of(p) == 1;
        scans.push(Scan {
            tp,
            low,
            start: high,
            end: high,
            wanted: vec![s],
            seen: HashMap::new(),
            single,
            head: None,
        });
    }
    scans.retain(|s| s.end > s.low);
    if !scans.is_empty() {
        let mut consumer = log
            .consumer(&ConsumerConfig {
                isolation: Isolation::ReadUncommitted,
                client_id: "aisle-replay-resume".into(),
                ..ConsumerConfig::default()
            })
            .map_err(SalesError::log("opening a consumer to resume"))?;
        read_heads(consumer.as_mut(), topic, &mut scans).await?;
        read_backwards(consumer.as_mut(), topic, layout, &mut scans).await?;
    }
    let mut out = Vec::with_capacity(stores.len());
    for &s in stores {
        let p = layout.partition(s);
        let scan = scans.iter().find(|x| x.tp.partition == p);
        out.push(scan.and_then(|scan| position(scan, s)));
    }
    Ok(out)
}

fn position(scan: &Scan, store: usize) -> Option<Position> {
    let seen = scan.seen.get(&store)?;
    let synthetic = seen
        .last
        .header(SYNTHETIC_HEADER)
        .is_some_and(|v| &v[..] == b"true");
    let last = Edge::of(&seen.last);
    Some(match (&scan.head, scan.single) {
        (Some(head), true) => Position {
            first: Edge::of(head),
            count: last.offset - head.offset + 1,
            last,
            from_start: head.offset == 0,
            synthetic,
        },
        _ => Position {
            first: Edge::of(&seen.first),
            last,
            count: seen.count,
            from_start: scan.start == scan.low && scan.low == 0,
            synthetic,
        },
    })
}

/// The first record of each partition with a single store.
async fn read_heads(consumer: &mut dyn Consumer, topic: &str, scans: &mut [Scan]) -> Result<()> {
    let heads: Vec<usize> = (0..scans.len()).filter(|i| scans[*i].single).collect();
    if heads.is_empty() {
        return Ok(());
    }
    let ranges: Vec<(TopicPartition, i64, i64)> = heads
        .iter()
        .map(|i| (scans[*i].tp.clone(), scans[*i].low, scans[*i].low + 1))
        .collect();
    read_ranges(consumer, topic, &ranges, |k, rec| {
        let scan = &mut scans[heads[k]];
        if scan.head.is_none() {
            scan.head = Some(rec);
        }
        Ok(())
    })
    .await
}

/// Reads the scans' partitions backwards, window by window, all partitions at once, until each
/// has found its wanted stores or reached its beginning.
async fn read_backwards(
    consumer: &mut dyn Consumer,
    topic: &str,
    layout: Layout,
    scans: &mut [Scan],
) -> Result<()> {
    let mut windows: Vec<i64> = scans
        .iter()
        .map(|s| 8 * layout.stores_of(s.tp.partition).max(1) as i64)
        .collect();
    loop {
        let active: Vec<usize> = (0..scans.len())
            .filter(|i| !scans[*i].found_all() && scans[*i].start > scans[*i].low)
            .collect();
        if active.is_empty() {
            return Ok(());
        }
        for &i in &active {
            let scan = &mut scans[i];
            scan.end = scan.start;
            scan.start = (scan.end - windows[i]).max(scan.low);
            windows[i] = windows[i].saturating_mul(4);
        }
        let ranges: Vec<(TopicPartition, i64, i64)> = active
            .iter()
            .map(|i| (scans[*i].tp.clone(), scans[*i].start, scans[*i].end))
            .collect();
        // This window's records of each store, merged below the later windows' ones.
        let mut window: Vec<HashMap<usize, Seen>> = active.iter().map(|_| HashMap::new()).collect();
        read_ranges(consumer, topic, &ranges, |k, rec| {
            let p = rec.partition;
            let key = rec.key.as_deref().unwrap_or_default();
            let Some(store) = layout.store_of_key(key, p) else {
                return Err(SalesError::Resume {
                    topic: topic.into(),
                    partition: p,
                    reason: format!(
                        "its record at offset {} has key {:?}, which is not a series of a store \
                         of this replay mapped to partition {p} ({} stores on {} partitions): the \
                         topic was written from other input (another chain, store count or \
                         partition count); use another --topic",
                        rec.offset,
                        String::from_utf8_lossy(key),
                        layout.stores,
                        layout.partitions
                    ),
                });
            };
            match window[k].get_mut(&store) {
                Some(seen) => {
                    seen.count += 1;
                    seen.last = rec;
                }
                None => {
                    window[k].insert(
                        store,
                        Seen {
                            first: rec.clone(),
                            last: rec,
                            count: 1,
                        },
                    );
                }
            }
            Ok(())
        })
        .await?;
        for (k, i) in active.iter().enumerate() {
            let scan = &mut scans[*i];
            for (store, w) in window[k].drain() {
                match scan.seen.get_mut(&store) {
                    Some(seen) => {
                        seen.first = w.first;
                        seen.count += w.count;
                    }
                    None => {
                        scan.seen.insert(store, w);
                    }
                }
            }
        }
    }
}

/// Reads `ranges` (`partition, start, end`) of `topic` with `consumer`, calling `f` with the
/// range's index and each record in it, in offset order per partition.
async fn read_ranges(
    consumer: &mut dyn Consumer,
    topic: &str,
    ranges: &[(TopicPartition, i64, i64)],
    mut f: impl FnMut(usize, Record) -> Result<()>,
) -> Result<()> {
    let offsets: Vec<_> = ranges
        .iter()
        .map(|(tp, start, _)| (tp.clone(), Offset::At(*start)))
        .collect();
    consumer
        .assign(&offsets)
        .map_err(SalesError::log(format!("assigning {topic} to resume")))?;
    let mut done = vec![false; ranges.len()];
    let mut deadline = Instant::now() + STALL;
    loop {
        let batch = consumer
            .poll(Duration::from_millis(200))
            .await
            .map_err(SalesError::log(format!("reading {topic} to resume")))?;
        if !batch.is_empty() {
            deadline = Instant::now() + STALL;
        }
        let empty = batch.is_empty();
        for rec in batch {
            let Some(k) = ranges.iter().position(|r| r.0.partition == rec.partition) else {
                continue;
            };
            if !done[k] && rec.offset >= ranges[k].1 && rec.offset < ranges[k].2 {
                f(k, rec)?;
            }
        }
        for (k, (tp, _, end)) in ranges.iter().enumerate() {
            done[k] = done[k] || consumer.position(tp).is_some_and(|p| p >= *end);
        }
        if done.iter().all(|d| *d) || (empty && consumer.is_caught_up()) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(SalesError::Log {
                context: format!("reading {topic} to resume"),
                source: aisle_log::LogError::Timeout(format!("no records within {STALL:?}")),
            });
        }
    }
}

/// Where store `store`'s last record is in this replay's input: `(day, row)`, the day from its
/// timestamp (`day_of`) and the row from its key. Fails, naming the topic, partition and store,
/// when this input could not have written it (other data, series added or removed, synthetic vs
/// real), rather than resume at a wrong place.
pub fn locate(
    topic: &str,
    partition: i32,
    store: &str,
    p: &Position,
    synthetic: bool,
    series: &[Series],
    day_of: impl Fn(i64) -> Option<u32>,
) -> Result<(u32, u32)> {
    let err = |reason: String| SalesError::Resume {
        topic: topic.into(),
        partition,
        reason,
    };
    if p.synthetic != synthetic {
        return Err(err(format!(
            "it holds {} data of {store} and this replay is {}; use another --topic",
            if p.synthetic { "synthetic" } else { "real" },
            if synthetic { "synthetic" } else { "real" }
        )));
    }
    let at = |e: &Edge, which: &str| -> Result<(u32, u32)> {
        let key = e.key.as_deref().unwrap_or_default();
        let row = series.iter().position(|s| &s.key[..] == key).ok_or_else(|| {
            err(format!(
                "its {which} record (offset {}) has key {:?}, which is not a series of {store} in \
                 this input: the topic was written from other input; use another --topic",
                e.offset,
                String::from_utf8_lossy(key),
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
            "{why}: this input's series of {store} are not the ones the topic was written from \
             (rows added, removed or reordered); use another --topic"
        ))
    };
    if p.from_start && first.1 != 0 {
        return Err(other_input(format!(
            "the first record of {store} (offset {}, d_{}, {:?}) is row {} here, not the first row",
            p.first.offset,
            first.0,
            String::from_utf8_lossy(p.first.key.as_deref().unwrap_or_default()),
            first.1
        )));
    }
    if index(last) - index(first) + 1 != p.count {
        return Err(other_input(format!(
            "it holds {} records of {store} from d_{} row {} to d_{} row {} ({:?}), where this \
             input has {}",
            p.count,
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

    /// A partition with one store: the offsets between its ends count its records.
    fn single(first: Edge, last: Edge) -> Position {
        Position {
            count: last.offset - first.offset + 1,
            from_start: first.offset == 0,
            first,
            last,
            synthetic: true,
        }
    }

    fn locate3(p: &Position, synthetic: bool, series: &[Series]) -> Result<(u32, u32)> {
        locate("t", 3, "TX_1", p, synthetic, series, day_of_date)
    }

    #[test]
    fn locate_reads_row_from_the_key_and_day_from_the_timestamp() {
        let series = synthetic::store_series(3);
        let rows = series.len() as i64;
        // Days 5.. written from row 0; the last record is d_17 row 2000.
        let p = single(
            edge(0, 5, &series[0]),
            edge(12 * rows + 2000, 17, &series[2000]),
        );
        assert_eq!(locate3(&p, true, &series).unwrap(), (17, 2000));
        // Real data in the topic, synthetic replay: refused.
        let real = Position {
            synthetic: false,
            ..p.clone()
        };
        let e = locate3(&real, true, &series).unwrap_err();
        assert!(e.to_string().contains("real data"), "{e}");
        // A key of another store, a timestamp that is not a day: refused, naming what is wrong.
        let mut other = p.clone();
        other.last.key = Some(synthetic::store_series(4)[0].key.clone());
        let e = locate3(&other, true, &series).unwrap_err();
        assert!(e.to_string().contains("HOBBIES_1_001_TX_1"), "{e}");
        let mut noon = p.clone();
        noon.last.timestamp += 43_200_000;
        let e = locate3(&noon, true, &series).unwrap_err();
        assert!(e.to_string().contains("not the date"), "{e}");
    }

    #[test]
    fn locate_refuses_input_whose_rows_moved() {
        let series = synthetic::store_series(3);
        let rows = series.len() as i64;
        // One record fewer than this input has between the two ends: a row was added since.
        let p = single(edge(0, 5, &series[0]), edge(rows + 10 - 1, 6, &series[10]));
        let e = locate3(&p, true, &series).unwrap_err();
        assert!(e.to_string().contains("rows added, removed"), "{e}");
        // A partition written from offset 0 must start at the first row.
        let p = single(edge(0, 5, &series[1]), edge(5, 5, &series[6]));
        let e = locate3(&p, true, &series).unwrap_err();
        assert!(e.to_string().contains("not the first row"), "{e}");
        // Retention removed the head: any first row will do, as long as the count agrees.
        let p = single(edge(700, 5, &series[1]), edge(705, 5, &series[6]));
        assert_eq!(locate3(&p, true, &series).unwrap(), (5, 6));
    }

    #[test]
    fn a_shared_partition_counts_the_stores_own_records() {
        let series = synthetic::store_series(3);
        // The store's records are spread over offsets 40..900 among other stores' records:
        // 7 of its records from row 10 to row 16 agree, whatever the offsets.
        let shared = |count| Position {
            first: edge(40, 5, &series[10]),
            last: edge(900, 5, &series[16]),
            count,
            from_start: false,
            synthetic: true,
        };
        assert_eq!(locate3(&shared(7), true, &series).unwrap(), (5, 16));
        let e = locate3(&shared(6), true, &series).unwrap_err();
        assert!(e.to_string().contains("holds 6 records of TX_1"), "{e}");
    }

    #[test]
    fn keys_name_their_chain_store_and_partition() {
        let layout = Layout {
            stores: 100,
            partitions: 10,
        };
        assert_eq!(layout.stores_of(7), 10);
        let id = topics::chain_store(57);
        let key = format!("FOODS_3_001_{id}");
        assert_eq!(layout.store_of_key(key.as_bytes(), 7), Some(57));
        // On the wrong partition, beyond the chain, or not a series key: no store of it.
        assert_eq!(layout.store_of_key(key.as_bytes(), 6), None);
        let beyond = format!("FOODS_3_001_{}", topics::chain_store(107));
        assert_eq!(layout.store_of_key(beyond.as_bytes(), 7), None);
        assert_eq!(layout.store_of_key(b"CA_1", 0), None);
        assert_eq!(layout.store_of_key(b"HOBBIES_1_001_CA_1", 0), Some(0));
        let m5 = Layout {
            stores: 10,
            partitions: 10,
        };
        assert_eq!(m5.stores_of(9), 1);
        assert_eq!(m5.store_of_key(b"HOBBIES_1_001_WI_3", 9), Some(9));
    }
}
