//! One partition: its segments, the records waiting for the writer, and the read path.

use crate::batch::{BatchBuilder, HEADER_LEN, check_batch, for_each_record};
use crate::segment::{IndexBuilder, Segment};
use aisle_log::{Header, LogError, Record, Result};
use parking_lot::{Mutex, RwLock};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokio::sync::{Notify, watch};

/// Acknowledgement state, published by the writer after each sync.
#[derive(Clone, Debug, Default)]
pub struct Durable {
    /// Every offset below this is durable and readable.
    pub next: i64,
    /// Set when the writer failed: deliveries at or above `next` fail with this message.
    pub error: Option<Arc<str>>,
}

/// Records accepted by `send` and not yet taken by the writer.
#[derive(Debug, Default)]
pub struct Pending {
    /// Offset the next record gets (offsets are assigned at `send`, under this lock).
    pub next_offset: i64,
    /// Batches in order; the last one is still being filled.
    pub batches: Vec<BatchBuilder>,
    /// Bytes in `batches`.
    pub bytes: usize,
    /// Whether the partition is already on the writer's to-do list.
    pub queued: bool,
}

/// The writer thread's private state for the active segment.
#[derive(Debug)]
pub struct ActiveWriter {
    /// Bytes written to the active segment.
    pub size: u64,
    /// Index entries are appended here (not synced: recovery rebuilds a short index).
    pub index_file: File,
    /// Continues the sparse index.
    pub index: IndexBuilder,
    /// Offset after the last written record.
    pub written_end: i64,
    /// Largest timestamp written to the active segment.
    pub max_ts: i64,
    /// Written since the last sync.
    pub unsynced: bool,
}

/// A partition of a topic.
#[derive(Debug)]
pub struct Partition {
    /// Topic name.
    pub topic: Arc<str>,
    /// Partition index.
    pub id: i32,
    /// Its directory, `topics/<topic>/<id>`.
    pub dir: PathBuf,
    /// Segments by ascending base offset; the last one is active.
    pub segments: RwLock<Vec<Arc<Segment>>>,
    /// Records waiting for the writer.
    pub pending: Mutex<Pending>,
    /// What is durable; delivery futures and `flush` wait on it.
    pub durable: watch::Sender<Durable>,
    /// Signalled when the writer takes pending records (back-pressure release).
    pub drained: Notify,
    /// Writer-side state of the active segment.
    pub writer: Mutex<ActiveWriter>,
    /// Held while compaction or retention works on the partition.
    pub cleaning: Mutex<()>,
    /// Set when its topic is deleted: the writer skips it.
    pub deleted: AtomicBool,
    /// Segment size of its topic.
    pub segment_bytes: u64,
}

impl Partition {
    /// `topic/partition` for messages.
    pub fn name(&self) -> String {
        format!("{}/{}", self.topic, self.id)
    }

    /// `(low, high)` watermarks: first retained offset and next durable offset.
    pub fn watermarks(&self) -> (i64, i64) {
        let low = self.segments.read().first().map_or(0, |s| s.base);
        let high = self.durable.borrow().next;
        (low.min(high), high)
    }

    /// Appends one record to the pending batch; returns its offset and whether the partition
    /// must be put on the writer's to-do list.
    #[allow(clippy::too_many_arguments)]
    pub fn append(
        pending: &mut Pending,
        max_batch: usize,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        txn_seq: u64,
    ) -> i64 {
        let offset = pending.next_offset;
        let rec_len = 32 + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
        let need_new = match pending.batches.last() {
            None => true,
            Some(b) => b.txn_seq != txn_seq || b.len() + rec_len > max_batch,
        };
        if need_new {
            let cap = (rec_len + HEADER_LEN).max(max_batch.min(64 << 10));
            pending
                .batches
                .push(BatchBuilder::new(offset, cap, txn_seq));
        }
        let b = pending
            .batches
            .last_mut()
            .expect("a batch was just ensured");
        let before = b.len();
        b.push(offset, timestamp, key, value, headers);
        pending.bytes += b.len() - before;
        pending.next_offset += 1;
        offset
    }

