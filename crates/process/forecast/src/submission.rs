//! Kaggle submission files: `id,F1..F28`, one row per series; and the M5 uncertainty files,
//! one row per series of every level and quantile (`{series}_{u:.3}_{suffix}`, e.g.
//! `Total_X_0.005_evaluation`, `CA_1_FOODS_3_0.500_evaluation`,
//! `FOODS_3_090_CA_0.995_evaluation`).

use crate::data::{csv_err, csv_reader};
use crate::error::{ForecastError, Result};
use crate::quantiles::{LevelQuantiles, QUANTILES};
use aisle_m5::hierarchy::Hierarchy;
use aisle_m5::series_key;
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
    write_file(path, horizon, |w, line| {
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
            writeln!(w, "{line}")?;
        }
        Ok(())
    })
}

/// Writes a submission-shaped file atomically (a `.tmp` beside it, synced, then renamed): the
/// header `id,F1..Fh`, then the rows `rows` writes (it gets a reusable line buffer).
fn write_file(
    path: &Path,
    horizon: usize,
    rows: impl FnOnce(&mut std::io::BufWriter<std::fs::File>, &mut String) -> std::io::Result<()>,
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
    rows(&mut w, &mut line).map_err(io)?;
    w.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The uncertainty-file series name of a level key (1-based `level`, keys as in
/// [`aisle_m5::hierarchy::level_key`]): `key1_key2`, except item × state and item × store, which
/// put the item first (`FOODS_3_090_CA`, `FOODS_3_090_CA_1`).
pub fn quantile_series_name(level: usize, key: &(String, String)) -> String {
    match level {
        11 => format!("{}_{}", key.1, key.0),
        _ => format!("{}_{}", key.0, key.1),
    }
}

/// Writes an uncertainty submission: for every level of `h`, series and quantile of
/// [`QUANTILES`], the row `{name}_{u:.3}_{suffix}` ([`quantile_series_name`]), quantiles
/// outer, as the M5 sample file orders them.
pub fn write_quantiles(
    path: &Path,
    h: &Hierarchy,
    levels: &[LevelQuantiles],
    horizon: usize,
    suffix: &str,
) -> Result<()> {
    write_file(path, horizon, |w, line| {
        for (k, u) in QUANTILES.iter().enumerate() {
            for (li, (l, q)) in h.levels.iter().zip(levels).enumerate() {
                for (key, series) in l.keys.iter().zip(q) {
                    line.clear();
                    line.push_str(&format!(
                        "{}_{u:.3}_{suffix}",
                        quantile_series_name(li + 1, key)
                    ));
                    for i in 0..horizon {
                        let v = series[k].get(i).copied().unwrap_or(0.0).max(0.0);
                        line.push_str(&format!(",{}", (f64::from(v) * 1e4).round() / 1e4));
                    }
                    writeln!(w, "{line}")?;
                }
            }
        }
        Ok(())
    })
}

/// Reads an uncertainty submission back into `levels[level][series][quantile][day]` for the
/// series of `h`, keeping rows ending in `_{suffix}`. Every series and quantile must be there.
pub fn read_quantiles(path: &Path, h: &Hierarchy, suffix: &str) -> Result<Vec<LevelQuantiles>> {
    let mut rdr = csv_reader(path)?;
    let err = csv_err(path);
    let headers = rdr.headers().map_err(&err)?.clone();
    let days = headers.len().saturating_sub(1);
    if days == 0 || headers.iter().nth(1).is_none_or(|c| c != "F1") {
        return Err(ForecastError::bad(path, "expected header id,F1,F2,..."));
    }
    let mut rows: HashMap<String, Vec<f32>> = HashMap::new();
    let tail = format!("_{suffix}");
    for rec in rdr.records() {
        let rec = rec.map_err(&err)?;
        let line = rec.position().map_or(0, |p| p.line());
        let Some(id) = rec[0].strip_suffix(&tail) else {
            continue;
        };
        let row = (1..=days)
            .map(|i| {
                rec.get(i)
                    .and_then(|v| v.trim().parse::<f32>().ok())
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| ForecastError::bad(path, format!("line {line}: bad F{i}")))
            })
            .collect::<Result<Vec<f32>>>()?;
        rows.insert(id.to_string(), row);
    }
    h.levels
        .iter()
        .enumerate()
        .map(|(li, l)| {
            l.keys
                .iter()
                .map(|key| {
                    let name = quantile_series_name(li + 1, key);
                    QUANTILES
                        .iter()
                        .map(|u| {
                            rows.remove(&format!("{name}_{u:.3}")).ok_or_else(|| {
                                ForecastError::bad(path, format!("no row {name}_{u:.3}{tail}"))
                            })
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
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

    #[test]
    fn quantile_file_round_trip_and_names() {
        let series = vec![
            aisle_m5::SeriesMeta::from_ids("FOODS_3_090", "CA_1").unwrap(),
            aisle_m5::SeriesMeta::from_ids("FOODS_3_091", "CA_2").unwrap(),
        ];
        let h = Hierarchy::m5(&series);
        let points = vec![vec![1.0f32, 2.0], vec![300.0, 0.0]];
        let q = crate::quantiles::QuantileModel::from_points(&h, &points, &[0.2; 12]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.csv");
        write_quantiles(&p, &h, &q, 2, "evaluation").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        for id in [
            "Total_X_0.005_evaluation",
            "CA_X_0.250_evaluation",
            "CA_1_X_0.500_evaluation",
            "CA_FOODS_3_0.500_evaluation",
            "CA_2_FOODS_3_0.995_evaluation",
            "FOODS_3_090_X_0.165_evaluation",
            "FOODS_3_090_CA_0.835_evaluation",
            "FOODS_3_091_CA_2_0.975_evaluation",
        ] {
            assert!(text.contains(&format!("\n{id},")), "{id}");
        }
        let lines = text.lines().count();
        assert_eq!(lines, 1 + 9 * h.series_count());
        let back = read_quantiles(&p, &h, "evaluation").unwrap();
        let diffs = back.iter().flatten().flatten().flatten();
        let orig = q.iter().flatten().flatten().flatten();
        assert!(
            diffs
                .zip(orig)
                .all(|(a, b)| (a - b).abs() <= 1e-4 * b.max(1.0))
        );
        assert!(read_quantiles(&p, &h, "validation").is_err());
    }
}
