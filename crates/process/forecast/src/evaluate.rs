//! Scoring a submission file against a truth file: what `aisle forecast evaluate` runs.
//!
//! * The horizon `h` is the number of `F` columns of the forecasts.
//! * The **test days** are the last `h` day columns of the truth file.
//! * The **training days** (scale, and dollar-sales weights when no weights file is given) are
//!   the history file's days (e.g. Kaggle's `sales_train_evaluation.csv`, or this project's
//!   `sales_train_evaluation_d1914_d1941.csv`) followed by any earlier columns of the truth file,
//!   up to the day before the test days. Exactly those days are used: with only the 28-day
//!   extract as history the scale of every series is computed from d_1914..d_1941 alone (from its
//!   first non-zero day in that range), not from d_1; the report states the training range.
//! * [`evaluate_quantiles`] scores an M5 uncertainty file (nine quantiles per series and
//!   level) the same way with WSPL.
//! * Weights: an official weights file, else the dollar sales of the last 28 training days with
//!   `calendar.csv` and `sell_prices.csv` from the data directory.

use crate::data::require;
use crate::error::{ForecastError, Result};
use crate::submission;
use crate::wrmsse::{Score, Wrmsse, dollar_sales, read_weights, weights_from_dollars};
use crate::wspl::Wspl;
use aisle_m5::files::find;
use aisle_m5::hierarchy::{Hierarchy, LEVEL_NAMES};
use aisle_m5::{Calendar, Prices, SalesPanel};
use std::fmt::Write;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// Files of an evaluation.
#[derive(Debug, Clone, Default)]
pub struct EvalFiles {
    /// Submission (`id,F1..Fh`); `_evaluation` rows are used when present, else `_validation`.
    pub forecasts: PathBuf,
    /// Wide sales file whose last `h` days are the truth.
    pub truth: PathBuf,
    /// Wide sales file with earlier days (training history).
    pub history: Option<PathBuf>,
    /// Official weights file.
    pub weights: Option<PathBuf>,
    /// M5 data directory (calendar and prices for weights).
    pub data: Option<PathBuf>,
}

/// The result of an evaluation.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// WRMSSE per level.
    pub score: Score,
    /// Bottom series scored.
    pub series: usize,
    /// First and last training day.
    pub train: (i32, i32),
    /// First and last test day.
    pub test: (i32, i32),
    /// Where the weights came from.
    pub weights: String,
}

/// Joins history and the truth file's leading days into one training panel ordered like `truth`.
fn training(
    truth: &SalesPanel,
    history: Option<&SalesPanel>,
    test_first: i32,
) -> Result<SalesPanel> {
    let own = truth.slice(truth.first_day, test_first - 1);
    let Some(h) = history else {
        return Ok(own);
    };
    let idx = h.index();
    let h_last = h.last_day().min(test_first - 1);
    if h_last + 1 < truth.first_day && own.days() > 0 || h_last + 1 < test_first && own.days() == 0
    {
        return Err(ForecastError::Mismatch(format!(
            "history ends on d_{h_last} but the truth starts on d_{}: days are missing",
            truth.first_day
        )));
    }
    let mut out = SalesPanel {
        series: truth.series.clone(),
        first_day: h.first_day,
        values: Vec::with_capacity(truth.series.len()),
    };
    for (s, m) in truth.series.iter().enumerate() {
        let &i = idx.get(m.id.as_str()).ok_or_else(|| {
            ForecastError::Mismatch(format!("series {} is not in the history file", m.id))
        })?;
        let mut row = h.values[i][..(h_last - h.first_day + 1) as usize].to_vec();
        let from = (h_last + 1 - own.first_day).max(0) as usize;
        row.extend_from_slice(&own.values[s][from.min(own.days())..]);
        out.values.push(row);
    }
    Ok(out)
}

/// Training and test panels, hierarchy and weights of an evaluation with horizon `h`.
struct Setup {
    truth: SalesPanel,
    train: SalesPanel,
    test: SalesPanel,
    hier: Hierarchy,
    weights: Vec<Vec<f64>>,
    source: String,
}

