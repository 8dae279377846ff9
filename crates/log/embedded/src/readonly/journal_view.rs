//! A read-only view of a live `journal.log`: which transactions committed, and group offsets.
//!
//! The writer appends entries and, now and then, replaces the file with a snapshot (rename).
//! The view re-reads only what is new: the bytes after the last whole entry it applied while
//! the file is the same inode, or everything after a replacement. A torn last entry (an append
//! in progress) is left for the next refresh.

use crate::journal::{JournalState, JournalTail, parse_into};
use aisle_log::{LogError, Result};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Follows `journal.log` without writing it.
#[derive(Debug)]
pub struct JournalView {
    path: PathBuf,
    /// Inode of the file `state` was read from (`None`: not read yet, or no file).
    ino: Option<u64>,
    /// Bytes of whole entries applied.
    applied: u64,
    state: JournalState,
}

impl JournalView {
    /// A view of `dir/journal.log`; nothing is read until the first refresh.
    pub fn new(dir: &Path) -> JournalView {
        JournalView {
            path: dir.join("journal.log"),
            ino: None,
            applied: 0,
            state: JournalState::default(),
        }
    }

    /// Reads what the writer appended since the last refresh.
    pub fn refresh(&mut self) -> Result<()> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Never written yet, or between a snapshot's rename steps: keep what we know.
                return Ok(());
            }
            Err(e) => return Err(LogError::io(&self.path, e)),
        };
        let meta = file.metadata().map_err(|e| LogError::io(&self.path, e))?;
        if self.ino != Some(meta.ino()) || meta.len() < self.applied {
            // A snapshot replaced the file: it holds the whole state again.
            self.ino = Some(meta.ino());
            self.applied = 0;
            self.state = JournalState::default();
        }
        if meta.len() == self.applied {
            return Ok(());
        }
        let mut buf = vec![0u8; (meta.len() - self.applied) as usize];
        file.read_exact_at(&mut buf, self.applied)
            .map_err(|e| LogError::io(&self.path, e))?;
        let (used, tail) = parse_into(&mut self.state, &buf, self.applied);
        self.applied += used as u64;
        if let JournalTail::Corrupt { at, reason } = tail {
            return Err(LogError::Corrupt {
                location: format!("{} byte {at}", self.path.display()),
                reason,
            });
        }
        Ok(())
    }

    /// Whether the transaction numbered `seq` committed, refreshing once if it is not known yet.
    pub fn is_committed(&mut self, seq: u64) -> Result<bool> {
        if self.state.is_committed(seq) {
            return Ok(true);
        }
        self.refresh()?;
        Ok(self.state.is_committed(seq))
    }

    /// The group's committed next offset for a partition, as of a fresh refresh.
    pub fn committed(&mut self, group: &str, topic: &str, partition: i32) -> Result<Option<i64>> {
        self.refresh()?;
        Ok(self
            .state
            .offsets
            .get(group)
            .and_then(|g| g.get(&(topic.to_owned(), partition)))
            .copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Entry, Journal, encode};

    #[test]
    fn follows_appends_torn_entries_and_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::snapshot(dir.path(), &JournalState::default()).unwrap();
        let mut view = JournalView::new(dir.path());
        assert!(!view.is_committed(0).unwrap());
        let mut buf = Vec::new();
        encode(
            &Entry::TxCommit {
                seq: 0,
                transactional_id: "t".into(),
                batches: vec![],
                group: Some("g".into()),
                offsets: vec![("topic".into(), 0, 7)],
            },
            &mut buf,
        );
        // Half an entry: an append in progress is not an error, and not a commit yet.
        j.append(&buf[..buf.len() / 2]).unwrap();
        assert!(!view.is_committed(0).unwrap());
        j.append(&buf[buf.len() / 2..]).unwrap();
        assert!(view.is_committed(0).unwrap());
        assert_eq!(view.committed("g", "topic", 0).unwrap(), Some(7));
        // A snapshot (new inode) with a floor: everything below it is committed.
        let st = JournalState {
            next_seq: 5,
            floor: 5,
            ..JournalState::default()
        };
        j.compact(&st).unwrap();
        assert!(view.is_committed(4).unwrap());
        assert!(!view.is_committed(5).unwrap());
        assert_eq!(view.committed("g", "topic", 0).unwrap(), None);
    }
}
