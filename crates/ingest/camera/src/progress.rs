//! Which images are done, in bounded memory: a file-time high-water mark plus the few done images
//! at or above it.
//!
//! # Model
//!
//! An image is a file under the image directory, named by its relative path and dated by its
//! **file time**: the inode's change time (ctime, ms), see [`crate::source::file_time`]. A photo
//! written elsewhere and renamed (or moved) into the directory gets a ctime at that moment, even
//! when its mtime is old (`mv`, `cp -p`, `rsync -t` keep mtimes), so the file time says when the
//! file *arrived*, which is what a high-water mark needs. The price: any later change of the
//! inode (rewrite, `chmod`, `chown`, `touch`, a new hard link) makes an already done photo look
//! like a new arrival, and it is processed again — a changed file is a new image.
//!
//! A [`Checkpoint`] says: every image before `(through, through_path)` in (file time, path)
//! order is done, and so is each `(path, time)` in `recent` (all at or after that point). The
//! path breaks ties between files with the same time stamp (file systems stamp in coarse
//! ticks, some in whole seconds), so a burst of photos sharing a time does not pile up in
//! `recent`. [`Progress`] holds that plus what is in
//! flight (admitted, not yet committed) and the *horizon*: a time below which every file that
//! will ever exist has already been admitted (listed or notified). When the camera commits a
//! transaction it writes [`Progress::checkpoint`]: `through` moves up to the oldest image still
//! in flight, or the horizon if that is lower, and `recent` drops everything below it. So the
//! checkpoint holds the images of roughly the last margin plus the pipeline's depth, never the
//! history. (Below, "time `< through`" means "before `(through, through_path)`".)
//!
//! # Horizon
//!
//! * The directory scan lists files sorted by (file time, path) ([`crate::source::scan`]), so
//!   once a listed file of time `t` is admitted, every listed file older than `t` was admitted
//!   before it. A scan started at clock time `s` sees every file that arrived before `s`, up to
//!   the differences between the file system's clock and the camera's (coarse kernel
//!   timestamps, a network file system's server clock): the scan's horizon is
//!   `min(t, s − margin)`, and `s − margin` once it is complete.
//! * After the scan, a notification stamped `n` by the watcher means every file that arrived
//!   before `n − margin` was notified (and admitted) before it, provided notifications take less
//!   than the margin to arrive: the horizon becomes `n − margin`.
//!
//! A file that arrives with a file time already below `through` (later than the margin allows)
//! is taken for done: the scan skips it, and the watcher logs a warning naming the margin
//! ([`crate::run::RunOptions::margin_ms`]).
//!
//! # Migration from per-image markers
//!
//! Before checkpoints, the camera kept one marker per image (`<camera>/<path>` in
//! `_aisle_camera_offsets`). With no checkpoint yet, or one marked `legacy`, those markers are
//! read once at start (the old, unbounded read) and their paths count as done (by path alone,
//! as before). A file skipped that way becomes a `recent` entry with its file time, so the
//! checkpoint covers it. Checkpoints are marked `legacy` until the first complete scan has been
//! admitted; from then on every marked file still present is under `through` or in `recent`, and
//! the markers are never read again.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// A camera's checkpoint: the value (JSON) of its record in the checkpoint topic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version, 1.
    pub v: u32,
    /// Every image with a file time (ms since the epoch) below this is done, and those at
    /// exactly this time whose path sorts before `through_path`.
    pub through: i64,
    /// Tie-break of `through` (empty: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub through_path: String,
    /// Done images with a file time `≥ through`: relative path → file time (ms).
    #[serde(default)]
    pub recent: BTreeMap<String, i64>,
    /// Per-image markers of an older camera may still name done images this checkpoint does not
    /// cover: read them too (the migration has not finished a complete scan yet).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy: bool,
}

/// Where an admitted file came from, for the horizon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The start-up listing, begun at `start_ms` (clock), sorted by (file time, path).
    Scan {
        /// Clock time the listing started.
        start_ms: i64,
    },
    /// A watcher notification stamped `seen_ms` (clock).
    Watch {
        /// Clock time of the notification.
        seen_ms: i64,
    },
}

