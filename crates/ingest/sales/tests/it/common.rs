//! Test helpers: where the shared M5 data is, and a plain CSV reader independent of the library.

#![allow(dead_code)]

use std::path::PathBuf;

/// The shared M5 data, or `None` when absent (see `aisle_testkit::m5_data_dir`).
pub fn m5_dir() -> Option<PathBuf> {
    aisle_testkit::m5_data_dir()
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

/// [`aisle_sales::replay`] to the end (no shutdown), with a registry over `log`'s `_schemas`.
pub async fn replay_all(
    log: &std::sync::Arc<dyn aisle_log::Log>,
    opts: aisle_sales::ReplayOptions,
) -> Result<aisle_sales::Summary, aisle_sales::SalesError> {
    let registry = aisle_testkit::local_registry(log.clone()).await.unwrap();
    aisle_sales::replay(
        log.clone(),
        registry,
        opts,
        std::sync::Arc::new(aisle_sales::Quiet),
        std::future::pending(),
    )
    .await
}
