//! Where image paths come from: a recursive listing of the directory, then (with `--watch`)
//! file-system notifications for files that arrive later.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};

/// One unit of work for the pipeline.
#[derive(Clone, Debug)]
pub enum Job {
    /// An image file: absolute path and path relative to the image directory (its identity).
    Image {
        /// Path to read.
        path: PathBuf,
        /// Relative path, the key of its processed marker.
        rel: String,
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
/// unreadable directories are sent as [`Job::Unreadable`]. Returns false if `out` hung up.
pub fn scan(root: &Path, out: &Sender<Job>) -> bool {
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
    scan_entries(root, entries, out)
}

fn scan_entries(root: &Path, entries: Vec<PathBuf>, out: &Sender<Job>) -> bool {
    for path in entries {
        let Some(rel) = rel_of(root, &path) else {
            continue;
        };
        let ok = if path.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(rd) => {
                    let mut sub: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                    sub.sort();
                    scan_entries(root, sub, out)
                }
                Err(e) => out
                    .send(Job::Unreadable {
                        path,
                        reason: format!("cannot read directory: {e}"),
                    })
                    .is_ok(),
            }
        } else {
            out.send(Job::Image { path, rel }).is_ok()
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Starts watching `root` for files that are finished: closed after writing, or renamed/moved
/// in (the usual atomic upload). Plain creation is ignored, since the writer may not be done.
pub fn watch(root: &Path, out: Sender<Job>) -> notify::Result<notify::RecommendedWatcher> {
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
                scan_entries(&root_owned, vec![path], &out);
            } else if path.is_file()
                && let Some(rel) = rel_of(&root_owned, &path)
            {
                let _ = out.send(Job::Image { path, rel });
            }
        }
    })?;
    watcher.watch(root, RecursiveMode::Recursive)?;
    Ok(watcher)
}
