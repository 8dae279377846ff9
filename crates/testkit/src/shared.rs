//! Where the shared, read-only test material lives: `../shared` beside the checkout.
//!
//! Licenses forbid committing the M5 data or the detector models, so tests read them from there.
//! When it is missing a test skips with a message — unless `AISLE_REQUIRE_DATA=1` (set by
//! `scripts/test`, so CI can never pass by skipping), when it fails.

use std::path::PathBuf;

/// The M5 data directory: `$AISLE_M5_DATA`, else `../shared/data/m5` beside the checkout; `None`
/// (after printing why) when it has no `calendar.csv.zst`.
///
/// # Panics
/// When the data is missing and `AISLE_REQUIRE_DATA=1`: a required test must not pass by skipping.
pub fn m5_data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("AISLE_M5_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| shared_dir().join("data").join("m5"));
    if dir.join("calendar.csv.zst").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("AISLE_REQUIRE_DATA").map_or(true, |v| v.trim() != "1"),
        "AISLE_REQUIRE_DATA=1 but {} has no M5 data",
        dir.display()
    );
    println!("skipped: no M5 data in {}", dir.display());
    None
}

/// `../shared` beside the repository checkout.
pub fn shared_dir() -> PathBuf {
    // This crate lives at <repo>/crates/testkit.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}
