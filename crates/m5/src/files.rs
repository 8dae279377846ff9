//! Finding and opening the M5 files: plain `.csv` or zstd-compressed `.csv.zst`.

use crate::error::{M5Error, Result};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// `calendar.csv`.
pub const CALENDAR: &str = "calendar.csv";
/// `sell_prices.csv`.
pub const PRICES: &str = "sell_prices.csv";

/// Opens `path` for buffered reading, decompressing on the fly when it ends in `.zst`.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).map_err(|e| M5Error::io(path, e))?;
    if path.extension().is_some_and(|e| e == "zst") {
        let dec = zstd::stream::read::Decoder::new(file).map_err(|e| M5Error::io(path, e))?;
        Ok(Box::new(BufReader::with_capacity(1 << 16, dec)))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
    }
}

/// `dir/name` or `dir/name.zst` (`name` such as `calendar.csv`), whichever exists (plain first).
pub fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Some(plain);
    }
    let zst = dir.join(format!("{name}.zst"));
    zst.is_file().then_some(zst)
}

/// Like [`find`], but an error naming `what` (calendar, prices, ...) and both names tried.
pub fn require(dir: &Path, what: &'static str, name: &str) -> Result<PathBuf> {
    find(dir, name).ok_or_else(|| M5Error::MissingFile {
        what,
        dir: dir.to_path_buf(),
        tried: format!("{name}, {name}.zst"),
    })
}

/// The wide sales file in `dir`: Kaggle's `sales_train_evaluation` (preferred: it has the most
/// days) or `sales_train_validation`, plain or `.zst`; failing those, the first file (by name) whose
/// name starts with one of them, such as a partial `sales_train_evaluation_d1914_d1941.csv.zst`.
pub fn find_sales(dir: &Path) -> Result<PathBuf> {
    const STEMS: [&str; 2] = ["sales_train_evaluation", "sales_train_validation"];
    for stem in STEMS {
        if let Some(p) = find(dir, &format!("{stem}.csv")) {
            return Ok(p);
        }
    }
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| M5Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".csv") || name.ends_with(".csv.zst")
        })
        .collect();
    names.sort();
    for stem in STEMS {
        let found = names.iter().find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(stem))
        });
        if let Some(p) = found {
            return Ok(p.clone());
        }
    }
    Err(M5Error::MissingFile {
        what: "sales",
        dir: dir.to_path_buf(),
        tried: "sales_train_evaluation*.csv[.zst], sales_train_validation*.csv[.zst]".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn reads_plain_and_zstd_and_finds_partial_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("calendar.csv"), b"d\nd_1\n").unwrap();
        let zpath = dir.path().join("sales_train_evaluation_d5_d6.csv.zst");
        let mut enc = zstd::stream::write::Encoder::new(File::create(&zpath).unwrap(), 3).unwrap();
        enc.write_all(b"id,d_5\nx,1\n").unwrap();
        enc.finish().unwrap();

        let mut s = String::new();
        open(&find(dir.path(), CALENDAR).unwrap())
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "d\nd_1\n");
        assert_eq!(find_sales(dir.path()).unwrap(), zpath);
        s.clear();
        open(&zpath).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "id,d_5\nx,1\n");

        assert_eq!(find(dir.path(), PRICES), None);
        let err = require(dir.path(), "prices", PRICES).unwrap_err();
        assert!(err.to_string().contains("sell_prices.csv.zst"), "{err}");
    }
}