fn setup(files: &EvalFiles, truth: SalesPanel, h: usize) -> Result<Setup> {
    if h == 0 || h > truth.days() {
        return Err(ForecastError::Mismatch(format!(
            "{} has {h} forecast days; the truth file has {} days",
            files.forecasts.display(),
            truth.days()
        )));
    }
    let test_first = truth.last_day() - h as i32 + 1;
    let history = files
        .history
        .as_deref()
        .map(SalesPanel::read_wide)
        .transpose()?;
    let train = training(&truth, history.as_ref(), test_first)?;
    if train.days() < 2 {
        return Err(ForecastError::Mismatch(
            "no training days before the test days: pass --history".into(),
        ));
    }
    let test = truth.slice(test_first, truth.last_day());
    let hier = Hierarchy::m5(&truth.series);
    let (weights, source) = match (&files.weights, &files.data) {
        (Some(w), _) => (read_weights(w, &hier)?, w.display().to_string()),
        (None, Some(dir)) => {
            let cal = Calendar::read(&require(dir, "calendar.csv")?)?;
            let prices = Prices::read(&require(dir, "sell_prices.csv")?)?;
            let last = train.last_day();
            let d = dollar_sales(&train.series, &train.values, last, 28, &cal, &prices);
            (
                weights_from_dollars(&hier, &d),
                format!(
                    "dollar sales d_{}..d_{last}",
                    (last - 27).max(train.first_day)
                ),
            )
        }
        (None, None) => {
            return Err(ForecastError::Mismatch(
                "weights need --weights FILE or --data DIR (calendar and prices)".into(),
            ));
        }
    };
    Ok(Setup {
        truth,
        train,
        test,
        hier,
        weights,
        source,
    })
}

impl Setup {
    fn evaluation(&self, score: Score) -> Evaluation {
        Evaluation {
            score,
            series: self.truth.series.len(),
            train: (self.train.first_day, self.train.last_day()),
            test: (self.test.first_day, self.truth.last_day()),
            weights: self.source.clone(),
        }
    }
}

/// Scores `files.forecasts` against `files.truth`.
pub fn evaluate(files: &EvalFiles) -> Result<Evaluation> {
    let truth = SalesPanel::read_wide(&files.truth)?;
    let mut forecasts = submission::read(&files.forecasts, Some("evaluation"))?;
    if forecasts.is_empty() {
        forecasts = submission::read(&files.forecasts, Some("validation"))?;
    }
    if forecasts.is_empty() {
        forecasts = submission::read(&files.forecasts, None)?;
    }
    let h = forecasts.values().next().map_or(0, Vec::len);
    let s = setup(files, truth, h)?;
    let f: Vec<Vec<f32>> = s
        .truth
        .series
        .iter()
        .map(|m| {
            forecasts.get(&m.id).cloned().ok_or_else(|| {
                ForecastError::bad(&files.forecasts, format!("no forecast for {}", m.id))
            })
        })
        .collect::<Result<_>>()?;
    let eval = Wrmsse::new(s.hier.clone(), &s.train.values, s.weights.clone())?;
    Ok(s.evaluation(eval.score(&f, &s.test.values)?))
}

/// Scores an M5 uncertainty submission (`files.forecasts`: nine quantiles of every series at
/// every level, [`submission::read_quantiles`]; `_evaluation` rows, else `_validation`) with
/// WSPL ([`crate::wspl`]): same training days, test days and weights as [`evaluate`], scales
/// = mean absolute one-day difference over the training days.
pub fn evaluate_quantiles(files: &EvalFiles) -> Result<Evaluation> {
    let truth = SalesPanel::read_wide(&files.truth)?;
    let hier = Hierarchy::m5(&truth.series);
    // `_validation` rows only when there are no good `_evaluation` ones; if neither reads, the
    // `_evaluation` error says what is wrong (not that `_validation` rows are missing).
    let q = submission::read_quantiles(&files.forecasts, &hier, "evaluation").or_else(|e| {
        submission::read_quantiles(&files.forecasts, &hier, "validation").map_err(|_| e)
    })?;
    let h = q
        .first()
        .and_then(|l| l.first())
        .and_then(|s| s.first())
        .map_or(0, Vec::len);
    let s = setup(files, truth, h)?;
    let eval = Wspl::new(s.hier.clone(), &s.train.values, s.weights.clone())?;
    Ok(s.evaluation(eval.score(&q, &s.test.values)?))
}

/// A row of `scores_accuracy_*_eval.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct OfficialRow {
    /// Benchmark or team name.
    pub name: String,
    /// L1..L12.
    pub levels: Vec<f64>,
}

/// Reads an official scores file (`[rank,]name,L1..L12,avg`).
pub fn read_official(path: &Path) -> Result<Vec<OfficialRow>> {
    let mut rdr = crate::data::csv_reader(path)?;
    let err = crate::data::csv_err(path);
    let headers = rdr.headers().map_err(&err)?.clone();
    let name = headers
        .iter()
        .position(|h| h == "name")
        .ok_or_else(|| ForecastError::bad(path, "no name column"))?;
    let l1 = headers
        .iter()
        .position(|h| h == "L1")
        .ok_or_else(|| ForecastError::bad(path, "no L1 column"))?;
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(&err)?;
        let levels = (0..12)
            .map(|k| rec.get(l1 + k).and_then(|v| v.parse().ok()))
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| ForecastError::bad(path, format!("bad row for {}", &rec[name])))?;
        out.push(OfficialRow {
            name: rec[name].to_string(),
            levels,
        });
    }
    Ok(out)
}

