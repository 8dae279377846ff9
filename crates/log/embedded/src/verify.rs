//! Check of a data directory ([`verify`]): every batch CRC, index consistency, offset order,
//! the journal, and what recovery would cut. Reads only; never modifies anything, takes no
//! lock, and is safe on a directory a writer is using: a last batch still being appended is a
//! note (not corruption), a segment the writer's cleaner removes while it is checked is a
//! note, and the journal is read after the segments, so every transaction whose batches were
//! seen and which had committed by then counts as committed.

use crate::batch::BatchHeader;
use crate::journal::{JournalState, JournalTail, parse};
use crate::recovery::parse_base;
use crate::segment::{IndexBuilder, Tail, parse_index, scan};
use crate::topic::TopicMeta;
use aisle_log::{LogError, Result};
use std::fmt;
use std::fs::File;
use std::path::Path;

/// Counts and range of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionReport {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Segment files.
    pub segments: usize,
    /// Valid records.
    pub records: u64,
    /// First record offset, if any.
    pub first_offset: Option<i64>,
    /// Offset after the last record, if any.
    pub end_offset: Option<i64>,
    /// Bytes of segment files.
    pub bytes: u64,
}

/// What [`verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// One entry per partition, sorted by topic and partition.
    pub partitions: Vec<PartitionReport>,
    /// Corruption: damaged data recovery cannot repair without losing records.
    pub problems: Vec<String>,
    /// Benign findings recovery repairs (torn tails, missing indexes, unfinished transactions).
    pub notes: Vec<String>,
    /// Entries in the journal.
    pub journal_entries: u64,
}

impl VerifyReport {
    /// No corruption found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// Records across all partitions.
    pub fn total_records(&self) -> u64 {
        self.partitions.iter().map(|p| p.records).sum()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.partitions {
            let range = match (p.first_offset, p.end_offset) {
                (Some(a), Some(b)) => format!("offsets {a}..{b}"),
                _ => "empty".to_owned(),
            };
            writeln!(
                f,
                "{}/{}: {} records, {range}, {} segment(s), {} bytes",
                p.topic, p.partition, p.records, p.segments, p.bytes
            )?;
        }
        writeln!(f, "journal: {} entries", self.journal_entries)?;
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        for p in &self.problems {
            writeln!(f, "CORRUPT: {p}")?;
        }
        write!(
            f,
            "{}",
            if self.is_ok() {
                "OK"
            } else {
                "CORRUPTION FOUND"
            }
        )
    }
}

/// Sorted entry names of `dir`; `None` if it no longer exists (deleted while verifying).
fn names(dir: &Path) -> Result<Option<Vec<String>>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io(dir, e)),
    };
    let mut v: Vec<String> = rd
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    v.sort();
    Ok(Some(v))
}

/// A transactional batch seen in a segment, judged once the journal has been read.
struct TxnSeen {
    path: std::path::PathBuf,
    pos: u64,
    header: BatchHeader,
    in_last_segment: bool,
}

fn read_journal(jpath: &Path, report: &mut VerifyReport) -> Result<JournalState> {
    Ok(match std::fs::read(jpath) {
        Ok(bytes) => {
            let (st, tail) = parse(&bytes);
            match tail {
                JournalTail::Clean => {}
                JournalTail::Torn { at, bytes } => report.notes.push(format!(
                    "{} byte {at}: torn tail: {bytes} bytes (an append in progress if a writer \
                     is running; otherwise the next open cuts them)",
                    jpath.display()
                )),
                JournalTail::Corrupt { at, reason } => report
                    .problems
                    .push(format!("{} byte {at}: {reason}", jpath.display())),
            }
            st
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => JournalState::default(),
        Err(e) => return Err(LogError::io(jpath, e)),
    })
}

/// Checks every segment of every topic in `dir`, and the journal.
pub fn verify(dir: &Path) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    if !dir.join("topics").is_dir() {
        return Err(LogError::InvalidArgument(format!(
            "{} is not an embedded log directory (no topics/)",
            dir.display()
        )));
    }
    let mut txns = Vec::new();
    let topics_dir = dir.join("topics");
    for topic in names(&topics_dir)?.unwrap_or_default() {
        let tdir = dir.join("topics").join(&topic);
        let meta_path = tdir.join("topic.json");
        let meta: TopicMeta = match std::fs::read(&meta_path) {
            Ok(b) => match serde_json::from_slice(&b) {
                Ok(m) => m,
                Err(e) => {
                    report
                        .problems
                        .push(format!("{}: {e}", meta_path.display()));
                    continue;
                }
            },
            Err(_) if !tdir.is_dir() => {
                report
                    .notes
                    .push(format!("{}: deleted while verifying", tdir.display()));
                continue;
            }
            Err(_) => {
                report.notes.push(format!(
                    "{}: unfinished topic creation (in progress, or removed at the next open)",
                    tdir.display()
                ));
                continue;
            }
        };
        for p in 0..meta.partitions {
            let pdir = tdir.join(p.to_string());
            let r = verify_partition(&pdir, &topic, p, &mut txns, &mut report)?;
            report.partitions.push(r);
        }
    }
    // After the segments: a transaction whose batches were seen above and which committed by
    // now is in the journal, even if it committed while the segments were being read.
    let state = read_journal(&dir.join("journal.log"), &mut report)?;
    report.journal_entries = state.entries;
    for t in txns {
        if state.is_committed(t.header.txn_seq) {
            continue;
        }
        let h = &t.header;
        let msg = format!(
            "{} byte {}: {} records (offsets {}..={}) of uncommitted transaction {}",
            t.path.display(),
            t.pos,
            h.count,
            h.base_offset,
            h.last_offset,
            h.txn_seq
        );
        if t.in_last_segment {
            report.notes.push(format!(
                "{msg} would be rolled back by recovery (unless a running writer is committing \
                 it right now)"
            ));
        } else {
            report.problems.push(msg);
        }
    }
    Ok(report)
}

