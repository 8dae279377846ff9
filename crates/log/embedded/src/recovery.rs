//! Opening a partition directory: finishing interrupted compactions, validating or rebuilding
//! indexes, cutting a torn tail and rolling back transactions that never committed.

use crate::config::EmbeddedConfig;
use crate::journal::JournalState;
use crate::partition::{ActiveWriter, Durable, Partition, Pending};
use crate::segment::{
    IndexBuilder, Scan, Segment, Tail, index_name, load_or_rebuild_index, log_name, scan,
};
use aisle_log::{LogError, Result};
use parking_lot::{Mutex, RwLock};
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Notify, watch};

/// Parses `<20 digits>.<ext>` into the base offset.
pub fn parse_base(name: &str, ext: &str) -> Option<i64> {
    let stem = name.strip_suffix(ext)?.strip_suffix('.')?;
    (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit())).then(|| stem.parse().ok())?
}

/// The file name of a compaction result waiting to replace segments `[base, end)`.
pub fn swap_name(base: i64, end: i64) -> String {
    format!("{base:020}-{end:020}.swap")
}

fn parse_swap(name: &str) -> Option<(i64, i64)> {
    let stem = name.strip_suffix(".swap")?;
    let (a, b) = stem.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Lists the `.log` bases of a partition directory after finishing interrupted compactions.
pub fn tidy_dir(dir: &Path) -> Result<Vec<i64>> {
    let io = |e| LogError::io(dir, e);
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().and_then(|e| e.file_name().into_string().ok()))
        .collect();
    for n in &names {
        if n.ends_with(".cleaned") || n.ends_with(".tmp") {
            let p = dir.join(n);
            std::fs::remove_file(&p).map_err(|e| LogError::io(&p, e))?;
        }
    }
    for n in &names {
        if let Some((base, end)) = parse_swap(n) {
            // The swap file is complete (it was synced before being renamed to `.swap`):
            // finish replacing the segments it covers.
            for m in &names {
                let b = parse_base(m, "log").or_else(|| parse_base(m, "index"));
                if let Some(b) = b
                    && (base..end).contains(&b)
                {
                    let p = dir.join(m);
                    let _ = std::fs::remove_file(&p);
                }
            }
            let from = dir.join(n);
            let to = dir.join(log_name(base));
            std::fs::rename(&from, &to).map_err(|e| LogError::io(&from, e))?;
        }
    }
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().and_then(|e| e.file_name().into_string().ok()))
        .collect();
    let mut logs: Vec<i64> = names.iter().filter_map(|n| parse_base(n, "log")).collect();
    logs.sort_unstable();
    for n in &names {
        if let Some(b) = parse_base(n, "index")
            && logs.binary_search(&b).is_err()
        {
            let p = dir.join(n);
            std::fs::remove_file(&p).map_err(|e| LogError::io(&p, e))?;
        }
    }
    crate::fsutil::sync_dir(dir)?;
    Ok(logs)
}

fn file_len(seg: &Segment) -> Result<u64> {
    seg.file
        .metadata()
        .map(|m| m.len())
        .map_err(|e| LogError::io(&seg.path, e))
}

fn corrupt(seg: &Segment, pos: u64, reason: &str, part: &str) -> LogError {
    LogError::Corrupt {
        location: format!("{} ({part}) byte {pos}", seg.path.display()),
        reason: reason.to_owned(),
    }
}

