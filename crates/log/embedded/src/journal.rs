//! The journal (`journal.log`): consumer-group offsets and transaction commit decisions.
//!
//! Entries are framed like batches: `u32 length, u32 crc32c(payload), payload` where the payload
//! is one JSON [`Entry`]. Commits are rare next to records, so a readable format costs nothing
//! and makes the file easy to inspect. At open the journal is replayed and then rewritten as a
//! snapshot (one `offsets` entry per group plus a `tx_floor`), so it never grows without bound.

use aisle_log::{LogError, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One journal entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    /// A group committed these next-offsets (topic, partition, offset).
    Offsets {
        /// Group id.
        group: String,
        /// `(topic, partition, next offset)`.
        offsets: Vec<(String, i32, i64)>,
    },
    /// Transaction `seq` is committed: its batches (tagged with `seq`) are visible, and the
    /// group offsets in it take effect.
    TxCommit {
        /// Transaction sequence number, the `txn_seq` of its batches.
        seq: u64,
        /// Producer's transactional id.
        transactional_id: String,
        /// `(topic, partition, first offset, last offset)` of each batch.
        batches: Vec<(String, i32, i64, i64)>,
        /// Group whose offsets were sent to the transaction.
        group: Option<String>,
        /// `(topic, partition, next offset)` for that group.
        offsets: Vec<(String, i32, i64)>,
    },
    /// Every transaction numbered below `next_seq` is resolved (committed and applied, or
    /// rolled back): only written in snapshots, after recovery.
    TxFloor {
        /// First unresolved sequence number.
        next_seq: u64,
    },
}

/// What replaying the journal yields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JournalState {
    /// group → (topic, partition) → next offset.
    pub offsets: BTreeMap<String, BTreeMap<(String, i32), i64>>,
    /// Committed transactions at or above `floor`.
    pub committed: HashSet<u64>,
    /// Every transaction below this is resolved.
    pub floor: u64,
    /// Next sequence number to hand out.
    pub next_seq: u64,
    /// Entries read.
    pub entries: u64,
}

impl JournalState {
    /// Applies one entry.
    pub fn apply(&mut self, e: &Entry) {
        self.entries += 1;
        match e {
            Entry::Offsets { group, offsets } => self.apply_offsets(group, offsets),
            Entry::TxCommit {
                seq,
                group,
                offsets,
                ..
            } => {
                self.committed.insert(*seq);
                self.next_seq = self.next_seq.max(seq + 1);
                if let Some(g) = group {
                    self.apply_offsets(g, offsets);
                }
            }
            Entry::TxFloor { next_seq } => {
                self.floor = self.floor.max(*next_seq);
                self.next_seq = self.next_seq.max(*next_seq);
            }
        }
    }

    fn apply_offsets(&mut self, group: &str, offsets: &[(String, i32, i64)]) {
        let g = self.offsets.entry(group.to_owned()).or_default();
        for (t, p, o) in offsets {
            g.insert((t.clone(), *p), *o);
        }
    }

    /// Whether batches tagged `seq` belong to a committed transaction.
    pub fn is_committed(&self, seq: u64) -> bool {
        seq < self.floor || self.committed.contains(&seq)
    }
}

/// Encodes one framed entry.
pub fn encode(e: &Entry, out: &mut Vec<u8>) {
    // Serializing these plain types cannot fail.
    let payload = serde_json::to_vec(e).unwrap_or_default();
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
}

/// How a journal file ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalTail {
    /// Ends after a valid entry.
    Clean,
    /// An unfinished last entry (cut by recovery).
    Torn {
        /// Byte position where valid entries end.
        at: u64,
        /// Bytes after it.
        bytes: u64,
    },
    /// A bad entry followed by more data.
    Corrupt {
        /// Byte position.
        at: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Parses a whole journal file's bytes.
pub fn parse(bytes: &[u8]) -> (JournalState, JournalTail) {
    let mut st = JournalState::default();
    let (_, tail) = parse_into(&mut st, bytes, 0);
    (st, tail)
}

/// Applies the entries in `bytes` (which start at byte `base` of the file) to `st`; returns
/// how many bytes of whole, valid entries were applied and how the bytes end. A reader that
/// follows a live journal calls it again from `base + applied` when the file has grown.
pub fn parse_into(st: &mut JournalState, bytes: &[u8], base: u64) -> (usize, JournalTail) {
    let mut at = 0usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let torn = JournalTail::Torn {
            at: base + at as u64,
            bytes: rest.len() as u64,
        };
        if rest.len() < 8 {
            return (at, torn);
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if 8 + len > rest.len() {
            return (at, torn);
        }
        let payload = &rest[8..8 + len];
        let is_last = 8 + len == rest.len();
        let reason = if crc32c::crc32c(payload) != crc {
            "CRC mismatch".to_owned()
        } else {
            match serde_json::from_slice::<Entry>(payload) {
                Ok(e) => {
                    st.apply(&e);
                    at += 8 + len;
                    continue;
                }
                Err(e) => format!("undecodable entry: {e}"),
            }
        };
        if is_last {
            return (at, torn);
        }
        return (
            at,
            JournalTail::Corrupt {
                at: base + at as u64,
                reason,
            },
        );
    }
    (at, JournalTail::Clean)
}

/// The open journal file; only the writer thread appends to it.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    /// Bytes in the file.
    len: u64,
}

