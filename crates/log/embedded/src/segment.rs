//! Segment files (`<base offset>.log`) with their sparse offset/time index (`<base>.index`),
//! and the scan that recovery and `verify` share.

use crate::batch::{BatchError, BatchHeader, HEADER_LEN, MAGIC, MAX_BATCH_LEN, check_batch};
use aisle_log::{LogError, Result};
use bytes::Bytes;
use parking_lot::RwLock;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Bytes of one index entry on disk.
pub const INDEX_ENTRY_LEN: usize = 16;

/// One sparse index entry: the batch at byte `pos` starts with offset `base + rel_offset`, and
/// `max_ts` is the largest timestamp in the segment up to and including that batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Offset of the batch's first record, relative to the segment base.
    pub rel_offset: u32,
    /// Byte position of the batch in the segment file.
    pub pos: u32,
    /// Largest timestamp so far in the segment.
    pub max_ts: i64,
}

impl IndexEntry {
    /// The 16 on-disk bytes: u32 rel_offset, u32 pos, i64 max_ts, little-endian.
    pub fn to_bytes(self) -> [u8; INDEX_ENTRY_LEN] {
        let mut b = [0u8; INDEX_ENTRY_LEN];
        b[0..4].copy_from_slice(&self.rel_offset.to_le_bytes());
        b[4..8].copy_from_slice(&self.pos.to_le_bytes());
        b[8..16].copy_from_slice(&self.max_ts.to_le_bytes());
        b
    }
    fn from_bytes(b: &[u8]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[8..16]);
        IndexEntry {
            rel_offset: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            pos: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            max_ts: i64::from_le_bytes(ts),
        }
    }
}

/// File name of the segment starting at `base`.
pub fn log_name(base: i64) -> String {
    format!("{base:020}.log")
}

/// File name of the index of the segment starting at `base`.
pub fn index_name(base: i64) -> String {
    format!("{base:020}.index")
}

/// One segment: an append-only file of batches plus its in-memory sparse index.
#[derive(Debug)]
pub struct Segment {
    /// Offset of its first record (also in its file name).
    pub base: i64,
    /// The `.log` file.
    pub path: PathBuf,
    /// Read handle (the writer writes through its own positional writes on the same file).
    pub file: File,
    /// Sparse index, ascending.
    pub index: RwLock<Vec<IndexEntry>>,
    /// Bytes readers may read: everything below is acknowledged data.
    pub visible: AtomicU64,
    /// Largest record timestamp in the segment (i64::MIN when empty).
    pub max_ts: AtomicI64,
    /// Offset after its last record (its base when empty).
    pub end_offset: AtomicI64,
}

impl Segment {
    /// Opens (creating if needed) the segment file starting at `base` in `dir`.
    pub fn open(dir: &Path, base: i64) -> Result<Segment> {
        let path = dir.join(log_name(base));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LogError::io(&path, e))?;
        Ok(Segment {
            base,
            path,
            file,
            index: RwLock::new(Vec::new()),
            visible: AtomicU64::new(0),
            max_ts: AtomicI64::new(i64::MIN),
            end_offset: AtomicI64::new(base),
        })
    }

    /// Path of its index file.
    pub fn index_path(&self) -> PathBuf {
        self.path.with_extension("index")
    }

    /// Bytes readers may read.
    pub fn visible_len(&self) -> u64 {
        self.visible.load(Ordering::Acquire)
    }

    /// Byte position to start reading at for `offset`: the last indexed batch at or before it.
    pub fn lookup(&self, offset: i64) -> u64 {
        let rel = offset - self.base;
        if rel <= 0 {
            return 0;
        }
        let idx = self.index.read();
        let rel = rel.min(u32::MAX as i64) as u32;
        match idx.partition_point(|e| e.rel_offset <= rel) {
            0 => 0,
            n => idx[n - 1].pos as u64,
        }
    }

    /// Reads `len` bytes at `pos`.
    pub fn read_at(&self, pos: u64, len: usize) -> Result<Bytes> {
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, pos)
            .map_err(|e| LogError::io(&self.path, e))?;
        Ok(Bytes::from(buf))
    }

    /// Writes the index atomically (temp file, fsync, rename).
    pub fn write_index(&self, entries: &[IndexEntry]) -> Result<()> {
        let path = self.index_path();
        let tmp = path.with_extension("index.tmp");
        let mut bytes = Vec::with_capacity(entries.len() * INDEX_ENTRY_LEN);
        for e in entries {
            bytes.extend_from_slice(&e.to_bytes());
        }
        let mut f = File::create(&tmp).map_err(|e| LogError::io(&tmp, e))?;
        f.write_all(&bytes)
            .and_then(|_| f.sync_data())
            .map_err(|e| LogError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| LogError::io(&path, e))?;
        *self.index.write() = entries.to_vec();
        Ok(())
    }
}