/// Opens and recovers one partition.
///
/// `clean` means the previous run shut down cleanly, so the last segment's index can be
/// trusted like any sealed segment's instead of rescanning the whole segment.
#[allow(clippy::too_many_arguments)]
pub fn open_partition(
    topic: Arc<str>,
    id: i32,
    dir: &Path,
    cfg: &EmbeddedConfig,
    segment_bytes: u64,
    journal: &JournalState,
    clean: bool,
) -> Result<Partition> {
    let name = format!("{topic}/{id}");
    std::fs::create_dir_all(dir).map_err(|e| LogError::io(dir, e))?;
    let mut bases = tidy_dir(dir)?;
    if bases.is_empty() {
        bases.push(0);
    }
    let interval = cfg.index_interval_bytes;
    let mut segments = Vec::with_capacity(bases.len());
    let last_i = bases.len() - 1;
    let mut last_scan: Option<Scan> = None;
    for (i, base) in bases.iter().copied().enumerate() {
        let seg = Segment::open(dir, base)?;
        let len = file_len(&seg)?;
        let s = if i < last_i || clean {
            let s = load_or_rebuild_index(&seg, len, interval)?;
            if let Tail::Corrupt { pos, reason } = &s.tail {
                return Err(corrupt(&seg, *pos, reason, &name));
            }
            if i < last_i && s.tail != Tail::Clean {
                return Err(corrupt(
                    &seg,
                    s.valid_end,
                    "sealed segment ends in a partial batch",
                    &name,
                ));
            }
            if i == last_i && s.tail != Tail::Clean {
                // Said to be clean but is not: fall back to full recovery.
                recover_last(&seg, len, interval, journal, &name)?
            } else {
                s
            }
        } else {
            recover_last(&seg, len, interval, journal, &name)?
        };
        let size = file_len(&seg)?;
        seg.visible.store(size, Ordering::Release);
        seg.max_ts.store(s.max_ts, Ordering::Release);
        seg.end_offset
            .store(s.end_offset.unwrap_or(base), Ordering::Release);
        if i == last_i {
            last_scan = Some(s);
        }
        segments.push(Arc::new(seg));
    }
    let active = segments.last().cloned().ok_or(LogError::Closed)?;
    let s = last_scan.ok_or(LogError::Closed)?;
    let end = active.end_offset.load(Ordering::Acquire);
    // Offsets never go backwards, even if the active segment is empty.
    let end = end.max(active.base);
    let index_path = dir.join(index_name(active.base));
    let index_file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&index_path)
        .map_err(|e| LogError::io(&index_path, e))?;
    let last_entry = active.index.read().last().copied();
    let writer = ActiveWriter {
        size: active.visible_len(),
        index_file,
        index: IndexBuilder::resume(last_entry.as_ref(), s.max_ts),
        written_end: end,
        max_ts: s.max_ts,
        unsynced: false,
    };
    let (durable, _) = watch::channel(Durable {
        next: end,
        error: None,
    });
    Ok(Partition {
        topic,
        id,
        dir: dir.to_owned(),
        segments: RwLock::new(segments),
        pending: Mutex::new(Pending {
            next_offset: end,
            ..Default::default()
        }),
        durable,
        drained: Notify::new(),
        writer: Mutex::new(writer),
        cleaning: Mutex::new(()),
        deleted: AtomicBool::new(false),
        segment_bytes,
    })
}

/// Full recovery of the last segment: scan every batch, cut a torn tail and anything from the
/// first batch of an uncommitted transaction on, rebuild the index.
fn recover_last(
    seg: &Segment,
    len: u64,
    interval: u32,
    journal: &JournalState,
    name: &str,
) -> Result<Scan> {
    let mut s = scan(
        &seg.file,
        &seg.path,
        seg.base,
        len,
        0,
        IndexBuilder::default(),
        interval,
    )?;
    let mut cut = None;
    match &s.tail {
        Tail::Clean => {}
        Tail::Torn { bytes } => {
            tracing::warn!(segment = %seg.path.display(), bytes, "cutting torn tail");
            cut = Some(s.valid_end);
        }
        Tail::Corrupt { pos, reason } => return Err(corrupt(seg, *pos, reason, name)),
    }
    if let Some((pos, h)) = s
        .txn_batches
        .iter()
        .find(|(_, h)| !journal.is_committed(h.txn_seq))
    {
        tracing::warn!(segment = %seg.path.display(), txn = h.txn_seq, offset = h.base_offset,
            "rolling back a transaction that never committed");
        cut = Some(cut.map_or(*pos, |c| c.min(*pos)));
    }
    if let Some(at) = cut {
        seg.file
            .set_len(at)
            .and_then(|_| seg.file.sync_all())
            .map_err(|e| LogError::io(&seg.path, e))?;
        s = scan(
            &seg.file,
            &seg.path,
            seg.base,
            at,
            0,
            IndexBuilder::default(),
            interval,
        )?;
    }
    seg.write_index(&s.index)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_parse() {
        assert_eq!(parse_base(&log_name(42), "log"), Some(42));
        assert_eq!(parse_base(&index_name(7), "index"), Some(7));
        assert_eq!(parse_base("42.log", "log"), None);
        assert_eq!(parse_base(&log_name(42), "index"), None);
        assert_eq!(parse_swap(&swap_name(3, 99)), Some((3, 99)));
    }
}