/// What [`Progress::admit`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Not done: read and process it.
    New,
    /// Done already (committed, in flight, or named by an old marker): skip it unread.
    Done,
    /// A notified file whose time is below `through`: it arrived later than the margin allows and
    /// is taken for done (the caller warns).
    Late,
}

/// The done-set of one camera while it runs; see the module docs.
#[derive(Debug)]
pub struct Progress {
    margin_ms: i64,
    /// (file time, path): everything before it is done.
    through: (i64, String),
    recent: HashMap<String, i64>,
    legacy: Option<HashSet<String>>,
    in_flight: BTreeSet<(i64, String)>,
    /// Every file before this (file time, path) has been admitted.
    horizon: (i64, String),
    listed: bool,
    changed: bool,
}

impl Progress {
    /// Resumes from `checkpoint` (none: nothing done yet) and the paths of old per-image markers
    /// (`legacy`, read only when there is no checkpoint or it is marked `legacy`).
    pub fn resume(
        checkpoint: Option<Checkpoint>,
        legacy: HashSet<String>,
        margin_ms: i64,
    ) -> Progress {
        let cp = checkpoint.unwrap_or(Checkpoint {
            through: i64::MIN,
            ..Default::default()
        });
        Progress {
            margin_ms: margin_ms.max(0),
            through: (cp.through, cp.through_path.clone()),
            recent: cp.recent.into_iter().collect(),
            legacy: (!legacy.is_empty()).then_some(legacy),
            in_flight: BTreeSet::new(),
            horizon: (cp.through, cp.through_path),
            listed: false,
            changed: false,
        }
    }

    /// Decides about file `rel` with file time `time`, and moves the horizon past it.
    pub fn admit(&mut self, rel: &str, time: i64, origin: Origin) -> Admit {
        let at = (time, rel.to_string());
        let verdict = if at < self.through {
            match origin {
                Origin::Scan { .. } => Admit::Done,
                Origin::Watch { .. } => Admit::Late,
            }
        } else if self.recent.get(rel) == Some(&time) || self.in_flight.contains(&at) {
            Admit::Done
        } else if self.legacy.as_ref().is_some_and(|l| l.contains(rel)) {
            // Done under the old markers: from now on the checkpoint says so.
            self.recent.insert(rel.to_string(), time);
            self.changed = true;
            Admit::Done
        } else {
            self.in_flight.insert(at.clone());
            Admit::New
        };
        let horizon = match origin {
            Origin::Scan { start_ms } => Some(at.min(self.before(start_ms))),
            Origin::Watch { seen_ms } if self.listed => Some(self.before(seen_ms)),
            Origin::Watch { .. } => None,
        };
        if let Some(h) = horizon
            && h > self.horizon
        {
            self.horizon = h;
        }
        verdict
    }

    /// The point before every file time below `clock_ms − margin`.
    fn before(&self, clock_ms: i64) -> (i64, String) {
        (clock_ms.saturating_sub(self.margin_ms), String::new())
    }

    /// The scan that started at `start_ms` has been admitted completely.
    pub fn listed(&mut self, start_ms: i64) {
        let h = self.before(start_ms);
        if h > self.horizon {
            self.horizon = h;
        }
        self.listed = true;
        self.changed = true;
    }

    /// Image `(rel, time)` is in the transaction being committed.
    pub fn complete(&mut self, rel: &str, time: i64) {
        self.in_flight.remove(&(time, rel.to_string()));
        let t = self.recent.entry(rel.to_string()).or_insert(time);
        *t = (*t).max(time);
        self.changed = true;
    }

