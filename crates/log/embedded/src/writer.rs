//! The single writer thread: group commit of every partition, the journal and transactions.
//!
//! Producers only touch memory: `send` encodes the record into its partition's pending batch
//! and, the first time a partition gets data in a cycle, puts it on the writer's to-do list.
//! The writer takes all pending batches, writes them with one positional write per batch,
//! syncs per the [`FsyncPolicy`], appends journal entries (offset commits, transaction
//! commits) after the data they refer to, syncs the journal, and only then publishes the new
//! high watermarks, which resolves delivery futures and wakes consumers.

use crate::config::{EmbeddedConfig, FsyncPolicy};
use crate::journal::{Entry, Journal, JournalState, SNAPSHOT_AFTER_BYTES, encode};
use crate::partition::{Durable, Partition};
use crate::segment::{IndexBuilder, Segment, index_name};
use aisle_log::{Header, LogError, Result};
use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use std::collections::{BTreeMap, HashMap};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// Group offsets as the writer publishes them: group → (topic, partition) → next offset.
pub type OffsetMap = BTreeMap<String, BTreeMap<(String, i32), i64>>;

/// `(topic, partition, next offset)` entries a group commits.
pub type GroupOffsets = Vec<(String, i32, i64)>;

/// A record of a transaction, resolved to its partition at `send`.
#[derive(Debug)]
pub struct TxRecord {
    /// Timestamp.
    pub timestamp: i64,
    /// Key.
    pub key: Option<Bytes>,
    /// Value.
    pub value: Option<Bytes>,
    /// Headers.
    pub headers: Vec<Header>,
}

/// Work other than plain records.
#[derive(Debug)]
pub enum Cmd {
    /// Commit group offsets.
    Offsets {
        /// Group id.
        group: String,
        /// `(topic, partition, next offset)`.
        offsets: Vec<(String, i32, i64)>,
        /// Resolved once durable.
        done: oneshot::Sender<Result<()>>,
    },
    /// Take over a transactional id: the next epoch, given out in queue order, so a commit of
    /// an older epoch queued before it is published before the new producer exists (as
    /// Kafka's `init_transactions` completes what the older epoch left) and one queued after
    /// it is fenced.
    Init {
        /// Transactional id.
        transactional_id: String,
        /// Resolved with the new epoch once every earlier command is published.
        done: oneshot::Sender<Result<u64>>,
    },
    /// Commit a transaction.
    Tx {
        /// Transactional id.
        transactional_id: String,
        /// The producer's epoch; a newer epoch in the registry means it was fenced.
        epoch: u64,
        /// Records per partition, in send order.
        records: Vec<(Arc<Partition>, Vec<TxRecord>)>,
        /// Group offsets to commit with it.
        group: Option<(String, GroupOffsets)>,
        /// Resolved once durable.
        done: oneshot::Sender<Result<()>>,
    },
}

/// The writer's to-do list.
#[derive(Debug, Default)]
pub struct Queue {
    /// Partitions with pending records.
    pub dirty: Vec<Arc<Partition>>,
    /// Commands.
    pub cmds: Vec<Cmd>,
    /// Stop after the current work.
    pub shutdown: bool,
}

/// State shared by the log handle and the writer thread.
#[derive(Debug)]
pub struct Shared {
    /// Settings.
    pub config: EmbeddedConfig,
    /// The to-do list.
    pub queue: Mutex<Queue>,
    /// Wakes the writer.
    pub wake: Condvar,
    /// Committed group offsets (updated after they are durable).
    pub offsets: Mutex<OffsetMap>,
    /// Transactional id → current epoch (fencing).
    pub tx_epochs: Mutex<HashMap<String, u64>>,
    /// Bumped after every publish; consumers wait on it.
    pub data_version: watch::Sender<u64>,
    /// Set after an I/O failure of the writer: the log must be reopened.
    pub poisoned: Mutex<Option<Arc<str>>>,
    /// Test-only fault injection (`AISLE_EMBEDDED_FAULT=crash_before_tx_commit`).
    pub fault_crash_before_tx_commit: bool,
}

