//! Reading one partition's segment files while another process writes them.
//!
//! [`PartitionReader`] keeps the segment it reads open and reads whole, checksum-valid batches
//! from a byte position. Where the bytes stop making a batch it decides what that means:
//!
//! * The newest segment: a batch being appended right now (or a torn tail a crashed writer
//!   left, which the next writer cuts): wait and look again later; only a bad batch followed by
//!   a valid one is corruption.
//! * A segment with a newer one after it is sealed (the writer rolls only after finishing its
//!   writes), so what remains there must be whole: a bad batch is corruption.
//! * At the end of a file the directory is listed again and the reader moves to wherever a
//!   fresh reader would look for the next offset: the next segment, a compaction result that
//!   replaced the segments (same offsets, fewer records), or, if the writer's retention
//!   deleted the segments in between, the first one left (logged and recorded as [`Skipped`]).
//!
//! A segment deleted while it is being read stays readable through the open file (Unix
//! semantics), so the writer's cleaner never pulls bytes from under a reader. Transactional
//! batches are returned only once the journal says their transaction committed.

use super::journal_view::JournalView;
use crate::batch::{BatchError, HEADER_LEN, check_batch, for_each_record};
use crate::recovery::parse_base;
use crate::segment::{IndexBuilder, Tail, classify_tail, parse_index, scan};
use aisle_log::{LogError, Record, Result};
use bytes::Bytes;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Segment switches one `read` makes at most before returning (the directory may be changing
/// under it; the next call goes on).
const MAX_MOVES: usize = 64;

/// Offsets a read-only reader never saw because the writer's retention deleted their segments
/// before the reader got to them; it went on at `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// First offset not read.
    pub from: i64,
    /// Where reading continued (the first retained offset).
    pub to: i64,
}

/// A segment file as listed: `<base>.log`, or a finished compaction `<base>-<end>.swap` about
/// to replace the segments in `[base, end)` (the files it replaces are then left out).
#[derive(Clone, Debug)]
struct Listed {
    base: i64,
    path: PathBuf,
}

/// Lists the segment files of a partition directory by base offset.
fn list_segments(dir: &Path, topic: &str) -> Result<Vec<Listed>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LogError::UnknownTopic(topic.to_owned()));
        }
        Err(e) => return Err(LogError::io(dir, e)),
    };
    let mut logs = Vec::new();
    let mut swaps = Vec::new();
    for e in rd.flatten() {
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if let Some(base) = parse_base(&name, "log") {
            logs.push(Listed {
                base,
                path: dir.join(&name),
            });
        } else if let Some((a, b)) = name
            .strip_suffix(".swap")
            .and_then(|s| s.split_once('-'))
            .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)))
        {
            swaps.push((a, b, dir.join(&name)));
        }
    }
    for (base, end, path) in swaps {
        logs.retain(|l| !(base..end).contains(&l.base));
        logs.push(Listed { base, path });
    }
    logs.sort_by_key(|l| l.base);
    Ok(logs)
}

/// The segment where a reader looks for `offset`: the last one starting at or before it, else
/// the first one.
fn pick(listed: &[Listed], offset: i64) -> Option<&Listed> {
    match listed.partition_point(|l| l.base <= offset) {
        0 => listed.first(),
        i => Some(&listed[i - 1]),
    }
}

