//! Where image paths come from: a recursive listing of the directory, then (with `--watch`)
//! file-system notifications for files that arrive later. Each file is stamped with the time it
//! was seen (listed or notified), from the [`aisle_log::Clock`] passed in: a photo without an EXIF capture
//! time gets that arrival time as its event time. Each file also carries its **file time**
//! ([`file_time`], the inode change time), which orders the listing and dates the file for the
//! camera's checkpoint ([`crate::progress`]).

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};

use crate::progress::Origin;
use aisle_log::SharedClock;

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
        /// Its file time ([`file_time`]), ms since the epoch.
        time_ms: i64,
        /// The listing or the watcher.
        origin: Origin,
    },
    /// A directory that could not be listed.
    Unreadable {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Every file of the listing that started at `start_ms` (clock) has been sent.
    Listed {
        /// Clock time the listing started.
        start_ms: i64,
    },
}

/// A file's time for the checkpoint: its inode change time (ctime), ms since the epoch; for a
/// symbolic link the later of the link's and its target's. Not the mtime: moving or copying a
/// photo with `mv`, `cp -p` or `rsync -t` keeps an old mtime, while the ctime says when the file
/// arrived under this name (renames set it). `None` if the file cannot be examined.
pub fn file_time(path: &Path) -> Option<i64> {
    let link = std::fs::symlink_metadata(path).ok()?;
    let t = ctime_ms(&link);
    if link.file_type().is_symlink()
        && let Ok(target) = std::fs::metadata(path)
    {
        return Some(t.max(ctime_ms(&target)));
    }
    Some(t)
}

#[cfg(unix)]
fn ctime_ms(m: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    m.ctime().saturating_mul(1000) + m.ctime_nsec() / 1_000_000
}

#[cfg(not(unix))]
fn ctime_ms(m: &std::fs::Metadata) -> i64 {
    // No ctime: the modification time is the best there is.
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
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

/// Every file under `root` (recursively, hidden entries skipped), sent to `out` sorted by
/// (file time, relative path) and followed by [`Job::Listed`]; unreadable directories are sent
/// as [`Job::Unreadable`] as they are found. The whole tree is listed (and each file examined,
/// not opened) before the first file is sent, so the order holds across directories. Each file
/// is stamped with `clock`'s now as it is sent. Returns false if `out` hung up.
pub fn scan(root: &Path, out: &Sender<Job>, clock: &SharedClock) -> bool {
    let start_ms = clock.wall_ms();
    let mut files = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(e) => {
            let unreadable = Job::Unreadable {
                path: root.to_path_buf(),
                reason: format!("cannot read directory: {e}"),
            };
            return out.send(unreadable).is_ok() && out.send(Job::Listed { start_ms }).is_ok();
        }
    };
    if !list(root, entries, out, &mut files) {
        return false;
    }
    // A file that vanished or cannot be examined is still sent (dated now): reading it makes the
    // dead letter that says why.
    let mut files: Vec<(i64, String, PathBuf)> = files
        .into_iter()
        .map(|(rel, path)| (file_time(&path).unwrap_or(start_ms), rel, path))
        .collect();
    files.sort();
    let origin = Origin::Scan { start_ms };
    for (time_ms, rel, path) in files {
        let seen_ms = clock.wall_ms();
        let job = Job::Image {
            path,
            rel,
            seen_ms,
            time_ms,
            origin,
        };
        if out.send(job).is_err() {
            return false;
        }
    }
    out.send(Job::Listed { start_ms }).is_ok()
}

/// Collects the files under `entries` as (relative path, path) into `files`; sends unreadable
/// directories to `out`. Returns false if `out` hung up.
fn list(
    root: &Path,
    entries: Vec<PathBuf>,
    out: &Sender<Job>,
    files: &mut Vec<(String, PathBuf)>,
) -> bool {
    for path in entries {
        let Some(rel) = rel_of(root, &path) else {
            continue;
        };
        if path.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(rd) => {
                    let sub: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                    if !list(root, sub, out, files) {
                        return false;
                    }
                }
                Err(e) => {
                    let job = Job::Unreadable {
                        path,
                        reason: format!("cannot read directory: {e}"),
                    };
                    if out.send(job).is_err() {
                        return false;
                    }
                }
            }
        } else {
            files.push((rel, path));
        }
    }
    true
}