fn verify_partition(
    pdir: &Path,
    topic: &str,
    partition: i32,
    txns: &mut Vec<TxnSeen>,
    report: &mut VerifyReport,
) -> Result<PartitionReport> {
    let mut r = PartitionReport {
        topic: topic.to_owned(),
        partition,
        segments: 0,
        records: 0,
        first_offset: None,
        end_offset: None,
        bytes: 0,
    };
    let Some(all) = names(pdir)? else {
        if pdir.parent().is_some_and(Path::is_dir) {
            report
                .problems
                .push(format!("{}: partition directory missing", pdir.display()));
        } else {
            report
                .notes
                .push(format!("{}: deleted while verifying", pdir.display()));
        }
        return Ok(r);
    };
    for n in &all {
        if n.ends_with(".swap") || n.ends_with(".cleaned") {
            report.notes.push(format!(
                "{}: compaction not finished (in progress, or finished at the next open)",
                pdir.join(n).display()
            ));
        }
    }
    let bases: Vec<i64> = all.iter().filter_map(|n| parse_base(n, "log")).collect();
    r.segments = bases.len();
    let mut prev_end: Option<i64> = None;
    for (i, base) in bases.iter().copied().enumerate() {
        let is_last = i + 1 == bases.len();
        let path = pdir.join(crate::segment::log_name(base));
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                report.notes.push(format!(
                    "{}: removed by the writer's retention or compaction while verifying",
                    path.display()
                ));
                continue;
            }
            Err(e) => return Err(LogError::io(&path, e)),
        };
        let len = file.metadata().map_err(|e| LogError::io(&path, e))?.len();
        r.bytes += len;
        // Index entries are written every `interval` bytes; the scan rebuilds them with the
        // interval inferred from the file (the default), then compares where both exist.
        let s = scan(
            &file,
            &path,
            base,
            len,
            0,
            IndexBuilder::default(),
            u32::MAX,
        )?;
        r.records += s.records;
        if let Some(first) = s.first_offset {
            if first < base {
                report.problems.push(format!(
                    "{}: first offset {first} below base {base}",
                    path.display()
                ));
            }
            if let Some(pe) = prev_end
                && first < pe
            {
                report.problems.push(format!(
                    "{}: offset {first} overlaps the previous segment (which ends at {pe})",
                    path.display()
                ));
            }
            r.first_offset.get_or_insert(first);
        }
        if let Some(e) = s.end_offset {
            r.end_offset = Some(e);
            prev_end = Some(e);
        }
        match &s.tail {
            Tail::Clean => {}
            Tail::Torn { bytes } if is_last => report.notes.push(format!(
                "{} byte {}: torn tail: {bytes} bytes (an append in progress if a writer is \
                 running; otherwise the next open cuts them)",
                path.display(),
                s.valid_end
            )),
            Tail::Torn { bytes } => report.problems.push(format!(
                "{} byte {}: sealed segment ends in {bytes} bytes of partial batch (after offset {:?})",
                path.display(),
                s.valid_end,
                s.end_offset
            )),
            Tail::Corrupt { pos, reason } => report.problems.push(format!(
                "{} byte {pos}: {reason} (after offset {})",
                path.display(),
                s.end_offset.map_or_else(|| "none".to_owned(), |o| (o - 1).to_string())
            )),
        }
        txns.extend(s.txn_batches.iter().map(|(pos, h)| TxnSeen {
            path: path.clone(),
            pos: *pos,
            header: *h,
            in_last_segment: is_last,
        }));
        check_index(&path, base, &file, report)?;
    }
    Ok(r)
}

/// Every index entry must point at a batch starting with the recorded offset.
fn check_index(path: &Path, base: i64, file: &File, report: &mut VerifyReport) -> Result<()> {
    let ipath = path.with_extension("index");
    let Ok(bytes) = std::fs::read(&ipath) else {
        report.notes.push(format!(
            "{}: index missing, rebuilt at open",
            ipath.display()
        ));
        return Ok(());
    };
    // The length after the index: a writer appends entries after the batches they point at,
    // so every entry read points at bytes that exist.
    let len = file.metadata().map_err(|e| LogError::io(path, e))?.len();
    let Some(entries) = parse_index(&bytes, len.max(1)) else {
        report.notes.push(format!(
            "{}: index unusable, rebuilt at open",
            ipath.display()
        ));
        return Ok(());
    };
    use std::os::unix::fs::FileExt;
    for e in entries {
        let mut hdr = [0u8; crate::batch::HEADER_LEN];
        let ok = file.read_exact_at(&mut hdr, e.pos as u64).is_ok()
            && i64::from_le_bytes(hdr[16..24].try_into().unwrap_or([0; 8]))
                == base + e.rel_offset as i64;
        if !ok {
            report.problems.push(format!(
                "{}: entry for offset {} points at byte {}, which does not start that batch",
                ipath.display(),
                base + e.rel_offset as i64,
                e.pos
            ));
            break;
        }
    }
    Ok(())
}
