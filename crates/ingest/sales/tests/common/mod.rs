//! Test helpers: where the shared M5 data is, and a plain CSV reader independent of the library.

#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/data/m5` relative to the repository root, or `None` (with a message) when it is
/// missing; a missing directory fails instead when `AISLE_REQUIRE_DATA=1`.
pub fn m5_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/data/m5");
    if dir.join("calendar.csv.zst").is_file() {
        return Some(dir);
    }
    if std::env::var("AISLE_REQUIRE_DATA").is_ok_and(|v| v.trim() == "1") {
        panic!("AISLE_REQUIRE_DATA=1 but {} has no M5 data", dir.display());
    }
    println!("skipped: no M5 data in {}", dir.display());
    None
}

/// Calls `f` with every data row of a zstd CSV.
pub fn for_each_csv_zst(path: &std::path::Path, mut f: impl FnMut(&csv::StringRecord)) {
    let file = std::fs::File::open(path).unwrap();
    let mut rdr = csv::Reader::from_reader(zstd::stream::read::Decoder::new(file).unwrap());
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).unwrap() {
        f(&rec);
    }
}

/// Every data row of a zstd CSV.
pub fn read_csv_zst(path: &std::path::Path) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for_each_csv_zst(path, |r| out.push(r.iter().map(str::to_string).collect()));
    out
}
