//! Retention (delete whole old segments) and compaction (keep the latest record per key).
//!
//! Both only touch sealed segments, never the active one, and hold the partition's `cleaning`
//! lock. Readers that are inside a removed segment keep reading it through their open file
//! handle (an unlinked file stays readable on Unix), so neither blocks consumers.

use crate::batch::{BatchBuilder, BatchHeader, check_batch, for_each_record};
use crate::log::Inner;
use crate::partition::Partition;
use crate::recovery::swap_name;
use crate::segment::{IndexBuilder, Segment, log_name};
use crate::topic::Topic;
use aisle_log::{CleanupPolicy, LogError, Result};
use bytes::Bytes;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Calls `f` for every batch of a segment's visible bytes.
pub fn for_each_batch(
    seg: &Segment,
    mut f: impl FnMut(&BatchHeader, &Bytes) -> Result<()>,
) -> Result<()> {
    let len = seg.visible_len();
    let mut pos = 0u64;
    while pos < len {
        let want = ((len - pos) as usize).min(4 << 20);
        let mut chunk = seg.read_at(pos, want)?;
        let need = u32::from_le_bytes(chunk[..4.min(chunk.len())].try_into().unwrap_or([0; 4]))
            as usize
            + 4;
        if need > chunk.len() && need as u64 <= len - pos {
            chunk = seg.read_at(pos, need)?;
        }
        let mut at = 0;
        while at < chunk.len() {
            match check_batch(&chunk[at..]) {
                Ok(h) => {
                    f(&h, &chunk.slice(at..at + h.total_len))?;
                    at += h.total_len;
                }
                Err(crate::batch::BatchError::Incomplete { .. }) if at > 0 => break,
                Err(e) => {
                    return Err(LogError::Corrupt {
                        location: format!("{} byte {}", seg.path.display(), pos + at as u64),
                        reason: e.to_string(),
                    });
                }
            }
        }
        pos += at as u64;
    }
    Ok(())
}

/// Deletes sealed segments past the topic's time or size retention.
pub fn enforce_retention(inner: &Inner, topic: &Topic) -> Result<()> {
    let cfg = &inner.shared.config;
    // A compact-only topic keeps its data regardless of age (Kafka's rule).
    if topic.meta.cleanup_policy() == CleanupPolicy::Compact {
        return Ok(());
    }
    let retention_ms = topic.meta.retention_ms(cfg);
    let retention_bytes = topic.meta.retention_bytes(cfg);
    let now = aisle_log::now_ms();
    for p in &topic.partitions {
        let _c = p.cleaning.lock();
        let doomed: Vec<Arc<Segment>> = {
            let segs = p.segments.read();
            let mut total: u64 = segs.iter().map(|s| s.visible_len()).sum();
            let mut out = Vec::new();
            for s in segs.iter().take(segs.len().saturating_sub(1)) {
                let ts = s.max_ts.load(Ordering::Acquire);
                let by_time = retention_ms >= 0 && ts < now.saturating_sub(retention_ms);
                let by_size =
                    retention_bytes >= 0 && total - s.visible_len() >= retention_bytes as u64;
                if !(by_time || by_size) {
                    break;
                }
                total -= s.visible_len();
                out.push(s.clone());
            }
            out
        };
        if doomed.is_empty() {
            continue;
        }
        p.segments
            .write()
            .retain(|s| !doomed.iter().any(|d| Arc::ptr_eq(d, s)));
        for s in &doomed {
            // Log first: an index without its log is removed at the next open.
            std::fs::remove_file(&s.path).map_err(|e| LogError::io(&s.path, e))?;
            let _ = std::fs::remove_file(s.index_path());
            tracing::debug!(segment = %s.path.display(), "deleted by retention");
        }
    }
    Ok(())
}

/// Compacts every partition of a compacted topic.
pub fn compact_topic(inner: &Inner, topic: &Topic) -> Result<()> {
    if !topic.meta.cleanup_policy().compacts() {
        return Ok(());
    }
    let cfg = &inner.shared.config;
    let params = Params {
        delete_retention_ms: topic.meta.delete_retention_ms(cfg),
        segment_bytes: topic.meta.segment_bytes(cfg),
        interval: cfg.index_interval_bytes,
        now: aisle_log::now_ms(),
        min_compaction_lag_ms: topic.meta.min_compaction_lag_ms(),
    };
    for p in &topic.partitions {
        compact_partition(p, &params)?;
    }
    Ok(())
}

/// Compaction settings for one run.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Tombstones older than this (by append time) are dropped.
    pub delete_retention_ms: i64,
    /// Merged output segments stay below this size.
    pub segment_bytes: u64,
    /// Index interval.
    pub interval: u32,
    /// Current time, ms.
    pub now: i64,
    /// Segments from the first one whose newest record is younger than this are not compacted
    /// (`min.compaction.lag.ms`): older versions of a key survive until their successor is
    /// this old (versioned tables read them, KIP-889).
    pub min_compaction_lag_ms: i64,
}