impl Shared {
    /// Puts `part` on the to-do list and wakes the writer.
    pub fn mark_dirty(&self, part: &Arc<Partition>) {
        self.queue.lock().dirty.push(part.clone());
        self.wake.notify_one();
    }

    /// Queues a command.
    pub fn submit(&self, cmd: Cmd) {
        self.queue.lock().cmds.push(cmd);
        self.wake.notify_one();
    }

    /// The writer's failure, if any.
    pub fn check(&self) -> Result<()> {
        match &*self.poisoned.lock() {
            None => Ok(()),
            Some(m) => Err(LogError::io("", std::io::Error::other(m.to_string()))),
        }
    }
}

/// The writer loop; runs until shutdown and leaves nothing unsynced behind.
#[expect(
    clippy::disallowed_methods,
    reason = "the writer thread times fsync group commits on a condvar: real time, not a decision tests pause"
)]
pub fn run(shared: Arc<Shared>, mut journal: Journal, mut next_txn_seq: u64) {
    let policy = shared.config.fsync;
    // When the last cycle started; `None` before the first.
    let mut last_cycle: Option<Instant> = None;
    loop {
        let (dirty, cmds, shutdown) = {
            let mut q = shared.queue.lock();
            while q.dirty.is_empty() && q.cmds.is_empty() && !q.shutdown {
                shared.wake.wait(&mut q);
            }
            if let FsyncPolicy::Interval { ms } = policy {
                // Group commit: at most one cycle per `ms`. Work arriving at an idle log is
                // synced almost at once (latency: IDLE_LINGER + one fsync); under load, records
                // accumulate until `ms` after the previous cycle began and go out in one write
                // and one sync.
                let deadline = group_commit_deadline(last_cycle, Duration::from_millis(ms));
                while !q.shutdown && !shared.wake.wait_until(&mut q, deadline).timed_out() {}
            }
            last_cycle = Some(Instant::now());
            (
                std::mem::take(&mut q.dirty),
                std::mem::take(&mut q.cmds),
                q.shutdown,
            )
        };
        let poisoned = shared.poisoned.lock().clone();
        if let Some(msg) = poisoned {
            fail_all(&dirty, cmds, &msg);
        } else if let Err(e) = cycle(
            &shared,
            &mut journal,
            &mut next_txn_seq,
            dirty,
            cmds,
            policy,
        ) {
            tracing::error!(error = %e, "embedded log writer failed; the log must be reopened");
            *shared.poisoned.lock() = Some(e.to_string().into());
        }
        if shutdown {
            let q = shared.queue.lock();
            if q.dirty.is_empty() && q.cmds.is_empty() {
                return;
            }
        }
    }
}

/// How long an idle log lets a burst of records gather before its first cycle: long enough for
/// a task sending a handful of records in a row, short next to an fsync.
const IDLE_LINGER: Duration = Duration::from_micros(200);

/// When a group-commit cycle may start: `interval` after the previous one began, or, if that is
/// past (the log was idle), after [`IDLE_LINGER`] (at most `interval`).
#[expect(
    clippy::disallowed_methods,
    reason = "the writer thread times fsync group commits on a condvar: real time, not a decision tests pause"
)]
fn group_commit_deadline(last_cycle: Option<Instant>, interval: Duration) -> Instant {
    let now = Instant::now();
    match last_cycle {
        Some(t) if t + interval > now => t + interval,
        _ => now + IDLE_LINGER.min(interval),
    }
}

fn fail_all(parts: &[Arc<Partition>], cmds: Vec<Cmd>, msg: &Arc<str>) {
    for p in parts {
        let mut pend = p.pending.lock();
        pend.batches.clear();
        pend.bytes = 0;
        pend.queued = false;
        drop(pend);
        p.durable.send_modify(|d| d.error = Some(msg.clone()));
        p.drained.notify_waiters();
    }
    for c in cmds {
        let err = || LogError::io("", std::io::Error::other(msg.to_string()));
        match c {
            Cmd::Offsets { done, .. } | Cmd::Tx { done, .. } => {
                let _ = done.send(Err(err()));
            }
            Cmd::Init { done, .. } => {
                let _ = done.send(Err(err()));
            }
        }
    }
}