    /// Finds where to read `from`: the segment holding it and a byte position at or before it.
    fn locate(&self, from: i64) -> Option<(Arc<Segment>, u64)> {
        let segs = self.segments.read();
        let i = segs.partition_point(|s| s.base <= from);
        let seg = if i == 0 { segs.first()? } else { &segs[i - 1] };
        Some((seg.clone(), seg.lookup(from)))
    }

    /// Reads durable records from offset `from`, up to about `max_bytes`.
    ///
    /// Returns records with offsets `>= from` (offsets may skip where compaction removed
    /// records) and updates `cursor` so the next sequential read needs no index lookup.
    pub fn read(
        &self,
        from: i64,
        max_bytes: usize,
        cursor: &mut Option<ReadCursor>,
        out: &mut Vec<Record>,
    ) -> Result<i64> {
        let high = self.durable.borrow().next;
        if from >= high {
            return Ok(from);
        }
        let (mut seg, mut pos) = match cursor.take() {
            Some(c) if c.next_offset == from => (c.seg, c.pos),
            _ => match self.locate(from) {
                Some(x) => x,
                None => return Ok(from),
            },
        };
        let mut next = from;
        loop {
            let visible = seg.visible_len();
            if pos >= visible {
                let segs = self.segments.read();
                match segs.iter().find(|s| s.base > seg.base) {
                    Some(s) => {
                        seg = s.clone();
                        pos = 0;
                        continue;
                    }
                    None => break,
                }
            }
            let want = ((visible - pos) as usize).min(max_bytes.max(HEADER_LEN));
            let mut chunk = seg.read_at(pos, want)?;
            if chunk.len() >= 4 {
                let need =
                    u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as usize + 4;
                if need > chunk.len() && (need as u64) <= visible - pos {
                    chunk = seg.read_at(pos, need)?;
                }
            }
            let mut at = 0usize;
            let mut stop = false;
            while at < chunk.len() {
                let h = match check_batch(&chunk[at..]) {
                    Ok(h) => h,
                    Err(crate::batch::BatchError::Incomplete { .. }) if at > 0 => break,
                    Err(e) => {
                        return Err(LogError::Corrupt {
                            location: format!(
                                "{} ({}) byte {}, near offset {next}",
                                seg.path.display(),
                                self.name(),
                                pos + at as u64
                            ),
                            reason: e.to_string(),
                        });
                    }
                };
                if h.base_offset >= high {
                    stop = true;
                    break;
                }
                if h.last_offset >= next {
                    let batch = chunk.slice(at..at + h.total_len);
                    let (topic, id) = (&*self.topic, self.id);
                    for_each_record(&batch, &h, |r| {
                        if r.offset >= next && r.offset < high {
                            out.push(r.into_record(topic, id));
                        }
                        true
                    })
                    .map_err(|e| LogError::Corrupt {
                        location: format!(
                            "{} ({}) offset {}",
                            seg.path.display(),
                            self.name(),
                            h.base_offset
                        ),
                        reason: e.to_string(),
                    })?;
                    next = next.max(h.last_offset + 1).min(high);
                }
                at += h.total_len;
            }
            pos += at as u64;
            if stop || !out.is_empty() {
                break;
            }
        }
        *cursor = Some(ReadCursor {
            seg,
            pos,
            next_offset: next,
        });
        Ok(next)
    }
}

/// Where a sequential reader stopped.
#[derive(Debug, Clone)]
pub struct ReadCursor {
    /// The segment being read (kept alive even if compaction or retention removed it).
    pub seg: Arc<Segment>,
    /// Byte position of the next batch.
    pub pos: u64,
    /// The offset this cursor is valid for.
    pub next_offset: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_splits_batches_by_size_and_transaction() {
        let mut p = Pending::default();
        let v = vec![7u8; 600];
        for _ in 0..4 {
            Partition::append(&mut p, 2048, 1, None, Some(&v), &[], 0);
        }
        assert_eq!(p.next_offset, 4);
        assert_eq!(p.batches.len(), 2, "600-byte records, 2 KiB batches");
        Partition::append(&mut p, 2048, 1, None, Some(&v), &[], 9);
        assert_eq!(p.batches.len(), 3, "a transaction gets its own batch");
        assert_eq!(p.batches[2].txn_seq, 9);
        assert_eq!(p.batches[2].base_offset, 4);
        assert!(p.bytes > 5 * 600);
    }
}