/// Sends the files under a directory that was moved in while watching, as notifications.
fn send_moved_in(root: &Path, dir: PathBuf, out: &Sender<Job>, clock: &SharedClock) {
    let mut files = Vec::new();
    if !list(root, vec![dir], out, &mut files) {
        return;
    }
    files.sort();
    for (rel, path) in files {
        if out.send(notified(path, rel, clock)).is_err() {
            return;
        }
    }
}

/// The job of a file the watcher reported, stamped with `clock`'s now.
fn notified(path: PathBuf, rel: String, clock: &SharedClock) -> Job {
    let seen_ms = clock.wall_ms();
    let time_ms = file_time(&path).unwrap_or(seen_ms);
    Job::Image {
        path,
        rel,
        seen_ms,
        time_ms,
        origin: Origin::Watch { seen_ms },
    }
}

/// Starts watching `root` for files that are finished: closed after writing, or renamed/moved
/// in (the usual atomic upload). Plain creation is ignored, since the writer may not be done.
/// Each file is stamped with `clock`'s now when its notification arrives.
pub fn watch(
    root: &Path,
    out: Sender<Job>,
    clock: SharedClock,
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
                send_moved_in(&root_owned, path, &out, &clock);
            } else if path.is_file()
                && let Some(rel) = rel_of(&root_owned, &path)
            {
                let _ = out.send(notified(path, rel, &clock));
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
    fn scan_sorts_by_file_time_stamps_each_file_and_ends_with_listed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        // Written in this order; `a.jpg` is renamed in last, so it arrives last.
        for f in ["sub/c.jpg", ".a.jpg.tmp", "b.jpg", ".hidden.jpg"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20)); // distinct ctimes, not a sync
        std::fs::rename(dir.path().join(".a.jpg.tmp"), dir.path().join("a.jpg")).unwrap();
        let t = std::sync::atomic::AtomicI64::new(1_000);
        let clock =
            aisle_log::clock::from_fn(move || t.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let (tx, rx) = std::sync::mpsc::channel();
        assert!(scan(dir.path(), &tx, &clock));
        drop(tx);
        let mut got = Vec::new();
        for j in rx.iter() {
            match j {
                Job::Image {
                    rel,
                    seen_ms,
                    time_ms,
                    origin,
                    ..
                } => {
                    assert_eq!(origin, Origin::Scan { start_ms: 1_000 });
                    assert_eq!(Some(time_ms), file_time(&dir.path().join(&rel)));
                    got.push((rel, seen_ms));
                }
                Job::Listed { start_ms } => got.push(("<listed>".into(), start_ms)),
                Job::Unreadable { path, reason } => panic!("{}: {reason}", path.display()),
            }
        }
        // (file time, path) order: b and sub/c may share a coarse ctime, then the path decides;
        // a.jpg arrived last. Each stamped as it is sent; the listing's start comes last.
        let mut want: Vec<(i64, String)> = ["b.jpg", "sub/c.jpg"]
            .map(|r| (file_time(&dir.path().join(r)).unwrap(), r.to_string()))
            .into();
        want.sort();
        let want: Vec<(String, i64)> = vec![
            (want[0].1.clone(), 1_001),
            (want[1].1.clone(), 1_002),
            ("a.jpg".into(), 1_003),
            ("<listed>".into(), 1_000),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn file_time_is_the_ctime_not_an_old_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.jpg");
        std::fs::write(&p, b"x").unwrap();
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let now = aisle_log::clock::system().wall_ms();
        let t = file_time(&p).unwrap();
        assert!((now - t).abs() < 60_000, "{t} vs {now}");
        assert_eq!(file_time(&dir.path().join("missing")), None);
    }
}