/// One write-sync-publish cycle.
fn cycle(
    shared: &Shared,
    journal: &mut Journal,
    next_txn_seq: &mut u64,
    mut parts: Vec<Arc<Partition>>,
    cmds: Vec<Cmd>,
    policy: FsyncPolicy,
) -> Result<()> {
    let mut journal_buf = Vec::new();
    let mut waiters = Vec::new();
    let mut inits = Vec::new();
    let mut offset_updates: Vec<(String, GroupOffsets)> = Vec::new();
    let mut tx_parts = Vec::new();
    let mut has_tx = false;
    let max_batch = shared.config.max_batch_bytes;
    for cmd in cmds {
        match cmd {
            Cmd::Offsets {
                group,
                offsets,
                done,
            } => {
                let entry = Entry::Offsets {
                    group: group.clone(),
                    offsets: offsets.clone(),
                };
                encode(&entry, &mut journal_buf);
                offset_updates.push((group, offsets));
                waiters.push(done);
            }
            Cmd::Init {
                transactional_id,
                done,
            } => {
                let mut epochs = shared.tx_epochs.lock();
                let epoch = epochs.entry(transactional_id).or_insert(0);
                *epoch += 1;
                inits.push((done, *epoch));
            }
            Cmd::Tx {
                transactional_id,
                epoch,
                records,
                group,
                done,
            } => {
                let current = shared.tx_epochs.lock().get(&transactional_id).copied();
                if current != Some(epoch) {
                    let _ = done.send(Err(LogError::Fenced(format!(
                        "transactional id `{transactional_id}` was taken over by a newer producer"
                    ))));
                    continue;
                }
                let seq = *next_txn_seq;
                *next_txn_seq += 1;
                let mut batches = Vec::new();
                for (part, recs) in records {
                    if recs.is_empty() {
                        continue;
                    }
                    let mut pend = part.pending.lock();
                    let first = pend.next_offset;
                    for r in &recs {
                        Partition::append(
                            &mut pend,
                            max_batch,
                            r.timestamp,
                            r.key.as_deref(),
                            r.value.as_deref(),
                            &r.headers,
                            seq,
                        );
                    }
                    batches.push((part.topic.to_string(), part.id, first, pend.next_offset - 1));
                    drop(pend);
                    tx_parts.push(part);
                }
                let (g, offs) = match group {
                    Some((g, o)) => (Some(g), o),
                    None => (None, Vec::new()),
                };
                if let Some(g) = &g {
                    offset_updates.push((g.clone(), offs.clone()));
                }
                has_tx = true;
                let entry = Entry::TxCommit {
                    seq,
                    transactional_id,
                    batches,
                    group: g,
                    offsets: offs,
                };
                encode(&entry, &mut journal_buf);
                waiters.push(done);
            }
        }
    }
    parts.extend(tx_parts);
    parts.sort_by_key(|p| Arc::as_ptr(p) as usize);
    parts.dedup_by_key(|p| Arc::as_ptr(p) as usize);
    parts.retain(|p| !p.deleted.load(Ordering::Acquire));

    let now = aisle_log::now_ms();
    for p in &parts {
        write_pending(p, &shared.config, now)?;
    }
    if policy != FsyncPolicy::Never {
        for p in &parts {
            let w = p.writer.lock();
            if w.unsynced {
                let seg = p.segments.read().last().cloned();
                if let Some(seg) = seg {
                    seg.file
                        .sync_data()
                        .map_err(|e| LogError::io(&seg.path, e))?;
                }
            }
        }
    }
    if !journal_buf.is_empty() {
        if shared.fault_crash_before_tx_commit && has_tx {
            // Fault injection for the crash-during-commit test: data is on disk, the commit
            // decision is not.
            std::process::abort();
        }
        journal.append(&journal_buf)?;
        if policy != FsyncPolicy::Never {
            journal.sync()?;
        }
    }
    for p in &parts {
        publish(p);
    }
    if !offset_updates.is_empty() {
        let mut offs = shared.offsets.lock();
        for (g, o) in offset_updates {
            let m = offs.entry(g).or_default();
            for (t, p, off) in o {
                m.insert((t, p), off);
            }
        }
    }
    for w in waiters {
        let _ = w.send(Ok(()));
    }
    for (w, epoch) in inits {
        let _ = w.send(Ok(epoch));
    }
    if journal.size_bytes() > SNAPSHOT_AFTER_BYTES {
        // Every transaction numbered below `next_txn_seq` finished its cycle (committed and
        // published, or fenced without a number), so the snapshot's floor is exact.
        let st = JournalState {
            offsets: shared.offsets.lock().clone(),
            next_seq: *next_txn_seq,
            floor: *next_txn_seq,
            ..JournalState::default()
        };
        journal.compact(&st)?;
    }
    shared.data_version.send_modify(|v| *v += 1);
    Ok(())
}