/// sNaive, ES_bu and the winner (top-50 rank 1) from a data directory, when its files exist.
pub fn official_rows(dir: &Path) -> Result<Vec<OfficialRow>> {
    let mut rows = Vec::new();
    if let Some(p) = find(dir, "scores_accuracy_benchmarks_eval.csv") {
        let all = read_official(&p)?;
        for want in ["sNaive", "ES_bu"] {
            rows.extend(all.iter().filter(|r| r.name == want).cloned());
        }
    }
    if let Some(p) = find(dir, "scores_accuracy_top50_eval.csv")
        && let Some(mut w) = read_official(&p)?.into_iter().next()
    {
        w.name = format!("winner {}", w.name);
        rows.push(w);
    }
    Ok(rows)
}

/// The per-level table: ours beside the official rows, then the means over `levels`.
pub fn table(score: &Score, official: &[OfficialRow], levels: RangeInclusive<usize>) -> String {
    table_columns(&[("ours", score)], official, levels)
}

/// The per-level table with several scores of ours (e.g. `("WRMSSE", ..), ("WSPL", ..)`) beside
/// the official rows, then the means over `levels`.
pub fn table_columns(
    ours: &[(&str, &Score)],
    official: &[OfficialRow],
    levels: RangeInclusive<usize>,
) -> String {
    let mut s = String::new();
    let _ = write!(s, "{:<5} {:<18}", "level", "");
    for (name, _) in ours {
        let _ = write!(s, " {name:>9}");
    }
    for r in official {
        let _ = write!(s, " {:>12}", r.name.chars().take(12).collect::<String>());
    }
    s.push('\n');
    let mean = |v: &[f64]| {
        let picked: Vec<f64> = levels
            .clone()
            .filter_map(|l| v.get(l - 1).copied())
            .collect();
        picked.iter().sum::<f64>() / picked.len().max(1) as f64
    };
    for l in levels.clone() {
        let _ = write!(s, "L{l:<4} {:<18}", LEVEL_NAMES.get(l - 1).unwrap_or(&""));
        for (_, score) in ours {
            let _ = write!(
                s,
                " {:>9.4}",
                score.levels.get(l - 1).copied().unwrap_or(f64::NAN)
            );
        }
        for r in official {
            let _ = write!(
                s,
                " {:>12.4}",
                r.levels.get(l - 1).copied().unwrap_or(f64::NAN)
            );
        }
        s.push('\n');
    }
    let _ = write!(
        s,
        "{:<24}",
        format!("mean L{}-{}", levels.start(), levels.end())
    );
    for (_, score) in ours {
        let _ = write!(s, " {:>9.4}", mean(&score.levels));
    }
    for r in official {
        let _ = write!(s, " {:>12.4}", mean(&r.levels));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(v: f64) -> Score {
        Score {
            levels: (1..=12).map(|l| v * l as f64).collect(),
            zero_scale: vec![0; 12],
        }
    }

    #[test]
    fn table_puts_wspl_beside_wrmsse() {
        let official = [OfficialRow {
            name: "sNaive".into(),
            levels: vec![1.0; 12],
        }];
        let t = table_columns(
            &[("WRMSSE", &score(0.1)), ("WSPL", &score(0.01))],
            &official,
            1..=2,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        let cells = |l: &str| -> Vec<String> { l.split_whitespace().map(String::from).collect() };
        assert_eq!(cells(lines[0]), ["level", "WRMSSE", "WSPL", "sNaive"]);
        assert_eq!(
            cells(lines[2]),
            ["L2", "state", "0.2000", "0.0200", "1.0000"]
        );
        // Means of levels 1-2: 0.15 and 0.015.
        assert_eq!(
            cells(lines[3]),
            ["mean", "L1-2", "0.1500", "0.0150", "1.0000"]
        );
        // The one-column form is the old table.
        assert!(table(&score(0.1), &[], 1..=1).starts_with("level"));
        assert!(table(&score(0.1), &[], 1..=1).contains("ours"));
    }

    #[test]
    fn a_bad_quantile_file_is_reported_by_its_evaluation_rows() {
        let dir = tempfile::tempdir().unwrap();
        let truth = dir.path().join("truth.csv");
        std::fs::write(
            &truth,
            "id,item_id,dept_id,cat_id,store_id,state_id,d_1,d_2,d_3\n\
             F_1_001_CA_1_evaluation,F_1_001,F_1,F,CA_1,CA,0,2,4\n",
        )
        .unwrap();
        let q = dir.path().join("q.csv");
        std::fs::write(&q, "id,F1\nTotal_0.005_evaluation,1\n").unwrap();
        let err = evaluate_quantiles(&EvalFiles {
            forecasts: q,
            truth,
            ..EvalFiles::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("Total_X_0.005_evaluation"), "{err}");
    }
}
