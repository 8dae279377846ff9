//! Kaggle submission files: `id,F1..F28`, one row per series.

use crate::data::{csv_err, csv_reader, series_key};
use crate::error::{ForecastError, Result};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Forecast rows keyed by series id (`ITEM_STORE`, Kaggle's suffix removed).
pub type Forecasts = HashMap<String, Vec<f32>>;

/// Reads a submission. With `suffix` (`"evaluation"` or `"validation"`) only rows whose id ends
/// in `_{suffix}` are kept; rows of the other kind are skipped, so a full 60,980-row Kaggle file
/// yields one phase.
pub fn read(path: &Path, suffix: Option<&str>) -> Result<Forecasts> {
    let mut rdr = csv_reader(path)?;
    let err = csv_err(path);
    let headers = rdr.headers().map_err(&err)?.clone();
    let h = headers.len().saturating_sub(1);
    if h == 0 || headers.iter().nth(1).is_none_or(|c| c != "F1") {
        return Err(ForecastError::bad(path, "expected header id,F1,F2,..."));
    }
    let mut out = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(&err)?;
        let line = rec.position().map_or(0, |p| p.line());
        let id = &rec[0];
        if suffix.is_some_and(|s| !id.ends_with(&format!("_{s}"))) {
            continue;
        }
        let row = (1..=h)
            .map(|i| {
                rec.get(i)
                    .and_then(|v| v.trim().parse::<f32>().ok())
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| ForecastError::bad(path, format!("line {line}: bad F{i}")))
            })
            .collect::<Result<Vec<f32>>>()?;
        if out.insert(series_key(id).to_string(), row).is_some() {
            return Err(ForecastError::bad(
                path,
                format!("line {line}: duplicate id {id}"),
            ));
        }
    }
    Ok(out)
}

/// Writes a submission: `ids` in the given order, each `{id}_{suffix}`, with its forecasts.
/// Values are written with up to 4 decimals; missing series are written as zeros.
pub fn write(
    path: &Path,
    ids: &[&str],
    forecasts: &Forecasts,
    horizon: usize,
    suffix: &str,
) -> Result<()> {
    let io = |source| ForecastError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
    let mut line = String::from("id");
    for i in 1..=horizon {
        line.push_str(&format!(",F{i}"));
    }
    writeln!(w, "{line}").map_err(io)?;
    for id in ids {
        line.clear();
        line.push_str(id);
        line.push('_');
        line.push_str(suffix);
        let row = forecasts.get(*id);
        for i in 0..horizon {
            let v = row.and_then(|r| r.get(i)).copied().unwrap_or(0.0).max(0.0);
            line.push_str(&format!(",{}", (f64::from(v) * 1e4).round() / 1e4));
        }
        writeln!(w, "{line}").map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub.csv");
        let f: Forecasts = [("A_1_001_CA_1".to_string(), vec![1.25, 0.0])].into();
        write(&p, &["A_1_001_CA_1", "A_1_002_CA_1"], &f, 2, "evaluation").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            "id,F1,F2\nA_1_001_CA_1_evaluation,1.25,0\nA_1_002_CA_1_evaluation,0,0\n"
        );
        let back = read(&p, Some("evaluation")).unwrap();
        assert_eq!(back["A_1_001_CA_1"], vec![1.25, 0.0]);
        assert!(read(&p, Some("validation")).unwrap().is_empty());
    }
}