/// Writes a partition's pending batches to its active segment, rolling it first if full.
fn write_pending(p: &Partition, cfg: &EmbeddedConfig, now: i64) -> Result<()> {
    let batches = {
        let mut pend = p.pending.lock();
        pend.queued = false;
        pend.bytes = 0;
        std::mem::take(&mut pend.batches)
    };
    p.drained.notify_waiters();
    if batches.is_empty() {
        return Ok(());
    }
    let mut w = p.writer.lock();
    // Roll only at the start of a sync window, so that everything not yet acknowledged is in
    // the last segment: recovery only ever needs to look at the last segment.
    if !w.unsynced && w.size >= p.segment_bytes {
        roll(p, &mut w, cfg)?;
    }
    let seg = p.segments.read().last().cloned().ok_or(LogError::Closed)?;
    let mut index_bytes = Vec::new();
    for b in batches {
        if b.is_empty() {
            continue;
        }
        let (bytes, h) = b.finish(now);
        let at = w.size;
        if let Some(e) = w.index.on_batch(seg.base, at, &h, cfg.index_interval_bytes) {
            index_bytes.extend_from_slice(&e.to_bytes());
            seg.index.write().push(e);
        }
        seg.file
            .write_all_at(&bytes, w.size)
            .map_err(|e| LogError::io(&seg.path, e))?;
        w.size += bytes.len() as u64;
        w.written_end = h.last_offset + 1;
        w.max_ts = w.max_ts.max(h.max_timestamp);
        w.unsynced = true;
    }
    if !index_bytes.is_empty() {
        let path = seg.index_path();
        w.index_file
            .write_all(&index_bytes)
            .map_err(|e| LogError::io(&path, e))?;
    }
    Ok(())
}

/// Closes the active segment (synced with its index) and starts a new one.
fn roll(p: &Partition, w: &mut crate::partition::ActiveWriter, cfg: &EmbeddedConfig) -> Result<()> {
    let old = p.segments.read().last().cloned().ok_or(LogError::Closed)?;
    if cfg.fsync != FsyncPolicy::Never {
        old.file
            .sync_data()
            .map_err(|e| LogError::io(&old.path, e))?;
        w.index_file
            .sync_data()
            .map_err(|e| LogError::io(old.index_path(), e))?;
    }
    let seg = Arc::new(Segment::open(&p.dir, w.written_end)?);
    let index_path = p.dir.join(index_name(seg.base));
    let index_file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&index_path)
        .map_err(|e| LogError::io(&index_path, e))?;
    crate::fsutil::sync_dir(&p.dir)?;
    w.index_file = index_file;
    w.size = 0;
    w.index = IndexBuilder::default();
    w.max_ts = i64::MIN;
    p.segments.write().push(seg);
    Ok(())
}

/// Makes written data visible and acknowledged.
fn publish(p: &Partition) {
    let mut w = p.writer.lock();
    if let Some(seg) = p.segments.read().last() {
        seg.max_ts.store(w.max_ts, Ordering::Release);
        seg.end_offset.store(w.written_end, Ordering::Release);
        // Visible bytes first, then the watermark: a reader that sees the new watermark
        // always finds the bytes.
        seg.visible.store(w.size, Ordering::Release);
    }
    w.unsynced = false;
    let end = w.written_end;
    drop(w);
    p.durable.send_if_modified(|d: &mut Durable| {
        if d.next < end {
            d.next = end;
            true
        } else {
            false
        }
    });
}