fn ino_of(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// An open segment file.
#[derive(Debug)]
struct SegmentFile {
    base: i64,
    path: PathBuf,
    file: File,
    ino: u64,
}

impl SegmentFile {
    /// Opens a listed segment; `None` if it is gone already.
    fn open(l: &Listed) -> Result<Option<SegmentFile>> {
        let file = match File::open(&l.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LogError::io(&l.path, e)),
        };
        let ino = file.metadata().map_err(|e| LogError::io(&l.path, e))?.ino();
        Ok(Some(SegmentFile {
            base: l.base,
            path: l.path.clone(),
            file,
            ino,
        }))
    }

    fn len(&self) -> Result<u64> {
        Ok(self
            .file
            .metadata()
            .map_err(|e| LogError::io(&self.path, e))?
            .len())
    }

    /// `len` bytes at `pos`, or `None` if the file became shorter (a restarted writer cut it).
    fn read_at(&self, pos: u64, len: usize) -> Result<Option<Bytes>> {
        let mut buf = vec![0u8; len];
        match self.file.read_exact_at(&mut buf, pos) {
            Ok(()) => Ok(Some(Bytes::from(buf))),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(LogError::io(&self.path, e)),
        }
    }

    /// A byte position at or before the batch holding `offset`, from the segment's sparse
    /// index when it has a usable one (read before the file's length, so its entries point at
    /// bytes that exist), else 0.
    fn position_for(&self, offset: i64) -> Result<u64> {
        if offset <= self.base || self.path.extension().is_none_or(|e| e != "log") {
            return Ok(0);
        }
        let Ok(bytes) = std::fs::read(self.path.with_extension("index")) else {
            return Ok(0);
        };
        let len = self.len()?;
        let Some(entries) = parse_index(&bytes, len) else {
            return Ok(0);
        };
        let rel = (offset - self.base).min(u32::MAX as i64) as u32;
        let Some(e) = entries.iter().rev().find(|e| e.rel_offset <= rel) else {
            return Ok(0);
        };
        let ok = self.read_at(e.pos as u64, HEADER_LEN)?.is_some_and(|h| {
            i64::from_le_bytes(h[16..24].try_into().unwrap_or([0; 8]))
                == self.base + e.rel_offset as i64
        });
        Ok(if ok { e.pos as u64 } else { 0 })
    }
}

#[derive(Debug)]
struct Cursor {
    seg: SegmentFile,
    /// Byte position of the next batch to look at.
    pos: u64,
    /// The next offset to return.
    next: i64,
}

/// What reading batches from the cursor came to.
enum Step {
    /// Some batches were read.
    Read,
    /// A transaction's batch whose commit the journal does not show yet.
    Waiting,
    /// No whole batch at the position: the end of the file, or the error of the bytes there.
    End(Option<BatchError>),
}

/// What moving on from the end of a file came to.
enum Advance {
    /// Reading can go on (another file, or more bytes in this one).
    Moved,
    /// At the end of what the writer has written.
    Tail,
}

/// Follows one partition directory.
#[derive(Debug)]
pub struct PartitionReader {
    topic: Arc<str>,
    id: i32,
    dir: PathBuf,
    cur: Option<Cursor>,
    at_tail: bool,
    skipped: Vec<Skipped>,
}

impl PartitionReader {
    /// A reader of `dir` (`topics/<topic>/<id>`); nothing is opened until the first read.
    pub fn new(topic: &str, id: i32, dir: PathBuf) -> PartitionReader {
        PartitionReader {
            topic: topic.into(),
            id,
            dir,
            cur: None,
            at_tail: false,
            skipped: Vec::new(),
        }
    }

    /// Whether the last read ended at the end of what the writer has written (or at a
    /// transaction not committed yet).
    pub fn at_tail(&self) -> bool {
        self.at_tail
    }

    /// Retention skips since the last call.
    pub fn take_skipped(&mut self) -> Vec<Skipped> {
        std::mem::take(&mut self.skipped)
    }

    /// Reads records from offset `from` on, about `max_bytes` of batches at most, into `out`;
    /// returns the next offset to read. Returns without records at the end of the data.
    pub fn read(
        &mut self,
        from: i64,
        max_bytes: usize,
        journal: &mut JournalView,
        out: &mut Vec<Record>,
    ) -> Result<i64> {
        self.at_tail = false;
        if self.cur.as_ref().is_some_and(|c| c.next != from) {
            self.cur = None;
        }
        if self.cur.is_none() {
            self.cur = self.locate(from)?;
            if self.cur.is_none() {
                self.at_tail = true;
                return Ok(from);
            }
        }
        let mut moves = 0;
        while let Some(c) = self.cur.as_mut() {
            let before = out.len();
            match read_batches(c, max_bytes, journal, &self.topic, self.id, out)? {
                Step::Read if out.len() > before => break,
                Step::Read => {}
                Step::Waiting => {
                    self.at_tail = true;
                    break;
                }
                Step::End(bad) => match self.advance(bad)? {
                    Advance::Moved => {
                        moves += 1;
                        if moves >= MAX_MOVES {
                            break;
                        }
                    }
                    Advance::Tail => {
                        self.at_tail = true;
                        break;
                    }
                },
            }
        }
        Ok(self.cur.as_ref().map_or(from, |c| c.next))
    }

