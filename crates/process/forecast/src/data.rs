//! CSV helpers for the forecaster's own files (weights, scales, submissions). The M5 readers
//! (wide sales tables, calendar, prices, series ids, finding and opening `.csv` or `.csv.zst`)
//! live in `aisle-m5`.

use crate::error::{ForecastError, Result};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use aisle_m5::files::open;

/// Like [`find`], but an error naming both candidates when neither exists.
pub fn require(dir: &Path, name: &str) -> Result<PathBuf> {
    Ok(aisle_m5::files::require(dir, "input", name)?)
}

pub(crate) fn csv_reader(path: &Path) -> Result<csv::Reader<Box<dyn BufRead + Send>>> {
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(open(path)?))
}

pub(crate) fn csv_err(path: &Path) -> impl Fn(csv::Error) -> ForecastError + '_ {
    move |source| ForecastError::Csv {
        path: path.to_path_buf(),
        source,
    }
}