/// Reads an index file; `None` if missing or structurally impossible for a segment of `seg_len`.
pub fn read_index(path: &Path, seg_len: u64) -> Option<Vec<IndexEntry>> {
    parse_index(&std::fs::read(path).ok()?, seg_len)
}

/// Parses index bytes; `None` if structurally impossible for a segment of `seg_len`.
pub fn parse_index(bytes: &[u8], seg_len: u64) -> Option<Vec<IndexEntry>> {
    if !bytes.len().is_multiple_of(INDEX_ENTRY_LEN) {
        return None;
    }
    let entries: Vec<IndexEntry> = bytes
        .chunks_exact(INDEX_ENTRY_LEN)
        .map(IndexEntry::from_bytes)
        .collect();
    let mut prev: Option<IndexEntry> = None;
    for e in &entries {
        if e.pos as u64 >= seg_len {
            return None;
        }
        if let Some(p) = prev
            && (e.pos <= p.pos || e.rel_offset <= p.rel_offset || e.max_ts < p.max_ts)
        {
            return None;
        }
        prev = Some(*e);
    }
    if let Some(first) = entries.first()
        && first.pos != 0
    {
        return None;
    }
    Some(entries)
}

/// What is at the end of a scanned segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tail {
    /// The file ends exactly after a valid batch.
    Clean,
    /// An unfinished write: an incomplete or unreadable last batch with nothing valid after
    /// it. Recovery cuts these bytes.
    Torn {
        /// Bytes recovery would cut.
        bytes: u64,
    },
    /// A bad batch followed by valid data (or anywhere in a sealed segment): real damage.
    Corrupt {
        /// Byte position of the bad batch.
        pos: u64,
        /// What was wrong.
        reason: String,
    },
}

/// The result of reading a segment batch by batch.
#[derive(Clone, Debug)]
pub struct Scan {
    /// Bytes of valid batches from the scan start.
    pub valid_end: u64,
    /// Batches and records seen.
    pub batches: u64,
    /// Records seen.
    pub records: u64,
    /// First record offset.
    pub first_offset: Option<i64>,
    /// Offset after the last record.
    pub end_offset: Option<i64>,
    /// Largest timestamp.
    pub max_ts: i64,
    /// The index the writer would have built.
    pub index: Vec<IndexEntry>,
    /// `(position, header)` of transactional batches.
    pub txn_batches: Vec<(u64, BatchHeader)>,
    /// What ends the segment.
    pub tail: Tail,
}

/// Index-building state shared by the writer and the scan, so both produce the same entries.
#[derive(Clone, Debug, Default)]
pub struct IndexBuilder {
    last_pos: Option<u64>,
    max_ts: Option<i64>,
}

impl IndexBuilder {
    /// Continues after existing entries.
    pub fn resume(last: Option<&IndexEntry>, max_ts: i64) -> Self {
        IndexBuilder {
            last_pos: last.map(|e| e.pos as u64),
            max_ts: (max_ts != i64::MIN).then_some(max_ts),
        }
    }

    /// Called for every batch in order; returns the entry to add, if one is due.
    pub fn on_batch(
        &mut self,
        seg_base: i64,
        pos: u64,
        h: &BatchHeader,
        interval: u32,
    ) -> Option<IndexEntry> {
        let ts = self
            .max_ts
            .map_or(h.max_timestamp, |m| m.max(h.max_timestamp));
        self.max_ts = Some(ts);
        let due = match self.last_pos {
            None => true,
            Some(last) => pos - last >= interval as u64,
        };
        if !due {
            return None;
        }
        self.last_pos = Some(pos);
        Some(IndexEntry {
            rel_offset: (h.base_offset - seg_base) as u32,
            pos: pos as u32,
            max_ts: ts,
        })
    }
}