    /// A cursor for `from` in the segments listed now.
    fn locate(&mut self, from: i64) -> Result<Option<Cursor>> {
        for _ in 0..MAX_MOVES {
            let listed = list_segments(&self.dir, &self.topic)?;
            let Some(l) = pick(&listed, from) else {
                return Ok(None);
            };
            if let Some(c) = self.open_at(l, from)? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    /// Opens `l` positioned for `next`; a `next` below its base means retention deleted the
    /// offsets in between (they are skipped, and said so). `None` if the file is gone.
    fn open_at(&mut self, l: &Listed, next: i64) -> Result<Option<Cursor>> {
        let Some(seg) = SegmentFile::open(l)? else {
            return Ok(None);
        };
        if next < seg.base {
            tracing::warn!(
                topic = %self.topic, partition = self.id,
                "offsets {next}..{} were deleted by the writer's retention before they could be \
                 read; continuing at offset {}", seg.base, seg.base
            );
            self.skipped.push(Skipped {
                topic: self.topic.to_string(),
                partition: self.id,
                from: next,
                to: seg.base,
            });
        }
        let pos = seg.position_for(next)?;
        let next = next.max(seg.base);
        Ok(Some(Cursor { seg, pos, next }))
    }

    /// At the end of the current file's whole batches (`bad`: what the bytes there are):
    /// decides where reading goes on.
    fn advance(&mut self, bad: Option<BatchError>) -> Result<Advance> {
        let Some(c) = self.cur.as_ref() else {
            return Ok(Advance::Tail);
        };
        let next = c.next;
        let listed = list_segments(&self.dir, &self.topic)?;
        if let Some(t) = pick(&listed, next)
            && !(t.base == c.seg.base && ino_of(&t.path) == Some(c.seg.ino))
        {
            // The next segment, a compaction result in place of ours, or (after retention)
            // the first segment left.
            if let Some(nc) = self.open_at(t, next)? {
                self.cur = Some(nc);
            }
            return Ok(Advance::Moved);
        }
        let Some(later) = listed.iter().find(|l| l.base > c.seg.base).cloned() else {
            // The active segment: a bad batch with nothing valid after it is an append in
            // progress (or a torn tail the next writer cuts), not an error.
            if let Some(err) = bad {
                let len = c.seg.len()?;
                if c.pos < len
                    && let Tail::Corrupt { pos, reason } =
                        classify_tail(&c.seg.file, &c.seg.path, c.pos, len, &err)?
                {
                    return Err(self.corrupt(pos, reason));
                }
            }
            return Ok(Advance::Tail);
        };
        // A newer segment exists, so ours is sealed and every byte of it is written.
        let len = c.seg.len()?;
        if c.pos < len {
            let want = ((len - c.pos) as usize).min(HEADER_LEN.max(1 << 20));
            let Some(chunk) = c.seg.read_at(c.pos, want)? else {
                return Ok(Advance::Moved);
            };
            return match check_batch(&chunk) {
                // It was still being written when first read: read it now.
                Ok(_) => Ok(Advance::Moved),
                Err(BatchError::Incomplete { needed }) if needed as u64 <= len - c.pos => {
                    Ok(Advance::Moved)
                }
                Err(e) => Err(self.corrupt(
                    c.pos,
                    format!("{e} in a sealed segment (a newer segment follows it)"),
                )),
            };
        }
        if let Some(nc) = self.open_at(&later, next)? {
            self.cur = Some(nc);
        }
        Ok(Advance::Moved)
    }

    fn corrupt(&self, pos: u64, reason: String) -> LogError {
        let path = self
            .cur
            .as_ref()
            .map_or_else(|| self.dir.clone(), |c| c.seg.path.clone());
        LogError::Corrupt {
            location: format!("{} ({}/{}) byte {pos}", path.display(), self.topic, self.id),
            reason,
        }
    }
}

/// Reads whole batches from the cursor, returning records at or above its next offset.
fn read_batches(
    c: &mut Cursor,
    max_bytes: usize,
    journal: &mut JournalView,
    topic: &str,
    id: i32,
    out: &mut Vec<Record>,
) -> Result<Step> {
    let len = c.seg.len()?;
    if c.pos >= len {
        return Ok(Step::End(None));
    }
    let avail = len - c.pos;
    let want = avail.min(max_bytes.max(HEADER_LEN) as u64) as usize;
    let Some(mut chunk) = c.seg.read_at(c.pos, want)? else {
        return Ok(Step::End(None));
    };
    if chunk.len() >= 4 {
        let need = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as usize + 4;
        if need > chunk.len() && need as u64 <= avail {
            match c.seg.read_at(c.pos, need)? {
                Some(b) => chunk = b,
                None => return Ok(Step::End(None)),
            }
        }
    }
    let mut at = 0usize;
    let mut step = Step::Read;
    while at < chunk.len() {
        let h = match check_batch(&chunk[at..]) {
            Ok(h) => h,
            // Looked at again from its start by the next step.
            Err(_) if at > 0 => break,
            Err(e) => return Ok(Step::End(Some(e))),
        };
        if h.txn_seq != 0 && !journal.is_committed(h.txn_seq)? {
            step = Step::Waiting;
            break;
        }
        if h.last_offset >= c.next {
            let batch = chunk.slice(at..at + h.total_len);
            let next = c.next;
            for_each_record(&batch, &h, |r| {
                if r.offset >= next {
                    out.push(r.into_record(topic, id));
                }
                true
            })
            .map_err(|e| LogError::Corrupt {
                location: format!(
                    "{} ({topic}/{id}) offset {}",
                    c.seg.path.display(),
                    h.base_offset
                ),
                reason: e.to_string(),
            })?;
            c.next = h.last_offset + 1;
        }
        at += h.total_len;
    }
    c.pos += at as u64;
    Ok(step)
}

/// `(low, high)` of a partition directory as written now: the first segment's base, and the
/// offset after the last whole batch of the newest segment (stopping before a transaction the
/// journal does not show committed).
pub fn watermarks(dir: &Path, topic: &str, journal: &mut JournalView) -> Result<(i64, i64)> {
    for _ in 0..MAX_MOVES {
        let listed = list_segments(dir, topic)?;
        let (Some(first), Some(last)) = (listed.first(), listed.last()) else {
            return Ok((0, 0));
        };
        let Some(seg) = SegmentFile::open(last)? else {
            continue;
        };
        let start = seg.position_for(i64::MAX)?;
        let len = seg.len()?;
        let mut s = scan(
            &seg.file,
            &seg.path,
            seg.base,
            len,
            start,
            IndexBuilder::default(),
            u32::MAX,
        )?;
        if start > 0 && s.first_offset.is_none() {
            s = scan(
                &seg.file,
                &seg.path,
                seg.base,
                len,
                0,
                IndexBuilder::default(),
                u32::MAX,
            )?;
        }
        let mut high = s.end_offset.unwrap_or(seg.base).max(seg.base);
        for (_, h) in &s.txn_batches {
            if !journal.is_committed(h.txn_seq)? {
                high = high.min(h.base_offset);
                break;
            }
        }
        return Ok((first.base.min(high), high));
    }
    Err(LogError::Timeout(format!(
        "{}: segment files kept changing while being listed",
        dir.display()
    )))
}