    /// Whether anything changed since the last [`Progress::checkpoint`].
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The checkpoint to commit now: `through` advanced, `recent` pruned (see the module docs).
    pub fn checkpoint(&mut self) -> Checkpoint {
        let next = match self.in_flight.first() {
            Some(oldest) if *oldest < self.horizon => oldest.clone(),
            _ => self.horizon.clone(),
        };
        if next > self.through {
            self.through = next;
        }
        let through = &self.through;
        self.recent
            .retain(|rel, t| (*t, rel.as_str()) >= (through.0, through.1.as_str()));
        if self.listed {
            // Every file an old marker names that is still there has been admitted: it is under
            // `through` or in `recent`, so the markers are not needed any more.
            self.legacy = None;
        }
        self.changed = false;
        Checkpoint {
            v: 1,
            through: self.through.0,
            through_path: self.through.1.clone(),
            recent: self.recent.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            legacy: self.legacy.is_some(),
        }
    }

    /// Done images tracked individually (`recent`) and in flight: what the memory holds.
    pub fn tracked(&self) -> (usize, usize) {
        (self.recent.len(), self.in_flight.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 10_000;
    fn scan(start_ms: i64) -> Origin {
        Origin::Scan { start_ms }
    }

    #[test]
    fn through_follows_the_oldest_in_flight_and_recent_stays_small() {
        let mut p = Progress::resume(None, HashSet::new(), M);
        let start = 1_000_000;
        for i in 0..1_000 {
            assert_eq!(p.admit(&format!("f{i:04}"), i, scan(start)), Admit::New);
            if i >= 2 {
                let j = i - 2; // two images in flight behind the one just admitted
                p.complete(&format!("f{j:04}"), j);
                let cp = p.checkpoint();
                let want = format!("f{:04}", j + 1);
                assert_eq!((cp.through, &cp.through_path), (j + 1, &want));
                assert!(cp.recent.is_empty(), "{cp:?}");
            }
        }
        p.complete("f0998", 998);
        p.complete("f0999", 999);
        p.listed(start);
        let cp = p.checkpoint();
        assert_eq!(
            (cp.through, cp.recent.len(), cp.legacy),
            (start - M, 0, false)
        );
        // Restart: everything is under `through`.
        let mut q = Progress::resume(Some(cp), HashSet::new(), M);
        assert_eq!(q.admit("f0500", 500, scan(start + 1)), Admit::Done);
    }

    #[test]
    fn the_horizon_caps_through_at_the_scan_start_minus_the_margin() {
        let mut p = Progress::resume(None, HashSet::new(), M);
        let start = 100_000;
        // Files younger than the margin: kept one by one in `recent`.
        for (i, t) in [95_000, 99_000].into_iter().enumerate() {
            assert_eq!(p.admit(&format!("n{i}"), t, scan(start)), Admit::New);
            p.complete(&format!("n{i}"), t);
        }
        p.listed(start);
        let cp = p.checkpoint();
        assert_eq!(cp.through, 90_000);
        assert_eq!(cp.recent.len(), 2);
        // A file renamed in during the scan with a slightly older time (within the margin):
        // new, exactly once.
        let mut q = Progress::resume(Some(cp.clone()), HashSet::new(), M);
        assert_eq!(q.admit("late", 92_000, scan(start + 5)), Admit::New);
        assert_eq!(q.admit("late", 92_000, scan(start + 5)), Admit::Done);
        assert_eq!(q.admit("n1", 99_000, scan(start + 5)), Admit::Done);
        // The same path rewritten (new file time) is a new image.
        assert_eq!(q.admit("n1", 99_500, scan(start + 5)), Admit::New);
        // Beyond the margin: taken for done; the watcher says so.
        assert_eq!(q.admit("old", 80_000, scan(start + 5)), Admit::Done);
        assert_eq!(
            q.admit("old", 80_000, Origin::Watch { seen_ms: start }),
            Admit::Late
        );
    }

    #[test]
    fn watcher_notifications_move_the_horizon_only_after_the_scan() {
        let mut p = Progress::resume(None, HashSet::new(), M);
        let w = |seen_ms| Origin::Watch { seen_ms };
        assert_eq!(p.admit("a", 50_000, w(200_000)), Admit::New);
        p.complete("a", 50_000);
        // Before the scan is complete a notification says nothing about older files.
        assert_eq!(p.checkpoint().through, i64::MIN);
        p.listed(100_000);
        assert_eq!(p.checkpoint().through, 90_000);
        assert_eq!(p.admit("b", 199_000, w(200_000)), Admit::New);
        // b is in flight: through stops at it even though the horizon is 190_000.
        assert_eq!(p.checkpoint().through, 190_000);
        assert_eq!(p.checkpoint().through_path, "");
        assert_eq!(p.admit("c", 185_000, w(200_100)), Admit::Late);
        p.complete("b", 199_000);
        let cp = p.checkpoint();
        assert_eq!((cp.through, cp.recent.len()), (190_100, 1));
    }

    #[test]
    fn files_sharing_a_time_stamp_do_not_pile_up_in_recent() {
        let mut p = Progress::resume(None, HashSet::new(), M);
        let names: Vec<String> = (0..500).map(|i| format!("burst-{i:03}")).collect();
        for n in &names {
            assert_eq!(p.admit(n, 7_000, scan(1_000_000)), Admit::New);
        }
        let mut largest = 0;
        for (i, n) in names.iter().enumerate() {
            p.complete(n, 7_000);
            let cp = p.checkpoint();
            largest = largest.max(cp.recent.len());
            if let Some(next) = names.get(i + 1) {
                assert_eq!((cp.through, &cp.through_path), (7_000, next));
            }
        }
        assert!(largest <= 1, "{largest}"); // the last one, at the horizon itself
        let mut q = Progress::resume(Some(p.checkpoint()), HashSet::new(), M);
        assert_eq!(q.admit("burst-250", 7_000, scan(1_000_001)), Admit::Done);
    }

    #[test]
    fn in_flight_images_hold_through_back() {
        let mut p = Progress::resume(None, HashSet::new(), M);
        for (r, t) in [("a", 10), ("b", 20), ("c", 30)] {
            p.admit(r, t, scan(1_000_000));
        }
        p.complete("b", 20);
        p.complete("c", 30);
        let cp = p.checkpoint();
        // a (10) is not committed: a restart must do it again.
        assert_eq!((cp.through, cp.through_path.as_str()), (10, "a"));
        let mut q = Progress::resume(Some(cp), HashSet::new(), M);
        assert_eq!(q.admit("a", 10, scan(1_000_001)), Admit::New);
        assert_eq!(q.admit("b", 20, scan(1_000_001)), Admit::Done);
        assert_eq!(q.admit("c", 30, scan(1_000_001)), Admit::Done);
    }

    #[test]
    fn old_markers_count_until_a_complete_scan() {
        let legacy: HashSet<String> = ["x", "y"].map(String::from).into();
        let mut p = Progress::resume(None, legacy.clone(), M);
        assert_eq!(p.admit("x", 10, scan(1_000_000)), Admit::Done);
        assert_eq!(p.admit("n", 20, scan(1_000_000)), Admit::New);
        p.complete("n", 20);
        let cp = p.checkpoint();
        assert!(cp.legacy, "y not listed yet");
        assert_eq!(cp.recent.keys().collect::<Vec<_>>(), ["n"]);
        // A restart with this checkpoint reads the markers again.
        let mut q = Progress::resume(Some(cp), legacy, M);
        assert_eq!(q.admit("x", 10, scan(1_000_001)), Admit::Done);
        assert_eq!(q.admit("n", 20, scan(1_000_001)), Admit::Done);
        assert_eq!(q.admit("y", 995_000, scan(1_000_001)), Admit::Done);
        q.listed(1_000_001);
        let cp = q.checkpoint();
        assert!(!cp.legacy);
        // y is younger than the margin: kept in `recent` so it stays done without the markers.
        assert_eq!(cp.through, 990_001);
        assert_eq!(cp.recent, [("y".to_string(), 995_000)].into());
        let json = serde_json::to_string(&cp).unwrap();
        assert_eq!(json, r#"{"v":1,"through":990001,"recent":{"y":995000}}"#);
        assert_eq!(serde_json::from_str::<Checkpoint>(&json).unwrap(), cp);
    }
}
