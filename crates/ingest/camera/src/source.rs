//! Where image paths come from: a recursive listing of the directory, then (with `--watch`)
//! file-system notifications for files that arrive later. Each file is stamped with the time it
//! was seen (listed or notified), from the [`Clock`] passed in: a photo without an EXIF capture
//! time gets that arrival time as its event time.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};

use crate::clock::Clock;

/// One unit of work for the pipeline.
#[derive(Clone, Debug)]
pub enum Job {
    /// An image file: absolute path and path relative to the image directory (its identity).
    Image {
        /// Path to read.
        path: PathBuf,
        /// Relative path, the key of its processed marker.
        rel: String,
        /// When the camera saw the file (listing or notification), ms since the epoch.
        seen_ms: i64,
    },
    /// A directory that could not be listed.
    Unreadable {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn rel_of(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    if rel
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
    {
        return None; // hidden files and partial uploads such as `.photo.jpg.tmp`
    }
    Some(rel.to_string_lossy().into_owned())
}

/// Every file under `root` (recursively, sorted, hidden entries skipped), sent to `out`;
/// unreadable directories are sent as [`Job::Unreadable`]; each file stamped with `clock`'s now
/// as it is listed. Returns false if `out` hung up.
pub fn scan(root: &Path, out: &Sender<Job>, clock: &Clock) -> bool {
    let mut entries = match std::fs::read_dir(root) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect::<Vec<_>>(),
        Err(e) => {
            return out
                .send(Job::Unreadable {
                    path: root.to_path_buf(),
                    reason: format!("cannot read directory: {e}"),
                })
                .is_ok();
        }
    };
    entries.sort();
    scan_entries(root, entries, out, clock)
}

fn scan_entries(root: &Path, entries: Vec<PathBuf>, out: &Sender<Job>, clock: &Clock) -> bool {
    for path in entries {
        let Some(rel) = rel_of(root, &path) else {
            continue;
        };
        let ok = if path.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(rd) => {
                    let mut sub: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                    sub.sort();
                    scan_entries(root, sub, out, clock)
                }
                Err(e) => out
                    .send(Job::Unreadable {
                        path,
                        reason: format!("cannot read directory: {e}"),
                    })
                    .is_ok(),
            }
        } else {
            let seen_ms = clock.now_ms();
            out.send(Job::Image { path, rel, seen_ms }).is_ok()
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Starts watching `root` for files that are finished: closed after writing, or renamed/moved
/// in (the usual atomic upload). Plain creation is ignored, since the writer may not be done.
/// Each file is stamped with `clock`'s now when its notification arrives.
pub fn watch(
    root: &Path,
    out: Sender<Job>,
    clock: Clock,
) -> notify::Result<notify::RecommendedWatcher> {
    let root_owned = root.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        let done = matches!(
            event.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Name(RenameMode::To))
                | EventKind::Modify(ModifyKind::Name(RenameMode::Both))
        );
        if !done {
            return;
        }
        for path in event.paths {
            if path.is_dir() {
                // A directory moved in: its files are new too.
                scan_entries(&root_owned, vec![path], &out, &clock);
            } else if path.is_file()
                && let Some(rel) = rel_of(&root_owned, &path)
            {
                let seen_ms = clock.now_ms();
                let _ = out.send(Job::Image { path, rel, seen_ms });
            }
        }
    })?;
    watcher.watch(root, RecursiveMode::Recursive)?;
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_stamps_each_file_with_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for f in ["b.jpg", "sub/a.jpg", ".hidden.jpg"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let t = std::sync::atomic::AtomicI64::new(1_000);
        let clock = Clock::from_fn(move || t.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let (tx, rx) = std::sync::mpsc::channel();
        assert!(scan(dir.path(), &tx, &clock));
        drop(tx);
        let got: Vec<(String, i64)> = rx
            .iter()
            .map(|j| match j {
                Job::Image { rel, seen_ms, .. } => (rel, seen_ms),
                Job::Unreadable { path, reason } => panic!("{}: {reason}", path.display()),
            })
            .collect();
        assert_eq!(got, [("b.jpg".into(), 1_000), ("sub/a.jpg".into(), 1_001)]);
    }
}
