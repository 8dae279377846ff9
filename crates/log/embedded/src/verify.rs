//! Offline check of a data directory ([`verify`]): every batch CRC, index consistency, offset
//! order, the journal, and what recovery would cut. Reads only; never modifies anything.

use crate::journal::{JournalState, JournalTail, parse};
use crate::recovery::parse_base;
use crate::segment::{IndexBuilder, Tail, read_index, scan};
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

fn names(dir: &Path) -> Result<Vec<String>> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| LogError::io(dir, e))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    v.sort();
    Ok(v)
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
    let jpath = dir.join("journal.log");
    let state = match std::fs::read(&jpath) {
        Ok(bytes) => {
            let (st, tail) = parse(&bytes);
            match tail {
                JournalTail::Clean => {}
                JournalTail::Torn { at, bytes } => report.notes.push(format!(
                    "{} byte {at}: torn tail: {bytes} bytes would be cut by recovery",
                    jpath.display()
                )),
                JournalTail::Corrupt { at, reason } => report
                    .problems
                    .push(format!("{} byte {at}: {reason}", jpath.display())),
            }
            st
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => JournalState::default(),
        Err(e) => return Err(LogError::io(&jpath, e)),
    };
    report.journal_entries = state.entries;
    for topic in names(&dir.join("topics"))? {
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
            Err(_) => {
                report.notes.push(format!(
                    "{}: unfinished topic creation, removed at open",
                    tdir.display()
                ));
                continue;
            }
        };
        for p in 0..meta.partitions {
            let pdir = tdir.join(p.to_string());
            let r = verify_partition(&pdir, &topic, p, &state, &mut report)?;
            report.partitions.push(r);
        }
    }
    Ok(report)
}

fn verify_partition(
    pdir: &Path,
    topic: &str,
    partition: i32,
    journal: &JournalState,
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
    if !pdir.is_dir() {
        report
            .problems
            .push(format!("{}: partition directory missing", pdir.display()));
        return Ok(r);
    }
    let all = names(pdir)?;
    for n in &all {
        if n.ends_with(".swap") || n.ends_with(".cleaned") {
            report.notes.push(format!(
                "{}: interrupted compaction, finished at open",
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
        let file = File::open(&path).map_err(|e| LogError::io(&path, e))?;
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
                "{} byte {}: torn tail: {bytes} bytes would be cut by recovery",
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
        for (pos, h) in &s.txn_batches {
            if !journal.is_committed(h.txn_seq) {
                let msg = format!(
                    "{} byte {pos}: {} records (offsets {}..={}) of uncommitted transaction {}",
                    path.display(),
                    h.count,
                    h.base_offset,
                    h.last_offset,
                    h.txn_seq
                );
                if is_last {
                    report
                        .notes
                        .push(format!("{msg} would be rolled back by recovery"));
                } else {
                    report.problems.push(msg);
                }
            }
        }
        check_index(&path, len, base, &file, report)?;
    }
    Ok(r)
}

/// Every index entry must point at a batch starting with the recorded offset.
fn check_index(
    path: &Path,
    len: u64,
    base: i64,
    file: &File,
    report: &mut VerifyReport,
) -> Result<()> {
    let ipath = path.with_extension("index");
    if !ipath.exists() {
        report.notes.push(format!(
            "{}: index missing, rebuilt at open",
            ipath.display()
        ));
        return Ok(());
    }
    let Some(entries) = read_index(&ipath, len.max(1)) else {
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