/// Rewrites the sealed segments of one partition keeping the latest record of every key.
pub fn compact_partition(p: &Partition, params: &Params) -> Result<()> {
    let _c = p.cleaning.lock();
    let (sealed, active_base) = {
        let s = p.segments.read();
        let Some(active) = s.last() else {
            return Ok(());
        };
        (s[..s.len() - 1].to_vec(), active.base)
    };
    let cleanable_before = params.now.saturating_sub(params.min_compaction_lag_ms);
    let cut = sealed
        .iter()
        .position(|s| {
            params.min_compaction_lag_ms > 0 && s.max_ts.load(Ordering::Acquire) >= cleanable_before
        })
        .unwrap_or(sealed.len());
    // The cleaned range ends where the first segment too young to compact begins.
    let active_base = sealed.get(cut).map_or(active_base, |s| s.base);
    let mut sealed = sealed;
    sealed.truncate(cut);
    if sealed.is_empty() {
        return Ok(());
    }
    let mut latest: HashMap<Bytes, i64> = HashMap::new();
    for seg in &sealed {
        for_each_batch(seg, |h, batch| {
            for_each_record(batch, h, |r| {
                if let Some(k) = r.key {
                    latest.insert(k, r.offset);
                }
                true
            })
            .map_err(|e| LogError::Corrupt {
                location: seg.path.display().to_string(),
                reason: e.to_string(),
            })
        })?;
    }
    // Group neighbouring segments so that small cleaned segments merge into one.
    let mut groups: Vec<Vec<Arc<Segment>>> = Vec::new();
    let mut size = 0u64;
    for seg in sealed {
        let l = seg.visible_len();
        match groups.last_mut() {
            Some(g) if size + l <= params.segment_bytes => {
                g.push(seg);
                size += l;
            }
            _ => {
                groups.push(vec![seg]);
                size = l;
            }
        }
    }
    for (i, group) in groups.iter().enumerate() {
        let end = groups.get(i + 1).map_or(active_base, |g| g[0].base);
        rewrite_group(p, group, end, &latest, params)?;
    }
    Ok(())
}

fn rewrite_group(
    p: &Partition,
    group: &[Arc<Segment>],
    end: i64,
    latest: &HashMap<Bytes, i64>,
    params: &Params,
) -> Result<()> {
    let base = group[0].base;
    let cleaned = p.dir.join(format!("{base:020}.cleaned"));
    let file = File::create(&cleaned).map_err(|e| LogError::io(&cleaned, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut index = Vec::new();
    let mut ib = IndexBuilder::default();
    let (mut pos, mut dropped, mut max_ts, mut end_offset) = (0u64, 0u64, i64::MIN, base);
    for seg in group {
        for_each_batch(seg, |h, batch| {
            let mut nb: Option<BatchBuilder> = None;
            for_each_record(batch, h, |r| {
                let keep = match &r.key {
                    None => true,
                    Some(k) => {
                        latest.get(k) == Some(&r.offset)
                            && (r.value.is_some()
                                || params.now.saturating_sub(h.append_time)
                                    < params.delete_retention_ms)
                    }
                };
                if keep {
                    let b = nb
                        .get_or_insert_with(|| BatchBuilder::new(r.offset, batch.len(), h.txn_seq));
                    b.push(
                        r.offset,
                        r.timestamp,
                        r.key.as_deref(),
                        r.value.as_deref(),
                        &r.headers,
                    );
                } else {
                    dropped += 1;
                }
                true
            })
            .map_err(|e| LogError::Corrupt {
                location: seg.path.display().to_string(),
                reason: e.to_string(),
            })?;
            if let Some(b) = nb {
                let (bytes, nh) = b.finish(h.append_time);
                if let Some(e) = ib.on_batch(base, pos, &nh, params.interval) {
                    index.push(e);
                }
                out.write_all(&bytes)
                    .map_err(|e| LogError::io(&cleaned, e))?;
                pos += bytes.len() as u64;
                max_ts = max_ts.max(nh.max_timestamp);
                end_offset = nh.last_offset + 1;
            }
            Ok(())
        })?;
    }
    let file = out
        .into_inner()
        .map_err(|e| LogError::io(&cleaned, e.into_error()))?;
    if dropped == 0 && group.len() == 1 {
        drop(file);
        return std::fs::remove_file(&cleaned).map_err(|e| LogError::io(&cleaned, e));
    }
    file.sync_all().map_err(|e| LogError::io(&cleaned, e))?;
    drop(file);
    // The swap protocol: once the `.swap` name exists, recovery finishes the replacement.
    let swap = p.dir.join(swap_name(base, end));
    std::fs::rename(&cleaned, &swap).map_err(|e| LogError::io(&swap, e))?;
    crate::fsutil::sync_dir(&p.dir)?;
    for seg in group {
        std::fs::remove_file(&seg.path).map_err(|e| LogError::io(&seg.path, e))?;
        let _ = std::fs::remove_file(seg.index_path());
    }
    let target = p.dir.join(log_name(base));
    std::fs::rename(&swap, &target).map_err(|e| LogError::io(&target, e))?;
    crate::fsutil::sync_dir(&p.dir)?;
    let seg = Segment::open(&p.dir, base)?;
    seg.write_index(&index)?;
    seg.max_ts.store(max_ts, Ordering::Release);
    seg.end_offset.store(end_offset, Ordering::Release);
    seg.visible.store(pos, Ordering::Release);
    let seg = Arc::new(seg);
    let mut segs = p.segments.write();
    if let Some(first) = segs.iter().position(|s| Arc::ptr_eq(s, &group[0])) {
        let n = group.len();
        segs.splice(first..first + n, [seg]);
    }
    tracing::debug!(partition = %p.name(), base, dropped, "compacted");
    Ok(())
}
