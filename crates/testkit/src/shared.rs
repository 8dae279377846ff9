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
        !required("AISLE_REQUIRE_DATA"),
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

/// True when `var` is set to `1` (e.g. `AISLE_REQUIRE_ORT`: a skip becomes a failure).
pub fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v.trim() == "1")
}

/// The ONNX Runtime library for camera tests: `$AISLE_TEST_ORT_LIB` or `$ORT_DYLIB_PATH`, else
/// the one `scripts/install-onnxruntime` puts in `<repo>/.onnxruntime/`; `None` (after printing
/// why) when it is missing.
///
/// # Panics
/// When it is missing and `AISLE_REQUIRE_ORT=1`.
pub fn onnx_runtime() -> Option<PathBuf> {
    let lib = std::env::var_os("AISLE_TEST_ORT_LIB")
        .or_else(|| std::env::var_os("ORT_DYLIB_PATH"))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.onnxruntime/libonnxruntime.so")
        });
    if lib.exists() {
        return Some(lib);
    }
    assert!(
        !required("AISLE_REQUIRE_ORT"),
        "AISLE_REQUIRE_ORT=1 but there is no ONNX Runtime library at {} (scripts/install-onnxruntime)",
        lib.display()
    );
    println!(
        "skipped: no ONNX Runtime at {} (scripts/install-onnxruntime)",
        lib.display()
    );
    None
}

/// `../shared/vision` if it holds every file in `needs` (e.g. `images`, a model file), else
/// `None` after printing why.
///
/// # Panics
/// When something is missing and `AISLE_REQUIRE_DATA=1`.
pub fn vision_dir(needs: &[&str]) -> Option<PathBuf> {
    let dir = shared_dir().join("vision");
    let missing: Vec<&str> = needs
        .iter()
        .copied()
        .filter(|n| !dir.join(n).exists())
        .collect();
    if missing.is_empty() {
        return Some(dir);
    }
    assert!(
        !required("AISLE_REQUIRE_DATA"),
        "AISLE_REQUIRE_DATA=1 but {} lacks {}",
        dir.display(),
        missing.join(", ")
    );
    println!("skipped: {} lacks {}", dir.display(), missing.join(", "));
    None
}

/// Both [`onnx_runtime`] and [`vision_dir`] (with `images/` and `needs`): what a test that
/// runs the detector on the shared photos needs.
pub fn detector_setup(needs: &[&str]) -> Option<(PathBuf, PathBuf)> {
    let lib = onnx_runtime();
    let mut all = vec!["images"];
    all.extend_from_slice(needs);
    let vision = vision_dir(&all);
    Some((lib?, vision?))
}