/// Size past which the writer rewrites the journal as a snapshot while running.
pub const SNAPSHOT_AFTER_BYTES: u64 = 16 << 20;

impl Journal {
    /// Replays `dir/journal.log`, cuts a torn tail, rewrites it as a snapshot of `state` after
    /// the caller's recovery (see [`Journal::snapshot`]), and returns the replayed state.
    pub fn replay(dir: &Path) -> Result<JournalState> {
        let path = dir.join("journal.log");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(LogError::io(&path, e)),
        };
        let (st, tail) = parse(&bytes);
        if let JournalTail::Corrupt { at, reason } = tail {
            return Err(LogError::Corrupt {
                location: format!("{} byte {at}", path.display()),
                reason,
            });
        }
        Ok(st)
    }

    /// Atomically replaces the journal with a snapshot of `st` (offsets and `tx_floor`), and
    /// opens it for appending.
    pub fn snapshot(dir: &Path, st: &JournalState) -> Result<Journal> {
        let path = dir.join("journal.log");
        let tmp = dir.join("journal.log.tmp");
        let mut buf = Vec::new();
        encode(
            &Entry::TxFloor {
                next_seq: st.next_seq,
            },
            &mut buf,
        );
        for (group, offs) in &st.offsets {
            let offsets = offs.iter().map(|((t, p), o)| (t.clone(), *p, *o)).collect();
            encode(
                &Entry::Offsets {
                    group: group.clone(),
                    offsets,
                },
                &mut buf,
            );
        }
        let mut f = File::create(&tmp).map_err(|e| LogError::io(&tmp, e))?;
        f.write_all(&buf)
            .and_then(|_| f.sync_all())
            .map_err(|e| LogError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| LogError::io(&path, e))?;
        crate::fsutil::sync_dir(dir)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| LogError::io(&path, e))?;
        let len = buf.len() as u64;
        Ok(Journal {
            dir: dir.to_owned(),
            path,
            file,
            len,
        })
    }

    /// Appends framed entries (one write).
    pub fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.len += bytes.len() as u64;
        self.file
            .write_all(bytes)
            .map_err(|e| LogError::io(&self.path, e))
    }

    /// Bytes in the file.
    pub fn size_bytes(&self) -> u64 {
        self.len
    }

    /// Replaces the file with a snapshot of `st` (see [`Journal::snapshot`]).
    pub fn compact(&mut self, st: &JournalState) -> Result<()> {
        *self = Journal::snapshot(&self.dir.clone(), st)?;
        Ok(())
    }

    /// Forces appended entries to disk.
    pub fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| LogError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<Entry> {
        vec![
            Entry::Offsets {
                group: "g".into(),
                offsets: vec![("t".into(), 0, 5)],
            },
            Entry::TxCommit {
                seq: 7,
                transactional_id: "tx".into(),
                batches: vec![("o".into(), 1, 10, 12)],
                group: Some("g".into()),
                offsets: vec![("t".into(), 0, 9)],
            },
        ]
    }

    #[test]
    fn replay_applies_in_order() {
        let mut buf = Vec::new();
        for e in entries() {
            encode(&e, &mut buf);
        }
        let (st, tail) = parse(&buf);
        assert_eq!(tail, JournalTail::Clean);
        assert_eq!(st.offsets["g"][&("t".to_owned(), 0)], 9);
        assert!(st.is_committed(7));
        assert!(!st.is_committed(6));
        assert_eq!(st.next_seq, 8);
    }

    #[test]
    fn snapshot_and_compact_keep_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::snapshot(dir.path(), &JournalState::default()).unwrap();
        let mut buf = Vec::new();
        for i in 0..100 {
            let e = Entry::Offsets {
                group: "g".into(),
                offsets: vec![("t".into(), i % 3, i as i64)],
            };
            encode(&e, &mut buf);
        }
        j.append(&buf).unwrap();
        j.sync().unwrap();
        let st = Journal::replay(dir.path()).unwrap();
        assert_eq!(st.entries, 101);
        let before = j.size_bytes();
        j.compact(&JournalState {
            next_seq: 4,
            ..st.clone()
        })
        .unwrap();
        assert!(j.size_bytes() < before);
        let again = Journal::replay(dir.path()).unwrap();
        assert_eq!(again.offsets, st.offsets);
        assert_eq!(again.offsets["g"][&("t".to_owned(), 0)], 99);
        assert!(again.is_committed(3) && !again.is_committed(4));
    }

    #[test]
    fn torn_and_corrupt_tails() {
        let mut buf = Vec::new();
        for e in entries() {
            encode(&e, &mut buf);
        }
        let first_len = {
            let mut b = Vec::new();
            encode(&entries()[0], &mut b);
            b.len()
        };
        let (st, tail) = parse(&buf[..buf.len() - 3]);
        assert_eq!(
            tail,
            JournalTail::Torn {
                at: first_len as u64,
                bytes: (buf.len() - 3 - first_len) as u64
            }
        );
        assert_eq!(st.entries, 1);
        let mut bad = buf.clone();
        bad[10] ^= 1;
        let (_, tail) = parse(&bad);
        assert!(
            matches!(tail, JournalTail::Corrupt { at: 0, .. }),
            "{tail:?}"
        );
    }
}