/// Reads batches of `file` (length `len`) from `start`, checking each CRC.
///
/// `builder` continues index building (use `IndexBuilder::default()` from position 0).
pub fn scan(
    file: &File,
    path: &Path,
    seg_base: i64,
    len: u64,
    start: u64,
    mut builder: IndexBuilder,
    interval: u32,
) -> Result<Scan> {
    const CHUNK: usize = 4 << 20;
    let mut out = Scan {
        valid_end: start,
        batches: 0,
        records: 0,
        first_offset: None,
        end_offset: None,
        max_ts: i64::MIN,
        index: Vec::new(),
        txn_batches: Vec::new(),
        tail: Tail::Clean,
    };
    let mut pos = start;
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_start = start;
    let io = |e| LogError::io(path, e);
    while pos < len {
        // Make sure the buffer holds the whole batch at `pos` (or everything left).
        let in_buf = (pos - buf_start) as usize;
        let have = buf.len().saturating_sub(in_buf);
        let want = if have >= 4 {
            let l = u32::from_le_bytes(buf[in_buf..in_buf + 4].try_into().unwrap_or([0; 4]));
            (l as usize)
                .saturating_add(4)
                .clamp(HEADER_LEN, MAX_BATCH_LEN + 4)
        } else {
            HEADER_LEN
        };
        if have < want && (buf_start + buf.len() as u64) < len {
            let n = (len - pos).min(want.max(CHUNK) as u64) as usize;
            buf = vec![0u8; n];
            file.read_exact_at(&mut buf, pos).map_err(io)?;
            buf_start = pos;
        }
        let in_buf = (pos - buf_start) as usize;
        match check_batch(&buf[in_buf..]) {
            Ok(h) => {
                if let Some(e) = builder.on_batch(seg_base, pos, &h, interval) {
                    out.index.push(e);
                }
                if h.txn_seq != 0 {
                    out.txn_batches.push((pos, h));
                }
                out.batches += 1;
                out.records += h.count as u64;
                out.first_offset.get_or_insert(h.base_offset);
                out.end_offset = Some(h.last_offset + 1);
                out.max_ts = out.max_ts.max(h.max_timestamp);
                pos += h.total_len as u64;
                out.valid_end = pos;
            }
            Err(err) => {
                out.tail = classify_tail(file, path, pos, len, &err)?;
                return Ok(out);
            }
        }
    }
    Ok(out)
}

/// Decides whether a bad batch at `pos` is a torn tail (nothing valid after it) or corruption.
pub fn classify_tail(
    file: &File,
    path: &Path,
    pos: u64,
    len: u64,
    err: &BatchError,
) -> Result<Tail> {
    let rest = len - pos;
    if rest > (256 << 20) {
        // Far too much data after the bad batch for a single unfinished write.
        return Ok(Tail::Corrupt {
            pos,
            reason: err.to_string(),
        });
    }
    let mut buf = vec![0u8; rest as usize];
    file.read_exact_at(&mut buf, pos)
        .map_err(|e| LogError::io(path, e))?;
    if let Some(at) = find_valid_batch(&buf[1..]) {
        return Ok(Tail::Corrupt {
            pos,
            reason: format!(
                "{err}, followed by a valid batch at byte {}",
                pos + 1 + at as u64
            ),
        });
    }
    Ok(Tail::Torn { bytes: rest })
}

/// The first position in `buf` where a complete, checksummed batch starts.
fn find_valid_batch(buf: &[u8]) -> Option<usize> {
    (0..buf.len().saturating_sub(HEADER_LEN - 1))
        .find(|&i| buf[i + 8] == MAGIC && check_batch(&buf[i..]).is_ok())
}

/// Rebuilds (or validates) the index of a sealed segment, returning `(index, max_ts, end_offset)`.
///
/// A present index is trusted after a cheap check: its entries are ordered and in bounds, the
/// batch at its last entry has the recorded offset, and the tail after it needs no further
/// entry (a *short* index, cut by a crash, does). Otherwise it is rebuilt by a full scan.
pub fn load_or_rebuild_index(seg: &Segment, len: u64, interval: u32) -> Result<Scan> {
    if let Some(entries) = read_index(&seg.index_path(), len)
        && let Some(last) = entries.last().copied()
    {
        let builder = IndexBuilder {
            last_pos: None,
            max_ts: Some(last.max_ts),
        };
        let tail = scan(
            &seg.file,
            &seg.path,
            seg.base,
            len,
            last.pos as u64,
            builder,
            interval,
        )?;
        let first_ok = tail.first_offset == Some(seg.base + last.rel_offset as i64);
        // The first entry of the tail scan re-creates `last`; any further one means a short index.
        if first_ok && tail.index.len() == 1 && tail.tail == Tail::Clean {
            *seg.index.write() = entries.clone();
            let max_ts = tail.max_ts.max(last.max_ts);
            return Ok(Scan {
                index: entries,
                max_ts,
                ..tail
            });
        }
    }
    let full = scan(
        &seg.file,
        &seg.path,
        seg.base,
        len,
        0,
        IndexBuilder::default(),
        interval,
    )?;
    seg.write_index(&full.index)?;
    Ok(full)
}
